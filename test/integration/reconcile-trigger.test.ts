/**
 * The reconcile trigger against moto: a release recorded while the stack was busy is deployed when the
 * stack's status event says it settled, and the schedule heals a stage whose desired release differs from
 * what its stack runs. State (stack parameters, change sets, SSM) and the ops messages are read back.
 */
import { handleReconcileTrigger, handleStackSettled } from '../../shared/triggers/reconcile';
import { onlyMessage, worldsOfFile } from './helpers/file-setup';
import {
  createOtherStack,
  recordRelease,
  scheduleEvent,
  stackStatusEvent,
  targetOf,
  withTarget,
} from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  REGION,
  stackOf,
  stackStatusEvents,
  stageOf,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();

describe('a stack that was busy settles', () => {
  test('the release recorded meanwhile is deployed, and the ops team hears why', async () => {
    // Release A is deployed (change set v2) ...
    const { world, stage, target, releaseKey: keyA } = await withTarget(await worlds.deployed());
    // ... and while its update runs, build B is recorded as desired (the deploy path found the stack busy).
    const second = newExecution(hoursAfterBase(1));
    const { release: releaseB, recorded } = await recordRelease(world, second);
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 3 });
    expect(releaseB.key).not.toBe(keyA);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(keyA);
    const tokenA = `deploy-${stage.name}-v2`;

    // An in-progress status does not reconcile.
    const inProgress = await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { status: 'UPDATE_IN_PROGRESS', token: tokenA }),
    );
    expect(inProgress).toEqual({ verdict: 'ignored', reason: 'in-progress status UPDATE_IN_PROGRESS' });
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(keyA);
    expect(await changeSetsOf(world, stage.stack)).toHaveLength(1);

    // A's update completes.
    const settled = await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token: tokenA }),
    );

    expect(settled).toEqual({
      verdict: 'reconciled',
      stage: stage.name,
      outcome: 'deploying',
      notified: true,
    });
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseB.key);
    expect((await changeSetsOf(world, stage.stack)).map((c) => [c.ChangeSetName, c.ExecutionStatus])).toEqual(
      [
        [tokenA, 'EXECUTE_COMPLETE'],
        [`deploy-${stage.name}-v3`, 'EXECUTE_COMPLETE'],
      ],
    );
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(2);
    // Reconciling wrote nothing to the desired state and marked nothing failed.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => v.Value)).toEqual([expect.any(String), keyA, releaseB.key]);
    expect(history.flatMap((v) => v.Labels ?? []).filter((l) => l.startsWith('failed-'))).toEqual([]);

    const message = await onlyMessage(world);
    expect(message.subject).toBe(`[${stage.name}] ${stage.stack} DEPLOYING ${second.commitId.slice(0, 7)}`);
    expect(message.attributes).toEqual({
      stage: stage.name,
      stack: stage.stack,
      outcome: 'deploying',
      severity: 'info',
      status: 'UPDATE_IN_PROGRESS',
    });
    const body = message.body;
    expect(bodyField(body, 'Triggered by')).toBe(`stack ${stage.stack} reached UPDATE_COMPLETE`);
    expect(bodyField(body, 'Release')).toBe(releaseB.key);
    expect(bodyField(body, 'Commit')).toBe(second.commitId);
    expect(bodyField(body, 'Desired')).toBe(`${stage.ssmParameter} version 3`);
    expect(bodyField(body, 'Running')).toBe(keyA);
    expect(bodyField(body, 'Change set')).toBe(`deploy-${stage.name}-v3`);
    expect(bodyField(body, 'Region')).toBe(REGION);
    expect(bodyField(body, 'Pipeline')).toBeUndefined();

    // B's own completion finds the stage in sync: nothing to do, nothing to say.
    const again = await handleReconcileTrigger(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token: `deploy-${stage.name}-v3` }),
    );
    expect(again).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'in-sync', notified: false },
    ]);
    expect(await changeSetsOf(world, stage.stack)).toHaveLength(2);
    expect(await inbox(world)).toEqual([]);
  });

  test('a stack outside the configuration is left alone', async () => {
    const world = await worlds.create();
    const other = await createOtherStack(world, `it-${world.id}-other`);

    const summary = await handleStackSettled(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', other),
    );

    expect(summary).toEqual({ verdict: 'ignored', reason: 'not the stack of a configured stage' });
    expect(await changeSetsOf(world, other.stack)).toEqual([]);
    expect(artifactKeyOf(await stackOf(world, other.stack))).toBe('releases/other/app.zip');
    expect(await inbox(world)).toEqual([]);
  });

  test('an event from another account is rejected', async () => {
    const { world } = await worlds.withStack();
    const event = {
      ...stackStatusEvent('stack-update-complete.json', await targetOf(world)),
      account: '210987654321',
    };

    const summary = await handleStackSettled(world.runtime, event);

    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain('210987654321');
    expect(await changeSetsOf(world, stageOf(world).stack)).toEqual([]);
  });
});

describe('the schedule', () => {
  test('reconciles the stage whose desired release differs from its stack, and only that one', async () => {
    const world = await worlds.create([{ name: 'dev' }, { name: 'qa' }]);
    const dev = stageOf(world, 'dev');
    const qa = stageOf(world, 'qa');
    const devInitial = await createStackFor(world, 'dev');
    const qaInitial = await createStackFor(world, 'qa');
    // dev's newer release was recorded, but its deploy never happened (a lost event, a crash).
    const execution = newExecution(hoursAfterBase(0));
    const { release, recorded } = await recordRelease(world, execution, 'dev');
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 2 });
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(devInitial);

    const summaries = await handleReconcileTrigger(world.runtime, scheduleEvent());

    expect(summaries).toEqual([
      { verdict: 'reconciled', stage: dev.name, outcome: 'deploying', notified: true },
      { verdict: 'reconciled', stage: qa.name, outcome: 'in-sync', notified: false },
    ]);
    const devStack = await stackOf(world, dev.stack);
    expect(devStack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(devStack)).toBe(release.key);
    expect((await changeSetsOf(world, dev.stack)).map((c) => c.ChangeSetName)).toEqual([
      `deploy-${dev.name}-v2`,
    ]);
    expect(artifactKeyOf(await stackOf(world, qa.stack))).toBe(qaInitial);
    expect(await changeSetsOf(world, qa.stack)).toEqual([]);

    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${dev.name}] ${dev.stack} DEPLOYING ${execution.commitId.slice(0, 7)}`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe('the scheduled reconcile');
    expect(bodyField(messages[0]?.body ?? '', 'Running')).toBe(devInitial);

    // The next run finds everything in sync.
    expect((await handleReconcileTrigger(world.runtime, scheduleEvent())).map((s) => s.outcome)).toEqual([
      'in-sync',
      'in-sync',
    ]);
    expect(await inbox(world)).toEqual([]);
  });
});
