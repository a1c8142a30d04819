/**
 * The ops team's messages about an API-call storm: the note on the last call of a window reported one by
 * one, and the digest of the calls folded after it.
 */

import { shown } from '../edge/untrusted';
import { digestChat, withChatFoldNote } from './chat/storm-chat';
import { clock, day, plural } from './clock';
import { composeSubject, fieldLines, type Notification } from './notification';
import type { StormDigest } from './reports';

export type { StormDigest } from './reports';

/** The last message sent one by one in a window says that what follows is folded. */
export const withFoldNote = (message: Notification, windowEnd: number): Notification => ({
  ...message,
  body: `${message.body}\nMore API calls on this stack until ${clock(windowEnd)} UTC are not sent one by one: one digest after ${clock(windowEnd)} UTC says how many there were.\n`,
  ...(message.chat ? { chat: withChatFoldNote(message.chat, windowEnd) } : {}),
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
    chat: digestChat(digest),
    attributes: {
      kind: 'api-call',
      stage: digest.stage ?? '-',
      stack: digest.stack,
      status: 'API_CALLS_FOLDED',
      severity: digest.refused > 0 ? 'warning' : 'info',
    },
  };
};
