/**
 * An API-call storm's bookkeeping in the notification ledger (the policy, and what is sent when:
 * shared/triggers/api-call-storm.ts). Four kinds of items: `storm-window` (per stack and window: the counter,
 * what was noted), `storm-call` (per event: its ordinal), `storm-index` (per window: the stacks whose digest
 * is due, for the sweep) and `storm-stack` (per stack: its latest window with a digest due, for the stack's
 * next call).
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { StackApiCall } from '../edge/stack-events';
import { cleanText } from '../edge/untrusted';
import { DeployerError } from '../errors';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import { expiresAt, putOwned, readItem, tableOf, unlessConditionFails } from './ledger';
import { ledgerItemId } from './ledger-keys';

/** Stacks one window lists for the sweep; past that, a stack's digest goes out with its next call only. */
const INDEX_LIMIT = 100;

const windowItemId = (stack: string, window: number) => ledgerItemId('storm-window', stack, window);
const stackItemId = (stack: string) => ledgerItemId('storm-stack', stack);
const indexItemId = (window: number) => ledgerItemId('storm-index', window);

/** The call's place in its window: counted once, whatever the number of deliveries. */
export const ordinalOf = async (
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
 * A folded call (among the first folded in its window): note who called what, and list the window as having
 * a digest due (by each of them, since a redelivery may take the place of the first). These writes add to
 * sets and set fixed values: repeating them is harmless, so the SDK's retries may.
 */
export const noteFolded = async (runtime: Runtime, call: StackApiCall, window: number): Promise<void> => {
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
      window: new Date(window).toISOString(),
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

/** What a window's counter holds: the calls counted (and refused), and who called what among those noted. */
export interface WindowCount {
  count: number;
  refused: number;
  callers: string[];
  calls: string[];
}

export const readWindow = async (runtime: Runtime, stack: string, window: number): Promise<WindowCount> => {
  const counter = await readItem(runtime, windowItemId(stack, window));
  return {
    count: Number(counter?.count?.N ?? 0),
    refused: Number(counter?.refused?.N ?? 0),
    callers: counter?.callers?.SS ?? [],
    calls: counter?.calls?.SS ?? [],
  };
};

/** The stacks a window lists as having a digest due (the sweep's index). */
export const stacksDue = async (runtime: Runtime, window: number): Promise<string[]> =>
  (await readItem(runtime, indexItemId(window)))?.stacks?.SS ?? [];

/** The stack's latest window with a digest due, if any. */
export const dueWindowOf = async (runtime: Runtime, stack: string): Promise<number | undefined> => {
  const due = Number((await readItem(runtime, stackItemId(stack)))?.window?.N);
  return Number.isInteger(due) ? due : undefined;
};

/** Take a window whose digest went out off the sweep's index and off the stack's pointer. */
export const settleDigest = async (runtime: Runtime, stack: string, window: number): Promise<void> => {
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
