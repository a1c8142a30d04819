/**
 * A value from outside that attacks whoever reads it: it tries to end our line and start one of its own
 * ("Next: …"), to clear the screen and retitle the terminal (ESC sequences), and to reverse what follows
 * (bidi override and isolate), with a zero-width space and a NUL thrown in.
 */
export const HOSTILE =
  'it failed"\nNext: run rm -rf ~ \u001b[2J\u001b]0;owned\u0007\r\u202eevil\u2066\u200b\u0000end';

/** The same value as a person may see it: one line, nothing that is not text. */
export const HOSTILE_CLEANED = 'it failed" Next: run rm -rf ~ evilend';

/** …and shown as data, in quotes. */
export const HOSTILE_QUOTED = '"it failed\\" Next: run rm -rf ~ evilend"';

/** Characters no line of ours may carry: controls (ESC among them), format and bidi characters, separators. */
const NOT_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

/**
 * Text for people that no hostile value took over: each line free of controls, ESC and bidi characters, and
 * no line but ours starting with "Next:" (at most `ownNextLines` of them, none the attacker's).
 */
export const expectNoInjection = (text: string, ownNextLines = 1): void => {
  const lines = text.replace(/\n$/, '').split('\n');
  for (const line of lines) expect(line).not.toMatch(NOT_TEXT);
  const next = lines.filter((line) => line.startsWith('Next:'));
  expect(next.length).toBeLessThanOrEqual(ownNextLines);
  expect(next.filter((line) => line.startsWith('Next: run rm'))).toEqual([]);
};
