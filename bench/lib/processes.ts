/**
 * Fresh processes, as Lambda starts them: the deploy handler bundled with the bench world's configuration
 * (as `sam build` bundles deployer.config.yaml) and run with the environment and NODE_OPTIONS the template
 * gives DeployFunction; the floor script, bundled and minified the same way; `deployer invoke`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { parse } from 'yaml';
import { functionDefinition, readTemplate } from '../../bin/support/sam-template';
import bundleOptions from '../../scripts/bundle-options.json';
import { ACCOUNT, REGION, ROOT, type World } from './world';

const scratch = mkdtempSync(join(tmpdir(), 'deployer-bench-'));

/** A path in the bench's scratch directory. */
export const scratchFile = (name: string): string => join(scratch, name);

/** What the template sets for a function: its NODE_OPTIONS and memory. */
export const deployed = (logicalId = 'DeployFunction') => {
  const definition = functionDefinition(readTemplate(join(ROOT, 'template.yaml')), logicalId, {
    region: REGION,
    accountId: ACCOUNT,
  });
  return { nodeOptions: definition.environment.NODE_OPTIONS ?? '', memoryMb: definition.memoryMb };
};

/**
 * esbuild with the handlers' options (scripts/bundle-options.json: cjs, minified, a linked source map, the
 * packages' ES modules first), for Node 20 as dist/handlers.
 */
export const handlerBundleOptions: BuildOptions = {
  ...bundleOptions,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
};

const bundle = async (entry: string, outfile: string, configJson?: string): Promise<string> => {
  const { build } = await import('esbuild');
  await build({
    ...handlerBundleOptions,
    entryPoints: [join(ROOT, entry)],
    outfile,
    logLevel: 'silent',
    plugins: configJson
      ? [
          {
            name: 'bench-config',
            setup(b) {
              b.onResolve({ filter: /(^|\/)deployer\.config\.json$/ }, () => ({ path: configJson }));
            },
          },
        ]
      : [],
  });
  return outfile;
};

export interface Bundles {
  handler: string;
  floor: string;
}

/** The deploy handler with the world's configuration inside, and the floor script. */
export const buildBundles = async (world: World): Promise<Bundles> => {
  const configJson = join(scratch, 'deployer.config.json');
  writeFileSync(configJson, JSON.stringify(parse(world.configText)));
  return {
    handler: await bundle('handlers/deploy.ts', join(scratch, 'deploy.js'), configJson),
    floor: await bundle('bench/floor/deploy.ts', join(scratch, 'floor.js')),
  };
};

export interface Finished {
  /** performance.now() at spawn, in this process's clock (the proxy's clock too). */
  spawnedAt: number;
  exitedAt: number;
  stdout: string;
  /** Peak resident set of the process (KiB), as the kernel counted it. */
  maxRssKiB?: number;
}

export const runProcess = (args: string[], env: NodeJS.ProcessEnv, label: string): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const exitedAt = performance.now();
      if (code !== 0) return reject(new Error(`${label} exited ${code}: ${stderr.slice(0, 2000)}`));
      resolve({ spawnedAt, exitedAt, stdout });
    });
  });

/** The environment every process gets: the emulator (through the proxy), the region, test credentials. */
export const awsEnv = (endpoint: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

/** Lambda's side: the template's variables for DeployFunction, resolved for the bench world. */
export const handlerEnv = (world: World, endpoint: string): NodeJS.ProcessEnv => {
  const { nodeOptions } = deployed();
  return {
    ...awsEnv(endpoint),
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: world.topicArn,
    DEPLOYER_LEDGER_TABLE: world.ledgerTable,
    POWERTOOLS_SERVICE_NAME: 'deployer',
    LOG_LEVEL: 'WARN',
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  };
};

/**
 * Run the handler bundle on one event in a fresh process, the way Lambda's runtime does (require, then call
 * `handler`); prints the summary and the process's peak RSS.
 */
export const runHandler = (bundleFile: string, event: unknown, env: NodeJS.ProcessEnv): Promise<Finished> => {
  const eventFile = writeEvent(event);
  const script = `const {handler}=require(${JSON.stringify(bundleFile)});handler(JSON.parse(require('fs').readFileSync(${JSON.stringify(eventFile)},'utf8'))).then((r)=>process.stdout.write(JSON.stringify({summary:r,maxRssKiB:process.resourceUsage().maxRSS})))`;
  return runProcess(['-e', script], env, 'the deploy handler').then((finished) => {
    const printed = JSON.parse(finished.stdout) as { maxRssKiB: number };
    return { ...finished, maxRssKiB: printed.maxRssKiB };
  });
};

export const writeEvent = (event: unknown): string => {
  const eventFile = join(scratch, `event-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(eventFile, JSON.stringify(event));
  return eventFile;
};
