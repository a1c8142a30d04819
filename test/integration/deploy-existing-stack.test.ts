/**
 * A stage whose stack already exists (running an initial release): a pipeline-succeeded event releases the
 * build, records it in SSM, updates the stack through a change set and tells the ops team; duplicates,
 * newer builds and late older executions behave as promised. State is read back from moto.
 */
import { ChecksumMode, GetObjectCommand } from '@aws-sdk/client-s3';
import { deployBuild, onlyMessage, uploadedBuild, worldsOfFile } from './helpers/file-setup';
import { recordRelease } from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  deploy,
  hoursAfterBase,
  inbox,
  latestVersion,
  newExecution,
  objectExists,
  objectMetadata,
  parameterHistory,
  RELEASE_PREFIX,
  readObject,
  sha256Hex,
  stackOf,
  stackStatusEvents,
  uploadExecutionBuild,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();

/** A world with a dev stack running an initial release, and one build deployed to it (its message read). */
const deployOnce = () => worlds.deployed();

describe('pipeline succeeded, stage stack exists', () => {
  test('releases the exact build bytes, records them in SSM, updates the stack and notifies ops', async () => {
    const { world, stage, initialKey } = await worlds.withStack();
    const { execution, bytes } = await uploadedBuild(world);
    const digest = sha256Hex(bytes);

    const summary = await deploy(world, execution);

    expect(summary).toMatchObject({
      verdict: 'deployed',
      pipeline: world.pipeline,
      executionId: execution.executionId,
    });
    expect(summary.stages).toHaveLength(1);
    const result = summary.stages[0];
    expect(result).toMatchObject({
      stage: stage.name,
      stack: stage.stack,
      outcome: 'deploying',
      recorded: 'recorded',
      desiredVersion: 2,
      notified: true,
    });
    const releaseKey = result?.releaseKey ?? '';

    // The release object: exactly the build's bytes, under a key derived from their SHA-256.
    expect(releaseKey.startsWith(RELEASE_PREFIX)).toBe(true);
    expect(releaseKey).toContain(digest);
    expect(releaseKey).toBe(`${RELEASE_PREFIX}${digest}.zip`);
    const released = await readObject(world, releaseKey);
    expect(released.equals(bytes)).toBe(true);
    const metadata = await objectMetadata(world, releaseKey);
    expect(metadata).toMatchObject({
      sha256: digest,
      'pipeline-execution-id': execution.executionId,
      'commit-id': execution.commitId,
    });
    const withChecksum = await world.clients.s3.send(
      new GetObjectCommand({ Bucket: world.bucket, Key: releaseKey, ChecksumMode: ChecksumMode.ENABLED }),
    );
    await withChecksum.Body?.transformToByteArray();
    expect(withChecksum.ChecksumSHA256).toBe(Buffer.from(digest, 'hex').toString('base64'));

    // Desired state: a new version holding the release key, labelled with the execution and the commit.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => v.Version)).toEqual([1, 2]);
    const latest = history[1];
    expect(latest?.Value).toBe(releaseKey);
    expect(latest?.Labels).toEqual(
      expect.arrayContaining([`exec-${execution.executionId}`, `commit-${execution.commitId}`]),
    );
    expect(JSON.parse(latest?.Description ?? '{}')).toMatchObject({
      pipeline: world.pipeline,
      execution: execution.executionId,
      commit: execution.commitId,
      startedAt: execution.startTime,
    });
    expect(history[0]?.Value).toBe(initialKey);

    // The stack runs the release now, through the change set named after the desired version.
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    const changeSets = await changeSetsOf(world, stage.stack);
    expect(changeSets.map((c) => [c.ChangeSetName, c.ExecutionStatus])).toEqual([
      [`deploy-${stage.name}-v2`, 'EXECUTE_COMPLETE'],
    ]);
    expect(result?.changeSet).toBe(`deploy-${stage.name}-v2`);

    // One message for the ops team.
    const message = await onlyMessage(world);
    expect(message.subject).toBe(
      `[${stage.name}] ${stage.stack} DEPLOYING ${execution.commitId.slice(0, 7)}`,
    );
    expect(message.attributes).toMatchObject({
      stage: stage.name,
      stack: stage.stack,
      outcome: 'deploying',
      severity: 'info',
    });
    const body = message.body;
    expect(bodyField(body, 'Stage')).toBe(stage.name);
    expect(bodyField(body, 'Stack')).toMatch(new RegExp(`^${stage.stack}\\b`));
    expect(bodyField(body, 'Commit')).toBe(execution.commitId);
    expect(bodyField(body, 'Release')).toBe(`s3://${world.bucket}/${releaseKey}`);
    expect(bodyField(body, 'Pipeline')).toBe(`${world.pipeline}, execution ${execution.executionId}`);
    expect(bodyField(body, 'Desired')).toBe(`${stage.ssmParameter} version 2`);
    expect(bodyField(body, 'Change set')).toBe(`deploy-${stage.name}-v2`);
  });

  test('the same event delivered again changes nothing and says nothing', async () => {
    const { world, stage, execution, releaseKey } = await deployOnce();
    const historyBefore = await parameterHistory(world, stage.ssmParameter);
    const stackBefore = await stackOf(world, stage.stack);
    const changeSetsBefore = await changeSetsOf(world, stage.stack);
    const updatesBefore = await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE');
    expect(updatesBefore).toHaveLength(1);

    const summary = await deploy(world, execution);

    expect(summary.verdict).toBe('deployed');
    expect(summary.stages[0]).toMatchObject({
      outcome: 'in-sync',
      recorded: 'duplicate',
      releaseKey,
      desiredVersion: 2,
      notified: false,
    });
    const historyAfter = await parameterHistory(world, stage.ssmParameter);
    expect(historyAfter).toHaveLength(historyBefore.length);
    expect(historyAfter.at(-1)?.Version).toBe(2);
    expect(historyAfter.at(-1)?.Labels).toEqual(
      expect.arrayContaining([`exec-${execution.executionId}`, `commit-${execution.commitId}`]),
    );
    const stackAfter = await stackOf(world, stage.stack);
    expect(stackAfter?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stackAfter)).toBe(releaseKey);
    expect(stackAfter?.LastUpdatedTime).toEqual(stackBefore?.LastUpdatedTime);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(updatesBefore.length);
    expect(await inbox(world)).toEqual([]);
  });

  test('a newer build gets a new release key, a new SSM version and is deployed; the old release stays', async () => {
    const { world, stage, releaseKey: firstKey, bytes: firstBytes } = await deployOnce();
    const { execution: second, bytes } = await uploadedBuild(world, 1);
    expect(bytes.equals(firstBytes)).toBe(false);

    const summary = await deploy(world, second);

    const result = summary.stages[0];
    expect(result).toMatchObject({ outcome: 'deploying', recorded: 'recorded', desiredVersion: 3 });
    const secondKey = result?.releaseKey ?? '';
    expect(secondKey).toBe(`${RELEASE_PREFIX}${sha256Hex(bytes)}.zip`);
    expect(secondKey).not.toBe(firstKey);
    expect((await readObject(world, secondKey)).equals(bytes)).toBe(true);
    // The first release is immutable and still there (rollback target).
    expect(await objectExists(world, firstKey)).toBe(true);
    expect((await readObject(world, firstKey)).equals(firstBytes)).toBe(true);

    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, expect.any(String)],
      [2, firstKey],
      [3, secondKey],
    ]);
    expect(history[2]?.Labels).toEqual(
      expect.arrayContaining([`exec-${second.executionId}`, `commit-${second.commitId}`]),
    );

    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(secondKey);
    const changeSets = await changeSetsOf(world, stage.stack);
    expect(changeSets.map((c) => c.ChangeSetName).sort()).toEqual([
      `deploy-${stage.name}-v2`,
      `deploy-${stage.name}-v3`,
    ]);

    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} DEPLOYING ${second.commitId.slice(0, 7)}`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Running')).toBe(firstKey);
  });

  test('an older execution arriving after a newer one is not recorded and not deployed', async () => {
    const { world, stage } = await deployOnce();
    const { summary: newerSummary } = await deployBuild(world, 2);
    const newerKey = newerSummary.stages[0]?.releaseKey;
    expect(newerSummary.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 3 });
    await inbox(world);
    const updatesBefore = await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE');
    expect(updatesBefore).toHaveLength(2);
    const changeSetsBefore = await changeSetsOf(world, stage.stack);

    // Started before the newer one, but its event arrives late.
    const { execution: older, summary } = await deployBuild(world, 1);

    expect(summary.stages[0]).toMatchObject({ outcome: 'superseded', desiredVersion: 3, notified: false });
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history).toHaveLength(3);
    expect(history.at(-1)?.Value).toBe(newerKey);
    expect((await latestVersion(world, stage.ssmParameter))?.Labels).not.toContain(
      `exec-${older.executionId}`,
    );
    const stack = await stackOf(world, stage.stack);
    expect(artifactKeyOf(stack)).toBe(newerKey);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(updatesBefore.length);
    expect(await inbox(world)).toEqual([]);
  });

  test('a retry after a crash between recording and deploying finishes the deploy and reports it', async () => {
    const { world, stage, initialKey } = await worlds.withStack();
    const execution = newExecution(hoursAfterBase(0));
    // The first attempt released the build and recorded it, then died before touching the stack.
    const { release, recorded } = await recordRelease(world, execution);
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 2 });
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);

    const summary = await deploy(world, execution);

    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      recorded: 'duplicate',
      releaseKey: release.key,
      desiredVersion: 2,
      notified: true,
    });
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(2);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(release.key);
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} DEPLOYING ${execution.commitId.slice(0, 7)}`,
    ]);
  });

  test('a new execution with identical bytes records a version but leaves the stack alone', async () => {
    const { world, stage, releaseKey, execution: first } = await deployOnce();
    const rerun = { ...newExecution(hoursAfterBase(1)), commitId: first.commitId };
    // Same commit, same bytes: the pipeline was simply run again.
    await uploadExecutionBuild(world, rerun, { variant: `${world.id}-${first.executionId}` });
    const changeSetsBefore = await changeSetsOf(world, stage.stack);

    const summary = await deploy(world, rerun);

    expect(summary.stages[0]).toMatchObject({
      outcome: 'in-sync',
      recorded: 'recorded',
      releaseKey,
      desiredVersion: 3,
    });
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => v.Value).slice(1)).toEqual([releaseKey, releaseKey]);
    expect(history.at(-1)?.Labels).toContain(`exec-${rerun.executionId}`);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(1);
    const messages = await inbox(world);
    expect(messages.map((m) => m.attributes.outcome)).toEqual(['in-sync']);
  });
});
