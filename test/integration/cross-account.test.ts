/**
 * A stage whose stack lives in another account, on moto: the deployer assumes the stage's role there (STS
 * AssumeRole; moto gives the credentials of a role of account B the identity of account B, so what they
 * create lives in B and is invisible to the deployer's own account) and deploys, reads the status, rolls
 * back and reports the stack's events there, while its desired state, releases, lock, ledger and ops topic
 * stay in the deployer's account.
 *
 * moto gap, worked around by nothing: moto serves any bucket to any account (a bucket name is global in moto
 * and it enforces no bucket policy or IAM), so the stack in account B reads the release objects in the
 * deployer's bucket here without the bucket policy the README says AWS needs. What this test proves is the
 * wire path and where things live, not that policy; the templates' grants are checked in
 * test/unit/target-template.test.ts.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type Parameter,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { parse, stringify } from 'yaml';
import type * as NotifyHandlerModule from '../../handlers/notify';
import { describeStack } from '../../shared/aws/stacks';
import { parseConfig } from '../../shared/edge/config';
import { type Stage, stageNamed } from '../../shared/edge/stages';
import { promote, rollback, stageStatus } from '../../shared/operations';
import type { Runtime } from '../../shared/runtime';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackNotification, type NotifySummary } from '../../shared/triggers/notify';
import { handleReconcileTrigger } from '../../shared/triggers/reconcile';
import { loadAsLambda, releaseKeyOf, worldsOfFile } from './helpers/file-setup';
import { CLI_TEST_TIMEOUT_MS, jsonOf, removeConfigFile, runCli, writeConfigFile } from './helpers/operate';
import { consoleToken, stackStatusEvent } from './helpers/stack-events';
import {
  type ConfigInput,
  hoursAfterBase,
  inbox,
  newExecution,
  pipelineEvent,
  REGION,
  type StageInput,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(90_000);

const TARGET = '222222222222';
const OTHER = '333333333333';

const worlds = worldsOfFile();
const sts = new STSClient({ region: REGION });
afterAll(() => sts.destroy());

/** The world's dev stage moved elsewhere: by default to account TARGET, with its role and service role there. */
const elsewhere = (
  world: World,
  place = (name: string): Partial<StageInput> => ({
    account: TARGET,
    assumeRoleArn: `arn:aws:iam::${TARGET}:role/deployer-target-${world.id}`,
    roleArn: `arn:aws:iam::${TARGET}:role/it-${name}-cloudformation`,
  }),
  role = 'dev',
): { configText: string; runtime: Runtime; stage: Stage } => {
  const document = parse(world.configText) as ConfigInput;
  const name = stageOf(world, role).name;
  const stages = document.pipelines[world.pipeline]?.stages ?? {};
  const current = stages[name];
  if (!current) throw new Error(`stage ${name} is missing from the world's configuration`);
  stages[name] = { ...current, ...place(name) };
  const configText = stringify(document);
  const config = parseConfig(configText, `world ${world.id} (elsewhere)`);
  const stage = stageNamed(config, name);
  if (!stage) throw new Error('the stage went missing');
  return { configText, runtime: { ...world.runtime, config }, stage };
};

/** A CloudFormation client of account `account`, as someone signed in there (not the deployer's code). */
const cfnOf = async (account: string): Promise<CloudFormationClient> => {
  const { Credentials } = await sts.send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/reader`, RoleSessionName: 'test-reader' }),
  );
  if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('moto gave no credentials');
  const credentials = {
    accessKeyId: Credentials.AccessKeyId,
    secretAccessKey: Credentials.SecretAccessKey,
    sessionToken: Credentials.SessionToken ?? '',
  };
  const identity = await new STSClient({ region: REGION, credentials }).send(
    new GetCallerIdentityCommand({}),
  );
  expect(identity.Account).toBe(account);
  return new CloudFormationClient({ region: REGION, credentials });
};

const artifactOf = (stack: Stack | undefined): string | undefined =>
  stack?.Parameters?.find((p: Parameter) => p.ParameterKey === 'ArtifactKey')?.ParameterValue;

/** A build of a new execution, uploaded, and its pipeline event delivered. */
const deployNewBuild = async (world: World, runtime: Runtime, hours: number) => {
  const execution = newExecution(hoursAfterBase(hours));
  const { bytes } = await uploadExecutionBuild(world, execution);
  const summary = await handlePipelineEvent(runtime, pipelineEvent(world, execution));
  return { summary, releaseKey: releaseKeyOf(bytes) };
};

// One stage, one story: each test goes on from the state the one before left.
describe('a stage in another account', () => {
  let world: World;
  let runtime: Runtime;
  let stage: Stage;
  let configText: string;
  let there: CloudFormationClient;
  let second: string;

  beforeAll(async () => {
    world = await worlds.create([{ name: 'dev' }]);
    ({ runtime, stage, configText } = elsewhere(world));
    there = await cfnOf(TARGET);
  });
  afterAll(() => there?.destroy());

  test('deploy: the stack is created in the target account, not in the deployer’s', async () => {
    const { summary, releaseKey } = await deployNewBuild(world, runtime, 0);

    expect(summary.stages).toEqual([
      expect.objectContaining({ stage: stage.name, outcome: 'deploying', releaseKey, desiredVersion: 1 }),
    ]);
    const stack = (await there.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
    expect(stack?.StackId).toMatch(
      new RegExp(`^arn:aws:cloudformation:${REGION}:${TARGET}:stack/${stage.stack}/`),
    );
    expect(artifactOf(stack)).toBe(releaseKey);
    expect(await describeStack(world.clients.cfn, stage.stack)).toBeUndefined();
    await inbox(world);
  });

  test('deploy again: the stack there is updated; status reads it there', async () => {
    const { summary, releaseKey } = await deployNewBuild(world, runtime, 1);
    second = releaseKey;

    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 2 });
    // The message names the stack where it is: its ARN (in the console link) is of the target account.
    const [message] = await inbox(world);
    expect(message?.body).toContain(encodeURIComponent(`:${TARGET}:stack/${stage.stack}/`));
    const stack = (await there.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
    expect(artifactOf(stack)).toBe(releaseKey);
    const status = await stageStatus(runtime, stage);
    expect(status).toMatchObject({
      stack: stage.stack,
      stackStatus: 'UPDATE_COMPLETE',
      inSync: true,
      live: { key: releaseKey },
      desired: expect.objectContaining({ key: releaseKey, version: 2 }),
    });
  });

  // After a third release, back to the second: moto compares a change set with the parameters the stack was
  // created with, not those it runs now, and so finds "no changes" in a move back to the creation release.
  test('rollback: the previous release is made desired and deployed there', async () => {
    await deployNewBuild(world, runtime, 2);
    await inbox(world);

    const moved = await rollback(runtime, stage.name, 'previous', 'kim');

    expect(moved).toMatchObject({ version: 4, key: second, reconcile: { outcome: 'deploying' } });
    const stack = (await there.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
    expect(artifactOf(stack)).toBe(second);
    expect(await describeStack(world.clients.cfn, stage.stack)).toBeUndefined();
    await inbox(world);
  });

  test('notify (the handler as Lambda loads it): the stack’s status from the target account is reported', async () => {
    const stack = (await there.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
    const target = { stack: stage.stack, stackId: stack?.StackId ?? '' };
    const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
    event.account = TARGET;
    const { loaded: notify, restore } = loadAsLambda(
      { ...world, configText },
      () => (require('../../handlers/notify') as typeof NotifyHandlerModule).handler,
    );
    let summary: NotifySummary;
    try {
      summary = await notify(event);
    } finally {
      restore();
    }

    expect(summary).toMatchObject({ verdict: 'notified', stack: stage.stack });
    const messages = await inbox(world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toContain(stage.stack);
    expect(messages[0]?.body).toContain(encodeURIComponent(target.stackId));
    // The reconcile trigger finds the stage in sync there.
    const settled = await handleReconcileTrigger(runtime, { ...structuredClone(event), id: `${event.id}-r` });
    expect(settled).toEqual([
      expect.objectContaining({ verdict: 'reconciled', stage: stage.name, outcome: 'in-sync' }),
    ]);
  });

  test('notify: the same stack’s status from an account no stage lives in is rejected, and nothing is sent', async () => {
    const target = {
      stack: stage.stack,
      stackId: `arn:aws:cloudformation:${REGION}:${OTHER}:stack/${stage.stack}/5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c`,
    };
    const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
    event.account = OTHER;

    const summary = await handleStackNotification(runtime, event);

    expect(summary).toMatchObject({
      verdict: 'rejected',
      reason: expect.stringContaining(`account ${OTHER}`),
    });
    expect(await inbox(world)).toEqual([]);
  });

  test('the deployer’s own account keeps the desired state: SSM and the releases are read there', async () => {
    const home = stageNamed(world.runtime.config, stage.name);
    if (!home) throw new Error('the stage is missing from the home configuration');
    const status = await stageStatus(world.runtime, home);
    // Seen from home, without the stage's account, the stack does not exist; the history is the same.
    expect(status.stackStatus).toBe('DOES_NOT_EXIST');
    expect(status.desired).toMatchObject({ key: second, version: 4 });
  });
});

describe('promote from a stage at home to a stage in another account', () => {
  test("the home stage's release becomes desired in the far stage and is deployed there", async () => {
    const world = await worlds.create([{ name: 'dev' }, { name: 'prod' }]);
    const { runtime, stage: prod } = elsewhere(world, undefined, 'prod');
    const there = await cfnOf(TARGET);
    try {
      // Three builds to both (dev at home, prod there); then dev's second to prod (moto: see rollback above).
      await deployNewBuild(world, runtime, 0);
      const { releaseKey: second } = await deployNewBuild(world, runtime, 1);
      await deployNewBuild(world, runtime, 2);
      await inbox(world);

      const moved = await promote(runtime, stageOf(world, 'dev').name, prod.name, 'kim', { version: 2 });

      expect(moved).toMatchObject({ stage: prod.name, key: second, reconcile: { outcome: 'deploying' } });
      const stack = (await there.send(new DescribeStacksCommand({ StackName: prod.stack }))).Stacks?.[0];
      expect(artifactOf(stack)).toBe(second);
      expect(await describeStack(world.clients.cfn, prod.stack)).toBeUndefined();
      expect(await describeStack(world.clients.cfn, stageOf(world, 'dev').stack)).toBeDefined();
    } finally {
      there.destroy();
    }
  });
});

describe('an approval stage in another account, through the command line', () => {
  test(
    'status shows the change set waiting there; approve executes it there',
    async () => {
      const world = await worlds.create([{ name: 'dev', requiresApproval: true }]);
      const { runtime, stage, configText } = elsewhere(world);
      const configFile = writeConfigFile(configText);
      const there = await cfnOf(TARGET);
      try {
        const { summary, releaseKey } = await deployNewBuild(world, runtime, 0);
        expect(summary.stages[0]).toMatchObject({ outcome: 'pending-approval', desiredVersion: 1 });

        const status = await runCli({ world, configFile }, ['status', stage.name, '--json']);
        // Exit 3: not in sync (the release waits for a person).
        expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 3, stderr: '' });
        expect(jsonOf(status)).toMatchObject([
          { stage: stage.name, stackStatus: 'REVIEW_IN_PROGRESS', pendingChangeSet: { version: 1 } },
        ]);

        const approved = await runCli({ world, configFile }, ['approve', stage.name, '--json']);
        expect({ code: approved.code, stderr: approved.stderr }).toEqual({ code: 0, stderr: '' });
        const stack = (await there.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
        expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
        expect(artifactOf(stack)).toBe(releaseKey);
        expect(await describeStack(world.clients.cfn, stage.stack)).toBeUndefined();
      } finally {
        there.destroy();
        removeConfigFile(configFile);
      }
    },
    CLI_TEST_TIMEOUT_MS,
  );
});

describe('a stage in another region of the deployer’s account', () => {
  const EU = 'eu-west-1';

  test('deploy: released into its bucket there, the stack created there; its lock and records stay home', async () => {
    const world = await worlds.create([{ name: 'dev' }]);
    const releaseBucket = `${world.bucket}-eu`;
    const s3There = new S3Client({ region: EU, forcePathStyle: true });
    const cfnThere = new CloudFormationClient({ region: EU });
    try {
      await s3There.send(
        new CreateBucketCommand({
          Bucket: releaseBucket,
          CreateBucketConfiguration: { LocationConstraint: EU },
        }),
      );
      const { runtime, stage } = elsewhere(world, (name) => ({
        region: EU,
        releaseBucket,
        // The stack's function reads its code from the release bucket of its region.
        parameterOverrides: { Stage: name, ArtifactBucket: releaseBucket },
      }));

      const { summary, releaseKey } = await deployNewBuild(world, runtime, 0);

      expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey, desiredVersion: 1 });
      const stack = (await cfnThere.send(new DescribeStacksCommand({ StackName: stage.stack }))).Stacks?.[0];
      expect(stack?.StackId).toMatch(
        new RegExp(`^arn:aws:cloudformation:${EU}:\\d{12}:stack/${stage.stack}/`),
      );
      expect(artifactOf(stack)).toBe(releaseKey);
      expect(await describeStack(world.clients.cfn, stage.stack)).toBeUndefined();
      await expect(
        s3There.send(new HeadObjectCommand({ Bucket: releaseBucket, Key: releaseKey })),
      ).resolves.toBeDefined();
      const runs = await world.clients.s3.send(
        new ListObjectsV2Command({ Bucket: world.bucket, Prefix: `.deployer/runs/${stage.name}/` }),
      );
      expect(runs.KeyCount).toBe(1);
      // The lock, the run records and what was applied are the deployer's state, at home.
      for (const prefix of ['.deployer/locks/', '.deployer/runs/', '.deployer/applied/']) {
        const there = await s3There.send(new ListObjectsV2Command({ Bucket: releaseBucket, Prefix: prefix }));
        expect({ prefix, count: there.KeyCount ?? 0 }).toEqual({ prefix, count: 0 });
      }
    } finally {
      s3There.destroy();
      cfnThere.destroy();
    }
  });
});
