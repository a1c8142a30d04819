/**
 * A stage whose stack does not exist yet: with a template configured, the deployer creates it through a
 * CREATE change set running the release; without one, it reports the stage as blocked and creates nothing.
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
  readObject,
  stackOf,
  stackStatusEvents,
  stageOf,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();

describe('pipeline succeeded, stage stack does not exist', () => {
  test('with a template configured, the stack is created running the release key', async () => {
    const world = await worlds.create([{ name: 'dev' }]);
    const stage = stageOf(world);
    expect(await stackOf(world, stage.stack)).toBeUndefined();
    const { execution, bytes, releaseKey } = await uploadedBuild(world);

    const summary = await deploy(world, execution);

    const changeSetName = `deploy-${stage.name}-v1`;
    expect(summary.stages).toEqual([
      expect.objectContaining({
        stage: stage.name,
        outcome: 'deploying',
        recorded: 'recorded',
        releaseKey,
        desiredVersion: 1,
        changeSet: changeSetName,
        notified: true,
      }),
    ]);
    expect((await readObject(world, releaseKey)).equals(bytes)).toBe(true);

    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([[1, releaseKey]]);
    expect(history[0]?.Labels).toEqual(
      expect.arrayContaining([`exec-${execution.executionId}`, `commit-${execution.commitId}`]),
    );

    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect(stack?.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'Stage', ParameterValue: stage.name },
        { ParameterKey: 'ArtifactBucket', ParameterValue: world.bucket },
      ]),
    );
    expect(stack?.Tags).toEqual(expect.arrayContaining([{ Key: 'stage', Value: stage.name }]));
    expect(await stackStatusEvents(world, stage.stack, 'CREATE_COMPLETE')).toHaveLength(1);

    const changeSets = await changeSetsOf(world, stage.stack);
    expect(changeSets.map((c) => [c.ChangeSetName, c.ExecutionStatus])).toEqual([
      [changeSetName, 'EXECUTE_COMPLETE'],
    ]);
    const described = await describeChangeSet(world, stage.stack, changeSetName);
    expect(described.Parameters).toEqual(
      expect.arrayContaining([{ ParameterKey: 'ArtifactKey', ParameterValue: releaseKey }]),
    );

    const message = await onlyMessage(world);
    expect(message.subject).toBe(
      `[${stage.name}] ${stage.stack} DEPLOYING ${execution.commitId.slice(0, 7)}`,
    );
    expect(message.attributes).toMatchObject({ stage: stage.name, outcome: 'deploying' });
    expect(bodyField(message.body, 'Release')).toBe(`s3://${world.bucket}/${releaseKey}`);

    // Delivered again: the stack already runs the release.
    const again = await deploy(world, execution);
    expect(again.stages[0]).toMatchObject({ outcome: 'in-sync', recorded: 'duplicate', notified: false });
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(1);
    expect(await changeSetsOf(world, stage.stack)).toHaveLength(1);
    expect(await inbox(world)).toEqual([]);
  });

  test('without a template, the stage is blocked: the release is recorded, no stack is created', async () => {
    const world = await worlds.create([{ name: 'dev', template: false }]);
    const stage = stageOf(world);

    const { execution, summary } = await deployBuild(world);

    expect(summary.stages[0]).toMatchObject({ outcome: 'blocked', recorded: 'recorded', desiredVersion: 1 });
    expect(await stackOf(world, stage.stack)).toBeUndefined();
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(1);
    const message = await onlyMessage(world);
    expect(message.subject).toBe(`[${stage.name}] ${stage.stack} BLOCKED ${execution.commitId.slice(0, 7)}`);
    expect(message.attributes).toMatchObject({ outcome: 'blocked', severity: 'error' });
    expect(message.body).toContain('names no template');
  });
});
