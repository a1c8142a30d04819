/**
 * How the command line writes: tables and short release names for people, JSON for scripts (--json).
 *
 * Keys, commits, names, reasons and times come from SSM and the stacks, which anyone with access can write:
 * each is shown as data (shared/edge/untrusted.ts), so that none can break a table row or repaint the terminal.
 */
import { shown } from '../../shared/edge/untrusted';

/** "releases/app/3f9a12b4c5d6…": a content-named key with its digest cut to 12 characters. */
export const short = (key: string | undefined): string => {
  if (!key) return '-';
  const digest = /([0-9a-f]{64})/.exec(key)?.[1];
  return digest ? `${shown(`${key.slice(0, key.indexOf(digest))}${digest.slice(0, 12)}`)}…` : shown(key);
};

/** The short form of a commit from the history. */
export const shortCommit = (commit: string | undefined): string | undefined =>
  commit === undefined ? undefined : shown(commit.slice(0, 7));

/** "v12 1a2b3c4 releases/app/3f9a…", leaving out what is not known. */
export const releaseCell = (version: number | undefined, commit: string | undefined, key: string): string =>
  [version === undefined ? '' : `v${version}`, shortCommit(commit) ?? '', short(key)]
    .filter(Boolean)
    .join(' ');

export const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
};

/** "label:  value" lines, the values aligned; lines without a value are left out. */
export const fields = (entries: [label: string, value: string | undefined][]): string => {
  const shownEntries = entries.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const width = Math.max(...shownEntries.map(([label]) => label.length)) + 2;
  return shownEntries.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join('\n');
};

/**
 * JSON escapes C0 controls but writes DEL, C1 controls (8-bit ESC sequences), bidi and other format
 * characters and line separators as they are: escape those too, so that --json output is the same data and
 * cannot repaint a terminal either.
 */
export const terminalSafeJson = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(
    /[\u007f-\u009f\u2028\u2029\p{Cf}]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Write text as it is, anything else as terminal-safe JSON. */
export const print = (value: unknown): void => {
  process.stdout.write(`${typeof value === 'string' ? value : terminalSafeJson(value)}\n`);
};
