/**
 * Finding an execution's build: fixed build keys (no {executionId}) are trusted only when the object's
 * metadata names the execution; in a versioned bucket an overwritten build is found among older versions;
 * a build that cannot be released is reported as FAILED and never recorded as desired.
 */
import { ChecksumMode, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { exampleBuild } from '../../bin/support/example-world';
import { onlyMessage, releaseKeyOf, uploadedBuild, worldsOfFile } from './helpers/file-setup';
import {
  artifactKeyOf,
  bodyField,
  createStackFor,
  deploy,
  type Execution,
  enableVersioning,
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

jest.setTimeout(60_000);

const FIXED_KEY = 'builds/{pipeline}/app.zip';

const worlds = worldsOfFile();

const fixedKeyWorld = async (options: { stack: boolean }) => {
  const world = await worlds.create([{ name: 'dev', artifactKey: FIXED_KEY }]);
  const initialKey = options.stack ? await createStackFor(world) : undefined;
  return { world, stage: stageOf(world), initialKey };
};

const expectFailedMessage = async (world: World, execution: Execution, reason: RegExp) => {
  const stage = stageOf(world);
  const message = await onlyMessage(world);
  expect(message.subject).toBe(`[${stage.name}] ${stage.stack} FAILED ${execution.commitId.slice(0, 7)}`);
  expect(message.attributes).toMatchObject({
    stage: stage.name,
    stack: stage.stack,
    outcome: 'failed',
    severity: 'error',
  });
  expect(bodyField(message.body, 'Reason')).toMatch(reason);
  expect(bodyField(message.body, 'Release')).toBeUndefined();
};

describe('build in a fixed key', () => {
  test('with metadata naming the execution, the build is released and deployed', async () => {
    const { world, stage } = await fixedKeyWorld({ stack: true });
    const { execution, key, bytes, releaseKey } = await uploadedBuild(world);
    expect(key).toBe(`builds/${world.pipeline}/app.zip`);

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      recorded: 'recorded',
      releaseKey,
      desiredVersion: 2,
    });
    expect((await readObject(world, releaseKey)).equals(bytes)).toBe(true);
    expect((await parameterHistory(world, stage.ssmParameter)).at(-1)?.Value).toBe(releaseKey);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect((await inbox(world)).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  test('overwritten by another execution in an unversioned bucket: FAILED, nothing recorded or deployed', async () => {
    const { world, stage, initialKey } = await fixedKeyWorld({ stack: true });
    const mine = newExecution(hoursAfterBase(0));
    const later = newExecution(hoursAfterBase(1));
    await uploadExecutionBuild(world, mine);
    await uploadExecutionBuild(world, later); // overwrites the fixed key
    const historyBefore = await parameterHistory(world, stage.ssmParameter);

    const summary = await deploy(world, mine);

    expect(summary.verdict).toBe('deployed');
    expect(summary.stages).toEqual([
      expect.objectContaining({ stage: stage.name, outcome: 'failed', notified: true }),
    ]);
    expect(summary.stages[0]?.error).toContain(`uploaded by execution ${later.executionId}`);
    expect(summary.stages[0]?.releaseKey).toBeUndefined();
    await expectFailedMessage(world, mine, new RegExp(`uploaded by execution ${later.executionId}`));
    const historyAfter = await parameterHistory(world, stage.ssmParameter);
    expect(historyAfter).toHaveLength(historyBefore.length);
    expect(historyAfter.at(-1)?.Value).toBe(initialKey);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);

    // The execution that did upload the object is deployed as usual.
    const next = await deploy(world, later);
    expect(next.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 2 });
  });

  test('metadata naming another execution, no parameter yet: FAILED and the parameter stays absent', async () => {
    const { world, stage } = await fixedKeyWorld({ stack: false });
    const mine = newExecution(hoursAfterBase(0));
    const other = newExecution(hoursAfterBase(0));
    await uploadExecutionBuild(world, mine, { metadataExecutionId: other.executionId });

    const summary = await deploy(world, mine);

    expect(summary.stages[0]).toMatchObject({ outcome: 'failed', notified: true });
    await expectFailedMessage(world, mine, new RegExp(`uploaded by execution ${other.executionId}`));
    expect(await parameterHistory(world, stage.ssmParameter)).toEqual([]);
    expect(await stackOf(world, stage.stack)).toBeUndefined();
  });

  test('without execution metadata: FAILED, saying the metadata is missing', async () => {
    const { world, stage } = await fixedKeyWorld({ stack: false });
    const execution = newExecution(hoursAfterBase(0));
    await uploadExecutionBuild(world, execution, { metadataExecutionId: null });

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({ outcome: 'failed' });
    await expectFailedMessage(world, execution, /no x-amz-meta-pipeline-execution-id metadata/);
    expect(await parameterHistory(world, stage.ssmParameter)).toEqual([]);
  });

  test('in a versioned bucket, an overwritten build is found among the older versions', async () => {
    const { world, stage } = await fixedKeyWorld({ stack: true });
    await enableVersioning(world);
    const { execution: mine, bytes: mineBytes, releaseKey: mineKey } = await uploadedBuild(world, 0);
    const { execution: later, bytes: laterBytes, releaseKey: laterKey } = await uploadedBuild(world, 1);

    const summary = await deploy(world, mine);

    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: mineKey, desiredVersion: 2 });
    expect((await readObject(world, mineKey)).equals(mineBytes)).toBe(true);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(mineKey);

    const next = await deploy(world, later);
    expect(next.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: laterKey, desiredVersion: 3 });
    expect((await readObject(world, laterKey)).equals(laterBytes)).toBe(true);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(laterKey);
  });
});

describe('build artifacts', () => {
  test('a build uploaded without a SHA-256 checksum is hashed from its bytes', async () => {
    const world = await worlds.create();
    const stage = stageOf(world);
    const execution = newExecution(hoursAfterBase(0));
    const bytes = exampleBuild(`no-checksum-${world.id}`);
    await world.clients.s3.send(
      new PutObjectCommand({
        Bucket: world.bucket,
        Key: `builds/${execution.executionId}/app.zip`,
        Body: bytes,
        Metadata: { 'pipeline-execution-id': execution.executionId },
      }),
    );
    const head = await world.clients.s3.send(
      new HeadObjectCommand({
        Bucket: world.bucket,
        Key: `builds/${execution.executionId}/app.zip`,
        ChecksumMode: ChecksumMode.ENABLED,
      }),
    );
    expect(head.ChecksumSHA256).toBeUndefined();

    const summary = await deploy(world, execution);

    const releaseKey = releaseKeyOf(bytes);
    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey });
    expect((await readObject(world, releaseKey)).equals(bytes)).toBe(true);
    expect((await parameterHistory(world, stage.ssmParameter)).at(-1)?.Value).toBe(releaseKey);
    // The commit comes from the event when the build did not record one.
    expect((await parameterHistory(world, stage.ssmParameter)).at(-1)?.Labels).toContain(
      `commit-${execution.commitId}`,
    );
  });

  test('a missing build is reported as FAILED and not recorded', async () => {
    const world = await worlds.create();
    const stage = stageOf(world);
    const execution = newExecution(hoursAfterBase(0));

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({ outcome: 'failed' });
    await expectFailedMessage(world, execution, /does not exist/);
    expect(await parameterHistory(world, stage.ssmParameter)).toEqual([]);
  });
});
