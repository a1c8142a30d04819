/**
 * Reliability: a build that lands while its stack is in any busy status is recorded as desired and left for
 * the stack's completion; no change set is even asked for. The busy status is simulated by the proxy
 * (moto's stack operations finish at once); the state is read back straight from moto.
 */
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { uploadedBuild } from './helpers/file-setup';
import { forwardedFor, provenanceOf, proxyOfFile } from './helpers/reliability';
import {
  artifactKeyOf,
  changeSetsOf,
  inbox,
  parameterHistory,
  pipelineEvent,
  stackOf,
} from './helpers/world';

jest.setTimeout(60_000);

const aws = proxyOfFile();

describe('a build landing while the stack is busy', () => {
  test.each([
    'UPDATE_IN_PROGRESS',
    'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
    'UPDATE_ROLLBACK_IN_PROGRESS',
    'CREATE_IN_PROGRESS',
    'DELETE_IN_PROGRESS',
    // Further busy statuses AWS reports.
    'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
    'ROLLBACK_IN_PROGRESS',
    'IMPORT_IN_PROGRESS',
  ])('%s: the release is recorded, no change set is created, the stack is left alone', async (status) => {
    const { world, stage, initialKey, runtime } = await aws.stageWorld();
    const { execution, releaseKey } = await uploadedBuild(world);
    aws.proxy.makeBusy(stage.stack, 1_000, status);

    const summary = await handlePipelineEvent(runtime, pipelineEvent(world, execution));
    aws.proxy.makeBusy(stage.stack, 0);

    expect(summary.verdict).toBe('deployed');
    expect(summary.stages[0]).toMatchObject({
      outcome: 'waiting',
      recorded: 'recorded',
      releaseKey,
      desiredVersion: 2,
    });
    // Recorded: a new version holding the release, labelled and described with the execution.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, initialKey],
      [2, releaseKey],
    ]);
    expect(history[1]?.Labels).toContain(`exec-${execution.executionId}`);
    expect(provenanceOf(history[1] ?? {})).toMatchObject({
      execution: execution.executionId,
      startedAt: execution.startTime,
    });
    // No change set asked for or executed; the stack still runs what it ran.
    expect(forwardedFor(aws.proxy, 'cloudformation.DescribeStacks', stage.stack).length).toBeGreaterThan(0);
    expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toEqual([]);
    expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toEqual([]);
    expect(await changeSetsOf(world, stage.stack)).toEqual([]);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(initialKey);
    // The ops team hears that the release waits for the stack.
    expect((await inbox(world)).map((m) => m.attributes.outcome)).toEqual(['waiting']);
  });
});
