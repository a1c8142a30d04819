/**
 * Text that came from outside (event fields, stack and resource reasons, caller names, SSM descriptions,
 * stack parameters) on its way to a person: an email body or a terminal. Such text must never be able to
 * look like our own lines ("Next: …"), repaint a terminal (ESC sequences) or reorder what is shown (bidi
 * overrides). Decisions keep the raw values; only the layer that writes for people calls these.
 *
 * The rule, everywhere: free text is always shown in double quotes, JSON-style (inner `"` and `\` escaped);
 * a name or id is shown bare only when it is one word of printable ASCII (nothing in it can fake a line, a
 * column or a quote), and quoted like free text otherwise.
 */

/** ESC sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character escapes) and their 8-bit C1 forms. */
const ESCAPE_SEQUENCE = new RegExp(
  [
    '\\x1b\\[[0-?]*[ -/]*[@-~]?', // CSI: ESC [ parameters intermediates final
    '\\x9b[0-?]*[ -/]*[@-~]?', // CSI, 8-bit
    '\\x1b[\\]PX^_][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?', // OSC, DCS, SOS, PM, APC up to BEL or ST
    '[\\x90\\x98\\x9d-\\x9f][^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?', // the same, 8-bit
    '\\x1b[ -/]*[0-~]?', // any other escape: intermediates and a final byte
  ].join('|'),
  'g',
);

/**
 * Characters that are not text: C0 and C1 controls and DEL (Cc), format characters (Cf: the bidi embeddings,
 * overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E, U+200F and U+061C, the zero-width
 * U+200B–U+200D, U+FEFF, soft hyphens, invisible operators, tags) and lone surrogates (Cs).
 */
const NOT_TEXT = /[\p{Cc}\p{Cf}\p{Cs}]/gu;

/** Whitespace of any kind (tabs, line breaks, NEL, no-break and line or paragraph separators): one space. */
const WHITESPACE = /[\p{Z}\t\n\v\f\r\u0085]/gu;

/** Generous enough for a rollback reason that lists many resources, short enough to read on a phone. */
export const TEXT_LIMIT = 2000;
/** Names, ids, ARNs, keys. */
export const NAME_LIMIT = 256;

/**
 * One line of plain text: ESC sequences and control, format and bidi characters removed, whitespace runs one
 * space, and at most `max` characters of it kept, followed by a visible "…[cut N chars]" when longer.
 */
export const cleanText = (value: string, max = TEXT_LIMIT): string => {
  const clean = value
    .replace(ESCAPE_SEQUENCE, '')
    .replace(WHITESPACE, ' ')
    .replace(NOT_TEXT, '')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (clean.length <= max) return clean;
  // Counted in code points, so that no character is split in two.
  const chars = Array.from(clean);
  if (chars.length <= max) return clean;
  return `${chars.slice(0, max).join('').trimEnd()}…[cut ${chars.length - max} chars]`;
};

/** Free text from outside, as data: cleaned and in double quotes. */
export const quoted = (value: string, max = TEXT_LIMIT): string => JSON.stringify(cleanText(value, max));

/** One word of printable ASCII without `"` or `\`: nothing in it can pass for our own text. */
const WORD = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** A name or id from outside: bare when it is one plain word, otherwise quoted like free text. */
export const shown = (value: string, max = NAME_LIMIT): string =>
  value.length <= max && WORD.test(value) ? value : quoted(value, max);
