/**
 * Hostile inputs end to end: a few cases of the hostile table through the REAL handler modules
 * (handlers/deploy.ts, handlers/notify.ts, handlers/reconcile.ts), loaded the way Lambda loads them, against
 * moto, with everything a handler could write read before and after.
 *
 * The whole table (about a hundred cases: malformed, mistyped, huge, unicode, control characters, path tricks,
 * ARNs where names belong, another account or region, prototype keys, unknown pipelines and stacks, schedule
 * look-alikes) lives in the unit test, test/unit/hostile-inputs.test.ts, with its cases in
 * test/unit/helpers/hostile-*-cases.ts. It runs there because the schema, the account check or the
 * configuration turns every one of them away before any AWS call: the unit test proves, with every SDK client
 * mocked, that no command was sent at all (or exactly the one read a case allows), which is a stronger and
 * far faster check than comparing moto before and after. Here a handful of representative cases — one of
 * each kind — still run end to end, so that the handlers as Lambda loads them, talking to a real (emulated)
 * AWS, are seen to leave it untouched: a non-JSON body through deploy, another account through notify, the
 * stack ARN of an unconfigured stack and schedule look-alikes through reconcile, a prototype-pollution key.
 *
 * For each, the handler must resolve (never throw) with the verdict 'rejected' or 'ignored' and a reason, and
 * nothing may be written: the SSM parameters under the test's path (versions, values, labels), the objects of
 * the test bucket (versioned, so even a lock taken and released shows), the stage stack (status, parameters,
 * events) and its change sets, and the ops inbox are read before and after and must be equal; and the
 * handler's own SDK clients must not have sent a single write command.
 *
 * Three positive controls first prove the snapshot sees writes: a valid event through each handler does
 * change it.
 */
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
import {
  expectTurnedAway,
  type HandlerName,
  type HostileCase,
  type HostileCtx,
  hostileCtx,
  requireHandlers,
  title,
  type Verdict,
} from '../unit/helpers/hostile-cases';
import { DEPLOY_CASES } from '../unit/helpers/hostile-deploy-cases';
import { FOUND_BUG_CASES } from '../unit/helpers/hostile-found-bug-cases';
import { NOTIFY_CASES, RECONCILE_CASES } from '../unit/helpers/hostile-stack-cases';
import { scheduleEvent, targetOf } from './helpers/stack-events';
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
  type StageNames,
  stackEventsOf,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

// ---------------------------------------------------------------------------------------------------------
// The world: one configured stage whose stack exists, and the three handlers loaded from the environment
// ---------------------------------------------------------------------------------------------------------

/** The table's event builders (no build uploaded for their pipeline events), on the moto world. */
interface Ctx extends HostileCtx {
  world: World;
  stage: StageNames;
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
  handlers = requireHandlers();
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
  const stage = stageOf(world, 'dev');
  ctx = { ...hostileCtx({ world, stage, target: await targetOf(world, 'dev') }), world, stage };
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
// A few cases of the hostile table, one of each kind (the whole table runs in the unit test)
// ---------------------------------------------------------------------------------------------------------

const TABLE = [...DEPLOY_CASES, ...NOTIFY_CASES, ...RECONCILE_CASES, ...FOUND_BUG_CASES];

/** The table's case of this handler and description (fails when the table no longer has it). */
const tableCase = (handler: HandlerName, what: string): HostileCase => {
  const found = TABLE.find((c) => c.handler === handler && c.what === what);
  if (!found) throw new Error(`the hostile table has no ${handler} case "${what}"`);
  return found;
};

const REPRESENTATIVES: HostileCase[] = [
  // Not an event at all: the schema's first line.
  tableCase('deploy', 'a non-JSON body (a string)'),
  // A prototype key that JSON.parse turns into an own "__proto__": nothing smuggled, nothing polluted.
  tableCase(
    'deploy',
    'a "__proto__" key (as JSON.parse makes it) smuggling the pipeline and polluting prototypes',
  ),
  // Well formed, from another account.
  tableCase('notify', 'CloudTrail: another account'),
  // Well formed and local, but no stage's stack: the handler that reconciles must not touch the stage.
  tableCase('reconcile', 'status change: a stack-id of an unconfigured stack'),
  // Schedule look-alikes: the one event that reconciles every stage.
  tableCase('reconcile', 'a schedule-looking event with a wrong source'),
  tableCase('reconcile', 'a schedule event from another account'),
];

const check = async (hostile: HostileCase): Promise<void> => {
  const result = await run(hostile.handler, hostile.event(ctx));
  expectTurnedAway(hostile, result);
  // ... and wrote nothing.
  expect({ writeCommands: result.writeCommands, messages: result.messages }).toEqual({
    writeCommands: [],
    messages: [],
  });
  expect(result.after).toEqual(result.before);
  hostile.also?.();
};

describe('hostile inputs through the real handlers on moto: nothing written', () => {
  test.each(REPRESENTATIVES.map((c) => [title(c), c] as const))('%s', async (_title, hostile) => {
    await check(hostile);
  });
});
