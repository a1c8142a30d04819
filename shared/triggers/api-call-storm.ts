/**
 * API-call storms: a script calling UpdateStack a thousand times in a loop reaches the ops team as a few
 * messages, not a thousand. Calls are counted per stack and per ten-minute window of their event time. The
 * first three calls of a window are reported one by one; later ones are folded: counted and, for the first
 * fifty, who called what is noted. Once the window has closed, one digest says how many calls were folded.
 * A window closes for its digest when the stack's first call of a later window arrives, or when the
 * reconcile schedule's sweep runs after it.
 *
 * Each call keeps its place in its window (its ordinal) in the ledger: a redelivered call is not counted
 * twice, and the retry of a call whose report failed is reported as the call it was. The ledger's items
 * for this are kept by shared/messages/storm-ledger.ts.
 */
import type { StackApiCall } from '../edge/stack-events';
import { type Home, isHome, type Place, stageAt } from '../edge/stage-place';
import { logger } from '../logger';
import { type SendResult, sendOnce } from '../messages/ledger';
import { ledgerKeys } from '../messages/ledger-keys';
import type { Notification } from '../messages/notification';
import {
  dueWindowOf,
  noteFolded,
  ordinalOf,
  readWindow,
  settleDigest,
  stacksDue,
} from '../messages/storm-ledger';
import { digestMessage, withFoldNote } from '../messages/storm-messages';
import { countNotifications } from '../metrics';
import type { Runtime } from '../runtime';

/** The length of a window, by the calls' event time. */
export const WINDOW_MS = 10 * 60_000;
/** Calls of a window reported one by one; the rest are folded into the window's digest. */
export const SENT_ONE_BY_ONE = 3;
/** Folded calls whose caller and call are noted for the digest; later ones are only counted. */
const NOTED = 50;
/** How far back the sweep looks for windows with a digest due: 6 hours. */
const SWEEP_WINDOWS = 36;

export type ApiCallOutcome = SendResult | 'folded';

/** Why a stack event was not sent, for the notify trigger's summary. */
export const unsentReason = (outcome: Exclude<ApiCallOutcome, 'sent'>): string =>
  outcome === 'duplicate'
    ? 'already reported (the same event delivered again)'
    : "folded into its window's digest (an API-call storm on this stack)";

/**
 * The stack a storm is counted on: its name at home (as the ledger always knew it), and its name with its
 * account and region elsewhere, so that stacks of one name in two accounts are two stacks.
 */
export const stormStackKey = (home: Home, call: Place & { stack: string }): string =>
  isHome(home, call) ? call.stack : `${call.stack}@${call.account}/${call.region}`;

const stackOfKey = (home: Home, key: string): Place & { stack: string } => {
  const [, stack = key, account, region] = /^([^@]+)(?:@(\d{12})\/([a-z0-9-]+))?$/.exec(key) ?? [];
  return { stack, account: account ?? home.accountId, region: region ?? home.region };
};

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
  const counted = { ...call, stack: stormStackKey(runtime.settings, call) };
  const ordinal = await ordinalOf(runtime, counted, window, eventId);
  // The first call of a window closes the stack's earlier window: its digest comes before this call's report.
  if (ordinal === 1) await sendPendingDigest(runtime, counted.stack, window);
  if (ordinal <= SENT_ONE_BY_ONE) {
    const last = ordinal === SENT_ONE_BY_ONE;
    return sendOnce(
      runtime,
      ledgerKeys.stackEvent(eventId),
      last ? withFoldNote(message, window + WINDOW_MS) : message,
    );
  }
  if (ordinal <= SENT_ONE_BY_ONE + NOTED) await noteFolded(runtime, counted, window);
  logger.info('API call folded into its window digest', {
    stack: call.stack,
    window: new Date(window).toISOString(),
    ordinal,
  });
  return 'folded';
};

/** The reconcile schedule's sweep: send the digests of the closed windows before `time` that are due. */
export const sendDueDigests = async (runtime: Runtime, time: string): Promise<number> => {
  const current = windowOf(time);
  const windows = Array.from({ length: SWEEP_WINDOWS }, (_, i) => current - (i + 1) * WINDOW_MS);
  const indexes = await Promise.all(
    windows.map(async (window) => ({ window, stacks: await stacksDue(runtime, window) })),
  );
  let sent = 0;
  for (const { window, stacks } of indexes) {
    for (const stack of stacks) if ((await sendDigest(runtime, stack, window)) === 'sent') sent += 1;
  }
  if (sent > 0) logger.info('API-call digests sent by the sweep', { sent });
  return sent;
};

/** The stack's first call of a window: send the digest its earlier window still owes. */
const sendPendingDigest = async (runtime: Runtime, stack: string, window: number): Promise<void> => {
  const due = await dueWindowOf(runtime, stack);
  if (due !== undefined && due < window) await sendDigest(runtime, stack, due);
};

/** Send one window's digest (once), then take the window off the lists of digests due. */
const sendDigest = async (
  runtime: Runtime,
  stack: string,
  window: number,
): Promise<SendResult | undefined> => {
  const counter = await readWindow(runtime, stack, window);
  const folded = counter.count - SENT_ONE_BY_ONE;
  let result: SendResult | undefined;
  if (folded > 0) {
    const noted = counter.calls.length > 0 ? Math.min(folded, NOTED) : 0;
    const where = stackOfKey(runtime.settings, stack);
    const stage = stageAt(runtime.config, runtime.settings, where)?.name;
    result = await sendOnce(
      runtime,
      ledgerKeys.digest(stack, window),
      digestMessage({
        stage,
        stack: where.stack,
        region: where.region,
        windowStart: window,
        windowEnd: window + WINDOW_MS,
        folded,
        refused: counter.refused,
        sentOneByOne: SENT_ONE_BY_ONE,
        callers: [...counter.callers].sort(),
        calls: [...counter.calls].sort(),
        noted,
      }),
    );
    if (result === 'sent') countNotifications(stage, 1);
  }
  await settleDigest(runtime, stack, window);
  return result;
};
