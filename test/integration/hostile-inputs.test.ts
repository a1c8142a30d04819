/**
 * Hostile inputs through the REAL handler modules (handlers/deploy.ts, handlers/notify.ts,
 * handlers/reconcile.ts), loaded the way Lambda loads them, against moto.
 *
 * Every case is an event the deployer must turn away: malformed, mistyped, huge, unicode, control
 * characters, path tricks, ARNs where names belong, another account or region, prototype keys, an unknown
 * pipeline or stack, a schedule look-alike. For each, the handler must resolve (never throw) with the verdict
 * 'rejected' or 'ignored' and a reason, and nothing may be written: the SSM parameters under the test's
 * path (versions, values, labels), the objects of the test bucket (versioned, so even a lock taken and
 * released shows), the stage stack (status, parameters, events) and its change sets, and the ops inbox are
 * read before and after and must be equal; and the handler's own SDK clients must not have sent a single
 * write command.
 *
 * Three positive controls first prove the snapshot sees writes: a valid event through each handler does
 * change it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as CfnModule from '@aws-sdk/client-cloudformation';
import type * as DdbModule from '@aws-sdk/client-dynamodb';
import type * as S3Module from '@aws-sdk/client-s3';
import { ListObjectsV2Command, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type * as SnsModule from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type * as SsmModule from '@aws-sdk/client-ssm';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import type * as DeployHandlerModule from '../../handlers/deploy';
import type * as NotifyHandlerModule from '../../handlers/notify';
import type * as ReconcileHandlerModule from '../../handlers/reconcile';
import {
  type CloudTrailEvent,
  cloudTrailEvent,
  consoleToken,
  type StackTarget,
  type StatusChangeEvent,
  scheduleEvent,
  stackStatusEvent,
  targetOf,
} from './helpers/stack-events';
import {
  ACCOUNT,
  changeSetsOf,
  createStackFor,
  createWorld,
  destroyWorld,
  enableVersioning,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  pipelineEvent,
  REGION,
  type StageNames,
  stackEventsOf,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

const OTHER_ACCOUNT = '999999999999';
const OTHER_REGION = 'eu-west-1';
const ONE_MB = 1024 * 1024;
/** 1 MB of text. */
const huge = (piece = 'x'): string => piece.repeat(Math.ceil(ONE_MB / piece.length));

// ---------------------------------------------------------------------------------------------------------
// The world: one configured stage whose stack exists, and the three handlers loaded from the environment
// ---------------------------------------------------------------------------------------------------------

type HandlerName = 'deploy' | 'notify' | 'reconcile';

interface Verdict {
  verdict: string;
  reason?: string;
}

interface Ctx {
  world: World;
  stage: StageNames;
  /** The stage's stack, with the ARN moto gave it. */
  target: StackTarget;
  /** A valid SUCCEEDED event of the configured pipeline for a new execution (no build uploaded). */
  pipeline: (change?: (event: PipelineEventShape) => void) => Record<string, unknown>;
  /** A valid final status change of the stage's stack, started from the console. */
  status: (change?: (event: StatusChangeEvent) => void) => StatusChangeEvent;
  /** A valid CloudTrail UpdateStack call on the stage's stack. */
  call: (change?: (event: CloudTrailEvent) => void) => CloudTrailEvent;
}

interface PipelineEventShape {
  detail: Record<string, unknown> & { 'execution-trigger': Record<string, unknown> };
  [field: string]: unknown;
}

const HANDLER_ENV = [
  'DEPLOYER_ACCOUNT_ID',
  'DEPLOYER_TOPIC_ARN',
  'DEPLOYER_LEDGER_TABLE',
  'DEPLOYER_CONFIG_FILE',
  'DEPLOYER_ROLE_NAMES',
];
const savedEnv = new Map<string, string | undefined>();

let ctx: Ctx;
let configDir: string | undefined;
let handlers: Record<HandlerName, (event: unknown) => Promise<Verdict[]>>;
/** The commands the handlers' own SDK clients sent, in order. */
const sent: string[] = [];

/** Load the three handler modules in a fresh module registry, as Lambda would, with the world's environment. */
const loadHandlers = (configFile: string, topicArn: string, ledgerTable: string): void => {
  for (const name of HANDLER_ENV) savedEnv.set(name, process.env[name]);
  Object.assign(process.env, {
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: topicArn,
    DEPLOYER_LEDGER_TABLE: ledgerTable,
    DEPLOYER_CONFIG_FILE: configFile,
  });
  delete process.env.DEPLOYER_ROLE_NAMES;
  jest.resetModules();
  // The SDK modules of the fresh registry, the ones the handlers load: every command their clients send is
  // recorded (and still sent to moto).
  const record = (prototype: { send(...args: unknown[]): unknown }) => {
    const original = prototype.send;
    jest.spyOn(prototype, 'send').mockImplementation(function (this: unknown, ...args: unknown[]) {
      sent.push((args[0] as object).constructor.name);
      return original.apply(this, args);
    });
  };
  record((require('@aws-sdk/client-cloudformation') as typeof CfnModule).CloudFormationClient.prototype);
  record((require('@aws-sdk/client-s3') as typeof S3Module).S3Client.prototype);
  record((require('@aws-sdk/client-sns') as typeof SnsModule).SNSClient.prototype);
  record((require('@aws-sdk/client-ssm') as typeof SsmModule).SSMClient.prototype);
  record((require('@aws-sdk/client-dynamodb') as typeof DdbModule).DynamoDBClient.prototype);
  const deploy = (require('../../handlers/deploy') as typeof DeployHandlerModule).handler;
  const notify = (require('../../handlers/notify') as typeof NotifyHandlerModule).handler;
  const reconcile = (require('../../handlers/reconcile') as typeof ReconcileHandlerModule).handler;
  handlers = {
    deploy: async (event) => [await deploy(event)],
    notify: async (event) => [await notify(event)],
    reconcile: async (event) => reconcile(event),
  };
};

beforeAll(async () => {
  const world = await createWorld([{ name: 'dev' }]);
  await createStackFor(world, 'dev');
  // Versioned: a write that is undone (a lock taken and released) still leaves versions behind.
  await enableVersioning(world);
  configDir = mkdtempSync(join(tmpdir(), 'deployer-hostile-'));
  const configFile = join(configDir, 'deployer.config.yaml');
  writeFileSync(configFile, world.configText);
  loadHandlers(configFile, world.topicArn, world.ledgerTable);
  const target = await targetOf(world, 'dev');
  ctx = {
    world,
    stage: stageOf(world, 'dev'),
    target,
    pipeline: (change = () => {}) => {
      const event = pipelineEvent(world, newExecution(hoursAfterBase(1))) as unknown as PipelineEventShape;
      change(event);
      return event;
    },
    status: (change = () => {}) => {
      const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
      change(event);
      return event;
    },
    call: (change = () => {}) => {
      const event = cloudTrailEvent('cloudtrail-update-stack.json', target);
      change(event);
      return event;
    },
  };
  await inbox(world);
});

afterAll(() => {
  jest.restoreAllMocks();
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  if (ctx) destroyWorld(ctx.world);
});

// ---------------------------------------------------------------------------------------------------------
// The snapshot: everything a handler could write
// ---------------------------------------------------------------------------------------------------------

interface Snapshot {
  parameters: { name: string; versions: [number | undefined, string | undefined, string[]][] }[];
  objects: [string | undefined, string | undefined][];
  objectVersions: [string | undefined, string | undefined, string | undefined, boolean | undefined][];
  deleteMarkers: [string | undefined, string | undefined][];
  stack: {
    status: string | undefined;
    parameters: [string | undefined, string | undefined][];
    lastUpdated: string | undefined;
    events: number;
  };
  changeSets: [string | undefined, string | undefined, string | undefined][];
  inbox: Record<string, string>;
}

const parameterNames = async (world: World): Promise<string[]> => {
  const names: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await world.clients.ssm.send(
      new GetParametersByPathCommand({ Path: `/it/${world.id}/`, Recursive: true, NextToken }),
    );
    names.push(...(page.Parameters ?? []).flatMap((p) => (p.Name ? [p.Name] : [])));
    NextToken = page.NextToken;
  } while (NextToken);
  return names.sort();
};

const bucketObjects = async (world: World) => {
  const objects: Snapshot['objects'] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await world.clients.s3.send(
      new ListObjectsV2Command({ Bucket: world.bucket, ContinuationToken }),
    );
    objects.push(
      ...(page.Contents ?? []).map((o): [string | undefined, string | undefined] => [o.Key, o.ETag]),
    );
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  const versions: Snapshot['objectVersions'] = [];
  const markers: Snapshot['deleteMarkers'] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const page = await world.clients.s3.send(
      new ListObjectVersionsCommand({ Bucket: world.bucket, KeyMarker, VersionIdMarker }),
    );
    versions.push(
      ...(page.Versions ?? []).map((v): Snapshot['objectVersions'][number] => [
        v.Key,
        v.VersionId,
        v.ETag,
        v.IsLatest,
      ]),
    );
    markers.push(
      ...(page.DeleteMarkers ?? []).map((m): Snapshot['deleteMarkers'][number] => [m.Key, m.VersionId]),
    );
    if (!page.IsTruncated) break;
    KeyMarker = page.NextKeyMarker;
    VersionIdMarker = page.NextVersionIdMarker;
  }
  const byText = (a: unknown[], b: unknown[]) => JSON.stringify(a).localeCompare(JSON.stringify(b));
  return { objects: objects.sort(byText), versions: versions.sort(byText), markers: markers.sort(byText) };
};

const snapshot = async ({ world, stage }: Ctx): Promise<Snapshot> => {
  const names = await parameterNames(world);
  const parameters = await Promise.all(
    names.map(async (name) => ({
      name,
      versions: (await parameterHistory(world, name)).map(
        (v): [number | undefined, string | undefined, string[]] => [
          v.Version,
          v.Value,
          [...(v.Labels ?? [])].sort(),
        ],
      ),
    })),
  );
  const [{ objects, versions, markers }, stack, events, changeSets, queue] = await Promise.all([
    bucketObjects(world),
    stackOf(world, stage.stack),
    stackEventsOf(world, stage.stack),
    changeSetsOf(world, stage.stack),
    world.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: world.queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    ),
  ]);
  return {
    parameters,
    objects,
    objectVersions: versions,
    deleteMarkers: markers,
    stack: {
      status: stack?.StackStatus,
      parameters: (stack?.Parameters ?? [])
        .map((p): [string | undefined, string | undefined] => [p.ParameterKey, p.ParameterValue])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      lastUpdated: stack?.LastUpdatedTime?.toISOString(),
      events: events.length,
    },
    changeSets: changeSets
      .map((c): Snapshot['changeSets'][number] => [c.ChangeSetName, c.Status, c.ExecutionStatus])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    inbox: queue.Attributes ?? {},
  };
};

const isRead = (command: string): boolean => /^(Get|List|Describe|Head)[A-Za-z]*Command$/.test(command);

interface Run {
  summaries?: Verdict[];
  threw?: unknown;
  before: Snapshot;
  after: Snapshot;
  commands: string[];
  writeCommands: string[];
  messages: string[];
  wrote: boolean;
}

/** Run one event through a handler, with the state read before and after. */
const run = async (handler: HandlerName, event: unknown): Promise<Run> => {
  const before = await snapshot(ctx);
  sent.length = 0;
  let summaries: Verdict[] | undefined;
  let threw: unknown;
  try {
    summaries = await handlers[handler](event);
  } catch (error) {
    threw = error;
  }
  const commands = [...sent];
  const after = await snapshot(ctx);
  // Read (and clear) whatever reached the inbox, so that one case's message cannot hide in the next one's.
  const messages = (await inbox(ctx.world)).map((m) => m.subject);
  const writeCommands = commands.filter((c) => !isRead(c));
  const wrote =
    writeCommands.length > 0 || messages.length > 0 || JSON.stringify(before) !== JSON.stringify(after);
  return {
    before,
    after,
    commands,
    writeCommands,
    messages,
    wrote,
    ...(summaries ? { summaries } : {}),
    ...(threw === undefined ? {} : { threw }),
  };
};

// ---------------------------------------------------------------------------------------------------------
// Positive controls: the same handlers, the same snapshot, valid events — the writes are seen
// ---------------------------------------------------------------------------------------------------------

describe('controls: valid events through the same handlers do write, and the snapshot sees it', () => {
  test('deploy: a SUCCEEDED execution with its build releases, records, deploys and reports', async () => {
    const execution = newExecution(hoursAfterBase(0));
    await uploadExecutionBuild(ctx.world, execution);
    const result = await run('deploy', pipelineEvent(ctx.world, execution));
    expect(result.threw).toBeUndefined();
    expect(result.summaries?.[0]?.verdict).toBe('deployed');
    expect(result.after.parameters).not.toEqual(result.before.parameters);
    expect(result.after.objectVersions).not.toEqual(result.before.objectVersions);
    expect(result.after.changeSets.length).toBe(result.before.changeSets.length + 1);
    expect(result.after.stack.parameters).not.toEqual(result.before.stack.parameters);
    expect(result.writeCommands).toEqual(
      expect.arrayContaining([
        'CopyObjectCommand',
        'PutParameterCommand',
        'CreateChangeSetCommand',
        'PublishCommand',
      ]),
    );
    expect(result.messages).toHaveLength(1);
  });

  test('notify: a final status of the stage stack is reported', async () => {
    const result = await run('notify', ctx.status());
    expect(result.summaries?.[0]?.verdict).toBe('notified');
    // The ledger's claim, the message, the ledger's "sent".
    expect(result.writeCommands).toEqual(['PutItemCommand', 'PublishCommand', 'UpdateItemCommand']);
    expect(result.messages).toHaveLength(1);
  });

  test('reconcile: the schedule reconciles the in-sync stage, and even its lock shows as a write', async () => {
    const result = await run('reconcile', scheduleEvent());
    expect(result.summaries).toEqual([
      expect.objectContaining({ verdict: 'reconciled', outcome: 'in-sync' }),
    ]);
    expect(result.writeCommands).toEqual(expect.arrayContaining(['PutObjectCommand', 'DeleteObjectCommand']));
    expect(result.after.objectVersions).not.toEqual(result.before.objectVersions);
    expect(result.messages).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The hostile table
// ---------------------------------------------------------------------------------------------------------

type Expected = 'rejected' | 'ignored';

interface HostileCase {
  what: string;
  handler: HandlerName;
  /** The verdict the handler must give. */
  verdict: Expected;
  event: (c: Ctx) => unknown;
  /** Checked after the handler ran (e.g. that no prototype was polluted). */
  also?: () => void;
}

/** A stack ARN for this stage's stack name, in another account or region. */
const foreignArn = (c: Ctx, where: { account?: string; region?: string }): string =>
  c.target.stackId
    .replace(`:${ACCOUNT}:`, `:${where.account ?? ACCOUNT}:`)
    .replace(`:${REGION}:`, `:${where.region ?? REGION}:`);

const unconfiguredArn = (c: Ctx): string =>
  `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/it-${c.world.id}-other/${randomUUID()}`;

const deepObject = (levels: number): Record<string, unknown> => {
  let deep: Record<string, unknown> = { bottom: true };
  for (let i = 0; i < levels; i += 1) deep = { d: deep };
  return deep;
};

/** Events any handler must reject: not an event at all. */
const notEvents: [string, (c: Ctx) => unknown][] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a non-JSON body (a string)', () => '{"detail-type": "CodePipeline Pipeline Execution State Change", '],
  ['a number', () => 42],
  ['an array holding a valid event', (c) => [c.pipeline(), c.status()]],
  ['an empty object', () => ({})],
];

const DEPLOY_CASES: HostileCase[] = [
  ...notEvents.map(([what, event]): HostileCase => ({ what, handler: 'deploy', verdict: 'rejected', event })),
  {
    what: 'the valid event JSON-encoded twice (a string)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => JSON.stringify(c.pipeline()),
  },
  {
    what: 'no detail',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.pipeline((e) => delete (e as Record<string, unknown>).detail),
  },
  {
    what: 'no execution-id',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.pipeline((e) => delete e.detail['execution-id']),
  },
  {
    what: 'a mistyped execution-id (a number)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = 123456;
      }),
  },
  {
    what: 'a mistyped account (a number)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.account = Number(ACCOUNT);
      }),
  },
  {
    what: 'a mistyped detail (a string)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail = 'SUCCEEDED' as unknown as PipelineEventShape['detail'];
      }),
  },
  {
    what: 'a 1 MB pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = huge('p');
      }),
  },
  {
    what: 'a 1 MB commit message',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-trigger']['commit-message'] = huge('lorem ipsum ');
      }),
  },
  {
    what: 'a 1 MB event id of emoji',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.id = huge('🚀');
      }),
  },
  {
    what: 'an emoji pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `${c.world.pipeline}-🚀`;
      }),
  },
  {
    what: 'a look-alike pipeline name (Cyrillic і)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = c.world.pipeline.replace('i', 'і');
      }),
  },
  {
    what: 'control characters in the execution id',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `${randomUUID()}\u0000\u001b[2J`;
      }),
  },
  {
    what: "an execution id with '../'",
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `../../${randomUUID()}`;
      }),
  },
  {
    what: 'an execution id with spaces',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-id'] = `${randomUUID()} ${randomUUID()}`;
      }),
  },
  {
    what: 'a commit id with a newline',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['execution-trigger']['commit-id'] = `${'a'.repeat(40)}\nrm -rf /`;
      }),
  },
  {
    what: 'a state with a trailing newline',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.state = 'SUCCEEDED\n';
      }),
  },
  {
    what: 'a start-time that is not a time',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail['start-time'] = '2026-02-30T25:61:00Z';
      }),
  },
  {
    what: 'another account',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'another region',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'a region with a path in it',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.region = `${REGION}/../${OTHER_REGION}`;
      }),
  },
  {
    what: 'a wrong source (a custom event posing as CodePipeline)',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.source = 'custom.attacker';
      }),
  },
  {
    what: "a pipeline name with '/' and '..'",
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `${c.world.pipeline}/../${c.world.pipeline}`;
      }),
  },
  {
    what: 'a pipeline ARN as the pipeline name',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `arn:aws:codepipeline:${REGION}:${ACCOUNT}:${c.world.pipeline}`;
      }),
  },
  {
    what: 'a pipeline name with spaces',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = ` ${c.world.pipeline} `;
      }),
  },
  {
    what: 'an unknown pipeline',
    handler: 'deploy',
    verdict: 'ignored',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `unknown-${c.world.id}`;
      }),
  },
  ...['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'].map(
    (name): HostileCase => ({
      what: `${name} as the pipeline name`,
      handler: 'deploy',
      verdict: 'ignored',
      event: (c) =>
        c.pipeline((e) => {
          e.detail.pipeline = name;
        }),
    }),
  ),
  {
    what: 'a "__proto__" key (as JSON.parse makes it) smuggling the pipeline and polluting prototypes',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => {
      const event = c.pipeline((e) => delete e.detail.pipeline);
      const text = JSON.stringify(event)
        .replace('{', '{"__proto__": {"polluted": "yes"}, ')
        .replace('"detail":{', `"detail":{"__proto__": {"pipeline": ${JSON.stringify(c.world.pipeline)}}, `);
      return JSON.parse(text) as unknown;
    },
    also: () => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('pipeline');
    },
  },
  {
    what: 'an unknown pipeline with a 10,000-level deep extra field',
    handler: 'deploy',
    verdict: 'ignored',
    event: (c) =>
      c.pipeline((e) => {
        e.detail.pipeline = `unknown-${c.world.id}`;
        e.detail.extra = deepObject(10_000);
      }),
  },
  {
    what: 'a stack status change sent to the deploy handler',
    handler: 'deploy',
    verdict: 'rejected',
    event: (c) => c.status(),
  },
  {
    what: 'the schedule event sent to the deploy handler',
    handler: 'deploy',
    verdict: 'rejected',
    event: () => scheduleEvent(),
  },
];

const NOTIFY_CASES: HostileCase[] = [
  ...notEvents.map(([what, event]): HostileCase => ({ what, handler: 'notify', verdict: 'rejected', event })),
  {
    what: "CloudTrail: stackName '../../x'",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: '../../x' };
        e.detail.responseElements = null;
      }),
  },
  {
    what: "CloudTrail: stackName the stage stack with '/../../x'",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}/../../x` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with spaces',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack} ${c.stage.stack}` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with emoji',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}-🔥` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName in full-width look-alike letters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = {
          stackName: c.stage.stack.replace(/[a-z]/g, (ch) =>
            String.fromCodePoint((ch.codePointAt(0) ?? 0) + 0xfee0),
          ),
        };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with control characters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}\r\n\u0007` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: a 1 MB stackName',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: huge('s') };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: an S3 ARN as stackName',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `arn:aws:s3:::${c.world.bucket}` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: no stack named at all',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = null;
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: requestParameters mistyped (a string)',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        (e.detail as Record<string, unknown>).requestParameters = c.stage.stack;
      }),
  },
  {
    what: 'CloudTrail: an unconfigured stack',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `it-${c.world.id}-other` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: a call that starts no stack operation (DescribeStacks)',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.call((e) => {
        e.detail.eventName = 'DescribeStacks';
      }),
  },
  {
    what: 'CloudTrail: a call made in another region',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.awsRegion = OTHER_REGION;
      }),
  },
  {
    what: 'CloudTrail: another account',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: a stack-id that is the stack name, not an ARN',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.stage.stack;
      }),
  },
  {
    what: 'status change: a stack-id that is an S3 ARN',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `arn:aws:s3:::${c.world.bucket}`;
      }),
  },
  {
    what: "status change: a stack-id with '..' for the stack name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.target.stackId.replace(`/${c.stage.stack}/`, '/../../x/');
      }),
  },
  {
    what: 'status change: a stack-id with a newline',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `${c.target.stackId}\n`;
      }),
  },
  {
    what: 'status change: a stack-id of an unconfigured stack',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = unconfiguredArn(c);
      }),
  },
  {
    what: 'status change: a status with control characters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_COMPLETE\u0000\n';
      }),
  },
  {
    what: 'status change: a 1 MB status reason',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details']['status-reason'] = huge('Resource handler returned message: ');
      }),
  },
  {
    what: 'status change: another account',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: another region',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'status change: an in-progress status (not reported by default)',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_IN_PROGRESS';
      }),
  },
  {
    what: 'an unknown detail-type',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e['detail-type'] = 'CloudFormation Resource Status Change';
      }),
  },
  {
    what: 'the schedule event sent to the notify handler',
    handler: 'notify',
    verdict: 'rejected',
    event: () => scheduleEvent(),
  },
  {
    what: 'a pipeline event sent to the notify handler',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => c.pipeline(),
  },
];

const RECONCILE_CASES: HostileCase[] = [
  ...notEvents.map(
    ([what, event]): HostileCase => ({ what, handler: 'reconcile', verdict: 'rejected', event }),
  ),
  {
    what: 'a schedule-looking event with a wrong source',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'custom.attacker' }),
  },
  {
    what: "a schedule-looking event whose source has a trailing space ('aws.events ')",
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'aws.events ' }),
  },
  {
    what: 'a schedule-looking event with a lowercase detail-type',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), 'detail-type': 'scheduled event' }),
  },
  {
    what: 'a schedule-looking event from EventBridge Scheduler (aws.scheduler)',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'aws.scheduler' }),
  },
  {
    what: 'status change: a stack-id of an unconfigured stack',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = unconfiguredArn(c);
      }),
  },
  {
    what: 'status change: a stack-id that is not an ARN',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `${c.stage.stack} (${c.target.stackId})`;
      }),
  },
  {
    what: "status change: a stack-id naming '../../x'",
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.target.stackId.replace(`/${c.stage.stack}/`, '/../../x/');
      }),
  },
  {
    what: 'status change: an in-progress status of the stage stack',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_IN_PROGRESS';
      }),
  },
  {
    what: 'status change: a 1 MB client request token naming another stage with a path',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['client-request-token'] = `deploy-${c.stage.name}/../prod-v1${huge('/..')}`;
      }),
  },
  {
    what: 'status change: another account',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: another region',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'a CloudTrail call sent to the reconcile handler',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) => c.call(),
  },
  {
    what: 'a pipeline event sent to the reconcile handler',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) => c.pipeline(),
  },
];

/**
 * Cases that found product bugs (now fixed): stack ARNs of another account or region, a detail-type with a
 * toString key, schedule events from elsewhere.
 */
const FOUND_BUG_CASES: HostileCase[] = [
  // stack-events.ts stackNameOf/STACK_ARN: the account and region inside a stack ARN are never compared
  // with the deployer's, so an ARN of another account's (or region's) stack of the same name is taken for
  // the stage's stack: the notify handler reports it, the reconcile handler reconciles the stage.
  {
    what: "CloudTrail: stackName an ARN of another account's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        const arn = foreignArn(c, { account: OTHER_ACCOUNT });
        e.detail.requestParameters = { stackName: arn };
        e.detail.responseElements = { stackId: arn };
      }),
  },
  {
    what: "status change: a stack-id of another account's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { account: OTHER_ACCOUNT });
      }),
  },
  {
    what: "status change: a stack-id of another region's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { region: OTHER_REGION });
      }),
  },
  {
    what: "status change: a stack-id of another account's stack of the same name",
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { account: OTHER_ACCOUNT });
      }),
  },
  // stack-events.ts, the last statement of parseStackEvent: String(detailType) throws a TypeError for a
  // JSON object whose toString is not a function, so both handlers throw instead of rejecting.
  {
    what: 'a detail-type that is a JSON object with a "toString" key',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => ({ ...c.status(), 'detail-type': JSON.parse('{"toString": 1}') as unknown }),
  },
  {
    what: 'a detail-type that is a JSON object with a "toString" key',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) => ({ ...c.status(), 'detail-type': JSON.parse('{"toString": 1}') as unknown }),
  },
  // settle.ts isScheduledEvent/handleReconcileTrigger: a schedule event is never validated, so one from
  // another account or region (or a bare {source, detail-type}) reconciles every stage.
  {
    what: 'a schedule event from another account',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), account: OTHER_ACCOUNT, region: OTHER_REGION }),
  },
];

// ---------------------------------------------------------------------------------------------------------
// Running the table
// ---------------------------------------------------------------------------------------------------------

const tally = { tried: 0, wrote: 0, threw: 0, knownBugTried: 0, knownBugWrote: 0, knownBugThrew: 0 };

afterAll(() => {
  console.log(
    `hostile inputs: tried=${tally.tried} writes=${tally.wrote}` +
      (tally.threw ? ` threw=${tally.threw}` : ''),
  );
});

const check = async (hostile: HostileCase, knownBug: boolean): Promise<void> => {
  const result = await run(hostile.handler, hostile.event(ctx));
  if (knownBug) {
    tally.knownBugTried += 1;
    if (result.wrote) tally.knownBugWrote += 1;
    if (result.threw !== undefined) tally.knownBugThrew += 1;
  } else {
    tally.tried += 1;
    if (result.wrote) tally.wrote += 1;
    if (result.threw !== undefined) tally.threw += 1;
  }
  // The handler resolved...
  if (result.threw !== undefined) {
    throw new Error(
      `the ${hostile.handler} handler threw: ${result.threw instanceof Error ? `${result.threw.name}: ${result.threw.message.slice(0, 300)}` : String(result.threw)}`,
    );
  }
  // ... with the expected verdict and a reason ...
  expect(result.summaries?.map((s) => s.verdict)).toEqual([hostile.verdict]);
  for (const summary of result.summaries ?? []) {
    expect(typeof summary.reason).toBe('string');
    expect(summary.reason?.length).toBeGreaterThan(0);
  }
  // ... and wrote nothing.
  expect({ writeCommands: result.writeCommands, messages: result.messages }).toEqual({
    writeCommands: [],
    messages: [],
  });
  expect(result.after).toEqual(result.before);
  hostile.also?.();
};

const title = (c: HostileCase): string => `${c.handler}: ${c.what} → ${c.verdict}, no write`;

describe('hostile inputs through the real handlers', () => {
  const cases = [...DEPLOY_CASES, ...NOTIFY_CASES, ...RECONCILE_CASES, ...FOUND_BUG_CASES];

  test('the table is big enough', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(new Set(cases.map(title)).size).toBe(cases.length);
  });

  test.each(cases.map((c) => [title(c), c] as const))('%s', async (_title, hostile) => {
    await check(hostile, false);
  });
});
