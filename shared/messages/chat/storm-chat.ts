/**
 * The chat forms of an API-call storm (storm-messages.ts writes their emails): the note on the last call of
 * a window reported one by one, and the digest of the calls folded after it. In the stage's thread.
 */
import { clock, day, plural } from '../clock';
import type { StormDigest } from '../reports';
import { code, composeChat, field, own, threads, withId } from './compose';
import { CHAT_LIMITS } from './format';
import type { ChatNotification } from './schema';

/** The chat form of the last call of a window sent one by one: what follows is folded. */
export const withChatFoldNote = (chat: ChatNotification, windowEnd: number): ChatNotification => {
  const note = `More API calls on this stack until ${clock(windowEnd)} UTC are not sent one by one: one digest after ${clock(windowEnd)} UTC says how many there were.`;
  const description = `${chat.content.description}\n${note}`;
  const content =
    description.length <= CHAT_LIMITS.description
      ? { ...chat.content, description }
      : {
          ...chat.content,
          nextSteps: [note, ...(chat.content.nextSteps ?? [])].slice(0, CHAT_LIMITS.nextSteps),
        };
  return withId({ ...chat, content });
};

/** The chat form of the digest of one stack's folded calls in one window. */
export const digestChat = (digest: StormDigest): ChatNotification => {
  const span = `${clock(digest.windowStart)}-${clock(digest.windowEnd)} UTC`;
  const folded = plural(digest.folded, 'more API call', 'more API calls');
  return composeChat({
    title: `\u{1F32A} ${digest.stage ?? 'stack'}: ${digest.stack} ${folded} folded (${span})`,
    lines: [
      own(
        `${folded} on ${digest.stack} between ${span} were not sent one by one: the first ${digest.sentOneByOne} of that window were, and the rest are counted here.`,
        1000,
      ),
      ...field('Window', `${day(digest.windowStart)} ${span} (${digest.region})`),
      ...field('Folded', plural(digest.folded, 'call', 'calls')),
      ...field('Refused', `${digest.refused} of the window's calls`),
      ...field('Calls', digest.calls.length ? code(digest.calls.join(', '), 1000) : undefined),
      ...field('Callers', digest.callers.length ? code(digest.callers.join(', '), 1000) : undefined),
      ...field(
        'Noted from',
        digest.noted < digest.folded
          ? `the first ${digest.noted} folded calls (the rest only counted)`
          : undefined,
      ),
    ],
    nextSteps: [
      own(
        `Something calls the stack's API in a loop. Find it in CloudTrail (Event history, resource name ${digest.stack}) and stop it.${digest.refused > 0 ? ' Refused calls changed nothing.' : ''}`,
      ),
    ],
    keywords: [digest.stage, digest.stack, 'API_CALLS_FOLDED'],
    threadId: digest.stage ? threads.stage(digest.stage) : threads.stack(digest.stack),
    eventType: 'deployer-api-call-digest',
    context: {
      stage: digest.stage,
      stack: digest.stack,
      folded: digest.folded,
      refused: digest.refused,
      severity: digest.refused > 0 ? 'warning' : 'info',
      region: digest.region,
    },
  });
};
