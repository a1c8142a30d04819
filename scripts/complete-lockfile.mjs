// Adds package-lock.json entries for optional platform packages (other OSes' and CPUs' binaries of
// biome, esbuild, jest's resolver…) that npm left out because the registry it used does not serve them.
// Without the entries `npm ci` refuses the lock as out of sync with package.json; with them it skips those
// packages as it skips any optional package that does not fit the machine. Run after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [name, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = name ? `${name}/node_modules/${dep}` : `node_modules/${dep}`;
    if (packages[nested] || packages[`node_modules/${dep}`]) continue;
    packages[`node_modules/${dep}`] = { version, dev: Boolean(entry.dev), optional: true };
    added += 1;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`${path}: ${added} optional platform package(s) added\n`);
