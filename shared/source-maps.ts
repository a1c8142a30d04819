/**
 * Stack traces that name our source files, without `--enable-source-maps`: that flag makes Node read and
 * parse every bundle's source map as the bundle loads, on every cold start (+25 % load time, +17 MiB).
 * Here the bundle's map is read only when an error is logged, the first time, and the frames in the bundle
 * are rewritten to the TypeScript file, line and column they came from (node:module's SourceMap).
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

/** Per bundle file: its source map, or null when it has none (tests run the TypeScript itself). */
const maps = new Map<string, SourceMap | null>();

const mapOf = (file: string): SourceMap | null => {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
};

/** A frame's "file:line:column" (1-based, as V8 prints them). */
const FRAME = /((?:\/|[A-Za-z]:\\)[^\s():]+\.js):(\d+):(\d+)/g;

/** The stack with each frame of a bundle that has a source map named by its original place. */
export const mapStack = (stack: string): string =>
  stack.replace(FRAME, (frame, file: string, line: string, column: string) => {
    const map = mapOf(file);
    if (!map) return frame;
    const entry = map.findEntry(Number(line) - 1, Number(column) - 1) as {
      originalSource?: string;
      originalLine?: number;
      originalColumn?: number;
    };
    if (!entry.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined)
      return frame;
    const source = entry.originalSource.replace(/^(\.\.\/)+/, '');
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });

/** Rewrite the stacks of an error and its causes in place (a stack already rewritten is left as it is). */
export const mapErrorStacks = (error: Error, seen = new Set<Error>()): void => {
  if (seen.has(error)) return;
  seen.add(error);
  if (typeof error.stack === 'string') error.stack = mapStack(error.stack);
  if (error.cause instanceof Error) mapErrorStacks(error.cause, seen);
  if (error instanceof AggregateError)
    for (const inner of error.errors) if (inner instanceof Error) mapErrorStacks(inner, seen);
};
