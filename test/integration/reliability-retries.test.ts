/**
 * Reliability when the SDK's retries run out: one operation faulted on every attempt (the proxy faults
 * everything at rate 1.0 and spares every other operation). The invocation must fail, so that Lambda retries
 * the event, and a later delivery without the fault must converge as if nothing had happened. The world is
 * set up and read back straight from moto.
 */
import { MAX_ATTEMPTS } from '../../shared/aws/clients';
import { lockKey } from '../../shared/aws/stage-lock';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { uploadedBuild } from './helpers/file-setup';
import {
  changeSetNameOf,
  everyOperationExcept,
  executedChangeSets,
  forwardedFor,
  provenanceOf,
  proxyOfFile,
} from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import {
  artifactKeyOf,
  inbox,
  objectExists,
  parameterHistory,
  pipelineEvent,
  stackOf,
} from './helpers/world';

/** Five throttled attempts back off for up to 15 s (1 s base, doubling, jittered) per exhausted call. */
jest.setTimeout(60_000);

/** Faults are cleared after each test (see proxyOfFile). */
const aws = proxyOfFile();

/** A world whose dev stack runs an initial release, one build uploaded, the deployer behind the proxy. */
const setUp = () => aws.withBuild();

/** Throttle every attempt of these operations, and nothing else. */
const throttleOnly = (...operations: string[]) => {
  aws.proxy.setFaults({ throttle: 1, spare: everyOperationExcept(...operations) });
};

/** Answer every attempt of these operations with a 503 (backs off faster than throttling), nothing else. */
const failOnly = (...operations: string[]) => {
  aws.proxy.setFaults({ serverError: 1, spare: everyOperationExcept(...operations) });
};

/** How a deploy invocation fails when a stage could not be deployed: thrown, so Lambda retries it. */
const STAGE_FAILED = /failed for 1 of 1 stage/;

/** Calls of an operation on an SSM parameter (JSON protocol: the name is in the body). */
const ssmCalls = (operation: string, parameter: string) =>
  aws.proxy.forwarded().filter((c) => c.operation === operation && c.params.Name === parameter);

describe('retries run out', () => {
  test('ssm.PutParameter throttled on every attempt: the event fails; delivered again without faults, it converges', async () => {
    const { world, stage, initialKey, execution, releaseKey, runtime, event } = await setUp();
    const countsBefore = aws.proxy.counts()['ssm.PutParameter'] ?? 0;
    const injectedBefore = aws.proxy.injected().throttle;
    throttleOnly('ssm.PutParameter');

    await expect(handlePipelineEvent(runtime, structuredClone(event))).rejects.toThrow(
      /failed for 1 of 1 stage\(s\): Rate exceeded/,
    );

    // The SDK tried MAX_ATTEMPTS times, every one throttled; nothing was recorded or deployed, and the
    // stage's lock was given back.
    expect((aws.proxy.counts()['ssm.PutParameter'] ?? 0) - countsBefore).toBe(MAX_ATTEMPTS);
    expect(aws.proxy.injected().throttle - injectedBefore).toBe(MAX_ATTEMPTS);
    expect(ssmCalls('ssm.PutParameter', stage.ssmParameter)).toEqual([]);
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(1);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);
    expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toEqual([]);
    expect(await objectExists(world, lockKey(configuredStage(world)))).toBe(false);
    expect(await inbox(world)).toEqual([]);

    aws.proxy.setFaults({});
    const summary = await handlePipelineEvent(runtime, structuredClone(event));

    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      recorded: 'recorded',
      releaseKey,
      desiredVersion: 2,
      notified: true,
    });
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, initialKey],
      [2, releaseKey],
    ]);
    expect(history[1]?.Labels).toContain(`exec-${execution.executionId}`);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([
      `deploy-${stage.name}-v2`,
    ]);
    expect((await inbox(world)).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  test('cloudformation.ExecuteChangeSet failing (503) on every attempt: recorded, not executed; delivered again, executed once and reported once', async () => {
    const { world, stage, initialKey, execution, releaseKey, runtime, event } = await setUp();
    failOnly('cloudformation.ExecuteChangeSet');

    await expect(handlePipelineEvent(runtime, structuredClone(event))).rejects.toThrow(STAGE_FAILED);

    expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toEqual([]);
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(2);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);
    expect(await inbox(world)).toEqual([]);

    aws.proxy.setFaults({});
    const summary = await handlePipelineEvent(runtime, structuredClone(event));

    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      recorded: 'duplicate',
      releaseKey,
      desiredVersion: 2,
      notified: true,
    });
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history).toHaveLength(2);
    expect(history[1]?.Labels).toContain(`exec-${execution.executionId}`);
    const stack = await stackOf(world, stage.stack);
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([
      `deploy-${stage.name}-v2`,
    ]);
    expect((await inbox(world)).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  // A deploy whose report could not be sent is reported by the redelivery: finding the execution recorded
  // ('duplicate') and the stack already on the release does not make the retry quiet.
  it('sns.Publish failing (503) on every attempt after the deploy: the redelivery still tells the ops team', async () => {
    const { world, stage, releaseKey, runtime, event } = await setUp();
    failOnly('sns.Publish');

    await expect(handlePipelineEvent(runtime, structuredClone(event))).rejects.toThrow(STAGE_FAILED);
    // Deployed, but nobody was told.
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(releaseKey);
    expect(await inbox(world)).toEqual([]);

    aws.proxy.setFaults({});
    const summary = await handlePipelineEvent(runtime, structuredClone(event));

    expect(summary.stages[0]).toMatchObject({ recorded: 'duplicate', releaseKey, notified: true });
    const messages = await inbox(world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.body).toContain(releaseKey);
  });

  // A version is written (PutParameter) and labelled in a second call. When labelling fails and a newer
  // build is recorded before the event is delivered again, the retry is 'superseded': it still reports and
  // labels its own version (shared/triggers/deploy.ts reportOvertaken).
  it('ssm.LabelParameterVersion failing (503) on every attempt, a newer build recorded meanwhile: the older version still gets its labels', async () => {
    const { world, stage, execution, runtime, event } = await setUp();
    failOnly('ssm.LabelParameterVersion');
    await expect(handlePipelineEvent(runtime, structuredClone(event))).rejects.toThrow(STAGE_FAILED);
    aws.proxy.setFaults({});
    const { execution: newer } = await uploadedBuild(world, 1);
    expect((await handlePipelineEvent(runtime, pipelineEvent(world, newer))).stages[0]).toMatchObject({
      recorded: 'recorded',
      desiredVersion: 3,
    });

    const retried = await handlePipelineEvent(runtime, structuredClone(event));

    expect(retried.stages[0]).toMatchObject({ outcome: 'superseded' });
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => provenanceOf(v).execution)).toEqual([
      'initial-release',
      execution.executionId,
      newer.executionId,
    ]);
    for (const version of history.slice(1)) {
      expect(version.Labels ?? []).toContain(`exec-${provenanceOf(version).execution}`);
    }
  });
});
