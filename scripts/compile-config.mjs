// Compiles deployer.config.yaml to deployer.config.json, the form the type checker, the tests and local runs
// read (shared/edge/bundled-config.ts). Run by `npm run build`; `npm test` fails when the JSON is stale. The
// functions do not bundle this file: scripts/build.mjs validates the YAML (shared/edge/config.ts) and bundles
// the validated configuration in its place.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

export const compileConfig = (from = 'deployer.config.yaml', to = 'deployer.config.json') => {
  const text = readFileSync(from, 'utf8');
  const json = `${JSON.stringify(parse(text, { prettyErrors: true, uniqueKeys: true }), null, 2)}\n`;
  let current = '';
  try {
    current = readFileSync(to, 'utf8');
  } catch {
    // not compiled yet
  }
  if (current !== json) writeFileSync(to, json);
  return to;
};

if (import.meta.url === `file://${process.argv[1]}`) compileConfig();
