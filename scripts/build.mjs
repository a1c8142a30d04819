// Bundles the handlers (handlers/*.ts) and the commands (bin/*.ts; their modules live in subfolders such as
// bin/cli/, so that they are no entries) with esbuild: one CommonJS file per entry, with a source map. Either
// way the handlers get deployer.config.yaml validated as the build runs, never an older compiled copy:
//
//   node scripts/build.mjs                                  everything into dist/ (npm run build)
//   node scripts/build.mjs --function <entry.ts> <outdir>   one function's bundle, for `sam build` (Makefile)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { compileConfig } from './compile-config.mjs';

const entries = (dir) =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => `${dir}/${file}`);

// The options of every function's bundle (see handlerOptions); the benchmark builds its bundles with them too.
const bundleOptions = JSON.parse(readFileSync(new URL('./bundle-options.json', import.meta.url), 'utf8'));

const scratch = mkdtempSync(join(tmpdir(), 'deployer-build-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

// The configuration must stay inside the scope the deployer's IAM grants (bin/support/scope-check.ts), and
// the functions bundle it validated (shared/edge/bundled-config.ts): an invalid one fails the build.
const checkedConfigOrExit = async () => {
  const outfile = join(scratch, 'scope-check.js');
  await build({
    bundle: true,
    platform: 'node',
    format: 'cjs',
    logLevel: 'warning',
    entryPoints: ['bin/support/scope-check.ts'],
    outfile,
  });
  const { checkScope, validatedConfig } = (await import(pathToFileURL(outfile).href)).default;
  let config;
  try {
    config = validatedConfig();
  } catch (error) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const problems = checkScope();
  if (problems.length > 0) {
    process.stderr.write(
      `deployer.config.yaml reaches outside what the deployer's IAM allows:\n${problems.map((p) => `  ${p}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  return config;
};

/**
 * deployer.config.yaml as it is on disk, validated now, as data in place of shared/edge/bundled-config.ts:
 * the functions load neither a YAML parser nor the schema at cold start.
 */
const validatedConfigModule = (config) => ({
  name: 'deployer-config-validated',
  setup(b) {
    b.onLoad({ filter: /[\\/]shared[\\/]edge[\\/]bundled-config\.ts$/ }, () => ({
      contents: `const config = ${JSON.stringify(config)};\nexport const bundledConfig = () => config;\n`,
      loader: 'js',
    }));
  },
});

/**
 * STS is loaded only when a stage in another account is first reached (shared/aws/assumed-role.ts): it is a
 * file of its own beside the function's bundle (sts.js), read then, and not compiled at every cold start.
 */
const STS_FILE = 'sts.js';
const stsApart = {
  name: 'sts-apart',
  setup(b) {
    // import('@aws-sdk/client-sts') becomes a require of ./sts.js, made when the import runs.
    b.onResolve({ filter: /^@aws-sdk\/client-sts$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: 'sts', namespace: 'sts-apart' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'sts-apart' }, () => ({
      contents: `module.exports = require('./${STS_FILE}');`,
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/sts\.js$/ }, (args) =>
      args.namespace === 'sts-apart' ? { path: args.path, external: true } : undefined,
    );
  },
};
// Of STS, sts.js holds what shared/aws/assumed-role.ts uses (its StsModule): the client and AssumeRole.
const buildSts = (target, outdir) =>
  build({
    ...bundleOptions,
    stdin: {
      contents: "export { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';",
      resolveDir: '.',
    },
    sourcemap: false,
    target,
    logLevel: 'warning',
    outfile: join(outdir, STS_FILE),
  });

/**
 * A function's bundle: the options in scripts/bundle-options.json (the benchmark builds its bundles with them
 * too). For Lambda these are the options SAM's esbuild build method had in template.yaml (Format cjs, Target
 * node22, Minify, Sourcemap, External yaml); dist/handlers, run by Node 20 here, targets node20. mainFields
 * puts the packages' ES modules first: esbuild then keeps of each AWS SDK client only the commands a function
 * sends (the CommonJS build of a client holds them all): deploy.js 1,223 → 758 KiB, its module load about halved.
 * Functions read their configuration as bundled, validated data; only local runs with DEPLOYER_CONFIG_FILE
 * parse YAML (and load the schema), and they find the yaml package in node_modules.
 */
const handlerOptions = (target, config) => ({
  ...bundleOptions,
  target,
  logLevel: 'warning',
  plugins: [validatedConfigModule(config), stsApart],
});

const [mode, entry, outdir] = process.argv.slice(2);

const config = await checkedConfigOrExit();

if (mode === '--function') {
  if (!entry || !outdir) {
    process.stderr.write('usage: node scripts/build.mjs --function <handlers/name.ts> <outdir>\n');
    process.exit(2);
  }
  await build({ ...handlerOptions('node22', config), entryPoints: [entry], outdir });
  await buildSts('node22', outdir);
} else {
  // The JSON beside the YAML stays current for the type checker and the tests that read it.
  compileConfig();
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    mainFields: bundleOptions.mainFields,
    logLevel: 'warning',
  };
  await build({
    ...handlerOptions('node20', config),
    entryPoints: entries('handlers'),
    outdir: 'dist/handlers',
  });
  await buildSts('node20', 'dist/handlers');
  // The command line is a small dispatcher (dist/bin/deployer.js) and a bundle per kind of command that it
  // loads when one runs: `deployer invoke` parses neither the operating commands nor their SDK clients
  // before the handler's own bundle. Minified like the handlers.
  const separately = {
    name: 'cli-bundles',
    setup(b) {
      b.onResolve({ filter: /^\.\/cli\/(invoke|commands\/index)$/ }, (args) => ({
        path: `${args.path}.js`,
        external: true,
      }));
    },
  };
  await build({
    ...common,
    minify: true,
    entryPoints: entries('bin'),
    outdir: 'dist/bin',
    plugins: [separately],
  });
  await build({
    ...common,
    minify: true,
    entryPoints: ['bin/cli/commands/index.ts'],
    outdir: 'dist/bin/cli',
    outbase: 'bin/cli',
  });
  await build({
    ...common,
    minify: true,
    entryPoints: ['bin/cli/invoke.ts'],
    outdir: 'dist/bin/cli',
    outbase: 'bin/cli',
    // What `deployer invoke` needs only now and then (a template not parsed yet, credentials from outside
    // the environment) it reads from node_modules then: it compiles neither at every run.
    external: ['yaml', '@aws-sdk/credential-provider-node'],
  });
  await build({ ...common, entryPoints: entries('bench'), outdir: 'dist/bench', external: ['esbuild'] });

  // The command line runs as `npx deployer …`: its bundle must be executable.
  const { chmodSync } = await import('node:fs');
  chmodSync('dist/bin/deployer.js', 0o755);
}
