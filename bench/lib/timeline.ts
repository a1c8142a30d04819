/**
 * Reading the proxy's record of one run: when ExecuteChangeSet arrived, how many sequential round trips
 * stood before it, and how long the caller slept after its change set was ready.
 */
import type { ChangeSetTiming, ForwardedCall } from '../../bin/support/aws-proxy';

export const executeOf = (calls: ForwardedCall[]): ForwardedCall => {
  const execute = calls.find((c) => c.operation === 'cloudformation.ExecuteChangeSet' && c.status < 300);
  if (!execute) throw new Error(`no ExecuteChangeSet among ${calls.map((c) => c.operation).join(', ')}`);
  return execute;
};

/**
 * Sequential round trips before ExecuteChangeSet: the largest number of calls of which each started after
 * the previous one was answered (calls made together count once). The polls of the change-set wait count
 * as one round trip: the wait itself.
 */
export const roundTripsBefore = (calls: ForwardedCall[]): number => {
  const execute = executeOf(calls);
  const before = calls.filter((c) => c.startedAt < execute.startedAt);
  const polls = before.filter((c) => c.operation === 'cloudformation.DescribeChangeSet');
  const others = before
    .filter((c) => c.operation !== 'cloudformation.DescribeChangeSet')
    .sort((a, b) => a.answeredAt - b.answeredAt);
  let chain = 0;
  let free = Number.NEGATIVE_INFINITY;
  for (const call of others) {
    if (call.startedAt >= free) {
      chain += 1;
      free = call.answeredAt;
    }
  }
  return chain + (polls.length > 0 ? 1 : 0);
};

/** How long after its change set was ready the caller asked again (its first poll that could see it ready). */
export const sleptPastReady = (calls: ForwardedCall[], changeSets: ChangeSetTiming[]): number => {
  const execute = executeOf(calls);
  const id = String(execute.params.ChangeSetName ?? '');
  const timing = changeSets.find((c) => c.id === id || c.name === id);
  if (!timing) throw new Error(`the proxy saw no CreateChangeSet for ${id}`);
  const asked = calls
    .filter(
      (c) =>
        (c.operation === 'cloudformation.DescribeChangeSet' ||
          c.operation === 'cloudformation.ExecuteChangeSet') &&
        c.startedAt >= timing.readyAt,
    )
    .sort((a, b) => a.startedAt - b.startedAt)[0];
  return (asked ?? execute).startedAt - timing.readyAt;
};

/** Answers that were errors (4xx and 5xx), as "operation status". */
export const failedCalls = (calls: ForwardedCall[]): string[] =>
  calls.filter((c) => c.status >= 400).map((c) => `${c.operation} ${c.status}`);
