/**
 * A small, isolated "world" on the shared moto server for one integration test: its own bucket (with the
 * example stage template), pipeline, stacks, SSM parameters, ops topic with an SQS inbox and notification
 * ledger table, all named with a random suffix so that test files running in parallel never see each
 * other's resources. moto is never reset.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ChangeSetSummary,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStackEventsCommand,
  ListChangeSetsCommand,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterHistoryCommand, type ParameterHistory } from '@aws-sdk/client-ssm';
import { stringify } from 'yaml';
import type * as z from 'zod/mini';
import {
  createBucket,
  createLedgerTable,
  createOpsInbox,
  createStageStack,
  exampleBuild,
  type ReceivedNotification,
  readInbox,
  uploadBuild,
  uploadTemplate,
} from '../../../bin/support/example-world';
import { type Clients, createClients } from '../../../shared/aws/clients';
import { describeStack } from '../../../shared/aws/stacks';
import { type configSchema, parseConfig, type stageSchema } from '../../../shared/edge/config';
import type { pipelineEventSchema } from '../../../shared/edge/events';
import type { Runtime } from '../../../shared/runtime';
import { type DeploySummary, handlePipelineEvent } from '../../../shared/triggers/deploy';

export const REGION = 'us-east-1';
/** moto's account. */
export const ACCOUNT = '123456789012';
/** When the events of a world start, unless a test says otherwise (the example event's start time). */
export const BASE_TIME = Date.parse('2026-11-20T10:09:03.512Z');
const HOUR = 3_600_000;
export const hoursAfterBase = (hours: number): string => new Date(BASE_TIME + hours * HOUR).toISOString();

const ROOT = join(__dirname, '..', '..', '..');
export const EXAMPLE_EVENT_FILE = join(ROOT, 'events', 'pipeline-succeeded.json');

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
export const newCommitId = (): string => randomBytes(20).toString('hex');
export const newExecutionId = (): string => randomUUID();

export interface StageOptions {
  /**
   * The stage's role in the world ('dev', 'prod'): its name in the configuration is this plus the world's id,
   * since moto keeps change sets (named after the stage) in one namespace for all stacks.
   */
  name: string;
  requiresApproval?: boolean;
  /** The build key template; default `builds/{executionId}/app.zip`. */
  artifactKey?: string;
  /** False for a stage without a template (its stack cannot be created by the deployer). */
  template?: boolean;
}

export interface StageNames {
  /** The stage's name in the configuration, e.g. dev-1a2b3c4d5e. */
  name: string;
  stack: string;
  ssmParameter: string;
  artifactKey: string;
  releasePrefix: string;
}

export interface World {
  id: string;
  bucket: string;
  templateKey: string;
  pipeline: string;
  topicArn: string;
  queueUrl: string;
  /** The notification ledger's DynamoDB table. */
  ledgerTable: string;
  clients: Clients;
  sqs: SQSClient;
  stages: Record<string, StageNames>;
  configText: string;
  runtime: Runtime;
}

export const RELEASE_PREFIX = 'releases/app/';

/** A configuration as its schema takes it in (deployer.config.yaml): a schema change breaks the worlds. */
export type ConfigInput = z.input<typeof configSchema>;
export type StageInput = z.input<typeof stageSchema>;
/** A pipeline event as its schema takes it in. */
export type PipelineEventInput = z.input<ReturnType<typeof pipelineEventSchema>>;

/** The configuration YAML for a world, in the schema of deployer.config.yaml. */
const configYaml = (
  world: Pick<World, 'bucket' | 'templateKey' | 'pipeline'>,
  stages: StageOptions[],
  names: Record<string, StageNames>,
): string => {
  const stageEntries = Object.fromEntries(
    stages.map((options): [string, StageInput] => {
      const stage = names[options.name] as StageNames;
      return [
        stage.name,
        {
          stack: stage.stack,
          ssmParameter: stage.ssmParameter,
          stackParameter: 'ArtifactKey',
          artifact: { bucket: world.bucket, key: stage.artifactKey },
          releasePrefix: stage.releasePrefix,
          ...(options.template === false
            ? {}
            : { template: { bucket: world.bucket, key: world.templateKey } }),
          parameterOverrides: { Stage: stage.name, ArtifactBucket: world.bucket },
          capabilities: ['CAPABILITY_IAM'],
          tags: { service: 'integration-test', stage: stage.name },
          roleArn: `arn:aws:iam::${ACCOUNT}:role/it-${stage.name}-cloudformation`,
          requiresApproval: options.requiresApproval ?? false,
        },
      ];
    }),
  );
  const config: ConfigInput = {
    settings: { changeSetTimeoutSeconds: 30 },
    pipelines: { [world.pipeline]: { stages: stageEntries } },
  };
  return stringify(config);
};

/**
 * moto applies concurrent DynamoDB requests without DynamoDB's per-item atomicity: an ADD or a conditional
 * put can lose to a request on the same item running at that moment (seen: 4 of 1,000 increments lost at 20
 * at once). The world's client sends its requests one at a time, so its ledger behaves as DynamoDB does;
 * the handlers still run concurrently.
 */
export const oneLedgerRequestAtATime = (client: DynamoDBClient): void => {
  let previous: Promise<unknown> = Promise.resolve();
  client.middlewareStack.add(
    (next) => (args) => {
      const turn = previous.then(() => next(args));
      previous = turn.catch(() => undefined);
      return turn;
    },
    { step: 'deserialize', name: 'oneLedgerRequestAtATime' },
  );
};

/** Create a world: bucket with the stage template, ops topic with its inbox, and the configuration. */
export const createWorld = async (stages: StageOptions[] = [{ name: 'dev' }]): Promise<World> => {
  const id = randomBytes(5).toString('hex');
  const bucket = `it-deployer-${id}`;
  const templateKey = 'templates/app.yaml';
  const pipeline = `it-pipeline-${id}`;
  const clients = createClients(REGION);
  oneLedgerRequestAtATime(clients.ddb);
  const sqs = new SQSClient({ region: REGION });
  await createBucket(clients.s3, bucket);
  await uploadTemplate(clients.s3, bucket, templateKey);
  const { topicArn, queueUrl } = await createOpsInbox(clients.sns, sqs, `it-ops-${id}`);
  const ledgerTable = `it-ledger-${id}`;
  await createLedgerTable(clients.ddb, ledgerTable);
  const names: Record<string, StageNames> = Object.fromEntries(
    stages.map((s) => [
      s.name,
      {
        name: `${s.name}-${id}`,
        stack: `it-${id}-${s.name}`,
        ssmParameter: `/it/${id}/${s.name}/artifact`,
        artifactKey: s.artifactKey ?? 'builds/{executionId}/app.zip',
        releasePrefix: RELEASE_PREFIX,
      },
    ]),
  );
  const configText = configYaml({ bucket, templateKey, pipeline }, stages, names);
  const runtime: Runtime = {
    settings: { region: REGION, accountId: ACCOUNT, topicArn, ledgerTable },
    config: parseConfig(configText, `world ${id}`),
    clients,
  };
  return {
    id,
    bucket,
    templateKey,
    pipeline,
    topicArn,
    queueUrl,
    ledgerTable,
    clients,
    sqs,
    stages: names,
    configText,
    runtime,
  };
};

export const stageOf = (world: World, name = 'dev'): StageNames => {
  const stage = world.stages[name];
  if (!stage) throw new Error(`the world has no stage ${name}`);
  return stage;
};

export const enableVersioning = async (world: World): Promise<void> => {
  await world.clients.s3.send(
    new PutBucketVersioningCommand({ Bucket: world.bucket, VersioningConfiguration: { Status: 'Enabled' } }),
  );
};

/**
 * Give a stage a stack that runs an initial release, with that release recorded as version 1 of its SSM
 * parameter by an execution that started a day before the world's events. Returns the initial key.
 */
export const createStackFor = async (world: World, stageName = 'dev'): Promise<string> => {
  const stage = stageOf(world, stageName);
  // Content-named, as every release the deployer makes: its bytes verify against the digest in its key.
  const bytes = exampleBuild(`initial-${world.id}`);
  const initialKey = `${stage.releasePrefix}${sha256Hex(bytes)}.zip`;
  await uploadBuild(world.clients.s3, { bucket: world.bucket, key: initialKey, bytes });
  await createStageStack(world.clients, {
    stack: stage.stack,
    ssmParameter: stage.ssmParameter,
    stageName: stage.name,
    bucket: world.bucket,
    templateKey: world.templateKey,
    releaseKey: initialKey,
    earlier: { pipeline: world.pipeline, execution: 'initial-release', startedAt: hoursAfterBase(-24) },
  });
  return initialKey;
};

export interface Execution {
  executionId: string;
  commitId: string;
  startTime: string;
}

export const newExecution = (startTime = hoursAfterBase(0)): Execution => ({
  executionId: newExecutionId(),
  commitId: newCommitId(),
  startTime,
});

/** The example pipeline-succeeded event, for this world's pipeline and the given execution. */
export const pipelineEvent = (world: Pick<World, 'pipeline'>, execution: Execution): PipelineEventInput => {
  const event = JSON.parse(readFileSync(EXAMPLE_EVENT_FILE, 'utf8')) as PipelineEventInput;
  event.id = randomUUID();
  event.resources = [`arn:aws:codepipeline:${REGION}:${ACCOUNT}:${world.pipeline}`];
  event.detail.pipeline = world.pipeline;
  event.detail['execution-id'] = execution.executionId;
  event.detail['start-time'] = execution.startTime;
  event.detail['execution-trigger'] = {
    ...event.detail['execution-trigger'],
    'commit-id': execution.commitId,
  };
  return event;
};

/**
 * Upload the build of an execution as a buildspec would (checksum, metadata naming execution and commit),
 * at the stage's build key. Returns the bytes and the key.
 */
export const uploadExecutionBuild = async (
  world: World,
  execution: Execution,
  options: { stage?: string; variant?: string; metadataExecutionId?: string | null } = {},
): Promise<{ key: string; bytes: Buffer }> => {
  const stage = stageOf(world, options.stage);
  const key = stage.artifactKey
    .replaceAll('{executionId}', execution.executionId)
    .replaceAll('{pipeline}', world.pipeline);
  const bytes = exampleBuild(options.variant ?? `${world.id}-${execution.executionId}`);
  const owner =
    options.metadataExecutionId === undefined ? execution.executionId : options.metadataExecutionId;
  await uploadBuild(world.clients.s3, {
    bucket: world.bucket,
    key,
    bytes,
    ...(owner === null ? {} : { executionId: owner }),
    commitId: execution.commitId,
  });
  return { key, bytes };
};

export const deploy = (world: World, execution: Execution): Promise<DeploySummary> =>
  handlePipelineEvent(world.runtime, pipelineEvent(world, execution));

// ---- reading the state back from moto ----

export const readObject = async (world: World, key: string, bucket = world.bucket): Promise<Buffer> => {
  const { Body } = await world.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return Buffer.from(await Body.transformToByteArray());
};

export const objectMetadata = async (world: World, key: string): Promise<Record<string, string>> => {
  const { Metadata } = await world.clients.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: key }));
  return Metadata ?? {};
};

export const objectExists = async (world: World, key: string): Promise<boolean> => {
  try {
    await world.clients.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof Error && ['NotFound', 'NoSuchKey'].includes(error.name)) return false;
    throw error;
  }
};

/** Every version of a parameter, oldest first; empty when the parameter does not exist. */
export const parameterHistory = async (world: World, name: string): Promise<ParameterHistory[]> => {
  const versions: ParameterHistory[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await world.clients.ssm.send(
        new GetParameterHistoryCommand({ Name: name, MaxResults: 50, NextToken }),
      );
      versions.push(...(page.Parameters ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if (error instanceof Error && error.name === 'ParameterNotFound') return [];
    throw error;
  }
  return versions.sort((a, b) => (a.Version ?? 0) - (b.Version ?? 0));
};

export const latestVersion = async (world: World, name: string): Promise<ParameterHistory | undefined> =>
  (await parameterHistory(world, name)).at(-1);

export const stackOf = async (world: World, stackName: string): Promise<Stack | undefined> =>
  describeStack(world.clients.cfn, stackName);

export const artifactKeyOf = (stack: Stack | undefined): string | undefined =>
  stack?.Parameters?.find((p) => p.ParameterKey === 'ArtifactKey')?.ParameterValue;

/** The stack's change sets (moto lists every stack's change sets, so they are filtered by stack here). */
export const changeSetsOf = async (world: World, stackName: string): Promise<ChangeSetSummary[]> => {
  const summaries: ChangeSetSummary[] = [];
  let NextToken: string | undefined;
  do {
    const page = await world.clients.cfn.send(new ListChangeSetsCommand({ StackName: stackName, NextToken }));
    summaries.push(...(page.Summaries ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return summaries.filter((s) => s.StackName === stackName);
};

export const describeChangeSet = (
  world: World,
  stackName: string,
  changeSetName: string,
): Promise<DescribeChangeSetCommandOutput> =>
  world.clients.cfn.send(
    new DescribeChangeSetCommand({ StackName: stackName, ChangeSetName: changeSetName }),
  );

export const stackEventsOf = async (world: World, stackName: string): Promise<StackEvent[]> => {
  const events: StackEvent[] = [];
  let NextToken: string | undefined;
  do {
    const page = await world.clients.cfn.send(
      new DescribeStackEventsCommand({ StackName: stackName, NextToken }),
    );
    events.push(...(page.StackEvents ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return events;
};

/** The stack's own status events (not its resources'), e.g. how many times it reached UPDATE_COMPLETE. */
export const stackStatusEvents = async (
  world: World,
  stackName: string,
  status: string,
): Promise<StackEvent[]> =>
  (await stackEventsOf(world, stackName)).filter(
    (e) => e.ResourceType === 'AWS::CloudFormation::Stack' && e.ResourceStatus === status,
  );

/** Read (and remove) the ops messages that arrived since the last read. */
export const inbox = (world: World): Promise<ReceivedNotification[]> => readInbox(world.sqs, world.queueUrl);

/** One "Label: value" line of a message body, as fieldLines writes it. */
export const bodyField = (body: string, label: string): string | undefined =>
  new RegExp(`^${label}:\\s+(.*)$`, 'm').exec(body)?.[1];

export const destroyWorld = (world: World): void => {
  for (const client of [...Object.values(world.clients), world.sqs]) client.destroy();
};
