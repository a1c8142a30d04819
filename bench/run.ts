/**
 * `npm run bench`: the deployer's figures, measured in one run and printed as tables (never asserted by
 * the test suite: these machines are shared and noisy).
 *
 * 1. Per handler: bundle size, and module load time as a ratio to loading only the SDK clients it uses.
 * 2. AWS API calls per deploy, counted at the emulator, against the minimum the flow needs.
 * 3. Whole-process time to put a new artifact into a stage stack: `deployer invoke DeployFunction` versus
 *    `aws cloudformation deploy --parameter-overrides ArtifactKey=…`, median ratio of several runs.
 * 4. A burst: 50 pipeline events over 10 stages delivered at once; every stage must end on its newest build.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAwsProxy } from '../bin/support/aws-proxy';
import {
  createBucket,
  createLedgerTable,
  createStageStack,
  EXAMPLE_TEMPLATE,
  exampleBuild,
  uploadBuild,
  uploadTemplate,
} from '../bin/support/example-world';
import { emulatorEnv, startMoto } from '../bin/support/moto';
import { buildKeyFor } from '../shared/aws/artifacts';
import { createClients } from '../shared/aws/clients';
import { describeStack, stackParameterValue } from '../shared/aws/stacks';
import { parseConfig, stageNamed } from '../shared/edge/config';
import { parsePipelineEvent } from '../shared/edge/events';
import { logger } from '../shared/logger';
import type { Runtime } from '../shared/runtime';
import { handlePipelineEvent } from '../shared/triggers/deploy';

const ROOT = join(__dirname, '..', '..');
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const run = promisify(execFile);
const say = (line = '') => process.stdout.write(`${line}\n`);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const table = (header: string[], rows: (string | number)[][]) => {
  say(`| ${header.join(' | ')} |`);
  say(`| ${header.map(() => '---').join(' | ')} |`);
  for (const row of rows) say(`| ${row.join(' | ')} |`);
  say();
};

// ------------------------------------------------------------------ 1. bundle size and load time
const HANDLERS = [
  { name: 'deploy', clients: ['cloudformation', 'ssm', 's3', 'sns', 'dynamodb'] },
  { name: 'notify', clients: ['cloudformation', 'ssm', 'sns', 'dynamodb'] },
  { name: 'reconcile', clients: ['cloudformation', 'ssm', 's3', 'sns', 'dynamodb'] },
];
const CLIENT_CLASSES: Record<string, string> = {
  cloudformation: 'CloudFormationClient',
  ssm: 'SSMClient',
  s3: 'S3Client',
  sns: 'SNSClient',
  dynamodb: 'DynamoDBClient',
};

/** A bundle that only loads and constructs the SDK clients a handler uses: the floor of its cold start. */
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

const timeRequire = (file: string): number => {
  const script = `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t))`;
  const result = spawnSync(process.execPath, ['-e', script], {
    env: {
      ...process.env,
      AWS_REGION: REGION,
      DEPLOYER_ACCOUNT_ID: ACCOUNT,
      DEPLOYER_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:ops`,
      DEPLOYER_LEDGER_TABLE: 'bench-ledger',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LOG_LEVEL: 'SILENT',
    },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
  return Number(result.stdout);
};

const benchLoad = async (runs: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'deployer-bench-'));
  const rows: (string | number)[][] = [];
  const figures: Record<string, number> = {};
  for (const handler of HANDLERS) {
    const bundle = join(ROOT, 'dist', 'handlers', `${handler.name}.js`);
    const floor = await buildFloor(handler.clients, dir, handler.name);
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < runs; i++) {
      ours.push(timeRequire(bundle));
      base.push(timeRequire(floor));
    }
    // Paired runs, interleaved: the ratio of each pair cancels the machine's drift between them.
    const ratio = median(ours.map((t, i) => t / (base[i] ?? t)));
    figures[handler.name] = ratio;
    rows.push([
      handler.name,
      `${(statSync(bundle).size / 1024).toFixed(0)} KiB`,
      `${(statSync(floor).size / 1024).toFixed(0)} KiB`,
      `${median(ours).toFixed(1)} ms`,
      `${median(base).toFixed(1)} ms`,
      ratio.toFixed(2),
      ratio <= 1.25 ? 'yes' : 'NO',
    ]);
  }
  say(
    `### 1. Handler bundles: size and module load time (${runs} interleaved pairs of fresh processes; medians, and the median of the pairs' ratios)\n`,
  );
  table(['handler', 'bundle', 'SDK-only floor', 'load', 'floor load', 'ratio', '≤ 1.25'], rows);
  return figures;
};

// ------------------------------------------------------------------ the emulator world
interface World {
  runtime: Runtime;
  direct: ReturnType<typeof createClients>;
  configFile: string;
  topicArn: string;
  ledgerTable: string;
}

const configYaml = (stages: { name: string; pipeline: string }[], bucket: string): string =>
  [
    'pipelines:',
    ...stages.flatMap(({ name, pipeline }) => [
      `  ${pipeline}:`,
      '    stages:',
      `      ${name}:`,
      `        stack: bench-${name}`,
      `        ssmParameter: /deployer/bench/${name}/artifact`,
      `        artifact: { bucket: ${bucket}, key: 'builds/{pipeline}/{executionId}/app.zip' }`,
      `        releasePrefix: releases/bench/`,
      `        template: { bucket: ${bucket}, key: templates/app.yaml }`,
      `        parameterOverrides: { Stage: ${name}, ArtifactBucket: ${bucket} }`,
      '        capabilities: [CAPABILITY_IAM]',
    ]),
  ].join('\n');

let executionCounter = 0;
const newExecutionId = () => `00000000-0000-4000-8000-${String(++executionCounter).padStart(12, '0')}`;

const pipelineEvent = (pipeline: string, executionId: string, startedAt: Date): unknown => {
  const event = JSON.parse(readFileSync(join(ROOT, 'events', 'pipeline-succeeded.json'), 'utf8'));
  event.id = executionId;
  event.detail.pipeline = pipeline;
  event.detail['execution-id'] = executionId;
  event.detail['start-time'] = startedAt.toISOString();
  event.detail['execution-trigger']['commit-id'] = executionId
    .replaceAll('-', '')
    .slice(0, 40)
    .padEnd(40, 'a');
  return event;
};

const makeWorld = async (
  motoEndpoint: string,
  proxyEndpoint: string,
  stages: { name: string; pipeline: string }[],
): Promise<World> => {
  const bucket = `bench-${Date.now().toString(36)}-${stages.length}`;
  const direct = createClients(REGION, { AWS_ENDPOINT_URL: motoEndpoint });
  await createBucket(direct.s3, bucket);
  await uploadTemplate(direct.s3, bucket, 'templates/app.yaml');
  const { TopicArn } = await direct.sns.send(
    new (await import('@aws-sdk/client-sns')).CreateTopicCommand({ Name: bucket }),
  );
  const topicArn = TopicArn ?? '';
  const ledgerTable = `${bucket}-ledger`;
  await createLedgerTable(direct.ddb, ledgerTable);
  const text = configYaml(stages, bucket);
  const config = parseConfig(text, 'bench config');
  const configFile = join(mkdtempSync(join(tmpdir(), 'deployer-bench-')), 'deployer.config.yaml');
  writeFileSync(configFile, text);
  for (const { name } of stages) {
    const stage = stageNamed(config, name);
    if (!stage) continue;
    const initialKey = `releases/bench/initial-${name}.zip`;
    await uploadBuild(direct.s3, { bucket, key: initialKey, bytes: exampleBuild(`initial ${name}`) });
    await createStageStack(direct, {
      stack: stage.stack,
      ssmParameter: stage.ssmParameter,
      stageName: name,
      bucket,
      templateKey: 'templates/app.yaml',
      releaseKey: initialKey,
      earlier: { pipeline: stage.pipeline, execution: 'initial', startedAt: '2026-01-01T00:00:00.000Z' },
    });
  }
  const runtime: Runtime = {
    settings: { region: REGION, accountId: ACCOUNT, topicArn, ledgerTable },
    config,
    clients: createClients(REGION, { AWS_ENDPOINT_URL: proxyEndpoint }),
  };
  return { runtime, direct, configFile, topicArn, ledgerTable };
};

const uploadExecution = async (world: World, stageName: string, executionId: string) => {
  const stage = stageNamed(world.runtime.config, stageName);
  if (!stage) throw new Error(`no stage ${stageName}`);
  const execution = parsePipelineEvent(pipelineEvent(stage.pipeline, executionId, new Date()));
  await uploadBuild(world.direct.s3, {
    bucket: stage.artifact.bucket,
    key: buildKeyFor(stage, execution),
    bytes: exampleBuild(executionId),
    executionId,
  });
};

// ------------------------------------------------------------------ 2. calls per deploy
const MINIMUM_DEPLOY: [string, number, string][] = [
  [
    's3.HeadObject',
    2,
    "find this execution's build (with its SHA-256); is the release already there, with that SHA-256?",
  ],
  ['s3.CopyObject', 1, 'copy the build to its immutable release key (the answer carries its checksum)'],
  [
    's3.PutObject',
    4,
    "the stage's lock; the run record before the change set (ownership by record); the fencing renewal before the execute; what was applied",
  ],
  ['s3.GetObject', 1, 'what was last applied (a release that changes only the template)'],
  ['s3.DeleteObject', 1, "release the stage's lock"],
  ['ssm.DescribeParameters', 1, "the newest version's provenance (duplicate? older?)"],
  ['ssm.GetParameter', 1, "the newest version's value, which the provenance must describe"],
  ['ssm.PutParameter', 1, 'record the release as desired'],
  ['ssm.LabelParameterVersion', 1, 'label the version with the execution and the commit'],
  ['cloudformation.DescribeStacks', 1, "the stack's status and live artifact"],
  ['cloudformation.CreateChangeSet', 1, 'the change set for the desired version'],
  ['cloudformation.DescribeChangeSet', 1, 'wait until it is computed (one poll when ready at once)'],
  ['cloudformation.ExecuteChangeSet', 1, 'deploy it'],
  ['sns.Publish', 1, 'tell the ops team'],
];

const benchCalls = async (world: World, proxy: Awaited<ReturnType<typeof startAwsProxy>>) => {
  const executionId = newExecutionId();
  await uploadExecution(world, 's0', executionId);
  proxy.reset();
  const summary = await handlePipelineEvent(
    world.runtime,
    pipelineEvent('bench-p0', executionId, new Date()),
  );
  const counts = proxy.counts();
  const operations = [...new Set([...MINIMUM_DEPLOY.map(([op]) => op), ...Object.keys(counts)])];
  const rows = operations.map((op) => {
    const minimum = MINIMUM_DEPLOY.find(([name]) => name === op);
    return [op, counts[op] ?? 0, minimum?.[1] ?? 0, minimum?.[2] ?? 'not needed'];
  });
  const min = MINIMUM_DEPLOY.reduce((a, [, n]) => a + n, 0);
  rows.push([
    '**total**',
    proxy.total(),
    min,
    summary.stages.map((s) => `${s.stage}: ${s.outcome}`).join(', '),
  ]);
  say('### 2. AWS API calls for one deploy (new build, existing stack), counted at the emulator\n');
  table(['operation', 'made', 'minimum', 'why'], rows);
  return { made: proxy.total(), minimum: min };
};

// ------------------------------------------------------------------ 3. whole process versus awscli
const benchProcess = async (world: World, motoEndpoint: string, runs: number) => {
  const stage = stageNamed(world.runtime.config, 's1');
  if (!stage) throw new Error('no stage s1');
  const dir = mkdtempSync(join(tmpdir(), 'deployer-bench-'));
  const envVars = join(dir, 'env.json');
  writeFileSync(
    envVars,
    JSON.stringify({
      Parameters: {
        DEPLOYER_TOPIC_ARN: world.topicArn,
        DEPLOYER_LEDGER_TABLE: world.ledgerTable,
        LOG_LEVEL: 'WARN',
      },
    }),
  );
  const env = {
    ...process.env,
    ...emulatorEnv(motoEndpoint, REGION),
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_CONFIG_FILE: world.configFile,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const executionId = newExecutionId();
    await uploadExecution(world, 's1', executionId);
    const eventFile = join(dir, `event-${i}.json`);
    writeFileSync(eventFile, JSON.stringify(pipelineEvent(stage.pipeline, executionId, new Date())));
    let t = performance.now();
    await run(
      process.execPath,
      [
        join(ROOT, 'dist', 'bin', 'deployer.js'),
        'invoke',
        'DeployFunction',
        '-e',
        eventFile,
        '--env-vars',
        envVars,
      ],
      { env },
    );
    ours.push(performance.now() - t);
    const key = `releases/bench/awscli-${i}.zip`;
    await uploadBuild(world.direct.s3, {
      bucket: stage.artifact.bucket,
      key,
      bytes: exampleBuild(`awscli ${i}`),
    });
    t = performance.now();
    await run(
      'aws',
      [
        'cloudformation',
        'deploy',
        '--stack-name',
        stage.stack,
        '--template-file',
        EXAMPLE_TEMPLATE,
        '--capabilities',
        'CAPABILITY_IAM',
        '--parameter-overrides',
        `ArtifactKey=${key}`,
        `Stage=${stage.name}`,
        `ArtifactBucket=${stage.artifact.bucket}`,
        '--endpoint-url',
        motoEndpoint,
        '--region',
        REGION,
      ],
      { env },
    );
    theirs.push(performance.now() - t);
    const stack = await describeStack(world.direct.cfn, stage.stack);
    if (!stack || stackParameterValue(stack, 'ArtifactKey') !== key)
      throw new Error('aws cloudformation deploy did not update the stack');
  }
  const ratio = median(ours) / median(theirs);
  say(`### 3. Whole process: a new artifact into a stage stack on moto (median of ${runs} runs each)\n`);
  table(
    ['command', 'median', 'runs (ms)'],
    [
      [
        'deployer invoke DeployFunction (release, SSM, change set, notification)',
        `${median(ours).toFixed(0)} ms`,
        ours.map((v) => v.toFixed(0)).join(', '),
      ],
      [
        'aws cloudformation deploy --parameter-overrides ArtifactKey=…',
        `${median(theirs).toFixed(0)} ms`,
        theirs.map((v) => v.toFixed(0)).join(', '),
      ],
      ['ratio (deployer / awscli)', ratio.toFixed(2), ''],
    ],
  );
  return ratio;
};

// ------------------------------------------------------------------ 4. burst
const benchBurst = async (
  world: World,
  proxy: Awaited<ReturnType<typeof startAwsProxy>>,
  stages: number,
  perStage: number,
) => {
  const events: { stage: string; executionId: string; event: unknown }[] = [];
  const base = Date.now();
  for (let s = 0; s < stages; s++) {
    for (let k = 0; k < perStage; k++) {
      const executionId = newExecutionId();
      await uploadExecution(world, `s${s}`, executionId);
      events.push({
        stage: `s${s}`,
        executionId,
        event: pipelineEvent(`bench-p${s}`, executionId, new Date(base + k * 60_000)),
      });
    }
  }
  const newest = new Map<string, string>();
  for (const e of events) newest.set(e.stage, e.executionId); // built in start order: the last is the newest
  events.sort(() => Math.random() - 0.5);
  proxy.reset();
  const t = performance.now();
  const results = await Promise.allSettled(events.map((e) => handlePipelineEvent(world.runtime, e.event)));
  const elapsed = performance.now() - t;
  const failed = results.filter((r) => r.status === 'rejected').length;
  let onNewest = 0;
  for (let s = 0; s < stages; s++) {
    const stage = stageNamed(world.runtime.config, `s${s}`);
    if (!stage) continue;
    const stack = await describeStack(world.direct.cfn, stage.stack);
    const live = stack ? stackParameterValue(stack, 'ArtifactKey') : undefined;
    const object = live
      ? await world.direct.s3.send(
          new (await import('@aws-sdk/client-s3')).HeadObjectCommand({
            Bucket: stage.artifact.bucket,
            Key: live,
          }),
        )
      : undefined;
    if (object?.Metadata?.['pipeline-execution-id'] === newest.get(`s${s}`)) onNewest += 1;
  }
  say(
    `### 4. Burst: ${events.length} pipeline events over ${stages} stages, delivered at once (in one process)\n`,
  );
  table(
    [
      'events',
      'stages',
      'time',
      'AWS calls',
      'calls per event',
      'invocations failed',
      'stages on their newest build',
    ],
    [
      [
        events.length,
        stages,
        `${(elapsed / 1000).toFixed(2)} s`,
        proxy.total(),
        (proxy.total() / events.length).toFixed(1),
        failed,
        `${onNewest} / ${stages}`,
      ],
    ],
  );
  return { elapsed, calls: proxy.total(), onNewest, stages };
};

const main = async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  logger.setLogLevel('ERROR');
  say(`# deployer benchmark — ${new Date().toISOString()}, node ${process.version}\n`);
  await benchLoad(Number(process.env.BENCH_LOAD_RUNS ?? 25));
  if (process.env.BENCH_ONLY === 'load') return;
  const moto = await startMoto();
  const proxy = await startAwsProxy(moto.endpoint);
  try {
    Object.assign(process.env, emulatorEnv(moto.endpoint, REGION));
    const stages = Array.from({ length: 10 }, (_, i) => ({ name: `s${i}`, pipeline: `bench-p${i}` }));
    const world = await makeWorld(moto.endpoint, proxy.endpoint, stages);
    await benchCalls(world, proxy);
    await benchProcess(world, moto.endpoint, Number(process.env.BENCH_PROCESS_RUNS ?? 5));
    await benchBurst(world, proxy, 10, 5);
  } finally {
    await proxy.close();
    await moto.stop();
  }
};

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
