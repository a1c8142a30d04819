/**
 * The red team's five attacks on the deployer's trust (issue 9), performed against moto and read back:
 * each must leave the stage as it was (or deploy exactly what was recorded), tell the ops team where it
 * should, and claim nothing for the deployer that it did not do.
 */
import { createHash } from 'node:crypto';
import {
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  GetTemplateCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { readHistory } from '../../shared/aws/release-history';
import { reasonText } from '../../shared/messages/reasons';
import { approve, RefusedError } from '../../shared/operations/index';
import { reconcile } from '../../shared/stage/reconcile';
import { handleStackNotification } from '../../shared/triggers/notify';
import { handleStackSettled } from '../../shared/triggers/reconcile';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  removeConfigFile,
  runCli,
  writeConfigFile,
} from './helpers/operate';
import { runTokenOf } from './helpers/runs';
import {
  configuredStage,
  consoleToken,
  deleteStageStack,
  rollBackStackTo,
  stackStatusEvent,
  targetOf,
} from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  createWorld,
  deploy,
  destroyWorld,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  readObject,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const worlds: World[] = [];
const configFiles: string[] = [];

afterAll(() => {
  for (const file of configFiles) removeConfigFile(file);
  for (const world of worlds) destroyWorld(world);
});

const newWorld = async (stages: Parameters<typeof createWorld>[0] = [{ name: 'dev' }]) => {
  const world = await createWorld(stages);
  worlds.push(world);
  return world;
};

const cliOf = (world: World): CliWorld => {
  const configFile = writeConfigFile(world.configText);
  configFiles.push(configFile);
  return { world, configFile };
};

/** A build of a new execution, uploaded and deployed. */
const deployBuild = async (world: World, hours: number) => {
  const execution = newExecution(hoursAfterBase(hours));
  await uploadExecutionBuild(world, execution);
  const summary = await deploy(world, execution);
  const stage = summary.stages.find((s) => s.stage === stageOf(world).name);
  return { execution, key: stage?.releaseKey ?? '', version: stage?.desiredVersion ?? 0 };
};

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A stage template that gives a foreign account an administrator role in the stage's account. */
const EVIL = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: { Type: String }
  ArtifactBucket: { Type: String }
  ArtifactKey: { Type: String }
Resources:
  FunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{ Effect: Allow, Principal: { AWS: "arn:aws:iam::999999999999:root" }, Action: "sts:AssumeRole" }]
      Policies: [{ PolicyName: all, PolicyDocument: { Statement: [{ Effect: Allow, Action: "*", Resource: "*" }] } }]
`;

const putObject = (world: World, key: string, body: string | Buffer) =>
  world.clients.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: body }));

describe('1. the stage template swapped in S3', () => {
  test('a stack created again uses the template pinned at the first release, not what the configured key holds now', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    const first = await deployBuild(world, 0);
    const pinned = (await readHistory(world.clients.ssm, configuredStage(world))).at(-1)?.provenance.template;
    expect(pinned).toBe(sha256(await readObject(world, world.templateKey)));
    await inbox(world);

    // Anyone with write access to the bucket replaces the configured template; the stack is deleted.
    await putObject(world, world.templateKey, EVIL);
    await deleteStageStack(world, 'dev');
    const result = await reconcile(world.runtime, configuredStage(world, 'dev'));

    expect(result).toMatchObject({ outcome: 'deploying', action: 'create' });
    const stack = await stackOf(world, dev.stack);
    expect(artifactKeyOf(stack)).toBe(first.key);
    const { TemplateBody } = await world.clients.cfn.send(new GetTemplateCommand({ StackName: dev.stack }));
    expect(TemplateBody).not.toContain('999999999999');
    expect(sha256(TemplateBody ?? '')).toBe(pinned);
  });

  test('a pinned template whose bytes were replaced is refused: no stack, the ops team is told both digests', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    await deployBuild(world, 0);
    const pinned = (await readHistory(world.clients.ssm, configuredStage(world))).at(-1)?.provenance.template;
    const pinnedKey = `${dev.releasePrefix}templates/${pinned}.template`;
    await inbox(world);

    await putObject(world, pinnedKey, EVIL);
    await deleteStageStack(world, 'dev');
    const result = await reconcile(world.runtime, configuredStage(world, 'dev'));

    expect(result.outcome).toBe('tampered');
    expect(reasonText(result)).toContain(`s3://${world.bucket}/${pinnedKey}`);
    expect(reasonText(result)).toContain(`recorded ${pinned}, found ${sha256(EVIL)}`);
    expect((await stackOf(world, dev.stack))?.StackStatus ?? 'DELETE_COMPLETE').toBe('DELETE_COMPLETE');
  });
});

describe('2. a tampered release', () => {
  test('rolling back to a release whose bytes changed is refused (exit 4): nothing recorded, nothing deployed, the ops team told', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    await createStackFor(world);
    const a = await deployBuild(world, 0);
    const b = await deployBuild(world, 1);
    await inbox(world);
    const before = await parameterHistory(world, dev.ssmParameter);

    await putObject(world, a.key, Buffer.from('tampered bytes'));
    const result = await runCli(cliOf(world), ['rollback', dev.name, '--to', String(a.version)]);

    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`s3://${world.bucket}/${a.key}`);
    expect(result.stderr).toContain(`found ${sha256('tampered bytes')}`);
    expect(await parameterHistory(world, dev.ssmParameter)).toEqual(before);
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(b.key);
    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([expect.stringMatching(/ REFUSED /)]);
    expect(messages[0]?.attributes).toMatchObject({ outcome: 'tampered', severity: 'error' });
  });

  test('a desired release whose bytes changed is not deployed by the schedule', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    const initialKey = await createStackFor(world);
    const a = await deployBuild(world, 0);
    // The stack is back on its initial release (a person's update), so reconcile would deploy a.key again.
    await rollBackStackTo(world, 'dev', initialKey);
    await putObject(world, a.key, Buffer.from('tampered bytes'));
    await inbox(world);

    const result = await reconcile(world.runtime, configuredStage(world, 'dev'));

    expect(result.outcome).toBe('tampered');
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(initialKey);
    expect(await changeSetsOf(world, dev.stack)).toHaveLength(1); // a's own, executed before
  });
});

describe('3. forged ownership', () => {
  test('a hand UpdateStack with a look-alike or guessed token is not the deployer’s: nothing marked failed, no claim', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    await createStackFor(world);
    const a = await deployBuild(world, 0);
    await inbox(world);
    const target = await targetOf(world);
    const labelsBefore = (await parameterHistory(world, dev.ssmParameter)).map((v) => v.Labels);

    for (const [round, token] of [
      `deploy-${dev.name}-v${a.version}`,
      `deploy-${dev.name}-v${a.version}-${'ab'.repeat(12)}`,
    ].entries()) {
      await world.clients.cfn.send(
        new UpdateStackCommand({
          StackName: dev.stack,
          UsePreviousTemplate: true,
          ClientRequestToken: token,
          Capabilities: ['CAPABILITY_IAM'],
          Parameters: [
            { ParameterKey: 'Stage', ParameterValue: `changed-by-hand-${round}` },
            { ParameterKey: 'ArtifactBucket', UsePreviousValue: true },
            // moto does not keep a previous value on UsePreviousValue: name it.
            { ParameterKey: 'ArtifactKey', ParameterValue: a.key },
          ],
        }),
      );
      const event = stackStatusEvent('stack-update-rollback-complete.json', target, { token });
      const settled = await handleStackSettled(world.runtime, event);
      expect(settled.markedFailed).toBeUndefined();
      const notified = await handleStackNotification(world.runtime, event);
      expect(notified).toMatchObject({ verdict: 'notified' });
      const [message, ...more] = await inbox(world);
      expect(more).toEqual([]);
      expect(bodyField(message?.body ?? '', 'Started by')).toMatch(/^a client with request token/);
      expect(bodyField(message?.body ?? '', 'Failed release')).toBeUndefined();
    }
    expect((await parameterHistory(world, dev.ssmParameter)).map((v) => v.Labels)).toEqual(labelsBefore);
  });

  test('the deployer’s own token reused after its run settled is not the deployer’s either', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    await createStackFor(world);
    const a = await deployBuild(world, 0);
    const target = await targetOf(world);
    const token = await runTokenOf(world, 'dev', a.version);
    // The run's own completion settles it.
    await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token }),
    );
    await inbox(world);

    // Someone copies the token (it is in the console and in CloudTrail) onto an update of their own.
    const reused = stackStatusEvent('stack-update-rollback-complete.json', target, { token });
    (reused as { id: string }).id = `${(reused as { id: string }).id.slice(0, -4)}beef`;
    const settled = await handleStackSettled(world.runtime, reused);
    await handleStackNotification(world.runtime, reused);

    expect(settled.markedFailed).toBeUndefined();
    expect((await parameterHistory(world, dev.ssmParameter)).at(-1)?.Labels ?? []).not.toContain(
      `failed-v${a.version}`,
    );
    const [message] = await inbox(world);
    expect(bodyField(message?.body ?? '', 'Started by')).not.toMatch(/the deployer/);
  });
});

describe('4. a swapped change set', () => {
  test('approve refuses a change set deleted and made again under the deployer’s name, even with its description copied', async () => {
    const world = await newWorld([{ name: 'prod', requiresApproval: true }]);
    const prod = stageOf(world, 'prod');
    await createStackFor(world, 'prod');
    const execution = newExecution(hoursAfterBase(0));
    await uploadExecutionBuild(world, execution, { stage: 'prod' });
    const summary = await deploy(world, execution);
    const pending = summary.stages[0];
    expect(pending?.outcome).toBe('pending-approval');
    const name = pending?.changeSet ?? '';
    const original = await world.clients.cfn.send(
      new DescribeChangeSetCommand({ StackName: prod.stack, ChangeSetName: name }),
    );
    const stackBefore = await stackOf(world, prod.stack);

    await world.clients.cfn.send(new DeleteChangeSetCommand({ StackName: prod.stack, ChangeSetName: name }));
    await world.clients.cfn.send(
      new CreateChangeSetCommand({
        StackName: prod.stack,
        ChangeSetName: name,
        ChangeSetType: 'UPDATE',
        TemplateBody: EVIL,
        Description: original.Description,
        Capabilities: ['CAPABILITY_IAM'],
        Parameters: original.Parameters?.map(({ ParameterKey, ParameterValue }) => ({
          ParameterKey,
          ParameterValue,
        })),
      }),
    );

    const refusal = await approve(world.runtime, prod.name, 'tester').catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(RefusedError);
    expect((refusal as Error).message).toContain('is not the one the deployer made');
    const cliResult = await runCli(cliOf(world), ['approve', prod.name]);
    expect(cliResult.code).toBe(4);

    const after = await stackOf(world, prod.stack);
    expect(after?.StackStatus).toBe(stackBefore?.StackStatus);
    expect(artifactKeyOf(after)).toBe(artifactKeyOf(stackBefore));
    expect((await changeSetsOf(world, prod.stack)).map((c) => c.ExecutionStatus)).toEqual(['AVAILABLE']);
  });
});

describe('5. hand-written versions inherit no provenance', () => {
  test('a put-parameter --overwrite without description is hand-written: not credited, not undone by a late build, and --to <commit> finds the real release', async () => {
    const world = await newWorld();
    const dev = stageOf(world);
    await createStackFor(world);
    const a = await deployBuild(world, 0);
    const b = await deployBuild(world, 1);

    // The README's "without the CLI" rollback: SSM keeps b's description on this new version.
    await world.clients.ssm.send(
      new PutParameterCommand({ Name: dev.ssmParameter, Value: a.key, Type: 'String', Overwrite: true }),
    );
    const raw = (await parameterHistory(world, dev.ssmParameter)).at(-1);
    expect(raw?.Description).toContain(b.execution.executionId); // what SSM (and moto) do

    const history = await readHistory(world.clients.ssm, configuredStage(world));
    expect(history.at(-1)).toMatchObject({ key: a.key, handWritten: true, provenance: {} });
    const status = await runCli(cliOf(world), ['history', dev.name, '--json']);
    expect(status.stdout).not.toMatch(
      new RegExp(`"execution": "${b.execution.executionId}"[^}]*"key": "${a.key}"`),
    );

    // A build that started before the person's write arrives late: it does not undo it.
    const late = newExecution(hoursAfterBase(2));
    await uploadExecutionBuild(world, late);
    const lateSummary = await deploy(world, late);
    expect(lateSummary.stages[0]?.outcome).toBe('superseded');

    // --to <b's commit> deploys b's release, not the hand-written version that claimed b's provenance.
    const rollback = await runCli(cliOf(world), [
      'rollback',
      dev.name,
      '--to',
      b.execution.commitId.slice(0, 8),
    ]);
    expect(rollback.code).toBe(0);
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(b.key);
  });
});

test('the sample rollback event on a fresh stage (its token names a version SSM never had) is logged and ignored, not retried', async () => {
  const world = await newWorld();
  const dev = stageOf(world);
  await createStackFor(world);
  const sample = stackStatusEvent('stack-update-rollback-complete.json', await targetOf(world));

  const settled = await handleStackSettled(world.runtime, sample);

  expect(settled).toMatchObject({ verdict: 'reconciled', stage: dev.name });
  expect(settled.markedFailed).toBeUndefined();
  expect((await parameterHistory(world, dev.ssmParameter)).map((v) => v.Labels ?? [])).toEqual([[]]);
});

// A token nobody knows is still some client's; consoleToken keeps the helper import honest.
test('the console’s tokens are never the deployer’s', async () => {
  const world = await newWorld();
  await createStackFor(world);
  const event = stackStatusEvent('stack-update-complete.json', await targetOf(world), {
    token: consoleToken(),
  });
  await handleStackNotification(world.runtime, event);
  const [message] = await inbox(world);
  expect(bodyField(message?.body ?? '', 'Started by')).toMatch(/^a person in the AWS console/);
});
