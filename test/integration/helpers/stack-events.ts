/**
 * The CloudFormation events AWS would send for a world's stacks (moto sends none): the sample events of
 * events/ retargeted at a real moto stack (its name and ARN), plus the schedule event, configuration
 * variants of a world's runtime, and a release recorded as desired without deploying it (as the deploy
 * path does when the stack is busy).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateStackCommand, DeleteStackCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { parse, stringify } from 'yaml';
import type * as z from 'zod/mini';
import { locateBuild, type Release, releaseBuild } from '../../../shared/aws/artifacts';
import { type RecordResult, recordDesired } from '../../../shared/aws/desired-state';
import { describeStack } from '../../../shared/aws/stacks';
import { parseConfig } from '../../../shared/edge/config';
import { type envelope, parsePipelineEvent } from '../../../shared/edge/events';
import type { Settings } from '../../../shared/edge/settings';
import type { apiCallSchema, statusChangeSchema } from '../../../shared/edge/stack-events';
import { type Stage, stageNamed } from '../../../shared/edge/stages';
import type { Runtime } from '../../../shared/runtime';
import {
  ACCOUNT,
  type ConfigInput,
  type Execution,
  pipelineEvent,
  REGION,
  type StageInput,
  type StageNames,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './world';

const EVENTS_DIR = join(__dirname, '..', '..', '..', 'events');

/** A stack as the events name it: its name and the ARN moto gave it. */
export interface StackTarget {
  stack: string;
  stackId: string;
}

export type StatusSample =
  | 'stack-update-complete.json'
  | 'stack-update-rollback-complete.json'
  | 'stack-update-rollback-failed.json'
  | 'stack-rollback-complete.json'
  | 'stack-create-failed.json'
  | 'stack-delete-complete.json';

export type CloudTrailSample =
  | 'cloudtrail-update-stack.json'
  | 'cloudtrail-update-stack-failed.json'
  | 'cloudtrail-create-stack.json'
  | 'cloudtrail-delete-stack.json'
  | 'cloudtrail-execute-change-set.json';

/**
 * An event as its schema takes it in, except that the literals naming its kind (detail-type, source) are
 * any string: tests send one kind of event dressed as another. Every other field is the schema's.
 */
type AnyKind<T> = { [K in keyof T as K extends 'detail-type' | 'source' ? never : K]: T[K] } & {
  'detail-type': string;
  source: string;
};

/** A "CloudFormation Stack Status Change" event (see AnyKind). */
export type StatusChangeEvent = AnyKind<z.input<ReturnType<typeof statusChangeSchema>>>;

/** An "AWS API Call via CloudTrail" event (see AnyKind). */
export type CloudTrailEvent = AnyKind<z.input<ReturnType<typeof apiCallSchema>>>;

/** The schedule's event: the EventBridge envelope, as the schema takes it in. */
export type ScheduleEvent = z.input<ReturnType<typeof envelope>>;

const readSample = (file: string): string => readFileSync(join(EVENTS_DIR, file), 'utf8');

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The sample's text with every ARN of the sample's stack replaced by the target's ARN and every mention of
 * the sample's stack name by the target's name; account and region are moto's.
 */
const retarget = (text: string, sampleStack: string, target: StackTarget): string => {
  const arn = new RegExp(
    `arn:aws:cloudformation:[a-z0-9-]+:\\d{12}:stack/${escapeRegExp(sampleStack)}/[-a-zA-Z0-9]+`,
    'g',
  );
  return text
    .replace(arn, target.stackId)
    .replace(new RegExp(`\\b${escapeRegExp(sampleStack)}\\b`, 'g'), target.stack);
};

/** The stack name inside a stack ARN. */
const stackOfArn = (arn: string | undefined): string | undefined =>
  arn ? /:stack\/([^/]+)\//.exec(arn)?.[1] : undefined;

/** The name of the stack a sample status event is about. */
const sampleStackOfStatus = (sample: StatusChangeEvent): string => {
  const name = stackOfArn(sample.detail['stack-id']);
  if (!name) throw new Error('the sample status event names no stack');
  return name;
};

/** The name of the stack a sample CloudTrail event is about. */
const sampleStackOfCall = (sample: CloudTrailEvent): string => {
  const name =
    sample.detail.requestParameters?.stackName ?? stackOfArn(sample.detail.responseElements?.stackId);
  if (!name) throw new Error('the sample CloudTrail event names no stack');
  return name;
};

export interface StatusEventOptions {
  /** The status; default the sample's. */
  status?: string;
  /** The client request token; null for an event without one; default the sample's. */
  token?: string | null;
  reason?: string;
  time?: string;
}

/** A "CloudFormation Stack Status Change" sample event for a real stack. */
export const stackStatusEvent = (
  sample: StatusSample,
  target: StackTarget,
  options: StatusEventOptions = {},
): StatusChangeEvent => {
  const text = readSample(sample);
  const event = JSON.parse(
    retarget(text, sampleStackOfStatus(JSON.parse(text) as StatusChangeEvent), target),
  ) as StatusChangeEvent;
  event.id = randomUUID();
  event.account = ACCOUNT;
  event.region = REGION;
  event.resources = [target.stackId];
  event.detail['stack-id'] = target.stackId;
  if (options.status) event.detail['status-details'].status = options.status;
  if (options.reason !== undefined) event.detail['status-details']['status-reason'] = options.reason;
  if (options.token === null) delete event.detail['client-request-token'];
  else if (options.token !== undefined) event.detail['client-request-token'] = options.token;
  if (options.time) event.time = options.time;
  return event;
};

/** An "AWS API Call via CloudTrail" sample event for a real stack (its ARN also in the error message). */
export const cloudTrailEvent = (sample: CloudTrailSample, target: StackTarget): CloudTrailEvent => {
  const text = readSample(sample);
  const event = JSON.parse(
    retarget(text, sampleStackOfCall(JSON.parse(text) as CloudTrailEvent), target),
  ) as CloudTrailEvent;
  event.id = randomUUID();
  event.account = ACCOUNT;
  event.region = REGION;
  event.detail.awsRegion = REGION;
  return event;
};

/** The schedule's event (events/schedule.json). */
export const scheduleEvent = (): ScheduleEvent => ({
  ...(JSON.parse(readSample('schedule.json')) as ScheduleEvent),
  id: randomUUID(),
});

/** The attributes of the message about a status change of a stage's stack, or an API call on it. */
export const messageAttributes = (
  kind: 'stack-status' | 'api-call',
  stage: Pick<StageNames, 'name' | 'stack'>,
  status: string,
  severity: 'info' | 'warning' | 'error',
): Record<string, string> => ({ kind, stage: stage.name, stack: stage.stack, status, severity });

/** A client request token as the console makes one. */
export const consoleToken = (): string => `Console-UpdateStack-${randomUUID()}`;

// ---- the world's stacks ----

/** The stage's stack as events name it; fails when the stack does not exist. */
export const targetOf = async (world: World, stageName = 'dev'): Promise<StackTarget> => {
  const stack = stageOf(world, stageName).stack;
  return targetOfStack(world, stack);
};

export const targetOfStack = async (world: World, stack: string): Promise<StackTarget> => {
  const described = await describeStack(world.clients.cfn, stack);
  if (!described?.StackId) throw new Error(`stack ${stack} does not exist in moto`);
  return { stack, stackId: described.StackId };
};

/** A world made by `worldsOfFile` (world.ts), with its stage's stack as events name it. */
export const withTarget = async <T extends { world: World; stage: StageNames }>(
  made: T,
): Promise<T & { target: StackTarget }> => ({
  ...made,
  target: await targetOfStack(made.world, made.stage.stack),
});

/** A stack outside the configuration, from the world's template (as another team's stack would be). */
export const createOtherStack = async (world: World, name: string): Promise<StackTarget> => {
  await world.clients.cfn.send(
    new CreateStackCommand({
      StackName: name,
      TemplateURL: `https://${world.bucket}.s3.amazonaws.com/${world.templateKey}`,
      Capabilities: ['CAPABILITY_IAM'],
      Parameters: [
        { ParameterKey: 'Stage', ParameterValue: 'other' },
        { ParameterKey: 'ArtifactBucket', ParameterValue: world.bucket },
        { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/other/app.zip' },
      ],
    }),
  );
  return targetOfStack(world, name);
};

/**
 * Put the stack back on an earlier release, as CloudFormation's rollback would (moto never rolls back):
 * a direct UpdateStack that sets only the artifact parameter.
 */
export const rollBackStackTo = async (world: World, stageName: string, key: string): Promise<void> => {
  await world.clients.cfn.send(
    new UpdateStackCommand({
      StackName: stageOf(world, stageName).stack,
      UsePreviousTemplate: true,
      Capabilities: ['CAPABILITY_IAM'],
      Parameters: [
        { ParameterKey: 'Stage', UsePreviousValue: true },
        { ParameterKey: 'ArtifactBucket', UsePreviousValue: true },
        { ParameterKey: 'ArtifactKey', ParameterValue: key },
      ],
    }),
  );
};

export const deleteStageStack = async (world: World, stageName = 'dev'): Promise<void> => {
  await world.clients.cfn.send(new DeleteStackCommand({ StackName: stageOf(world, stageName).stack }));
};

// ---- configuration and desired state ----

/** The stage's configuration as the deployer sees it. */
export const configuredStage = (world: World, stageName = 'dev'): Stage => {
  const stage = stageNamed(world.runtime.config, stageOf(world, stageName).name);
  if (!stage) throw new Error(`stage ${stageName} is missing from the configuration`);
  return stage;
};

export interface ConfigChanges {
  notifications?: ConfigInput['notifications'];
  /** Per stage role ('dev'): settings to add, such as { mute: true }. */
  stages?: Record<string, Partial<StageInput>>;
}

/**
 * The world's runtime with its configuration changed, through the YAML and the schema as a deployed
 * configuration file would be; settings (such as ownRoles) may be changed too. The world itself is unchanged.
 */
export const runtimeWith = (
  world: World,
  changes: ConfigChanges,
  settings: Partial<Settings> = {},
): Runtime => {
  const document = parse(world.configText) as ConfigInput;
  if (changes.notifications) document.notifications = { ...changes.notifications };
  const stages = document.pipelines[world.pipeline]?.stages ?? {};
  for (const [role, extra] of Object.entries(changes.stages ?? {})) {
    const name = stageOf(world, role).name;
    const current = stages[name];
    if (!current) throw new Error(`stage ${name} is missing from the world's configuration`);
    stages[name] = { ...current, ...extra };
  }
  return {
    settings: { ...world.runtime.settings, ...settings },
    config: parseConfig(stringify(document), `world ${world.id} (changed)`),
    clients: world.clients,
  };
};

/**
 * Release an execution's build and record it as the stage's desired release without reconciling, as the
 * deploy path does for a stack that is busy. The build is uploaded first.
 */
export const recordRelease = async (
  world: World,
  execution: Execution,
  stageName = 'dev',
): Promise<{ release: Release; recorded: RecordResult }> => {
  await uploadExecutionBuild(world, execution, { stage: stageName });
  const parsed = parsePipelineEvent(pipelineEvent(world, execution));
  const stage = configuredStage(world, stageName);
  const { s3, ssm } = world.clients;
  const release = await releaseBuild(s3, stage, await locateBuild(s3, stage, parsed), parsed);
  const recorded = await recordDesired({ ssm, s3 }, stage, release, parsed);
  return { release, recorded };
};

/** Every access key id shape AWS uses (long-term AKIA, temporary ASIA). */
export const ACCESS_KEY_ID = /\b(AKIA|ASIA)[A-Z0-9]{16}\b/;
