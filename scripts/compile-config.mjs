// Compiles deployer.config.yaml to deployer.config.json, the form the functions bundle (esbuild inlines
// JSON natively, and no YAML parser has to load at cold start). Run by `npm run build`; `npm test`
// fails when the JSON is stale. Validation happens where the configuration is used (shared/edge/config.ts).
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
