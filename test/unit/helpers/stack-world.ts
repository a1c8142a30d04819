/**
 * Fixtures for the stack-notification and settle tests: the CloudFormation sample events (API calls via
 * CloudTrail, stack status changes, the schedule), a runtime with notification settings changed, stack event
 * builders, and a small stateful AWS world (stacks, SSM parameter histories with labels, stack event pages)
 * on top of the deploy world of world.ts. Nothing here talks to the network.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DescribeStackEventsCommand,
  type DescribeStackEventsCommandInput,
  DescribeStacksCommand,
  type DescribeStacksCommandInput,
  type ResourceStatus,
  type Stack,
  type StackEvent,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { PublishCommand } from '@aws-sdk/client-sns';
import {
  DescribeParametersCommand,
  type DescribeParametersCommandInput,
  GetParameterCommand,
  type GetParameterCommandInput,
  GetParameterHistoryCommand,
  type GetParameterHistoryCommandInput,
  LabelParameterVersionCommand,
  type LabelParameterVersionCommandInput,
  type ParameterHistory,
  PutParameterCommand,
  type PutParameterCommandInput,
} from '@aws-sdk/client-ssm';
import { stackNameOf } from '../../../shared/edge/stack-events';
import type { Runtime } from '../../../shared/runtime';
import { ACCOUNT, awsError, makeRuntime, REGION, ROOT, repoConfigText, SAMPLE } from './fixtures';
import { putRelease, releaseObject, TEMPLATE, TEMPLATE_WITH_QUEUE } from './releases';
import type { S3Store } from './s3-store';
import { givenWorld, type Mocks, OLD_KEY, OLD_RELEASE } from './world';

// ---------------------------------------------------------------------------------------------------------
// Sample events
// ---------------------------------------------------------------------------------------------------------

export type StatusEventName =
  | 'stack-update-complete'
  | 'stack-update-rollback-complete'
  | 'stack-update-rollback-failed'
  | 'stack-create-failed'
  | 'stack-rollback-complete'
  | 'stack-delete-complete';

export type ApiCallEventName =
  | 'cloudtrail-create-stack'
  | 'cloudtrail-update-stack'
  | 'cloudtrail-execute-change-set'
  | 'cloudtrail-execute-change-set-by-arn'
  | 'cloudtrail-update-stack-failed'
  | 'cloudtrail-delete-stack';

export const STATUS_EVENTS: StatusEventName[] = [
  'stack-update-complete',
  'stack-update-rollback-complete',
  'stack-update-rollback-failed',
  'stack-create-failed',
  'stack-rollback-complete',
  'stack-delete-complete',
];

/** The samples that name their stack (the by-ARN sample names only its change set: its stack is looked up). */
export const API_CALL_EVENTS: ApiCallEventName[] = [
  'cloudtrail-create-stack',
  'cloudtrail-update-stack',
  'cloudtrail-execute-change-set',
  'cloudtrail-update-stack-failed',
  'cloudtrail-delete-stack',
];

/** The EventBridge envelope of the samples, loose enough to be damaged on purpose. */
export interface EnvelopeSample {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  [field: string]: unknown;
}

export interface StatusChangeSample extends EnvelopeSample {
  detail: {
    'stack-id'?: unknown;
    'status-details'?: { status?: unknown; 'status-reason'?: unknown; [field: string]: unknown };
    'client-request-token'?: unknown;
    [field: string]: unknown;
  };
}

export interface IdentitySample {
  type?: string;
  arn?: string;
  userName?: string;
  invokedBy?: string;
  principalId?: string;
  accountId?: string;
  accessKeyId?: string;
  sessionContext?: {
    sessionIssuer?: { type?: string; arn?: string; userName?: string; principalId?: string };
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

export interface ApiCallSample extends EnvelopeSample {
  detail: {
    eventSource: string;
    eventName: string;
    eventTime: string;
    awsRegion: string;
    userIdentity?: IdentitySample;
    requestParameters?: { stackName?: unknown; changeSetName?: unknown; [field: string]: unknown } | null;
    responseElements?: { stackId?: unknown; [field: string]: unknown } | null;
    errorCode?: string;
    errorMessage?: string;
    [field: string]: unknown;
  };
}

const texts = new Map<string, string>();
const readSample = (name: string): unknown => {
  let text = texts.get(name);
  if (text === undefined) {
    text = readFileSync(join(ROOT, 'events', `${name}.json`), 'utf8');
    texts.set(name, text);
  }
  return structuredClone(JSON.parse(text) as unknown);
};

/** A fresh copy of a stack status change sample, optionally changed first. */
export const statusEvent = (
  name: StatusEventName,
  change: (event: StatusChangeSample) => void = () => {},
): StatusChangeSample => {
  const event = readSample(name) as StatusChangeSample;
  change(event);
  return event;
};

/** A fresh copy of a CloudTrail API call sample, optionally changed first. */
export const apiCallEvent = (
  name: ApiCallEventName,
  change: (event: ApiCallSample) => void = () => {},
): ApiCallSample => {
  const event = readSample(name) as ApiCallSample;
  change(event);
  return event;
};

/** A fresh copy of events/schedule.json. */
export const scheduleEvent = (): EnvelopeSample => readSample('schedule') as EnvelopeSample;

/** The stack ids of the samples. */
export const STACK_IDS = {
  dev: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/orders-api-dev/6f1c2d3e-4a5b-11ef-9c8d-0a1b2c3d4e5f`,
  prod: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/orders-api-prod/0b9a8c7d-4a5b-11ef-8e7f-0a1b2c3d4e60`,
} as const;

export const PARAMETERS = {
  dev: '/deployer/orders-api/dev/artifact',
  prod: '/deployer/orders-api/prod/artifact',
} as const;

/** The access keys in the samples: they must never appear in a message. */
export const SAMPLE_ACCESS_KEYS = ['AKIAIOSFODNN7EXAMPLE', 'ASIAEXAMPLEKEY123456'];

/** Damaged copies of the samples, each of which parseStackEvent must reject. */
export const malformedStackEvents = (): [string, () => unknown][] => [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a string', () => 'CloudFormation Stack Status Change'],
  ['a number', () => 42],
  ['an array', () => [statusEvent('stack-update-complete')]],
  ['an empty object', () => ({})],
  [
    'an unknown detail-type',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e['detail-type'] = 'CloudFormation Resource Status Change';
      }),
  ],
  ['the schedule event', () => scheduleEvent()],
  [
    'a status change without stack-id',
    () =>
      statusEvent('stack-update-complete', (e) => {
        delete e.detail['stack-id'];
      }),
  ],
  [
    'a stack-id that is a stack name, not an ARN',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'orders-api-dev';
      }),
  ],
  [
    'a stack-id that is another service ARN',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'arn:aws:s3:::orders-api-artifacts';
      }),
  ],
  [
    'a stack-id with a newline',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = `${STACK_IDS.dev}\n`;
      }),
  ],
  [
    'a stack-id that is a number',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 12;
      }),
  ],
  [
    'a lowercase status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'update_complete' };
      }),
  ],
  [
    'a status with a space',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'UPDATE COMPLETE' };
      }),
  ],
  [
    'an empty status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: '' };
      }),
  ],
  [
    'a 65-character status',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'A'.repeat(65) };
      }),
  ],
  [
    'no status-details',
    () =>
      statusEvent('stack-update-complete', (e) => {
        delete e.detail['status-details'];
      }),
  ],
  [
    'a status reason longer than a whole EventBridge event',
    () =>
      statusEvent('stack-update-rollback-failed', (e) => {
        e.detail['status-details'] = {
          status: 'UPDATE_ROLLBACK_FAILED',
          'status-reason': 'x'.repeat(300_000),
        };
      }),
  ],
  [
    'a 300-character client request token',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.detail['client-request-token'] = 't'.repeat(300);
      }),
  ],
  [
    'a wrong source',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.source = 'custom.attacker';
      }),
  ],
  [
    'a malformed account',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.account = '12345';
      }),
  ],
  [
    'a malformed time',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.time = 'yesterday';
      }),
  ],
  [
    'a 200-character event id',
    () =>
      statusEvent('stack-update-complete', (e) => {
        e.id = 'i'.repeat(200);
      }),
  ],
  [
    'an API call with a 200-character eventName',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventName = 'U'.repeat(200);
      }),
  ],
  [
    'an API call with a 3000-character stack name',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.requestParameters = { stackName: 'a'.repeat(3000) };
      }),
  ],
  [
    'an API call with a user name longer than a whole EventBridge event',
    () =>
      apiCallEvent('cloudtrail-create-stack', (e) => {
        e.detail.userIdentity = { type: 'IAMUser', userName: 'u'.repeat(300_000) };
      }),
  ],
  [
    'an API call with an error message longer than a whole EventBridge event',
    () =>
      apiCallEvent('cloudtrail-update-stack-failed', (e) => {
        e.detail.errorMessage = 'm'.repeat(300_000);
      }),
  ],
  [
    'an ExecuteChangeSet that names neither a stack nor a change set ARN',
    () =>
      apiCallEvent('cloudtrail-execute-change-set-by-arn', (e) => {
        e.detail.requestParameters = { changeSetName: 'deploy-prod-v8' };
      }),
  ],
  [
    'an ExecuteChangeSet by an ARN of another service',
    () =>
      apiCallEvent('cloudtrail-execute-change-set-by-arn', (e) => {
        e.detail.requestParameters = { changeSetName: 'arn:aws:s3:::orders-api-artifacts/changeSet/x/y' };
      }),
  ],
  [
    'an API call from another event source',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventSource = 'iam.amazonaws.com';
      }),
  ],
  [
    'an API call with a malformed region',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.awsRegion = 'moon-1';
      }),
  ],
  [
    'an API call without eventTime',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventTime = 'not a time';
      }),
  ],
  [
    'an API call with a stack name that is a number',
    () =>
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.requestParameters = { stackName: 7 };
      }),
  ],
  [
    'an API call with a detail that is a string',
    () => ({ ...apiCallEvent('cloudtrail-update-stack'), detail: 'UpdateStack' }),
  ],
];

// ---------------------------------------------------------------------------------------------------------
// Runtime with changed notification settings
// ---------------------------------------------------------------------------------------------------------

export interface RuntimeChanges {
  notifications?: { allStacks?: boolean; inProgress?: boolean; apiCalls?: boolean };
  /** Stages to mute. */
  mute?: ('dev' | 'prod')[];
  /** The deployer's own IAM role names (DEPLOYER_ROLE_NAMES). */
  ownRoles?: string[];
}

/** The repository's deployer.config.yaml with notification settings and muted stages added. */
export const configTextWith = (changes: RuntimeChanges): string => {
  let text = repoConfigText();
  for (const stage of changes.mute ?? []) {
    const line = `        stack: orders-api-${stage}\n`;
    if (!text.includes(line)) throw new Error(`test setup: no stack line for stage ${stage}`);
    text = text.replace(line, `${line}        mute: true\n`);
  }
  const settings = Object.entries(changes.notifications ?? {});
  if (settings.length > 0) {
    text += `\nnotifications:\n${settings.map(([name, value]) => `  ${name}: ${String(value)}\n`).join('')}`;
  }
  return text;
};

/** A runtime (see makeRuntime) built from the repository's configuration with these changes. */
export const runtimeWith = (changes: RuntimeChanges = {}): Runtime => {
  const runtime = makeRuntime(configTextWith(changes));
  if (changes.ownRoles) runtime.settings = { ...runtime.settings, ownRoles: changes.ownRoles };
  return runtime;
};

// ---------------------------------------------------------------------------------------------------------
// Stacks, SSM history, stack events
// ---------------------------------------------------------------------------------------------------------

/** Two newer releases: real bytes under the keys they hash to, so that they verify. */
export const NEW_RELEASE = releaseObject('PK\u0003\u0004 a newer Lambda package');
export const NEWER_RELEASE = releaseObject('PK\u0003\u0004 the newest Lambda package');
export const NEW_KEY = NEW_RELEASE.key;
export const NEWER_KEY = NEWER_RELEASE.key;

/** A stage's stack as DescribeStacks returns it, with the id of the samples, running `artifactKey`. */
export const liveStack = (
  stage: 'dev' | 'prod',
  artifactKey: string | undefined = OLD_KEY,
  status = 'UPDATE_COMPLETE',
): Stack => ({
  StackName: `orders-api-${stage}`,
  StackId: STACK_IDS[stage],
  StackStatus: status as StackStatus,
  CreationTime: new Date('2026-01-01T00:00:00Z'),
  Parameters: [
    ...(artifactKey === undefined ? [] : [{ ParameterKey: 'ArtifactKey', ParameterValue: artifactKey }]),
    { ParameterKey: 'Stage', ParameterValue: stage },
    { ParameterKey: 'ArtifactBucket', ParameterValue: SAMPLE.bucket },
  ],
});

/** One version of a stage parameter as GetParameterHistory returns it, with the deployer's provenance. */
export const version = (
  stage: 'dev' | 'prod',
  number: number,
  key: string,
  options: {
    commit?: string;
    labels?: string[];
    description?: string;
    /** More provenance fields (artifact, template, action, …). */
    provenance?: Record<string, string>;
  } = {},
): ParameterHistory => ({
  Name: PARAMETERS[stage],
  Type: 'String',
  Value: key,
  Version: number,
  Labels: options.labels ?? [],
  LastModifiedDate: new Date(Date.UTC(2026, 10, 20, 10, number)),
  Description:
    options.description ??
    JSON.stringify({
      pipeline: SAMPLE.pipeline,
      execution: `exec-${number}`,
      ...(options.commit ? { commit: options.commit } : {}),
      startedAt: new Date(Date.UTC(2026, 10, 20, 10, number)).toISOString(),
      ...options.provenance,
    }),
});

let eventSeq = 0;

export interface EventOptions {
  stage?: 'dev' | 'prod';
  token?: string;
  type?: string;
  physicalId?: string;
}

/** A resource's event as DescribeStackEvents returns it. */
export const resourceEvent = (
  logicalId: string,
  status: string,
  reason?: string,
  options: EventOptions = {},
): StackEvent => {
  const stage = options.stage ?? 'prod';
  eventSeq += 1;
  return {
    EventId: `${logicalId}-${status}-${eventSeq}`,
    StackId: STACK_IDS[stage],
    StackName: `orders-api-${stage}`,
    LogicalResourceId: logicalId,
    PhysicalResourceId: options.physicalId ?? `${logicalId.toLowerCase()}-physical`,
    ResourceType: options.type ?? 'AWS::Lambda::Function',
    Timestamp: new Date(Date.UTC(2026, 10, 20, 11, 0, eventSeq)),
    ResourceStatus: status as ResourceStatus,
    ...(reason !== undefined ? { ResourceStatusReason: reason } : {}),
    ...(options.token !== undefined ? { ClientRequestToken: options.token } : {}),
  };
};

/** An event of the stack itself (its status). */
export const stackItselfEvent = (status: string, options: EventOptions = {}): StackEvent => {
  const stage = options.stage ?? 'prod';
  return resourceEvent(`orders-api-${stage}`, status, undefined, {
    ...options,
    type: 'AWS::CloudFormation::Stack',
    physicalId: STACK_IDS[stage],
  });
};

/** Pages of DescribeStackEvents, newest first; NextToken "page-<n>" leads to page n (0-based). */
export const stackEventPages = (pages: StackEvent[][]) => async (input: DescribeStackEventsCommandInput) => {
  const index = input.NextToken === undefined ? 0 : Number(input.NextToken.replace(/^page-/, ''));
  const page = pages[index];
  if (page === undefined) throw new Error(`test setup: no stack event page for token ${input.NextToken}`);
  return {
    StackEvents: page,
    ...(index + 1 < pages.length ? { NextToken: `page-${index + 1}` } : {}),
  };
};

export const stackMissing = (name: string): Error =>
  awsError('ValidationError', `Stack with id ${name} does not exist`);

export interface StackWorld {
  /** Stacks by name; any other stack "does not exist". Looked up by name or stack ARN. */
  stacks: Record<string, Stack>;
  /** SSM parameter histories by name, oldest first; any other parameter is ParameterNotFound. */
  history: Record<string, ParameterHistory[]>;
  /** DescribeStackEvents pages, newest first (for every stack). */
  events: StackEvent[][];
  /**
   * The artifact bucket: the releases OLD_KEY, NEW_KEY and NEWER_KEY and the released stage templates are
   * there (verified copies), and so are the stage lock and the deployer's run records.
   */
  s3: S3Store;
}

/**
 * The deploy world of world.ts (change sets computed at once, SNS accepts, an in-memory S3 that holds the
 * stage lock), the releases OLD_KEY, NEW_KEY, NEWER_KEY and the stage templates TEMPLATE and
 * TEMPLATE_WITH_QUEUE released in the artifact bucket, a stateful SSM (GetParameter with label selectors,
 * DescribeParameters and GetParameterHistory of the newest versions, LabelParameterVersion adds the label
 * to the history, PutParameter appends a version and, like SSM, keeps the previous version's description
 * when given none), stacks looked up by name or ARN, and stack event pages. Returns the state, which tests
 * may change.
 */
export const givenStackWorld = (mocks: Mocks, start: Partial<StackWorld> = {}): StackWorld => {
  const s3 = givenWorld(mocks);
  for (const release of [OLD_RELEASE, NEW_RELEASE, NEWER_RELEASE, TEMPLATE, TEMPLATE_WITH_QUEUE])
    putRelease(s3, release);
  const world: StackWorld = {
    stacks: start.stacks ?? {},
    history: start.history ?? {},
    events: start.events ?? [[]],
    s3,
  };
  mocks.cfn.on(DescribeStacksCommand).callsFake(async (input: DescribeStacksCommandInput) => {
    const ref = input.StackName ?? '';
    const stack = world.stacks[stackNameOf(ref) ?? ref];
    if (!stack) throw stackMissing(ref);
    return { Stacks: [structuredClone(stack)] };
  });
  mocks.cfn
    .on(DescribeStackEventsCommand)
    .callsFake(async (input: DescribeStackEventsCommandInput) => stackEventPages(world.events)(input));
  mocks.ssm.on(GetParameterCommand).callsFake(async (input: GetParameterCommandInput) => {
    const [name = '', selector] = (input.Name ?? '').split(':');
    const versions = world.history[name];
    const latest = versions?.at(-1);
    if (!latest) throw awsError('ParameterNotFound', `parameter ${name} not found`);
    const found = selector === undefined ? latest : versions?.find((v) => v.Labels?.includes(selector));
    if (!found) throw awsError('ParameterVersionLabelNotFound', `label ${selector} not found on ${name}`);
    return {
      Parameter: {
        Name: name,
        Type: 'String',
        Value: found.Value,
        Version: found.Version,
        ...(selector ? { Selector: `:${selector}` } : {}),
      },
    };
  });
  mocks.ssm.on(GetParameterHistoryCommand).callsFake(async (input: GetParameterHistoryCommandInput) => {
    const versions = world.history[input.Name ?? ''];
    if (!versions) throw awsError('ParameterNotFound', `parameter ${input.Name} not found`);
    return { Parameters: structuredClone(versions) };
  });
  mocks.ssm.on(LabelParameterVersionCommand).callsFake(async (input: LabelParameterVersionCommandInput) => {
    const found = world.history[input.Name ?? '']?.find((v) => v.Version === input.ParameterVersion);
    if (!found) throw awsError('ParameterVersionNotFound', `no version ${input.ParameterVersion}`);
    found.Labels = [...new Set([...(found.Labels ?? []), ...(input.Labels ?? [])])];
    return { InvalidLabels: [], ParameterVersion: input.ParameterVersion };
  });
  mocks.ssm.on(DescribeParametersCommand).callsFake(async (input: DescribeParametersCommandInput) => {
    const name = input.ParameterFilters?.[0]?.Values?.[0] ?? '';
    const latest = world.history[name]?.at(-1);
    if (!latest) return { Parameters: [] };
    const { Version, Description, LastModifiedDate } = latest;
    return { Parameters: [{ Name: name, Type: 'String', Version, Description, LastModifiedDate }] };
  });
  mocks.ssm.on(PutParameterCommand).callsFake(async (input: PutParameterCommandInput) => {
    const name = input.Name ?? '';
    const versions = world.history[name] ?? [];
    if (versions.length > 0 && !input.Overwrite)
      throw awsError('ParameterAlreadyExists', `The parameter ${name} already exists.`);
    world.history[name] = versions;
    const previous = versions.at(-1);
    const next = (previous?.Version ?? 0) + 1;
    versions.push({
      Name: name,
      Type: 'String',
      Value: input.Value,
      Version: next,
      Labels: [],
      LastModifiedDate: new Date(Date.UTC(2026, 10, 20, 12, next)),
      // An overwrite without a description keeps the previous version's (SSM does; so does moto).
      Description: input.Description ?? previous?.Description,
    } satisfies ParameterHistory);
    return { Version: next, Tier: 'Standard' };
  });
  return world;
};

// ---------------------------------------------------------------------------------------------------------
// What was published
// ---------------------------------------------------------------------------------------------------------

export interface Published {
  subject: string;
  body: string;
  attributes: Record<string, string>;
}

/** Every SNS Publish sent so far, as the subscriber sees it. */
export const publishedMessages = (mocks: Mocks): Published[] =>
  mocks.sns.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    return {
      subject: input.Subject ?? '',
      body: input.Message ?? '',
      attributes: Object.fromEntries(
        Object.entries(input.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
      ),
    };
  });

/** The one message published, or a failing test. */
export const onlyMessage = (mocks: Mocks): Published => {
  const messages = publishedMessages(mocks);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  if (!message) throw new Error('no message published');
  return message;
};

/** SNS's rules for a subject: 1 to 100 characters, one line of printable ASCII, not starting with a space. */
export const expectValidSubject = (subject: string): void => {
  expect(subject.length).toBeGreaterThan(0);
  expect(subject.length).toBeLessThanOrEqual(100);
  expect(subject).toMatch(/^[\x20-\x7e]+$/);
  expect(subject).not.toMatch(/^\s/);
};

/** The value of a "Label: value" line of a message body, or undefined when the line is absent. */
export const fieldOf = (body: string, label: string): string | undefined => {
  const prefix = `${label}:`;
  const line = body.split('\n').find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim();
};
