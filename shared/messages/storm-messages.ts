/**
 * The ops team's messages about an API-call storm: the note on the last call of a window reported one by
 * one, and the digest of the calls folded after it.
 */

import { shown } from '../edge/untrusted';
import { composeSubject, fieldLines, type Notification } from './notification';

export interface StormDigest {
  stage?: string;
  stack: string;
  region: string;
  windowStart: number;
  windowEnd: number;
  /** Calls of the window that were not reported one by one. */
  folded: number;
  /** How many of all the window's calls AWS refused. */
  refused: number;
  /** Calls reported one by one before the folding started. */
  sentOneByOne: number;
  /** Who made the noted calls, and which calls (with AWS's refusal code). */
  callers: string[];
  calls: string[];
  /** How many of the folded calls the callers and calls were noted from. */
  noted: number;
}

/** "10:10", in UTC. */
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
/** "2026-11-20", in UTC. */
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The last message sent one by one in a window says that what follows is folded. */
export const withFoldNote = (message: Notification, windowEnd: number): Notification => ({
  ...message,
  body: `${message.body}\nMore API calls on this stack until ${clock(windowEnd)} UTC are not sent one by one: one digest after ${clock(windowEnd)} UTC says how many there were.\n`,
});

/** The digest of one stack's folded calls in one window. */
export const digestMessage = (digest: StormDigest): Notification => {
  const span = `${clock(digest.windowStart)}-${clock(digest.windowEnd)} UTC`;
  const folded = plural(digest.folded, 'more API call', 'more API calls');
  const subject = composeSubject(digest.stage, digest.stack, [folded, 'folded', `(${span})`]);
  const lines = [
    `${folded} on ${digest.stack} between ${span} were not sent one by one: the first ${digest.sentOneByOne} of that window were, and the rest are counted here.`,
    '',
    ...fieldLines([
      ['Stage', digest.stage ?? '(not a configured stage)'],
      ['Stack', digest.stack],
      ['Window', `${day(digest.windowStart)} ${span} (${digest.region})`],
      ['Folded', plural(digest.folded, 'call', 'calls')],
      ['Refused', `${digest.refused} of the window's calls`],
      ['Calls', digest.calls.map((call) => shown(call)).join(', ') || undefined],
      ['Callers', digest.callers.map((caller) => shown(caller)).join(', ') || undefined],
      [
        'Noted from',
        digest.noted < digest.folded
          ? `the first ${digest.noted} folded calls (the rest only counted)`
          : undefined,
      ],
    ]),
    '',
    `Next: something calls the stack's API in a loop. Find it in CloudTrail (Event history, resource name ${digest.stack}) and stop it.${digest.refused > 0 ? ' Refused calls changed nothing.' : ''}`,
  ];
  return {
    subject,
    body: `${lines.join('\n')}\n`,
    attributes: {
      kind: 'api-call',
      stage: digest.stage ?? '-',
      stack: digest.stack,
      status: 'API_CALLS_FOLDED',
      severity: digest.refused > 0 ? 'warning' : 'info',
    },
  };
};
