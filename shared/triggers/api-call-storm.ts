/**
 * API-call storms: a script calling UpdateStack a thousand times in a loop reaches the ops team as a few
 * messages, not a thousand. Calls are counted per stack and per ten-minute window of their event time. The
 * first three calls of a window are reported one by one; later ones are folded: counted and, for the first
 * fifty, who called what is noted. Once the window has closed, one digest says how many calls were folded.
 * A window closes for its digest when the stack's first call of a later window arrives, or when the
 * reconcile schedule's sweep runs after it.
 *
 * Each call keeps its place in its window (its ordinal) in the ledger: a redelivered call is not counted
 * twice, and the retry of a call whose report failed is reported as the call it was.
 *
 * The ledger's items: `storm-window` (per stack and window: the counter, what was noted), `storm-call` (per
 * event: its ordinal), `storm-index` (per window: the stacks whose digest is due, for the sweep) and
 * `storm-stack` (per stack: its latest window with a digest due, for the stack's next call).
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { stageOfStack } from '../edge/config';
import type { StackApiCall } from '../edge/stack-events';
import { cleanText } from '../edge/untrusted';
import { DeployerError } from '../errors';
import { logger } from '../logger';
import {
  expiresAt,
  putOwned,
  readItem,
  type SendResult,
  sendOnce,
  tableOf,
  unlessConditionFails,
} from '../messages/ledger';
import { ledgerItemId, ledgerKeys } from '../messages/ledger-keys';
import type { Notification } from '../messages/notification';
import { digestMessage, withFoldNote } from '../messages/storm-messages';
import type { Runtime } from '../runtime';

/** The length of a window, by the calls' event time. */
export const WINDOW_MS = 10 * 60_000;
/** Calls of a window reported one by one; the rest are folded into the window's digest. */
export const SENT_ONE_BY_ONE = 3;
/** Folded calls whose caller and call are noted for the digest; later ones are only counted. */
const NOTED = 50;
/** How far back the sweep looks for windows with a digest due: 6 hours. */
const SWEEP_WINDOWS = 36;
/** Stacks one window lists for the sweep; past that, a stack's digest goes out with its next call only. */
const INDEX_LIMIT = 100;

export type ApiCallOutcome = SendResult | 'folded';

/** Why a stack event was not sent, for the notify trigger's summary. */
export const unsentReason = (outcome: Exclude<ApiCallOutcome, 'sent'>): string =>
  outcome === 'duplicate'
    ? 'already reported (the same event delivered again)'
    : "folded into its window's digest (an API-call storm on this stack)";

/** The start of the window an event time falls in. */
export const windowOf = (time: string): number => Math.floor(Date.parse(time) / WINDOW_MS) * WINDOW_MS;

/** Report an API call one by one, or fold it into its window's digest. */
export const reportApiCall = async (
  runtime: Runtime,
  call: StackApiCall,
  eventId: string,
  message: Notification,
): Promise<ApiCallOutcome> => {
  const window = windowOf(call.time);
  const ordinal = await ordinalOf(runtime, call, window, eventId);
  // The first call of a window closes the stack's earlier window: its digest comes before this call's report.
  if (ordinal === 1) await sendPendingDigest(runtime, call.stack, window);
  if (ordinal <= SENT_ONE_BY_ONE) {
    const last = ordinal === SENT_ONE_BY_ONE;
    return sendOnce(
      runtime,
      ledgerKeys.stackEvent(eventId),
      last ? withFoldNote(message, window + WINDOW_MS) : message,
    );
  }
  await noteFolded(runtime, call, window, ordinal);
  logger.info('API call folded into its window digest', { stack: call.stack, window: iso(window), ordinal });
  return 'folded';
};

/** The reconcile schedule's sweep: send the digests of the closed windows before `time` that are due. */
export const sendDueDigests = async (runtime: Runtime, time: string): Promise<number> => {
  const current = windowOf(time);
  const windows = Array.from({ length: SWEEP_WINDOWS }, (_, i) => current - (i + 1) * WINDOW_MS);
  const indexes = await Promise.all(
    windows.map(async (window) => ({
      window,
      stacks: (await readItem(runtime, indexItemId(window)))?.stacks?.SS ?? [],
    })),
  );
  let sent = 0;
  for (const { window, stacks } of indexes) {
    for (const stack of stacks) if ((await sendDigest(runtime, stack, window)) === 'sent') sent += 1;
  }
  if (sent > 0) logger.info('API-call digests sent by the sweep', { sent });
  return sent;
};

const iso = (ms: number): string => new Date(ms).toISOString();

const windowItemId = (stack: string, window: number) => ledgerItemId('storm-window', stack, window);
const stackItemId = (stack: string) => ledgerItemId('storm-stack', stack);
const indexItemId = (window: number) => ledgerItemId('storm-index', window);

/** The call's place in its window: counted once, whatever the number of deliveries. */
const ordinalOf = async (
  runtime: Runtime,
  call: StackApiCall,
  window: number,
  eventId: string,
): Promise<number> => {
  const refused = call.error ? 1 : 0;
  const counted = await count(runtime, call.stack, window, 1, refused);
  const kept = await keepOrdinal(runtime, eventId, counted);
  if (kept.mine) return counted;
  // A redelivery, counted when it was first delivered: take this count back.
  await count(runtime, call.stack, window, -1, -refused);
  return kept.ordinal;
};

/**
 * Add to the window's counter. Not a guarded write: an increment cannot be read back to see whether it
 * landed, so the SDK's retries may count a call whose answer was lost twice. The digest's number is then one
 * too high; no message is sent twice.
 */
const count = async (
  runtime: Runtime,
  stack: string,
  window: number,
  by: number,
  refused: number,
): Promise<number> => {
  const { Attributes } = await runtime.clients.ddb.send(
    new UpdateItemCommand({
      TableName: tableOf(runtime),
      Key: { id: { S: windowItemId(stack, window) } },
      UpdateExpression:
        'ADD #count :by, refused :refused SET stack = :stack, windowStart = :window, expiresAt = :expires',
      ExpressionAttributeNames: { '#count': 'count' },
      ExpressionAttributeValues: {
        ':by': { N: String(by) },
        ':refused': { N: String(refused) },
        ':stack': { S: stack },
        ':window': { N: String(window) },
        ':expires': expiresAt(Date.now()),
      },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const counted = Number(Attributes?.count?.N);
  if (!Number.isInteger(counted)) throw new DeployerError(`the storm counter of ${stack} returned no count`);
  return counted;
};

/** Record the event's ordinal, unless an earlier delivery did: then that one is the event's. */
const keepOrdinal = async (
  runtime: Runtime,
  eventId: string,
  ordinal: number,
): Promise<{ mine: boolean; ordinal: number }> => {
  const put = await putOwned(
    runtime,
    {
      id: { S: ledgerItemId('storm-call', eventId) },
      ordinal: { N: String(ordinal) },
      expiresAt: expiresAt(Date.now()),
    },
    randomUUID(),
    { ConditionExpression: 'attribute_not_exists(id)' },
  );
  const kept = put === 'ours' ? Number.NaN : Number(put?.ordinal?.N);
  return Number.isInteger(kept) ? { mine: false, ordinal: kept } : { mine: true, ordinal };
};

/**
 * A folded call, among the first folded in its window: note who called what, and list the window as having
 * a digest due (by each of them, since a redelivery may take the place of the first). These writes add to
 * sets and set fixed values: repeating them is harmless, so the SDK's retries may.
 */
const noteFolded = async (runtime: Runtime, call: StackApiCall, window: number, ordinal: number) => {
  if (ordinal > SENT_ONE_BY_ONE + NOTED) return;
  const name = call.error
    ? `${call.eventName} refused (${cleanText(call.error.code, 64) || 'no code'})`
    : call.eventName;
  await runtime.clients.ddb.send(
    new UpdateItemCommand({
      TableName: tableOf(runtime),
      Key: { id: { S: windowItemId(call.stack, window) } },
      UpdateExpression: 'ADD callers :caller, calls :call',
      ExpressionAttributeValues: {
        ':caller': { SS: [cleanText(call.caller.name, 128) || 'unknown'] },
        ':call': { SS: [cleanText(name, 200)] },
      },
    }),
  );
  await listDigestDue(runtime, call.stack, window);
};

/** List the window's digest as due: in its index (for the sweep) and on the stack (for its next call). */
const listDigestDue = async (runtime: Runtime, stack: string, window: number): Promise<void> => {
  const { ddb } = runtime.clients;
  const table = tableOf(runtime);
  const expires = expiresAt(Date.now());
  const listed = await unlessConditionFails(
    ddb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: { S: indexItemId(window) } },
        UpdateExpression: 'ADD stacks :stack SET expiresAt = :expires',
        ConditionExpression:
          'attribute_not_exists(stacks) OR size(stacks) < :limit OR contains(stacks, :name)',
        ExpressionAttributeValues: {
          ':stack': { SS: [stack] },
          ':name': { S: stack },
          ':limit': { N: String(INDEX_LIMIT) },
          ':expires': expires,
        },
      }),
    ),
  );
  if (!listed) {
    logger.warn("the window's index is full: this stack's digest waits for its next call", {
      stack,
      window: iso(window),
    });
  }
  await unlessConditionFails(
    ddb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: { S: stackItemId(stack) } },
        UpdateExpression: 'SET #window = :window, expiresAt = :expires',
        // A later window with a digest due stays: the sweep sends this one.
        ConditionExpression: 'attribute_not_exists(#window) OR #window <= :window',
        ExpressionAttributeNames: { '#window': 'window' },
        ExpressionAttributeValues: { ':window': { N: String(window) }, ':expires': expires },
      }),
    ),
  );
};

/** The stack's first call of a window: send the digest its earlier window still owes. */
const sendPendingDigest = async (runtime: Runtime, stack: string, window: number): Promise<void> => {
  const due = Number((await readItem(runtime, stackItemId(stack)))?.window?.N);
  if (Number.isInteger(due) && due < window) await sendDigest(runtime, stack, due);
};

/** Send one window's digest (once), then take the window off the lists of digests due. */
const sendDigest = async (
  runtime: Runtime,
  stack: string,
  window: number,
): Promise<SendResult | undefined> => {
  const counter = await readItem(runtime, windowItemId(stack, window));
  const folded = Number(counter?.count?.N ?? 0) - SENT_ONE_BY_ONE;
  let result: SendResult | undefined;
  if (folded > 0) {
    const noted = (counter?.calls?.SS ?? []).length > 0 ? Math.min(folded, NOTED) : 0;
    result = await sendOnce(
      runtime,
      ledgerKeys.digest(stack, window),
      digestMessage({
        stage: stageOfStack(runtime.config, stack)?.name,
        stack,
        region: runtime.settings.region,
        windowStart: window,
        windowEnd: window + WINDOW_MS,
        folded,
        refused: Number(counter?.refused?.N ?? 0),
        sentOneByOne: SENT_ONE_BY_ONE,
        callers: (counter?.callers?.SS ?? []).sort(),
        calls: (counter?.calls?.SS ?? []).sort(),
        noted,
      }),
    );
  }
  await settleDigest(runtime, stack, window);
  return result;
};

/** Take a window whose digest went out off the sweep's index and off the stack's pointer. */
const settleDigest = async (runtime: Runtime, stack: string, window: number): Promise<void> => {
  const { ddb } = runtime.clients;
  const table = tableOf(runtime);
  await unlessConditionFails(
    ddb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { id: { S: indexItemId(window) } },
        UpdateExpression: 'DELETE stacks :stack',
        // Without it, DynamoDB would create an empty index item.
        ConditionExpression: 'attribute_exists(id)',
        ExpressionAttributeValues: { ':stack': { SS: [stack] } },
      }),
    ),
  );
  await unlessConditionFails(
    ddb.send(
      new DeleteItemCommand({
        TableName: table,
        Key: { id: { S: stackItemId(stack) } },
        ConditionExpression: '#window = :window',
        ExpressionAttributeNames: { '#window': 'window' },
        ExpressionAttributeValues: { ':window': { N: String(window) } },
      }),
    ),
  );
};
