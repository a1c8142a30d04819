/**
 * Alarm-gated deploys on moto: a release deployed to a stage with alarms bakes after its stack settles; an
 * alarm in ALARM within the bake (its event, or the schedule reading the alarm's state when the event was
 * lost) rolls the stage back on its own; a bake that ends with its alarms OK passes and promotes, once. moto's
 * CloudWatch holds real alarms (PutMetricAlarm, SetAlarmState, DescribeAlarms); the events CloudWatch and
 * CloudFormation would send are fed to the handlers' shared code, and time is the runtime's injected clock.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { readBake } from '../../shared/aws/bake-record';
import { markFailed } from '../../shared/aws/release-history';
import { stageStatus } from '../../shared/operations/index';
import type { Runtime } from '../../shared/runtime';
import { reconcile } from '../../shared/stage/reconcile';
import { handleAlarmEvent } from '../../shared/triggers/alarm';
import { handleReconcileTrigger, handleStackSettled } from '../../shared/triggers/reconcile';
import { runTokenOf } from './helpers/runs';
import {
  configuredStage,
  recordRelease,
  runtimeWith,
  scheduleEvent,
  stackStatusEvent,
  targetOf,
} from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  createWorld,
  describeChangeSet,
  destroyWorld,
  inbox,
  newExecution,
  parameterHistory,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(120_000);

const SETTLED_AT = '2026-11-20T10:10:00.000Z';
const minutesAfterSettle = (minutes: number): number => Date.parse(SETTLED_AT) + minutes * 60_000;
const REASON =
  'Threshold Crossed: 1 out of the last 1 datapoints [12.0 (20/11/26 10:23:00)] was greater than the threshold (5.0).';

interface AlarmWorld {
  world: World;
  /** The world's runtime with dev alarm-gated (bake 15 minutes) and promoting to prod, at `clock`. */
  runtime: Runtime;
  clock: { now: number };
  alarm: string;
  initialKey: string;
  prodInitialKey: string;
}

const worlds: World[] = [];
afterAll(() => {
  for (const world of worlds) destroyWorld(world);
});

const alarmWorld = async (dev: Record<string, unknown> = {}): Promise<AlarmWorld> => {
  const world = await createWorld([{ name: 'dev' }, { name: 'prod' }]);
  worlds.push(world);
  const initialKey = await createStackFor(world, 'dev');
  const prodInitialKey = await createStackFor(world, 'prod');
  const alarm = `it-${world.id}-5xx`;
  await world.clients.cw.send(
    new PutMetricAlarmCommand({
      AlarmName: alarm,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  const clock = { now: Date.parse(SETTLED_AT) };
  const runtime: Runtime = {
    ...runtimeWith(world, {
      stages: {
        dev: { alarms: [alarm], bakeMinutes: 15, promoteTo: [stageOf(world, 'prod').name], ...dev },
      },
    }),
    now: () => clock.now,
  };
  return { world, runtime, clock, alarm, initialKey, prodInitialKey };
};

const devStage = (w: AlarmWorld) => configuredStage({ ...w.world, runtime: w.runtime }, 'dev');

/** Deploy a new build to dev only (recorded as its next version; moto executes the change set at once). */
const deployBuild = async (w: AlarmWorld): Promise<string> => {
  const { release } = await recordRelease(w.world, newExecution(), 'dev');
  expect((await reconcile(w.runtime, devStage(w))).outcome).toBe('deploying');
  return release.key;
};

/** The UPDATE_COMPLETE event of the deployer's run for a version of dev, as CloudFormation would send it. */
const settle = async (w: AlarmWorld, version: number, time = SETTLED_AT) =>
  handleStackSettled(
    w.runtime,
    stackStatusEvent('stack-update-complete.json', await targetOf(w.world, 'dev'), {
      token: await runTokenOf(w.world, 'dev', version),
      time,
    }),
  );

/** events/alarm-state-change.json for the world's alarm, in ALARM at `at`. */
const alarmEvent = (w: AlarmWorld, at: string, value = 'ALARM') => {
  const event = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'events', 'alarm-state-change.json'), 'utf8'),
  ) as { id: string; detail: { alarmName: string; state: Record<string, string> }; resources: string[] };
  event.id = randomUUID();
  event.resources = [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${w.alarm}`];
  event.detail.alarmName = w.alarm;
  event.detail.state = { value, reason: REASON, timestamp: at.replace(/Z$/, '+0000') };
  return event;
};

const setAlarm = (w: AlarmWorld, value: 'ALARM' | 'OK') =>
  w.world.clients.cw.send(
    new SetAlarmStateCommand({ AlarmName: w.alarm, StateValue: value, StateReason: REASON }),
  );

const schedule = async (w: AlarmWorld, minutes: number) => {
  w.clock.now = minutesAfterSettle(minutes);
  return handleReconcileTrigger(w.runtime, scheduleEvent());
};

const devHistory = (w: AlarmWorld) => parameterHistory(w.world, stageOf(w.world, 'dev').ssmParameter);
const prodHistory = (w: AlarmWorld) => parameterHistory(w.world, stageOf(w.world, 'prod').ssmParameter);
const devArtifact = async (w: AlarmWorld) =>
  artifactKeyOf(await stackOf(w.world, stageOf(w.world, 'dev').stack));
const provenance = (version: { Description?: string } | undefined) =>
  JSON.parse(version?.Description ?? '{}') as Record<string, unknown>;

/**
 * A good release deployed to dev (version 2), then the release under test deployed and settled (version 3):
 * baking, not promoted.
 */
const baking = async (w: AlarmWorld): Promise<Releases> => {
  const good = await deployBuild(w);
  const bad = await deployBuild(w);
  const settled = await settle(w, 3);
  expect(settled).toMatchObject({ verdict: 'reconciled', outcome: 'in-sync' });
  expect(settled.promoted).toBeUndefined();
  await inbox(w.world);
  return { good, bad };
};

interface Releases {
  good: string;
  bad: string;
}

/** The stage rolled back from version 3 to the good release as version 4, by the alarm. */
const expectRolledBack = async (w: AlarmWorld, { good, bad }: Releases) => {
  const history = await devHistory(w);
  expect(history.map((v) => [v.Version, v.Value])).toEqual([
    [1, w.initialKey],
    [2, good],
    [3, bad],
    [4, good],
  ]);
  expect(history[2]?.Labels).toContain('failed-v3');
  expect(provenance(history[3])).toMatchObject({
    action: 'auto-rollback',
    by: `alarm ${w.alarm}`,
    from: '3',
  });
  expect(await devArtifact(w)).toBe(good);
};

const expectOneRollbackMessage = async (w: AlarmWorld, { good }: Releases) => {
  const messages = await inbox(w.world);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  const dev = stageOf(w.world, 'dev');
  expect(message?.subject).toBe(`[${dev.name}] ${dev.stack} ROLLED BACK alarm ${w.alarm}`);
  expect(bodyField(message?.body ?? '', 'Alarm reason')).toBe(JSON.stringify(REASON));
  expect(bodyField(message?.body ?? '', 'Alarm')).toMatch(new RegExp(`^${w.alarm} went to ALARM at `));
  expect(bodyField(message?.body ?? '', 'Back to')).toBe(good);
  expect(message?.attributes).toMatchObject({ outcome: 'auto-rollback', severity: 'error' });
};

describe('an alarm in ALARM while a release bakes', () => {
  test('rolls the stage back to its previous release, once, and tells the ops team once', async () => {
    const w = await alarmWorld();
    const releases = await baking(w);
    const dev = devStage(w);
    // Every change set of the stage carries the alarm as a rollback trigger; moto keeps none of it.
    const [changeSet] = await changeSetsOf(w.world, dev.stack);
    const described = await describeChangeSet(w.world, dev.stack, changeSet?.ChangeSetName ?? '');
    expect(described.RollbackConfiguration?.RollbackTriggers ?? []).toEqual([]);
    const status = await stageStatus(w.runtime, dev);
    expect(status.baking).toEqual({ version: 3, until: '2026-11-20T10:25:00.000Z', alarms: [w.alarm] });

    await setAlarm(w, 'ALARM');
    const event = alarmEvent(w, '2026-11-20T10:24:40.989Z');
    const summaries = await handleAlarmEvent(w.runtime, event);

    expect(summaries).toEqual([
      { verdict: 'rolled-back', stage: dev.name, version: 3, rollbackVersion: 4, notified: true },
    ]);
    await expectRolledBack(w, releases);
    await expectOneRollbackMessage(w, releases);
    expect((await readBake(w.world.clients.s3, dev))?.state).toBe('rolled-back');
    expect((await stageStatus(w.runtime, dev)).baking).toBeUndefined();

    // The same event again: nothing new, nobody told. Neither does the schedule, nor the rollback's settling.
    expect(await handleAlarmEvent(w.runtime, event)).toEqual([
      expect.objectContaining({ verdict: 'ignored', stage: dev.name }),
    ]);
    await settle(w, 4);
    await schedule(w, 30);
    expect(await devHistory(w)).toHaveLength(4);
    expect(await inbox(w.world)).toEqual([]);
    // The restored release does not bake (the alarm still fires), and the bad one is never promoted.
    expect((await readBake(w.world.clients.s3, dev))?.version).toBe(3);
    expect((await prodHistory(w)).map((v) => v.Value)).not.toContain(releases.bad);
  });

  test('a rollback recorded but not told (the publish failed) is told by the redelivered event', async () => {
    const w = await alarmWorld();
    const releases = await baking(w);
    const event = alarmEvent(w, '2026-11-20T10:24:40.989Z');
    const broken: Runtime = {
      ...w.runtime,
      settings: { ...w.runtime.settings, topicArn: `${w.world.topicArn}-gone` },
    };
    await expect(handleAlarmEvent(broken, event)).rejects.toThrow();
    await expectRolledBack(w, releases);
    expect(await inbox(w.world)).toEqual([]);

    expect(await handleAlarmEvent(w.runtime, event)).toEqual([
      expect.objectContaining({ verdict: 'rolled-back', version: 3, rollbackVersion: 4, notified: true }),
    ]);
    await expectOneRollbackMessage(w, releases);
    expect(await devHistory(w)).toHaveLength(4);
    expect(await handleAlarmEvent(w.runtime, event)).toEqual([
      expect.objectContaining({ verdict: 'ignored' }),
    ]);
    await schedule(w, 30);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('an alarm after a newer build was recorded does nothing', async () => {
    const w = await alarmWorld();
    await baking(w);
    const newer = await deployBuild(w);
    await inbox(w.world);

    const summaries = await handleAlarmEvent(w.runtime, alarmEvent(w, '2026-11-20T10:12:00.000Z'));

    expect(summaries).toEqual([
      expect.objectContaining({
        verdict: 'ignored',
        reason: expect.stringContaining('version 4 is desired'),
      }),
    ]);
    const history = await devHistory(w);
    expect(history).toHaveLength(4);
    expect(history.flatMap((v) => v.Labels ?? [])).not.toContain('failed-v3');
    expect(await devArtifact(w)).toBe(newer);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('without an earlier good release: the release is marked failed and the ops team told, once', async () => {
    const w = await alarmWorld();
    const dev = devStage(w);
    const { bad } = await baking(w);
    await markFailed(w.world.clients.ssm, dev, 1);
    await markFailed(w.world.clients.ssm, dev, 2);

    const event = alarmEvent(w, '2026-11-20T10:20:00.000Z');
    const summaries = await handleAlarmEvent(w.runtime, event);

    expect(summaries).toEqual([
      expect.objectContaining({ verdict: 'no-good-release', stage: dev.name, version: 3 }),
    ]);
    const history = await devHistory(w);
    expect(history).toHaveLength(3);
    expect(history[2]?.Labels).toContain('failed-v3');
    expect(await devArtifact(w)).toBe(bad);
    const messages = await inbox(w.world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${dev.name}] ${dev.stack} NOT ROLLED BACK alarm ${w.alarm}`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Not rolled back')).toContain('no earlier release');
    expect(messages[0]?.attributes).toMatchObject({ outcome: 'auto-rollback-impossible' });

    await handleAlarmEvent(w.runtime, event);
    await schedule(w, 30);
    expect(await inbox(w.world)).toEqual([]);
    expect(await devHistory(w)).toHaveLength(3);
  });
});

describe('the schedule ends a bake', () => {
  test('after the bake, with the alarm in ALARM (its event lost): rolls back', async () => {
    const w = await alarmWorld();
    const releases = await baking(w);
    await setAlarm(w, 'ALARM');

    await schedule(w, 10);
    expect(await devHistory(w)).toHaveLength(3);
    expect(await inbox(w.world)).toEqual([]);

    await schedule(w, 16);
    await expectRolledBack(w, releases);
    await expectOneRollbackMessage(w, releases);
    expect(await prodHistory(w)).toHaveLength(1);
  });

  test('after the bake, with the alarm OK: the bake passes and the release is promoted, once', async () => {
    const w = await alarmWorld();
    const { bad: key } = await baking(w);
    const prod = stageOf(w.world, 'prod');

    await schedule(w, 14);
    expect(await prodHistory(w)).toHaveLength(1);

    await schedule(w, 16);
    const history = await prodHistory(w);
    expect(history.map((v) => v.Value)).toEqual([w.prodInitialKey, key]);
    expect(provenance(history[1])).toMatchObject({
      action: 'promote',
      by: `auto-promotion of ${stageOf(w.world, 'dev').name}`,
    });
    expect(artifactKeyOf(await stackOf(w.world, prod.stack))).toBe(key);
    expect((await inbox(w.world)).map((m) => m.subject)).toEqual([
      expect.stringMatching(new RegExp(`^\\[${prod.name}\\] ${prod.stack} DEPLOYING`)),
    ]);
    const bake = await readBake(w.world.clients.s3, devStage(w));
    expect(bake).toMatchObject({
      state: 'passed',
      promotedAt: new Date(minutesAfterSettle(16)).toISOString(),
    });

    // Passed for good: a later alarm, or the schedule, neither rolls back nor promotes again.
    await setAlarm(w, 'ALARM');
    expect(await handleAlarmEvent(w.runtime, alarmEvent(w, '2026-11-20T10:27:00.000Z'))).toEqual([
      expect.objectContaining({ verdict: 'ignored' }),
    ]);
    await schedule(w, 40);
    expect(await prodHistory(w)).toHaveLength(2);
    expect(await devHistory(w)).toHaveLength(3);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('a bake of 0 minutes passes when the stack settles: promoted at once, as without alarms', async () => {
    const w = await alarmWorld({ bakeMinutes: 0 });
    const key = await deployBuild(w);
    const settled = await settle(w, 2);
    expect(settled.promoted).toEqual([stageOf(w.world, 'prod').name]);
    expect((await prodHistory(w)).map((v) => v.Value)).toEqual([w.prodInitialKey, key]);
  });
});
