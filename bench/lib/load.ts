/**
 * Cold start: each handler's module load time, as deployed (the template's NODE_OPTIONS), against a bundle
 * that only loads and constructs the SDK clients the handler uses: the floor of its cold start.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployed } from './processes';
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

/** A bundle that only loads and constructs the SDK clients a handler uses. */
const buildFloor = async (clients: string[], dir: string, name: string): Promise<string> => {
  const { build } = await import('esbuild');
  const contents = clients
    .map(
      (c) =>
        `const { ${CLIENT_CLASSES[c]} } = require('@aws-sdk/client-${c}'); new ${CLIENT_CLASSES[c]}({ region: process.env.AWS_REGION });`,
    )
    .join('\n');
  const outfile = join(dir, `floor-${name}.js`);
  await build({
    stdin: { contents, resolveDir: ROOT },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    outfile,
    logLevel: 'silent',
  });
  return outfile;
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
  for (const handler of HANDLERS) {
    const { nodeOptions } = deployed(handler.id);
    const bundle = join(ROOT, 'dist', 'handlers', `${handler.name}.js`);
    const floor = await buildFloor(handler.clients, dir, handler.name);
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(timeRequire(bundle, nodeOptions));
      base.push(timeRequire(floor, ''));
    }
    const ratio = pairedRatio(ours, base);
    rows.push([
      handler.name,
      nodeOptions || '(none)',
      `${(statSync(bundle).size / 1024).toFixed(0)} KiB`,
      `${(statSync(floor).size / 1024).toFixed(0)} KiB`,
      `${median(ours).toFixed(1)} ms`,
      `${median(base).toFixed(1)} ms`,
      ratio.toFixed(2),
    ]);
    goal({
      metric: `${handler.name} handler module load as deployed, against its SDK clients alone`,
      goal: '≤ 1.15×',
      ours: `${median(ours).toFixed(1)} ms`,
      floor: `${median(base).toFixed(1)} ms`,
      ratio: ratio.toFixed(2),
      met: ratio <= 1.15,
    });
  }
  say(
    `### Handler bundles: module load as deployed (${runs} interleaved pairs of fresh processes; medians, ratio of pairs)\n`,
  );
  table(['handler', 'NODE_OPTIONS', 'bundle', 'SDK-only floor', 'load', 'floor load', 'ratio'], rows);
};
