/**
 * The pieces every chat message is made of, and the one function that assembles them within the format's
 * limits (format.ts).
 *
 * Outside text (commit authors, status and resource reasons, caller names, error messages, tokens) is
 * cleaned as for the email (untrusted.ts: one line, no control, format or bidi characters) and then shown
 * only inside an inline code span, where neither Slack nor Teams renders links, mentions or emphasis. The
 * characters that could end the span or reach the chat platform's own parsing are replaced by look-alikes
 * first: a backtick (would close the span), `<` and `>` (Slack's `<!channel>`, `<@U123>`, `<url|text>`;
 * HTML in Teams), `&` (entities) and `@` (`@here`, `@channel`, `@everyone`). Our own words and the names the
 * configuration validated are shown bare; anything else in a title, keyword or context value is reduced to
 * plain characters.
 */
import { createHash } from 'node:crypto';
import { cleanText } from '../../edge/untrusted';
import { CHAT_LIMITS, CONTEXT_KEY, CONTEXT_VALUE } from './format';
import type { ChatNotification } from './schema';

const LOOK_ALIKES: Record<string, string> = {
  '`': '\u02cb', // ˋ modifier letter grave accent
  '<': '\u2039', // ‹
  '>': '\u203a', // ›
  '&': '\uff06', // ＆
  '@': '\uff20', // ＠
};

/** Text with the characters that chat platforms parse replaced by look-alikes. */
export const neutral = (text: string): string => text.replace(/[`<>&@]/g, (c) => LOOK_ALIKES[c] ?? c);

/** Outside text as data: one clean line in an inline code span, nothing in it rendered. */
export const code = (value: string, max = 500): string => {
  const clean = neutral(cleanText(value, max));
  return clean === '' ? '(empty)' : `\`${clean}\``;
};

/** One of our own sentences (it may name configured things): one clean line, nothing in it parsed. */
export const own = (sentence: string, max: number = CHAT_LIMITS.nextStep): string =>
  clip(neutral(cleanText(sentence, 4 * max)), max);

/** One of our commands, as code (every name in it validated by the configuration or by names.ts). */
export const command = (text: string): string => `\`${text.replace(/`/g, "'")}\``;

/** A bold label and its value, or nothing when the value is unknown. */
export const field = (label: string, value: string | undefined): string[] =>
  value === undefined || value === '' ? [] : [`*${label}:* ${value}`];

/** A name or id reduced to plain characters (for titles, keywords and context values). */
export const plain = (value: string, max: number): string =>
  clip(
    cleanText(value, max)
      .replace(/[^A-Za-z0-9 ._:/()=+,-]/g, '?')
      .trim(),
    max,
  );

/** The short form of a commit id, when it is one (7+ hex digits). */
export const shortCommitOf = (commit: string | undefined): string | undefined =>
  commit && /^[0-9a-f]{7,64}$/i.test(commit) ? commit.slice(0, 7).toLowerCase() : undefined;

/** At most `max` UTF-16 units (what the format's limits count), cut on a code point with an ellipsis. */
export const clip = (text: string, max: number): string => {
  if (text.length <= max) return text;
  let out = '';
  for (const char of text) {
    if (out.length + char.length > max - 1) break;
    out += char;
  }
  return `${out.trimEnd()}\u2026`;
};

const digest = (parts: unknown[]): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);

/**
 * The threads of a channel. One release in one stage has one thread: its deploy, how its stack operation
 * ended, and the move (rollback, reject) that replaced it. Messages about no release (a build that could not
 * be released, a lock, API calls) go to the thread of their build, or of their stage or stack.
 */
export const threads = {
  release: (stage: string, releaseKey: string) => `${stage}-${digest(['release', stage, releaseKey])}`,
  build: (stage: string, executionId: string) => `${stage}-${digest(['build', stage, executionId])}`,
  stage: (stage: string) => `${stage}-${digest(['stage', stage])}`,
  stack: (stack: string) => `stack-${digest(['stack', stack])}`,
};

export interface ChatParts {
  title: string;
  /** Lines of markdown, each already safe (own words, fields, code spans). */
  lines: string[];
  nextSteps?: string[];
  keywords?: (string | undefined)[];
  threadId: string;
  eventType: string;
  relatedResources?: (string | undefined)[];
  context?: Record<string, string | number | undefined>;
}

/** Assemble a chat message within the format's limits; its id is the digest of what it says. */
export const composeChat = (parts: ChatParts): ChatNotification => {
  const title = clip(neutral(parts.title), CHAT_LIMITS.title);
  const nextSteps = (parts.nextSteps ?? [])
    .filter(Boolean)
    .slice(0, CHAT_LIMITS.nextSteps)
    .map((step) => clip(step, CHAT_LIMITS.nextStep));
  const keywords = [
    ...new Set(
      (parts.keywords ?? [])
        .filter((k): k is string => Boolean(k))
        .map((k) => plain(k, CHAT_LIMITS.keyword))
        .filter(Boolean),
    ),
  ].slice(0, CHAT_LIMITS.keywords);
  const related = (parts.relatedResources ?? [])
    .filter((r): r is string => Boolean(r) && (r as string).length <= CHAT_LIMITS.relatedResource)
    .slice(0, CHAT_LIMITS.relatedResources);
  const content = {
    textType: 'client-markdown' as const,
    title,
    description: descriptionOf(parts.lines),
    ...(nextSteps.length ? { nextSteps } : {}),
    ...(keywords.length ? { keywords } : {}),
  };
  const metadata = {
    threadId: parts.threadId,
    summary: clip(title, CHAT_LIMITS.summary),
    eventType: parts.eventType.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 100),
    ...(related.length ? { relatedResources: related } : {}),
    ...contextOf(parts.context),
    enableCustomActions: true,
  };
  return withId({ version: '1.0', source: 'custom', content, metadata });
};

/** The message with its id: the digest of what it says. */
export const withId = (chat: Omit<ChatNotification, 'id'>): ChatNotification => {
  const { version, source, content, metadata } = chat;
  return { version, source, id: digest([content, metadata]), content, metadata };
};

/** The lines, whole, as far as they fit the description's limit; the rest is counted. */
const descriptionOf = (lines: string[]): string => {
  const all = lines.join('\n');
  if (all.length <= CHAT_LIMITS.description) return all || '(no details)';
  const kept: string[] = [];
  let length = 0;
  for (const line of lines) {
    const next = length + (kept.length ? 1 : 0) + line.length;
    // Room for the line that says how many did not fit.
    if (next > CHAT_LIMITS.description - 48) break;
    kept.push(line);
    length = next;
  }
  kept.push(`\u2026 ${lines.length - kept.length} more line(s): see the email`);
  return kept.join('\n');
};

/** Context values custom actions can use as variables: printable ASCII words only. */
const contextOf = (context: ChatParts['context']): { additionalContext?: Record<string, string> } => {
  const entries = Object.entries(context ?? {})
    .filter(
      (entry): entry is [string, string | number] => entry[1] !== undefined && CONTEXT_KEY.test(entry[0]),
    )
    .map(([key, value]) => [
      key,
      String(value)
        .replace(/[^\x21-\x7e]/g, '?')
        .slice(0, CHAT_LIMITS.contextValue),
    ])
    .filter(([, value]) => CONTEXT_VALUE.test(value as string))
    .slice(0, CHAT_LIMITS.contextEntries);
  return entries.length ? { additionalContext: Object.fromEntries(entries) } : {};
};
