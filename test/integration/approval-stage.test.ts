/**
 * An approval stage: the deployer prepares the change set and leaves it for a person; the stack keeps
 * running what it ran. A newer build replaces the stale pending change set.
 */
import { deployBuild, onlyMessage, uploadedBuild, worldsOfFile } from './helpers/file-setup';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  deploy,
  describeChangeSet,
  inbox,
  parameterHistory,
  stackOf,
  stackStatusEvents,
  stageOf,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();
const APPROVAL = [{ name: 'prod', requiresApproval: true }];

/** A prod stage that requires approval, its stack running an initial release. */
const approvalWorld = () => worlds.withStack(APPROVAL, 'prod');

describe('approval stage', () => {
  test('the change set is created and left AVAILABLE; the stack is unchanged; ops are asked to approve', async () => {
    const { world, stage, initialKey } = await approvalWorld();
    const { execution, releaseKey } = await uploadedBuild(world, 0, 'prod');
    const changeSetName = `deploy-${stage.name}-v2`;

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({
      stage: stage.name,
      outcome: 'pending-approval',
      recorded: 'recorded',
      releaseKey,
      desiredVersion: 2,
      changeSet: changeSetName,
      notified: true,
    });
    // Desired state is recorded even though nothing is deployed yet.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, initialKey],
      [2, releaseKey],
    ]);

    const changeSets = await changeSetsOf(world, stage.stack);
    expect(changeSets.map((c) => [c.ChangeSetName, c.Status, c.ExecutionStatus])).toEqual([
      [changeSetName, 'CREATE_COMPLETE', 'AVAILABLE'],
    ]);
    const described = await describeChangeSet(world, stage.stack, changeSetName);
    expect(described.Parameters).toEqual(
      expect.arrayContaining([{ ParameterKey: 'ArtifactKey', ParameterValue: releaseKey }]),
    );

    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(initialKey);
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(0);

    const message = await onlyMessage(world);
    expect(message.subject).toBe(
      `[${stage.name}] ${stage.stack} APPROVAL NEEDED ${execution.commitId.slice(0, 7)}`,
    );
    expect(message.attributes).toMatchObject({
      stage: stage.name,
      stack: stage.stack,
      outcome: 'pending-approval',
      severity: 'warning',
    });
    expect(bodyField(message.body, 'Change set')).toBe(changeSetName);
    expect(bodyField(message.body, 'Running')).toBe(initialKey);
    expect(message.body).toContain(`npx deployer approve ${stage.name}`);
    expect(message.body).toContain(`npx deployer reject ${stage.name}`);
    expect(message.body).toContain(`--change-set-name ${changeSetName}`);
  });

  test('delivered again: the pending change set is found, nothing new is made or said', async () => {
    const { world, stage, initialKey } = await approvalWorld();
    const { execution } = await deployBuild(world, 0, 'prod');
    await inbox(world);

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({
      outcome: 'pending-approval',
      recorded: 'duplicate',
      changeSet: `deploy-${stage.name}-v2`,
      notified: false,
    });
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(2);
    expect((await changeSetsOf(world, stage.stack)).map((c) => [c.ChangeSetName, c.ExecutionStatus])).toEqual(
      [[`deploy-${stage.name}-v2`, 'AVAILABLE']],
    );
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);
    expect(await inbox(world)).toEqual([]);
  });

  test('a newer build deletes the stale pending change set and leaves its own for approval', async () => {
    const { world, stage, initialKey } = await approvalWorld();
    await deployBuild(world, 0, 'prod');
    await inbox(world);
    const second = await uploadedBuild(world, 1, 'prod');

    const summary = await deploy(world, second.execution);

    expect(summary.stages[0]).toMatchObject({
      outcome: 'pending-approval',
      recorded: 'recorded',
      desiredVersion: 3,
      changeSet: `deploy-${stage.name}-v3`,
    });
    expect((await changeSetsOf(world, stage.stack)).map((c) => [c.ChangeSetName, c.ExecutionStatus])).toEqual(
      [[`deploy-${stage.name}-v3`, 'AVAILABLE']],
    );
    const described = await describeChangeSet(world, stage.stack, `deploy-${stage.name}-v3`);
    expect(described.Parameters).toEqual(
      expect.arrayContaining([{ ParameterKey: 'ArtifactKey', ParameterValue: second.releaseKey }]),
    );
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} APPROVAL NEEDED ${second.execution.commitId.slice(0, 7)}`,
    ]);
  });

  test('stack not created yet: a newer build replaces the pending CREATE change set of the older one', async () => {
    const world = await worlds.create(APPROVAL);
    const stage = stageOf(world, 'prod');
    const { summary: firstSummary } = await deployBuild(world, 0, 'prod');
    expect(firstSummary.stages[0]).toMatchObject({
      outcome: 'pending-approval',
      changeSet: `deploy-${stage.name}-v1`,
    });
    // The stack exists only as the holder of the CREATE change set that waits for approval.
    expect((await stackOf(world, stage.stack))?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    await inbox(world);

    const second = await uploadedBuild(world, 1, 'prod');
    const summary = await deploy(world, second.execution);

    // Approving the v1 change set would create the stack with an outdated release; nothing else will ever
    // move a stack out of REVIEW_IN_PROGRESS, so "waiting" would wait forever.
    expect(summary.stages[0]).toMatchObject({
      outcome: 'pending-approval',
      recorded: 'recorded',
      desiredVersion: 2,
      changeSet: `deploy-${stage.name}-v2`,
    });
    const available = (await changeSetsOf(world, stage.stack)).filter(
      (c) => c.ExecutionStatus === 'AVAILABLE',
    );
    expect(available.map((c) => c.ChangeSetName)).toEqual([`deploy-${stage.name}-v2`]);
    const described = await describeChangeSet(world, stage.stack, `deploy-${stage.name}-v2`);
    expect(described.Parameters).toEqual(
      expect.arrayContaining([{ ParameterKey: 'ArtifactKey', ParameterValue: second.releaseKey }]),
    );
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} APPROVAL NEEDED ${second.execution.commitId.slice(0, 7)}`,
    ]);
  });
});
