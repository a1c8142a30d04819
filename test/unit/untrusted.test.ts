import { cleanText, NAME_LIMIT, quoted, shown, TEXT_LIMIT } from '../../shared/edge/untrusted';

/** Every character that must never reach a person's screen from outside. */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

describe('cleanText', () => {
  it.each([
    ['a line break', 'first\nNext: run rm -rf /', 'first Next: run rm -rf /'],
    ['CR LF and tabs', 'a\r\n\tb\t\tc', 'a b c'],
    ['NEL, line and paragraph separators', 'a\u0085b\u2028c\u2029d', 'a b c d'],
    ['no-break spaces', 'a\u00a0\u00a0b', 'a b'],
    ['NUL, BEL, DEL and C1 controls', 'a\u0000b\u0007c\u007fd\u0080e\u0099f', 'abcdef'],
    ['a CSI sequence that clears the screen', 'before\u001b[2Jafter', 'beforeafter'],
    ['a colour CSI', '\u001b[31mred\u001b[0m', 'red'],
    ['an OSC that sets the window title (BEL)', 'x\u001b]0;pwned\u0007y', 'xy'],
    ['an OSC 8 hyperlink (ST)', '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\', 'click'],
    ['an 8-bit CSI', 'a\u009b2Jb', 'ab'],
    ['a lone ESC at the end', 'a\u001b', 'a'],
    ['a right-to-left override', 'abc\u202egnp.exe', 'abcgnp.exe'],
    ['every bidi control', '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061cx', 'x'],
    ['zero-width characters and a BOM', 'z\u200bw\u200cj\u200d\ufeffk', 'zwjk'],
    ['a lone surrogate', 'a\ud800b', 'ab'],
    ['leading and trailing whitespace', '  \n hello \t ', 'hello'],
  ])('removes %s', (_what, input, expected) => {
    expect(cleanText(input)).toBe(expected);
  });

  it('keeps ordinary unicode text', () => {
    expect(cleanText('échec ✗ 部署 🚀 Zoë')).toBe('échec ✗ 部署 🚀 Zoë');
  });

  it('shortens long text with a visible marker that says how much was cut', () => {
    const shortened = cleanText('r'.repeat(10_000), 100);
    expect(shortened).toBe(`${'r'.repeat(100)}…[cut 9900 chars]`);
  });

  it('cuts by characters, never inside one', () => {
    const shortened = cleanText('🚀'.repeat(10), 3);
    expect(shortened).toBe('🚀🚀🚀…[cut 7 chars]');
    expect(shortened).not.toMatch(/\p{Cs}/u);
  });

  it('bounds by default at TEXT_LIMIT', () => {
    expect(cleanText('x'.repeat(TEXT_LIMIT))).toHaveLength(TEXT_LIMIT);
    expect(cleanText('x'.repeat(TEXT_LIMIT + 1))).toBe(`${'x'.repeat(TEXT_LIMIT)}…[cut 1 chars]`);
  });

  it('handles a 256 KiB value in one piece', () => {
    const shortened = cleanText(`${'\u001b[2J\n'.repeat(1000)}${'y'.repeat(256 * 1024)}`);
    expect(shortened.startsWith('y')).toBe(true);
    expect(shortened).toMatch(/…\[cut \d+ chars\]$/);
  });
});

describe('quoted', () => {
  it('shows a value in double quotes, inner quotes and backslashes escaped', () => {
    expect(quoted('Resource handler returned message: "no"')).toBe(
      '"Resource handler returned message: \\"no\\""',
    );
    expect(quoted('C:\\path')).toBe('"C:\\\\path"');
  });

  it('a hostile value stays one quoted line without ESC or bidi characters', () => {
    const shown = quoted('ok"\nNext: run rm -rf /\u001b[2J\u202e');
    expect(shown).toBe('"ok\\" Next: run rm -rf /"');
    expect(shown).not.toMatch(FORBIDDEN);
  });
});

describe('shown', () => {
  it.each([
    'releases/orders-api/abc.zip',
    'arn:aws:iam::123456789012:role/PlatformOps',
    'kim@example.com',
    'deploy-prod-v7',
  ])('shows the plain word %s bare', (value) => {
    expect(shown(value)).toBe(value);
  });

  it.each([
    ['a space', 'two words', '"two words"'],
    ['a line break', 'key\nNext: rm', '"key Next: rm"'],
    ['a quote', 'a"b', '"a\\"b"'],
    ['a backslash', 'a\\b', '"a\\\\b"'],
    ['non-ASCII', 'jürgen', '"jürgen"'],
    ['a bidi override', 'a\u202eb', '"ab"'],
    ['an ESC sequence', 'a\u001b[2Jb', '"ab"'],
    ['nothing', '', '""'],
  ])('quotes a value with %s', (_what, value, expected) => {
    expect(shown(value)).toBe(expected);
  });

  it('quotes and shortens an overlong word', () => {
    expect(shown('w'.repeat(NAME_LIMIT + 5))).toBe(`"${'w'.repeat(NAME_LIMIT)}…[cut 5 chars]"`);
  });
});
