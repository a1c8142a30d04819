// Bundles every handler (handlers/*.ts) and every command (bin/*.ts) with esbuild, the same way
// `sam build` does from the Metadata in template.yaml: one minified CommonJS file per entry, with a
// source map, and the configuration (deployer.config.yaml compiled to JSON) inlined.
import { readdirSync } from 'node:fs';
import { build } from 'esbuild';
import { compileConfig } from './compile-config.mjs';

const entries = (dir) =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => `${dir}/${file}`);

compileConfig();

// The configuration must stay inside the scope the deployer's IAM grants (bin/support/scope-check.ts).
await build({
  bundle: true,
  platform: 'node',
  format: 'cjs',
  logLevel: 'warning',
  entryPoints: ['bin/support/scope-check.ts'],
  outfile: 'dist/tools/scope-check.js',
});
const { checkScope } = (await import(new URL('../dist/tools/scope-check.js', import.meta.url))).default;
const problems = checkScope();
if (problems.length > 0) {
  process.stderr.write(
    `deployer.config.yaml reaches outside what the deployer's IAM allows:\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: entries('handlers'),
  outdir: 'dist/handlers',
  minify: true,
  // Functions read their configuration as bundled JSON; only local runs with DEPLOYER_CONFIG_FILE parse
  // YAML, and they find the yaml package in node_modules.
  external: ['yaml'],
});
await build({ ...common, entryPoints: entries('bin'), outdir: 'dist/bin' });
await build({ ...common, entryPoints: entries('bench'), outdir: 'dist/bench', external: ['esbuild'] });

// The command line runs as `npx deployer …`: its bundle must be executable.
const { chmodSync } = await import('node:fs');
chmodSync('dist/bin/deployer.js', 0o755);
