/**
 * The schema library, configured once: zod's tree-shakable "mini" build (the same validation as zod, a
 * fraction of its size and cold-start cost) with zod's English messages, so that a rejected event or
 * configuration says what was expected ("expected boolean, received string"). Every module that defines
 * schemas imports `* as z from 'zod/mini'` itself (so esbuild keeps only what is used) and this file, for
 * its effect and for `built`.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config({ ...en(), jitless: true });

/**
 * A schema built when first used. A function's bundle holds the schema of every event and record it may
 * meet, and one invocation meets few of them: built at module load, they cost every cold start about 14 ms
 * (issue 13's module-load figures); built on first use, an invocation builds the one it validates.
 */
export const built = <T>(build: () => T): (() => T) => {
  let schema: T | undefined;
  return () => {
    schema ??= build();
    return schema;
  };
};
