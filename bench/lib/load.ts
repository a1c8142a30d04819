/**
 * Cold start: each handler's module load time, as deployed (the template's NODE_OPTIONS), against a bundle
 * that only constructs the SDK clients the handler uses and holds the commands it sends, bundled the same
 * way: the floor of its cold start. The client packages loaded whole are timed beside them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployed, handlerBundleOptions } from './processes';
import { goal, median, pairedRatio, say, table } from './report';
import { ACCOUNT, REGION, ROOT } from './world';

const HANDLERS = [
  { name: 'deploy', id: 'DeployFunction', clients: ['cloudformation', 'ssm', 's3', 'sns', 'dynamodb'] },
  // The clients each handler bundles and loads: notify reads CodeDeploy rollouts, reconcile reads alarms. (STS
  // is loaded only when a stage elsewhere is first reached: not at load.)
  {
    name: 'notify',
    id: 'NotifyFunction',
    clients: ['cloudformation', 'ssm', 's3', 'sns', 'dynamodb', 'codedeploy'],
  },
  {
    name: 'reconcile',
    id: 'ReconcileFunction',
    clients: ['cloudformation', 'ssm', 's3', 'sns', 'dynamodb', 'cloudwatch'],
  },
];
const CLIENT_CLASSES: Record<string, string> = {
  cloudformation: 'CloudFormationClient',
  ssm: 'SSMClient',
  s3: 'S3Client',
  sns: 'SNSClient',
  dynamodb: 'DynamoDBClient',
  codedeploy: 'CodeDeployClient',
  cloudwatch: 'CloudWatchClient',
};

/**
 * The AWS SDK commands a handler's bundle holds, by client ("ssm" → ["GetParameterCommand", …]): read from
 * esbuild's metafile of the handler built with the handlers' options.
 */
const commandsOf = async (handler: string): Promise<Map<string, string[]>> => {
  const { build } = await import('esbuild');
  const result = await build({
    ...handlerBundleOptions,
    entryPoints: [join(ROOT, 'handlers', `${handler}.ts`)],
    external: [...(handlerBundleOptions.external ?? []), '@aws-sdk/client-sts'],
    write: false,
    metafile: true,
    outdir: join(tmpdir(), 'unused'),
    logLevel: 'silent',
  });
  const commands = new Map<string, string[]>();
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'))?.[1];
  // What the bundle holds: a module esbuild read but dropped (nothing of it used) has no bytes in it.
  const kept = Object.entries(output?.inputs ?? {}).filter(([, { bytesInOutput }]) => bytesInOutput > 0);
  for (const [input] of kept) {
    const found = /@aws-sdk\/client-([a-z0-9-]+)\/dist-[a-z]+\/commands\/(\w+Command)\.js$/.exec(input);
    if (!found?.[1] || !found[2]) continue;
    commands.set(found[1], [...(commands.get(found[1]) ?? []), found[2]]);
  }
  return commands;
};

/**
 * The floors of a handler's load. `sdk`: a bundle that constructs the SDK clients the handler uses and holds
 * the commands it sends, built with the handlers' own options (esbuild keeps of each client what is
 * imported, as it does for the handler); what is left over it is ours: our code, zod, Powertools. `whole`:
 * the clients' packages loaded whole, require('@aws-sdk/client-…'), the floor of the earlier runs.
 */
const buildFloors = async (
  handler: (typeof HANDLERS)[number],
  dir: string,
): Promise<{ sdk: string; whole: string; commands: number }> => {
  const { build } = await import('esbuild');
  const commands = await commandsOf(handler.name);
  const unknown = [...commands.keys()].filter((c) => !handler.clients.includes(c));
  if (unknown.length > 0)
    throw new Error(`${handler.name} bundles clients the bench does not list: ${unknown}`);
  const construct = (c: string) => `new ${CLIENT_CLASSES[c]}({ region: process.env.AWS_REGION });`;
  const sdk = handler.clients
    .map((c) => {
      const names = [CLIENT_CLASSES[c], ...(commands.get(c) ?? [])];
      return `import { ${names.join(', ')} } from '@aws-sdk/client-${c}';\n${construct(c)}\nglobalThis.kept = [...(globalThis.kept ?? []), ${names.join(', ')}];`;
    })
    .join('\n');
  const whole = handler.clients
    .map((c) => `const { ${CLIENT_CLASSES[c]} } = require('@aws-sdk/client-${c}'); ${construct(c)}`)
    .join('\n');
  const files = {
    sdk: join(dir, `floor-${handler.name}.js`),
    whole: join(dir, `floor-${handler.name}-whole.js`),
  };
  for (const [kind, contents] of [
    ['sdk', sdk],
    ['whole', whole],
  ] as const) {
    await build({
      ...handlerBundleOptions,
      // The packages loaded whole are their CommonJS builds, as esbuild resolved them before mainFields.
      ...(kind === 'whole' ? { mainFields: ['main', 'module'] } : {}),
      sourcemap: false,
      stdin: { contents, resolveDir: ROOT, loader: 'js' },
      outfile: files[kind],
      logLevel: 'silent',
    });
  }
  return { ...files, commands: [...commands.values()].reduce((n, list) => n + list.length, 0) };
};

/** A script that requires a bundle and prints how long that took (ms). */
export const timedRequire = (file: string): string =>
  `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;

/** What a handler module needs in its environment to load, with the NODE_OPTIONS it is deployed with. */
export const loadEnv = (nodeOptions: string): NodeJS.ProcessEnv => ({
  ...process.env,
  AWS_REGION: REGION,
  DEPLOYER_ACCOUNT_ID: ACCOUNT,
  DEPLOYER_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:ops`,
  DEPLOYER_LEDGER_TABLE: 'bench-ledger',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  LOG_LEVEL: 'SILENT',
  NODE_OPTIONS: nodeOptions,
});

const timeRequire = (file: string, nodeOptions: string): number => {
  const result = spawnSync(process.execPath, ['-e', timedRequire(file)], {
    env: loadEnv(nodeOptions),
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
  return Number(result.stdout);
};

export const benchLoad = async (runs: number): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'deployer-bench-'));
  const rows: (string | number)[][] = [];
  const size = (file: string) => `${(statSync(file).size / 1024).toFixed(0)} KiB`;
  for (const handler of HANDLERS) {
    const { nodeOptions } = deployed(handler.id);
    const bundle = join(ROOT, 'dist', 'handlers', `${handler.name}.js`);
    const floor = await buildFloors(handler, dir);
    const ours: number[] = [];
    const sdk: number[] = [];
    const whole: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(timeRequire(bundle, nodeOptions));
      sdk.push(timeRequire(floor.sdk, ''));
      whole.push(timeRequire(floor.whole, ''));
    }
    const ratio = pairedRatio(ours, sdk);
    rows.push([
      handler.name,
      nodeOptions || '(none)',
      size(bundle),
      `${size(floor.sdk)} (${handler.clients.length} clients, ${floor.commands} commands)`,
      `${median(ours).toFixed(1)} ms`,
      `${median(sdk).toFixed(1)} ms`,
      ratio.toFixed(2),
      `${size(floor.whole)}, ${median(whole).toFixed(1)} ms`,
      pairedRatio(ours, whole).toFixed(2),
    ]);
    goal({
      metric: `${handler.name} handler module load as deployed, against the SDK clients and commands it uses`,
      goal: '≤ 1.15×',
      ours: `${median(ours).toFixed(1)} ms`,
      floor: `${median(sdk).toFixed(1)} ms`,
      ratio: ratio.toFixed(2),
      met: ratio <= 1.15,
    });
  }
  say(
    `### Handler bundles: module load as deployed (${runs} interleaved runs of fresh processes; medians, ratios of runs)\n`,
  );
  say(
    "The SDK floor constructs the clients a handler uses and holds the commands it sends, bundled with the handlers' options; the last columns load the client packages whole (the floor of runs before the handlers kept only the commands they send).\n",
  );
  table(
    [
      'handler',
      'NODE_OPTIONS',
      'bundle',
      'SDK floor',
      'load',
      'floor load',
      'ratio',
      'whole clients',
      'ratio to whole',
    ],
    rows,
  );
};
