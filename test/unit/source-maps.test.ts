/**
 * Stacks of errors thrown in a bundle name the TypeScript sources, with no --enable-source-maps: the map is
 * read only when a stack is mapped. A bundle is built here with esbuild, as scripts/build.mjs builds them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { mapErrorStacks, mapStack } from '../../shared/source-maps';

let dir: string;
let bundle: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'deployer-maps-'));
  const source = join(dir, 'thrower.ts');
  writeFileSync(
    source,
    [
      'export const padding = 1;',
      'export function explode(): never {',
      "  throw new Error('boom', { cause: new Error('below') });",
      '}',
    ].join('\n'),
  );
  bundle = join(dir, 'bundle.js');
  buildSync({
    entryPoints: [source],
    outfile: bundle,
    bundle: true,
    minify: true,
    sourcemap: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'silent',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The frame V8 prints for the throw in the bundle (Jest maps the stacks of real errors itself, so the frame
 * is made from the bundle's text: where `new Error("boom"` stands in it).
 */
const bundleFrame = (): string => {
  const text = readFileSync(bundle, 'utf8');
  const at = text.indexOf('Error("boom"');
  expect(at).toBeGreaterThan(0);
  const before = text.slice(0, at).split('\n');
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  return `${bundle}:${line}:${column}`;
};

test('a frame in a minified bundle is named by its TypeScript file, line and column', () => {
  const stack = `Error: boom\n    at l (${bundleFrame()})\n    at /elsewhere/caller.js:1:1`;
  const mapped = mapStack(stack);
  expect(mapped).not.toContain(`${bundle}:`);
  expect(mapped).toMatch(/at l \(.*thrower\.ts:3:\d+\)/);
  expect(mapped).toContain('/elsewhere/caller.js:1:1');
});

test('an error and its cause are rewritten in place, once', () => {
  const cause = Object.assign(new Error('below'), { stack: `Error: below\n    at ${bundleFrame()}` });
  const error = Object.assign(new Error('boom', { cause }), {
    stack: `Error: boom\n    at ${bundleFrame()}`,
  });
  mapErrorStacks(error);
  expect(error.stack).toMatch(/thrower\.ts:3:\d+/);
  expect(cause.stack).toMatch(/thrower\.ts:3:\d+/);
  const once = error.stack;
  mapErrorStacks(error);
  expect(error.stack).toBe(once);
});

test('frames of files without a source map are left as they are', () => {
  const stack = 'Error: x\n    at f (/nowhere/plain.js:1:2)\n    at /nowhere/other.js:3:4';
  expect(mapStack(stack)).toBe(stack);
});
