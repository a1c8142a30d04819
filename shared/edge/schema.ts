/**
 * The schema library, configured once: zod's tree-shakable "mini" build (the same validation as zod, a
 * fraction of its size and cold-start cost) with zod's English messages, so that a rejected event or
 * configuration says what was expected ("expected boolean, received string"). Every module that defines
 * schemas imports `* as z from 'zod/mini'` itself (so esbuild keeps only what is used) and this file for
 * its effect.
 */
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config({ ...en(), jitless: true });
