/**
 * A deploy of ours that failed: the notify trigger reports the failed release and what runs now (the root
 * cause lookup reads moto's real stack events), and the reconcile trigger labels the SSM version
 * `failed-v<N>` and does not try the same release again. moto never rolls back, so the rollback is
 * played by putting the stack back on its earlier release before the event is fed.
 */

import { handleStackNotification } from '../../shared/triggers/notify';
import { handleReconcileTrigger, handleStackSettled } from '../../shared/triggers/reconcile';
import { onlyMessage, uploadedBuild, worldsOfFile } from './helpers/file-setup';
import { runTokenOf } from './helpers/runs';
import {
  consoleToken,
  deleteStageStack,
  messageAttributes,
  rollBackStackTo,
  scheduleEvent,
  stackStatusEvent,
  targetOf,
  withTarget,
} from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  deploy,
  inbox,
  parameterHistory,
  REGION,
  stackEventsOf,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();

/** A dev stack running an initial release, then a build the deployer deployed (desired version 2). */
const deployedWorld = async () => withTarget(await worlds.deployed());

const labelsOf = async (world: World, parameter: string) =>
  (await parameterHistory(world, parameter)).map((v) => [v.Version, [...(v.Labels ?? [])].sort()]);

describe('a deploy of ours rolled back (UPDATE_ROLLBACK_COMPLETE)', () => {
  test('notify reports the failed release and what runs now; reconcile marks it failed and does not retry it', async () => {
    const { world, stage, target, initialKey, execution, releaseKey } = await deployedWorld();
    await rollBackStackTo(world, 'dev', initialKey);
    // The request token of the deployer's own run, as the status event of its change set carries it.
    const token = await runTokenOf(world, 'dev', 2);
    const event = stackStatusEvent('stack-update-rollback-complete.json', target, { token });
    // moto records the stack's own events only: no resource failed, so there is no root cause to find.
    expect((await stackEventsOf(world, stage.stack)).length).toBeGreaterThan(0);
    const changeSetsBefore = await changeSetsOf(world, stage.stack);
    expect(changeSetsBefore.map((c) => c.ChangeSetName)).toEqual([`deploy-${stage.name}-v2`]);

    // The notify trigger.
    const notified = await handleStackNotification(world.runtime, event);

    const subject = `[${stage.name}] ${stage.stack} UPDATE_ROLLBACK_COMPLETE ${execution.commitId.slice(0, 7)}`;
    expect(notified).toEqual({ verdict: 'notified', stack: stage.stack, subject });
    const message = await onlyMessage(world);
    expect(message.subject).toBe(subject);
    expect(message.attributes).toEqual(
      messageAttributes('stack-status', stage, 'UPDATE_ROLLBACK_COMPLETE', 'error'),
    );
    const body = message.body;
    expect(body.split('\n')[0]).toBe('The stack update FAILED and was rolled back.');
    expect(bodyField(body, 'Started by')).toBe(`the deployer (run ${token})`);
    expect(bodyField(body, 'Failed release')).toBe(`${releaseKey} (desired version 2)`);
    expect(bodyField(body, 'Release')).toBeUndefined();
    expect(bodyField(body, 'Commit')).toBe(execution.commitId);
    expect(bodyField(body, 'Running now')).toBe(initialKey);
    expect(bodyField(body, 'Root cause')).toBeUndefined();
    expect(bodyField(body, 'When')).toBe(`2026-11-20 11:42:19 UTC (${REGION})`);
    expect(bodyField(body, 'Next')).toBe(
      `the stack runs ${initialKey} again. Fix the root cause and push a new build; release ${releaseKey} is marked failed and will not be retried.`,
    );

    // The reconcile trigger, fed the same event.
    const settled = await handleStackSettled(world.runtime, event);

    expect(settled).toEqual({
      verdict: 'reconciled',
      stage: stage.name,
      outcome: 'blocked',
      markedFailed: 2,
      notified: false,
    });
    expect(await labelsOf(world, stage.ssmParameter)).toEqual([
      [1, []],
      [2, [`commit-${execution.commitId}`, `exec-${execution.executionId}`, 'failed-v2'].sort()],
    ]);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    const stack = await stackOf(world, stage.stack);
    expect(artifactKeyOf(stack)).toBe(initialKey);
    expect(await inbox(world)).toEqual([]);

    // The same event again, then the schedule: still not retried, nothing new to say.
    expect(await handleStackSettled(world.runtime, event)).toMatchObject({
      outcome: 'blocked',
      markedFailed: 2,
    });
    const scheduled = await handleReconcileTrigger(world.runtime, scheduleEvent());
    expect(scheduled).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'blocked', notified: false },
    ]);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);
    expect(
      (await parameterHistory(world, stage.ssmParameter)).map((v) => v.Labels?.includes('failed-v2')),
    ).toEqual([false, true]);
    expect(await inbox(world)).toEqual([]);

    // A new build is deployed as usual: the failed label holds back only the failed release.
    const fix = await uploadedBuild(world, 1);
    const fixed = await deploy(world, fix.execution);
    expect(fixed.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 3 });
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(fixed.stages[0]?.releaseKey);
  });

  test('an update started by a person that rolled back marks nothing failed and blames no release', async () => {
    const { world, stage, target, releaseKey } = await deployedWorld();
    // The person's update rolled back: the stack runs the deployer's release, as before it.
    const event = stackStatusEvent('stack-update-rollback-complete.json', target, { token: consoleToken() });

    await handleStackNotification(world.runtime, event);
    const settled = await handleStackSettled(world.runtime, event);

    const [message, ...rest] = await inbox(world);
    expect(rest).toEqual([]);
    const body = message?.body ?? '';
    expect(bodyField(body, 'Started by')).toMatch(/^a person in the AWS console/);
    expect(bodyField(body, 'Running now')).toBe(releaseKey);
    // The release that runs now is the one the stack went back to, not one that failed: the message must
    // neither call it the failed release nor claim it was marked failed (nothing marked it).
    expect(bodyField(body, 'Failed release')).toBeUndefined();
    expect(body).not.toContain('marked failed');
    expect(settled).toEqual({
      verdict: 'reconciled',
      stage: stage.name,
      outcome: 'in-sync',
      notified: false,
    });
    expect((await parameterHistory(world, stage.ssmParameter)).flatMap((v) => v.Labels ?? [])).not.toContain(
      'failed-v2',
    );
  });
});

describe('a stack creation of ours rolled back (ROLLBACK_COMPLETE)', () => {
  test('after a person deletes the stack, the failed release is not created again', async () => {
    const world = await worlds.create();
    const stage = stageOf(world);
    const { execution } = await uploadedBuild(world);
    const created = await deploy(world, execution);
    expect(created.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 1 });
    await inbox(world);
    const target = await targetOf(world);
    const token = await runTokenOf(world, 'dev', 1);

    // The creation "rolled back": the reconcile trigger marks version 1 failed.
    const rolledBack = await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-rollback-complete.json', target, { token }),
    );
    expect(rolledBack).toMatchObject({ verdict: 'reconciled', markedFailed: 1 });
    expect((await parameterHistory(world, stage.ssmParameter))[0]?.Labels).toContain('failed-v1');

    // The next step the message gives for ROLLBACK_COMPLETE: a person deletes the stack.
    await deleteStageStack(world);
    const changeSetsBefore = await changeSetsOf(world, stage.stack);
    const deleted = await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-delete-complete.json', target, { token: consoleToken() }),
    );

    // The failed release is not retried: no stack is created from it, no change set is made for it.
    expect(deleted).toMatchObject({ verdict: 'reconciled', stage: stage.name, outcome: 'blocked' });
    const stack = await stackOf(world, stage.stack);
    expect(stack === undefined || stack.StackStatus === 'DELETE_COMPLETE').toBe(true);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect((await inbox(world)).map((m) => m.attributes.outcome)).not.toContain('deploying');
  });
});
