/**
 * `deployer approve` / `deployer reject` on an approval stage. Each world has prod (requiresApproval) and
 * dev; both stacks were created on an initial release, then build A was deployed: dev runs it, prod has the
 * change set deploy-<prod>-v2 waiting. Approve executes exactly that change set; reject deletes it, labels
 * the version rejected-v2 and makes what prod runs desired again. Refusals change nothing.
 */
import type { StageStatus } from '../../shared/operations/index';
import { approve, RefusedError, reject } from '../../shared/operations/index';
import { reconcile } from '../../shared/stage/reconcile';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  jsonOf,
  provenanceOf,
  runCli,
  snapshotStage,
} from './helpers/operate';
import { configuredStage, recordRelease } from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  deploy,
  describeChangeSet,
  type Execution,
  hoursAfterBase,
  inbox,
  latestVersion,
  newExecution,
  parameterHistory,
  type StageNames,
  stackOf,
  stackStatusEvents,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const cliWorld = cliWorlds();

interface ApprovalWorld {
  world: World;
  env: CliWorld;
  prod: StageNames;
  dev: StageNames;
  initialKey: string;
  a: Execution & { key: string };
}

const newWorld = async () => {
  const env = await cliWorld([{ name: 'prod', requiresApproval: true }, { name: 'dev' }]);
  const { world } = env;
  const initialKey = await createStackFor(world, 'prod');
  await createStackFor(world, 'dev');
  return { world, env, prod: stageOf(world, 'prod'), dev: stageOf(world, 'dev'), initialKey };
};

/** Build A deployed: dev runs it, prod's change set for it waits for approval. */
const approvalWorld = async (): Promise<ApprovalWorld> => {
  const base = await newWorld();
  const execution = newExecution(hoursAfterBase(0));
  await uploadExecutionBuild(base.world, execution);
  const summary = await deploy(base.world, execution);
  expect(summary.stages.map((s) => [s.stage, s.outcome, s.desiredVersion])).toEqual([
    [base.prod.name, 'pending-approval', 2],
    [base.dev.name, 'deploying', 2],
  ]);
  await inbox(base.world);
  return { ...base, a: { ...execution, key: summary.stages[0]?.releaseKey ?? '' } };
};

const pendingOf = async (world: World, stage: StageNames) =>
  (await changeSetsOf(world, stage.stack))
    .filter((c) => c.ExecutionStatus === 'AVAILABLE')
    .map((c) => c.ChangeSetName);

describe('approve', () => {
  test('executes the pending change set of the current desired version; one DEPLOYING message', async () => {
    const w = await approvalWorld();
    const changeSet = `deploy-${w.prod.name}-v2`;

    const result = await approve(w.world.runtime, w.prod.name, 'tester');

    expect(result).toEqual({
      stage: w.prod.name,
      action: 'approve',
      version: 2,
      key: w.a.key,
      changeSet,
    });
    const stack = await stackOf(w.world, w.prod.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(w.a.key);
    expect((await describeChangeSet(w.world, w.prod.stack, changeSet)).ExecutionStatus).toBe(
      'EXECUTE_COMPLETE',
    );
    // Approving records nothing new: the version approved is the one desired.
    expect(await parameterHistory(w.world, w.prod.ssmParameter)).toHaveLength(2);

    const messages = await inbox(w.world);
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message?.subject).toMatch(new RegExp(`^\\[${w.prod.name}\\] ${w.prod.stack} DEPLOYING\\b`));
    expect(message?.attributes).toMatchObject({ stage: w.prod.name, outcome: 'deploying' });
    expect(bodyField(message?.body ?? '', 'Triggered by')).toBe('approval by tester');
    expect(bodyField(message?.body ?? '', 'Change set')).toBe(changeSet);
    expect(bodyField(message?.body ?? '', 'Desired')).toBe(`${w.prod.ssmParameter} version 2`);
    expect(bodyField(message?.body ?? '', 'Release')).toBe(w.a.key);
  });

  // The DEPLOYING message of an approval names the approved version's commit, in its subject and body, as
  // every deploy message does.
  it('the approval message names the commit of the release, like every deploy message', async () => {
    const w = await approvalWorld();

    await approve(w.world.runtime, w.prod.name, 'tester');

    const [message] = await inbox(w.world);
    expect(message?.subject).toBe(`[${w.prod.name}] ${w.prod.stack} DEPLOYING ${w.a.commitId.slice(0, 7)}`);
    expect(bodyField(message?.body ?? '', 'Commit')).toBe(w.a.commitId);
  });

  test('the command line: exit 0, the stack runs the release, and status says in sync', async () => {
    const w = await approvalWorld();

    const result = await runCli(w.env, ['approve', w.prod.name, '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonOf(result)).toEqual({
      stage: w.prod.name,
      action: 'approve',
      version: 2,
      key: w.a.key,
      changeSet: `deploy-${w.prod.name}-v2`,
    });
    expect(artifactKeyOf(await stackOf(w.world, w.prod.stack))).toBe(w.a.key);
    expect((await inbox(w.world)).map((m) => m.attributes.outcome)).toEqual(['deploying']);

    const status = await runCli(w.env, ['status', w.prod.name, '--json']);
    expect(status.code).toBe(0);
    expect(jsonOf<StageStatus[]>(status)[0]).toMatchObject({
      inSync: true,
      desired: { version: 2, key: w.a.key },
      live: { key: w.a.key },
    });
    expect(jsonOf<StageStatus[]>(status)[0]?.pendingChangeSet).toBeUndefined();
  });
});

describe('reject', () => {
  test('deletes the change set, labels the version rejected-v2, makes the running release desired again', async () => {
    const w = await approvalWorld();

    const result = await reject(w.world.runtime, w.prod.name, 'tester');

    expect(result).toMatchObject({
      stage: w.prod.name,
      action: 'reject',
      version: 3,
      key: w.initialKey,
      changeSet: `deploy-${w.prod.name}-v2`,
      notified: true,
      reconcile: { outcome: 'in-sync' },
    });
    expect(await pendingOf(w.world, w.prod)).toEqual([]);
    const history = await parameterHistory(w.world, w.prod.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, w.initialKey],
      [2, w.a.key],
      [3, w.initialKey],
    ]);
    expect(history[1]?.Labels).toEqual(expect.arrayContaining(['rejected-v2', `commit-${w.a.commitId}`]));
    expect(provenanceOf(history[2])).toEqual({
      action: 'reject',
      by: 'tester',
      from: '2',
      artifact: /([0-9a-f]{64})\.zip$/.exec(w.initialKey)?.[1],
      write: expect.stringMatching(/^[0-9a-f]{24}$/),
      startedAt: expect.any(String),
      // The build start of the release it keeps (version 1's, recorded a day before the base time).
      builtAt: provenanceOf(history[0]).startedAt,
    });
    // The stack was not touched.
    const stack = await stackOf(w.world, w.prod.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(w.initialKey);
    expect(await stackStatusEvents(w.world, w.prod.stack, 'UPDATE_COMPLETE')).toHaveLength(0);

    const messages = await inbox(w.world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.attributes).toMatchObject({ stage: w.prod.name, outcome: 'in-sync' });
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe('the rejection by tester of version 2');

    // The rejected release is not proposed again.
    const again = await reconcile(w.world.runtime, configuredStage(w.world, 'prod'));
    expect(again.outcome).toBe('in-sync');
    expect(await pendingOf(w.world, w.prod)).toEqual([]);

    const listed = await runCli(w.env, ['history', w.prod.name]);
    const row = listed.stdout.split('\n').find((line) => line.startsWith('2 '));
    expect(row).toMatch(/\brejected\b/);
    expect(row).toContain('rejected-v2');
  });

  // The version reject writes carries the commit of the running release it makes desired again, as the
  // history knows it.
  it('the version reject writes keeps the commit of the release it makes desired again', async () => {
    const w = await approvalWorld();
    await approve(w.world.runtime, w.prod.name, 'tester');
    const b = newExecution(hoursAfterBase(1));
    await uploadExecutionBuild(w.world, b);
    await deploy(w.world, b);
    await inbox(w.world);

    await reject(w.world.runtime, w.prod.name, 'tester');

    const newest = await latestVersion(w.world, w.prod.ssmParameter);
    expect(newest?.Value).toBe(w.a.key);
    expect(provenanceOf(newest).commit).toBe(w.a.commitId);
  });
});

describe('refusals change nothing and tell nobody', () => {
  const expectRefused = async (
    w: { world: World },
    roles: string[],
    move: () => Promise<unknown>,
    message: string | RegExp,
  ) => {
    const before = await Promise.all(roles.map((role) => snapshotStage(w.world, role)));
    const error = await move().then(
      () => new Error('expected a refusal'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RefusedError);
    if (typeof message === 'string') expect((error as Error).message).toContain(message);
    else expect((error as Error).message).toMatch(message);
    expect(await Promise.all(roles.map((role) => snapshotStage(w.world, role)))).toEqual(before);
    expect(await inbox(w.world)).toEqual([]);
  };

  test('a stage that does not require approval: approve and reject are refused', async () => {
    const w = await approvalWorld();
    for (const move of [approve, reject]) {
      await expectRefused(
        w,
        ['dev', 'prod'],
        () => move(w.world.runtime, w.dev.name, 'tester'),
        `stage ${w.dev.name} does not require approval: its deploys run on their own`,
      );
    }
    const cli = await runCli(w.env, ['approve', w.dev.name]);
    expect(cli.code).toBe(4);
    expect(cli.stderr).toContain('does not require approval');
  });

  test('no pending change set (the stage is in sync): approve and reject are refused', async () => {
    const w = await newWorld();
    for (const move of [approve, reject]) {
      await expectRefused(
        w,
        ['prod'],
        () => move(w.world.runtime, w.prod.name, 'tester'),
        `no pending change set for the current desired release (version 1, deploy-${w.prod.name}-v1)`,
      );
    }
  });

  test('an unknown stage is refused', async () => {
    const w = await newWorld();
    await expectRefused(w, ['prod'], () => approve(w.world.runtime, 'staging', 'tester'), 'no stage named');
    await expectRefused(w, ['prod'], () => reject(w.world.runtime, 'staging', 'tester'), 'no stage named');
  });

  test('a stale change set (only for an older desired version): approve and reject are refused', async () => {
    const w = await approvalWorld();
    // A newer build is recorded as desired (version 3) but not reconciled yet: the change set of version 2
    // would deploy an outdated release.
    const b = newExecution(hoursAfterBase(1));
    const { recorded } = await recordRelease(w.world, b, 'prod');
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 3 });
    expect(await pendingOf(w.world, w.prod)).toEqual([`deploy-${w.prod.name}-v2`]);
    const message = `no pending change set for the current desired release (version 3, deploy-${w.prod.name}-v3); deploy-${w.prod.name}-v2 is for an older release and will not be executed`;

    for (const move of [approve, reject]) {
      await expectRefused(w, ['prod'], () => move(w.world.runtime, w.prod.name, 'tester'), message);
    }
    for (const command of ['approve', 'reject']) {
      const before = await snapshotStage(w.world, 'prod');
      const result = await runCli(w.env, [command, w.prod.name]);
      expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 4, stdout: '' });
      expect(result.stderr).toBe(`deployer: refused: ${message}\n`);
      expect(await snapshotStage(w.world, 'prod')).toEqual(before);
    }
    expect(artifactKeyOf(await stackOf(w.world, w.prod.stack))).toBe(w.initialKey);
    expect(await inbox(w.world)).toEqual([]);
  });
});

describe('the first release of an approval stage (its stack not created yet, REVIEW_IN_PROGRESS)', () => {
  /** prod only, no stack: build A's CREATE change set waits for approval. */
  const firstReleaseWorld = async () => {
    const env = await cliWorld([{ name: 'prod', requiresApproval: true }]);
    const { world } = env;
    const prod = stageOf(world, 'prod');
    const execution = newExecution(hoursAfterBase(0));
    await uploadExecutionBuild(world, execution, { stage: 'prod' });
    const summary = await deploy(world, execution);
    expect(summary.stages[0]).toMatchObject({
      outcome: 'pending-approval',
      changeSet: `deploy-${prod.name}-v1`,
    });
    expect((await stackOf(world, prod.stack))?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    await inbox(world);
    return { world, env, prod, execution };
  };

  test('approve creates the stack from the pending CREATE change set', async () => {
    const { world, prod } = await firstReleaseWorld();

    const result = await approve(world.runtime, prod.name, 'tester');

    expect(result).toMatchObject({ version: 1, changeSet: `deploy-${prod.name}-v1` });
    const stack = await stackOf(world, prod.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(result.key);
    expect((await inbox(world)).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  // Approving the CREATE change set of a stack not created yet reports the stack as CREATE_IN_PROGRESS.
  it('the approval message says the stack is being created', async () => {
    const { world, prod } = await firstReleaseWorld();

    await approve(world.runtime, prod.name, 'tester');

    const [message] = await inbox(world);
    expect(bodyField(message?.body ?? '', 'Stack')).toBe(`${prod.stack} (CREATE_IN_PROGRESS)`);
    expect(message?.attributes.status).toBe('CREATE_IN_PROGRESS');
  });

  // With no release running yet there is nothing to keep as desired: reject is refused (exit 4) before it
  // deletes or labels anything, and nobody is told.
  it('reject refused (exit 4) changes nothing', async () => {
    const { world, env, prod } = await firstReleaseWorld();
    const before = await snapshotStage(world, 'prod');

    const result = await runCli(env, ['reject', prod.name]);

    expect(result.code).toBe(4);
    expect(await snapshotStage(world, 'prod')).toEqual(before);
    expect(await inbox(world)).toEqual([]);
  });
});
