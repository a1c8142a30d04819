/**
 * The benchmark's world on the emulator: stages s0…s<n> (one pipeline each), their stacks created with an
 * initial release, the ops topic and the ledger table; and pipeline events with their builds uploaded, as a
 * pipeline would leave them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import {
  createBucket,
  createLedgerTable,
  createStageStack,
  exampleBuild,
  uploadBuild,
  uploadTemplate,
} from '../../bin/support/example-world';
import { buildKeyFor } from '../../shared/aws/artifacts';
import { createClients } from '../../shared/aws/clients';
import { parseConfig } from '../../shared/edge/config';
import { parsePipelineEvent } from '../../shared/edge/events';
import { type Stage, stageNamed } from '../../shared/edge/stages';
import type { Runtime } from '../../shared/runtime';

export const ROOT = join(__dirname, '..', '..');
export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const TEMPLATE_KEY = 'templates/app.yaml';

export interface World {
  runtime: Runtime;
  /** Clients that talk to the emulator directly (set-up and read-back, never counted). */
  direct: ReturnType<typeof createClients>;
  bucket: string;
  configText: string;
  configFile: string;
  topicArn: string;
  ledgerTable: string;
}

const configYaml = (stages: string[], bucket: string): string =>
  [
    'pipelines:',
    ...stages.flatMap((name) => [
      `  bench-p-${name}:`,
      '    stages:',
      `      ${name}:`,
      `        stack: bench-${name}`,
      `        ssmParameter: /deployer/bench/${name}/artifact`,
      `        artifact: { bucket: ${bucket}, key: 'builds/{pipeline}/{executionId}/app.zip' }`,
      '        releasePrefix: releases/bench/',
      `        template: { bucket: ${bucket}, key: ${TEMPLATE_KEY} }`,
      `        parameterOverrides: { Stage: ${name}, ArtifactBucket: ${bucket} }`,
      '        capabilities: [CAPABILITY_IAM]',
    ]),
  ].join('\n');

let executionCounter = 0;
export const newExecutionId = (): string =>
  `00000000-0000-4000-8000-${String(++executionCounter).padStart(12, '0')}`;

export const pipelineEvent = (pipeline: string, executionId: string, startedAt: Date): unknown => {
  const event = JSON.parse(readFileSync(join(ROOT, 'events', 'pipeline-succeeded.json'), 'utf8'));
  event.id = executionId;
  // Sent now, as EventBridge sends it when the execution ends.
  event.time = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  event.detail.pipeline = pipeline;
  event.detail['execution-id'] = executionId;
  event.detail['start-time'] = startedAt.toISOString();
  event.detail['execution-trigger']['commit-id'] = executionId
    .replaceAll('-', '')
    .slice(0, 40)
    .padEnd(40, 'a');
  return event;
};

export const stageOf = (world: World, name: string): Stage => {
  const stage = stageNamed(world.runtime.config, name);
  if (!stage) throw new Error(`no stage ${name} in the bench world`);
  return stage;
};

/** `stages` stages on the emulator; the runtime's clients go through `countedEndpoint` (the proxy). */
export const makeWorld = async (
  motoEndpoint: string,
  countedEndpoint: string,
  stages: string[],
): Promise<World> => {
  const bucket = `bench-${Date.now().toString(36)}-${stages.length}`;
  const direct = createClients(REGION, { AWS_ENDPOINT_URL: motoEndpoint });
  await createBucket(direct.s3, bucket);
  await uploadTemplate(direct.s3, bucket, TEMPLATE_KEY);
  const { TopicArn } = await direct.sns.send(new CreateTopicCommand({ Name: bucket }));
  const topicArn = TopicArn ?? '';
  const ledgerTable = `${bucket}-ledger`;
  await createLedgerTable(direct.ddb, ledgerTable);
  const configText = configYaml(stages, bucket);
  const config = parseConfig(configText, 'bench config');
  const configFile = join(mkdtempSync(join(tmpdir(), 'deployer-bench-')), 'deployer.config.yaml');
  writeFileSync(configFile, configText);
  for (const name of stages) {
    const stage = stageNamed(config, name);
    if (!stage) continue;
    const initialKey = `releases/bench/initial-${name}.zip`;
    await uploadBuild(direct.s3, { bucket, key: initialKey, bytes: exampleBuild(`initial ${name}`) });
    await createStageStack(direct, {
      stack: stage.stack,
      ssmParameter: stage.ssmParameter,
      stageName: name,
      bucket,
      templateKey: TEMPLATE_KEY,
      releaseKey: initialKey,
      earlier: { pipeline: stage.pipeline, execution: 'initial', startedAt: '2026-01-01T00:00:00.000Z' },
    });
  }
  const runtime: Runtime = {
    settings: { region: REGION, accountId: ACCOUNT, topicArn, ledgerTable },
    config,
    clients: createClients(REGION, { AWS_ENDPOINT_URL: countedEndpoint }),
  };
  return { runtime, direct, bucket, configText, configFile, topicArn, ledgerTable };
};

/** A new execution of the stage's pipeline with its build uploaded; returns the event it ends with. */
export const newBuild = async (
  world: World,
  stageName: string,
  startedAt = new Date(),
): Promise<{ executionId: string; event: unknown }> => {
  const stage = stageOf(world, stageName);
  const executionId = newExecutionId();
  const event = pipelineEvent(stage.pipeline, executionId, startedAt);
  await uploadBuild(world.direct.s3, {
    bucket: stage.artifact.bucket,
    key: buildKeyFor(stage, parsePipelineEvent(event)),
    bytes: exampleBuild(executionId),
    executionId,
  });
  return { executionId, event };
};
