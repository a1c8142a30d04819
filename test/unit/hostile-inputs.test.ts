/**
 * Hostile inputs through the REAL handler modules (handlers/deploy.ts, handlers/notify.ts,
 * handlers/reconcile.ts), loaded the way Lambda loads them — in a fresh module registry, from the environment
 * the integration test gives them — with every SDK client of that registry mocked (aws-sdk-client-mock).
 *
 * Every case of the table (helpers/hostile-*-cases.ts) is an event the deployer must turn away: malformed,
 * mistyped, huge, unicode, control characters, path tricks, ARNs where names belong, another account or
 * region, prototype keys, an unknown pipeline or stack, a schedule look-alike. For each, the handler must
 * resolve (never throw) with the verdict 'rejected' or 'ignored' and a reason, and the commands its clients
 * sent must be exactly the reads the case allows: none for the whole table, since the schema, the account
 * check or the configuration turns each away before any AWS call. A write of any kind (Put, Copy, Delete,
 * Create, Execute, Publish, Update, Label…) fails the case by name. Change set calls named by ARN alone are
 * the one kind of event that is looked up before it is turned away: their cases say which read they make.
 *
 * The mocks answer reads as a small world would (the stage's stack exists, its parameter holds the release it
 * runs, no run record or build is stored) and writes with success, so a handler that wrongly went on would
 * go on writing, and be seen doing so: the controls first show a valid event through each handler sending
 * its writes to these very mocks. test/integration/hostile-inputs.test.ts runs a few of these cases on moto.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Cfn from '@aws-sdk/client-cloudformation';
import type * as Ddb from '@aws-sdk/client-dynamodb';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Sns from '@aws-sdk/client-sns';
import type * as Ssm from '@aws-sdk/client-ssm';
import type * as Sts from '@aws-sdk/client-sts';
import type * as Http from '@smithy/node-http-handler';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import type { SinonSpyCall } from 'sinon';
import { stringify } from 'yaml';
import { scheduleEvent } from '../integration/helpers/stack-events';
import {
  ACCOUNT,
  expectTurnedAway,
  type HandlerName,
  type HostileCase,
  hostileCtx,
  REGION,
  requireHandlers,
  title,
  type Verdict,
} from './helpers/hostile-cases';
import { DEPLOY_CASES } from './helpers/hostile-deploy-cases';
import { FOUND_BUG_CASES } from './helpers/hostile-found-bug-cases';
import { LOOKUP_CASES, type LookupCase } from './helpers/hostile-lookup-cases';
import {
  farStage,
  PLACE_CASES,
  PLACE_LOOKUP_CASES,
  statusFrom,
  TARGET_ACCOUNT,
  targetRoleArn,
} from './helpers/hostile-place-cases';
import { NOTIFY_CASES, RECONCILE_CASES } from './helpers/hostile-stack-cases';

// ---------------------------------------------------------------------------------------------------------
// The world: names like an integration world's, its configuration in a file, and the three handlers
// ---------------------------------------------------------------------------------------------------------

const ID = 'c0ffee1234';
const PIPELINE = `it-pipeline-${ID}`;
const BUCKET = `it-deployer-${ID}`;
const STAGE = { name: `dev-${ID}`, stack: `it-${ID}-dev` };
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${STAGE.stack}/6f1c2d3e-4a5b-11ef-9c8d-0a1b2c3d4e5f`;
const PARAMETER = `/it/${ID}/dev/artifact`;
/** The world's stage in another account (its own pipeline): its stack lives in TARGET_ACCOUNT. */
const FAR = farStage(ID);
const FAR_PARAMETER = `/it/${ID}/far/artifact`;
/** The release the stage's stack runs and its parameter holds (in sync). */
const LIVE_KEY = `releases/app/${'ab'.repeat(32)}.zip`;

const ctx = hostileCtx({
  world: { id: ID, pipeline: PIPELINE, bucket: BUCKET },
  stage: STAGE,
  target: { stack: STAGE.stack, stackId: STACK_ID },
});

/** The configuration an integration world of one stage ('dev') writes, in deployer.config.yaml's schema. */
const CONFIG_TEXT = stringify({
  settings: { changeSetTimeoutSeconds: 30 },
  pipelines: {
    [PIPELINE]: {
      stages: {
        [STAGE.name]: {
          stack: STAGE.stack,
          ssmParameter: PARAMETER,
          stackParameter: 'ArtifactKey',
          artifact: { bucket: BUCKET, key: 'builds/{executionId}/app.zip' },
          releasePrefix: 'releases/app/',
          template: { bucket: BUCKET, key: 'templates/app.yaml' },
          parameterOverrides: { Stage: STAGE.name, ArtifactBucket: BUCKET },
          capabilities: ['CAPABILITY_IAM'],
          tags: { service: 'integration-test', stage: STAGE.name },
          roleArn: `arn:aws:iam::${ACCOUNT}:role/it-${STAGE.name}-cloudformation`,
          requiresApproval: false,
        },
      },
    },
    [`${PIPELINE}-far`]: {
      stages: {
        [FAR.name]: {
          stack: FAR.stack,
          ssmParameter: FAR_PARAMETER,
          artifact: { bucket: BUCKET, key: 'builds/{executionId}/app.zip' },
          releasePrefix: 'releases/far/',
          template: { bucket: BUCKET, key: 'templates/app.yaml' },
          roleArn: `arn:aws:iam::${TARGET_ACCOUNT}:role/it-${FAR.name}-cloudformation`,
          account: TARGET_ACCOUNT,
          assumeRoleArn: targetRoleArn(ID),
        },
      },
    },
  },
});

interface Sdk {
  cfn: typeof Cfn;
  s3: typeof S3;
  sns: typeof Sns;
  ssm: typeof Ssm;
  ddb: typeof Ddb;
}

interface Mocks {
  cfn: AwsClientStub<Cfn.CloudFormationClient>;
  s3: AwsClientStub<S3.S3Client>;
  sns: AwsClientStub<Sns.SNSClient>;
  ssm: AwsClientStub<Ssm.SSMClient>;
  ddb: AwsClientStub<Ddb.DynamoDBClient>;
}

const savedEnv = { ...process.env };
let configDir: string | undefined;
let sdk: Sdk;
let mocks: Mocks;
/** STS, for the far stage's role: its calls are not the table's (they change nothing in the account). */
let sts: AwsClientStub<Sts.STSClient>;
let stsSdk: typeof Sts;
let handlers: Record<HandlerName, (event: unknown) => Promise<Verdict[]>>;

beforeAll(() => {
  configDir = mkdtempSync(join(tmpdir(), 'deployer-hostile-unit-'));
  const configFile = join(configDir, 'deployer.config.yaml');
  writeFileSync(configFile, CONFIG_TEXT);
  // The integration test's environment, with the world's configuration file.
  Object.assign(process.env, {
    AWS_REGION: REGION,
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: `arn:aws:sns:${REGION}:${ACCOUNT}:it-ops-${ID}`,
    DEPLOYER_LEDGER_TABLE: `it-ledger-${ID}`,
    DEPLOYER_CONFIG_FILE: configFile,
  });
  delete process.env.DEPLOYER_ROLE_NAMES;
  // A fresh module registry, as Lambda loads a handler: the SDK modules mocked are the ones it imports.
  jest.resetModules();
  // The safety net: a client that no mock covers would reach for the network; here it fails at once instead.
  const http = require('@smithy/node-http-handler') as typeof Http;
  jest
    .spyOn(http.NodeHttpHandler.prototype, 'handle')
    .mockRejectedValue(new Error('a unit test tried to reach the network'));
  sdk = {
    cfn: require('@aws-sdk/client-cloudformation') as Sdk['cfn'],
    s3: require('@aws-sdk/client-s3') as Sdk['s3'],
    sns: require('@aws-sdk/client-sns') as Sdk['sns'],
    ssm: require('@aws-sdk/client-ssm') as Sdk['ssm'],
    ddb: require('@aws-sdk/client-dynamodb') as Sdk['ddb'],
  };
  mocks = {
    cfn: mockClient(sdk.cfn.CloudFormationClient),
    s3: mockClient(sdk.s3.S3Client),
    sns: mockClient(sdk.sns.SNSClient),
    ssm: mockClient(sdk.ssm.SSMClient),
    ddb: mockClient(sdk.ddb.DynamoDBClient),
  };
  stsSdk = require('@aws-sdk/client-sts') as typeof Sts;
  sts = mockClient(stsSdk.STSClient);
  handlers = requireHandlers();
});

afterAll(() => {
  for (const mock of Object.values(mocks ?? {})) mock.restore();
  sts?.restore();
  jest.restoreAllMocks();
  process.env = { ...savedEnv };
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// The mocked AWS: reads answered as the world would, writes accepted, every command recorded
// ---------------------------------------------------------------------------------------------------------

const awsError = (name: string, message: string, httpStatusCode = 400): Error =>
  Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });

const stageStack = (stack = STAGE.stack, stackId = STACK_ID): Cfn.Stack => ({
  StackName: stack,
  StackId: stackId,
  StackStatus: 'UPDATE_COMPLETE',
  CreationTime: new Date('2026-11-19T10:00:00Z'),
  Parameters: [
    { ParameterKey: 'ArtifactKey', ParameterValue: LIVE_KEY },
    { ParameterKey: 'Stage', ParameterValue: STAGE.name },
    { ParameterKey: 'ArtifactBucket', ParameterValue: BUCKET },
  ],
});

/** Every mock reset (history and answers), then the world's answers. */
const givenWorld = (): void => {
  // Anything not answered below (DeleteObject, PutItem, ExecuteChangeSet, LabelParameterVersion…): {}.
  for (const mock of Object.values(mocks)) mock.reset().resolves({});
  const { cfn, s3, sns, ssm, ddb } = sdk;
  mocks.cfn.on(cfn.DescribeStacksCommand).callsFake(async (input: Cfn.DescribeStacksCommandInput) => {
    if (input.StackName === STAGE.stack || input.StackName === STACK_ID) return { Stacks: [stageStack()] };
    if (input.StackName === FAR.stack || input.StackName === FAR.stackId)
      return { Stacks: [stageStack(FAR.stack, FAR.stackId)] };
    throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`);
  });
  mocks.cfn
    .on(cfn.DescribeChangeSetCommand)
    .rejects(awsError('ChangeSetNotFoundException', 'ChangeSet does not exist', 404));
  mocks.cfn.on(cfn.DescribeStackEventsCommand).resolves({ StackEvents: [] });
  mocks.cfn.on(cfn.ListChangeSetsCommand).resolves({ Summaries: [] });
  mocks.cfn.on(cfn.CreateChangeSetCommand).resolves({ Id: `${STACK_ID}/change-set`, StackId: STACK_ID });
  const version = { Name: PARAMETER, Type: 'String' as const, Value: LIVE_KEY, Version: 1 };
  mocks.ssm.on(ssm.GetParameterCommand).resolves({ Parameter: version });
  mocks.ssm.on(ssm.GetParameterHistoryCommand).resolves({ Parameters: [{ ...version, Labels: [] }] });
  mocks.ssm.on(ssm.DescribeParametersCommand).resolves({
    Parameters: [{ Name: PARAMETER, Version: 1, LastModifiedDate: new Date('2026-11-19T10:00:00Z') }],
  });
  mocks.ssm.on(ssm.PutParameterCommand).resolves({ Version: 2, Tier: 'Standard' });
  mocks.s3.on(s3.GetObjectCommand).rejects(awsError('NoSuchKey', 'The specified key does not exist.', 404));
  mocks.s3.on(s3.HeadObjectCommand).rejects(awsError('NotFound', 'Not Found', 404));
  mocks.s3.on(s3.ListObjectsV2Command).resolves({ Contents: [], KeyCount: 0, IsTruncated: false });
  mocks.s3.on(s3.PutObjectCommand).resolves({ ETag: '"etag-1"', VersionId: 'v1' });
  mocks.sns.on(sns.PublishCommand).resolves({ MessageId: 'message-1' });
  mocks.ddb.on(ddb.GetItemCommand).resolves({});
  mocks.ddb.on(ddb.UpdateItemCommand).resolves({ Attributes: { count: { N: '1' } } });
  sts
    .reset()
    .on(stsSdk.AssumeRoleCommand)
    .resolves({
      Credentials: {
        AccessKeyId: 'ASIATARGETACCOUNT',
        SecretAccessKey: 'secret',
        SessionToken: 'token',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    });
};

beforeEach(givenWorld);

/** The commands the handlers' clients sent since the mocks were reset, in the order they were sent. */
const sentCommands = (): string[] =>
  Object.values(mocks)
    .flatMap((mock) => mock.calls() as SinonSpyCall<[object], unknown>[])
    .sort((a, b) => (a.calledBefore(b) ? -1 : 1))
    .map((call) => call.args[0].constructor.name);

const READ = /^(Get|List|Describe|Head|Query|Scan|BatchGet)[A-Za-z0-9]*Command$/;

interface Run {
  summaries?: Verdict[];
  threw?: unknown;
  commands: string[];
  writeCommands: string[];
}

const run = async (handler: HandlerName, event: unknown): Promise<Run> => {
  let summaries: Verdict[] | undefined;
  let threw: unknown;
  try {
    summaries = await handlers[handler](event);
  } catch (error) {
    threw = error;
  }
  const commands = sentCommands();
  return {
    commands,
    writeCommands: commands.filter((c) => !READ.test(c)),
    ...(summaries ? { summaries } : {}),
    ...(threw === undefined ? {} : { threw }),
  };
};

// ---------------------------------------------------------------------------------------------------------
// Positive controls: valid events through the same handlers do write, and the record sees it
// ---------------------------------------------------------------------------------------------------------

describe('controls: valid events through the same handlers write to these mocks, and the record sees it', () => {
  test('deploy: a SUCCEEDED execution of the configured pipeline looks for its build and reports', async () => {
    // No build is stored: the deploy fails for the stage, and the ops team is told once (ledger, SNS,
    // ledger), under the stage's lock (taken while the build was looked for).
    const result = await run('deploy', ctx.pipeline());
    expect(result.threw).toBeUndefined();
    expect(result.summaries?.[0]?.verdict).toBe('deployed');
    expect([...result.commands].sort()).toEqual(
      [
        'HeadObjectCommand',
        'PutObjectCommand',
        'PutItemCommand',
        'PublishCommand',
        'UpdateItemCommand',
        'DeleteObjectCommand',
      ].sort(),
    );
  });

  test('notify: a final status of the stage stack is reported', async () => {
    const result = await run('notify', ctx.status());
    expect(result.summaries?.[0]?.verdict).toBe('notified');
    expect(result.commands).toEqual([
      'DescribeStacksCommand',
      'GetParameterHistoryCommand',
      'PutItemCommand',
      'PublishCommand',
      'UpdateItemCommand',
    ]);
  });

  test('reconcile: the schedule reconciles the in-sync stages, and even their locks show as writes', async () => {
    const result = await run('reconcile', scheduleEvent());
    expect(result.summaries).toEqual([
      expect.objectContaining({ verdict: 'reconciled', stage: STAGE.name, outcome: 'in-sync' }),
      expect.objectContaining({ verdict: 'reconciled', stage: FAR.name, outcome: 'in-sync' }),
    ]);
    // Each stage's lock (taken and released), and its version 1 archived by the schedule's sweep.
    expect([...result.writeCommands].sort()).toEqual([
      'DeleteObjectCommand',
      'DeleteObjectCommand',
      'PutObjectCommand',
      'PutObjectCommand',
      'PutObjectCommand',
      'PutObjectCommand',
    ]);
    const archived = mocks.s3
      .commandCalls(sdk.s3.PutObjectCommand)
      .map((call) => call.args[0].input.Key)
      .filter((key) => key?.startsWith('.deployer/history/'));
    expect(archived.sort()).toEqual(
      [STAGE.name, FAR.name].map((name) => `.deployer/history/${name}/0000000000000001.json`).sort(),
    );
  });

  /** The client the far stage's stack was read with: its region, and whose credentials it signs with. */
  const farReads = async () => {
    const reads = mocks.cfn.commandCalls(sdk.cfn.DescribeStacksCommand);
    expect(reads.length).toBeGreaterThan(0);
    return Promise.all(
      reads.map(async (call) => {
        const client = call.thisValue as Cfn.CloudFormationClient;
        const credentials = await client.config.credentials();
        return {
          stack: call.args[0].input.StackName,
          region: await client.config.region(),
          key: credentials.accessKeyId,
        };
      }),
    );
  };

  test("notify: a final status of the far stage's stack, from its account, is reported, read with the role assumed there", async () => {
    const result = await run('notify', statusFrom(FAR));
    expect(result.summaries?.[0]).toMatchObject({ verdict: 'notified', stack: FAR.stack });
    expect(result.writeCommands).toEqual(['PutItemCommand', 'PublishCommand', 'UpdateItemCommand']);
    expect(await farReads()).toEqual([{ stack: FAR.stackId, region: REGION, key: 'ASIATARGETACCOUNT' }]);
    expect(
      sts.commandCalls(stsSdk.AssumeRoleCommand).every((c) => c.args[0].input.RoleArn === targetRoleArn(ID)),
    ).toBe(true);
  });

  test("reconcile: a final status of the far stage's stack, from its account, reconciles the far stage", async () => {
    const result = await run('reconcile', statusFrom(FAR));
    expect(result.summaries).toEqual([
      expect.objectContaining({ verdict: 'reconciled', stage: FAR.name, outcome: 'in-sync' }),
    ]);
    expect(await farReads()).toEqual([{ stack: FAR.stack, region: REGION, key: 'ASIATARGETACCOUNT' }]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The hostile table
// ---------------------------------------------------------------------------------------------------------

/** Run a case: resolved, the verdict with a reason, and exactly the commands it may send (by default none). */
const check = async (hostile: HostileCase | LookupCase): Promise<void> => {
  const reads = 'reads' in hostile ? hostile.reads : [];
  const answer = 'changeSet' in hostile ? hostile.changeSet?.(ctx) : undefined;
  if (answer instanceof Error) mocks.cfn.on(sdk.cfn.DescribeChangeSetCommand).rejects(answer);
  else if (answer) mocks.cfn.on(sdk.cfn.DescribeChangeSetCommand).resolves(answer);
  const result = await run(hostile.handler, hostile.event(ctx));
  expectTurnedAway(hostile, result);
  // ... wrote nothing, and read no more than the case allows.
  expect({ writeCommands: result.writeCommands }).toEqual({ writeCommands: [] });
  expect(result.commands).toEqual(reads);
  hostile.also?.();
};

describe('hostile inputs through the real handlers: no command sent', () => {
  const cases = [...DEPLOY_CASES, ...NOTIFY_CASES, ...RECONCILE_CASES, ...FOUND_BUG_CASES, ...PLACE_CASES];

  test('the table is whole', () => {
    // 99: every case the integration test ran on moto before it kept only a few.
    expect(cases.length).toBeGreaterThanOrEqual(99);
    const lookups = [...LOOKUP_CASES, ...PLACE_LOOKUP_CASES];
    expect(new Set([...cases, ...lookups].map(title)).size).toBe(cases.length + lookups.length);
  });

  test.each(cases.map((c) => [title(c), c] as const))('%s', async (_title, hostile) => {
    await check(hostile);
  });
});

describe('hostile change set calls by ARN: looked up at most, never written', () => {
  test.each([...LOOKUP_CASES, ...PLACE_LOOKUP_CASES].map((c) => [title(c), c] as const))(
    '%s',
    async (_title, hostile) => {
      await check(hostile);
    },
  );
});
