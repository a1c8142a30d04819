/**
 * Alarm-gated deploys: the stage fields, the rollback configuration every change set carries, the alarm
 * state change event (and who may send it), and the bake decision as a pure function of times and states.
 */
import { CloudFormationClient, CreateChangeSetCommand } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterHistoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { alarmArn, rollbackConfigurationOf } from '../../shared/aws/alarms';
import type { BakeRecord } from '../../shared/aws/bake-record';
import { createChangeSet } from '../../shared/aws/change-sets';
import { bakeMinutesOf } from '../../shared/edge/alarm-config';
import { acceptAlarmEvent, alarmTime } from '../../shared/edge/alarm-events';
import { parseConfig } from '../../shared/edge/config';
import {
  bakeUntil,
  type DesiredNow,
  decideOnAlarm,
  decideOnSchedule,
  isRestoring,
  isUnreportedRollback,
  verdictAfterBake,
} from '../../shared/stage/bake';
import { endDueBakes } from '../../shared/triggers/alarm';
import { ACCOUNT, makeRuntime, REGION, repoConfigText, stageOf, thrownBy } from './helpers/fixtures';

const withDev = (fields: string): string =>
  repoConfigText().replace('        stack: orders-api-dev\n', `        stack: orders-api-dev\n${fields}`);
const GATED = withDev('        alarms: [orders-5xx, orders-latency]\n        monitoringMinutes: 10\n');

describe('the alarm fields of a stage', () => {
  it('accepts alarms with a default bake of 15 minutes, and an explicit bake', () => {
    const dev = stageOf(parseConfig(GATED), 'dev');
    expect(dev.alarms).toEqual(['orders-5xx', 'orders-latency']);
    expect(bakeMinutesOf(dev)).toBe(15);
    const explicit = stageOf(parseConfig(withDev('        alarms: [a]\n        bakeMinutes: 0\n')), 'dev');
    expect(bakeMinutesOf(explicit)).toBe(0);
    expect(bakeMinutesOf(stageOf(parseConfig(repoConfigText()), 'dev'))).toBe(0);
  });

  it.each([
    ['alarms: [a, b, c, d, e, f]', 'alarms', 'at most 5 alarms'],
    ['alarms: [a, a]', 'alarms', 'names an alarm twice'],
    ['alarms: ["bad*name"]', 'alarms.0', 'a CloudWatch alarm name'],
    ['alarms: ["tab\\there"]', 'alarms.0', 'a CloudWatch alarm name'],
    ['alarms: [a]\n        bakeMinutes: 1441', 'bakeMinutes', 'from 0 to 1440'],
    ['alarms: [a]\n        monitoringMinutes: 181', 'monitoringMinutes', 'from 0 to 180'],
    ['bakeMinutes: 5', 'bakeMinutes', 'needs alarms'],
  ])('refuses %s, naming the field', (fields, field, message) => {
    const error = thrownBy(() => parseConfig(withDev(`        ${fields}\n`)));
    expect(error.message).toContain(`pipelines.orders-api-pipeline.stages.dev.${field}`);
    expect(error.message).toContain(message);
  });
});

describe('the rollback configuration of a change set', () => {
  const cfnMock = mockClient(CloudFormationClient);
  beforeEach(() => cfnMock.reset());

  it("names the stage's alarms by ARN, in the stage's account and region, with the monitoring time", async () => {
    const dev = stageOf(parseConfig(GATED), 'dev');
    const config = rollbackConfigurationOf({ account: ACCOUNT, region: REGION }, dev);
    cfnMock
      .on(CreateChangeSetCommand)
      .resolves({ Id: 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/x/1' });
    await createChangeSet(makeRuntime().clients.cfn, {
      stage: dev,
      name: 'deploy-dev-v1',
      token: 'deploy-dev-v1-0123456789abcdef01234567',
      artifactKey: 'releases/dev/x.zip',
      stack: undefined,
      template: { kind: 'previous' },
      ...(config ? { rollbackConfiguration: config } : {}),
    });
    expect(cfnMock).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      RollbackConfiguration: {
        RollbackTriggers: [
          { Arn: `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:orders-5xx`, Type: 'AWS::CloudWatch::Alarm' },
          {
            Arn: `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:orders-latency`,
            Type: 'AWS::CloudWatch::Alarm',
          },
        ],
        MonitoringTimeInMinutes: 10,
      },
    });
  });

  it('uses the partition and the account of a stage elsewhere, and none for a stage without alarms', () => {
    expect(alarmArn({ account: '210987654321', region: 'cn-north-1' }, 'x')).toBe(
      'arn:aws-cn:cloudwatch:cn-north-1:210987654321:alarm:x',
    );
    expect(rollbackConfigurationOf({ account: ACCOUNT, region: REGION }, { alarms: [] })).toBeUndefined();
    expect(thrownBy(() => alarmArn({ account: ACCOUNT, region: REGION }, 'a*')).message).toContain(
      'invalid alarm name',
    );
  });
});

const alarmEvent = (fields: { account?: string; region?: string; name?: string; value?: string } = {}) => ({
  version: '0',
  id: 'c4c1c1c9-6542-e61b-6ef0-8c4d36933a92',
  'detail-type': 'CloudWatch Alarm State Change',
  source: 'aws.cloudwatch',
  account: fields.account ?? ACCOUNT,
  time: '2026-11-20T10:05:00Z',
  region: fields.region ?? REGION,
  resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:orders-5xx`],
  detail: {
    alarmName: fields.name ?? 'orders-5xx',
    state: {
      value: fields.value ?? 'ALARM',
      reason: 'Threshold Crossed: 1 datapoint [12.0] > 5.0',
      timestamp: '2026-11-20T10:04:40.989+0000',
    },
    previousState: { value: 'OK', reason: 'ok', timestamp: '2026-11-20T09:00:00.000+0000' },
  },
});

describe('the alarm state change event', () => {
  const runtime = makeRuntime(GATED);

  it("reads CloudWatch's event, its +0000 timestamp included", () => {
    const accepted = acceptAlarmEvent(runtime, alarmEvent());
    expect(accepted).toEqual({
      change: expect.objectContaining({
        alarm: 'orders-5xx',
        state: 'ALARM',
        previous: 'OK',
        at: '2026-11-20T10:04:40.989Z',
      }),
    });
    expect(alarmTime('not a time')).toBeUndefined();
  });

  it('rejects an event from an account no stage lives in, and a malformed one', () => {
    expect(acceptAlarmEvent(runtime, alarmEvent({ account: '999999999999' }))).toEqual({
      rejected: expect.stringContaining('no stage lives in that account and region'),
    });
    expect(
      acceptAlarmEvent(runtime, {
        ...alarmEvent(),
        detail: { alarmName: 'x'.repeat(300), state: { value: 'ALARM' } },
      }),
    ).toEqual({
      rejected: expect.stringContaining('malformed alarm event'),
    });
  });
});

const BAKE: BakeRecord = {
  stage: 'dev',
  version: 7,
  key: 'releases/dev/bad.zip',
  token: 'deploy-dev-v7-0123456789abcdef01234567',
  status: 'UPDATE_COMPLETE',
  settledAt: '2026-11-20T10:00:00.000Z',
  until: bakeUntil('2026-11-20T10:00:00.000Z', 15),
  alarms: ['orders-5xx'],
  state: 'baking',
};
const trip = (fields: Partial<{ alarm: string; state: string; at: string }> = {}) => ({
  alarm: 'orders-5xx',
  state: 'ALARM',
  reason: 'Threshold Crossed',
  at: '2026-11-20T10:05:00.000Z',
  ...fields,
});

const desired = (version: number, provenance: DesiredNow['provenance'] = {}): DesiredNow => ({
  version,
  provenance,
});
const V7 = desired(7);
/** The automatic rollback of version 7, recorded as version 8. */
const ROLLBACK_V8 = desired(8, { action: 'auto-rollback', from: '7' });
const ROLLED_BACK: BakeRecord = { ...BAKE, state: 'rolled-back', endedBy: 'orders-5xx', reason: 'r' };

describe('the bake decision', () => {
  it('rolls back the baking, desired release on an alarm of its own within the bake', () => {
    expect(BAKE.until).toBe('2026-11-20T10:15:00.000Z');
    expect(decideOnAlarm(BAKE, V7, trip())).toEqual({
      kind: 'rollback',
      alarm: 'orders-5xx',
      reason: 'Threshold Crossed',
      at: trip().at,
    });
  });

  it.each([
    ['OK', trip({ state: 'OK' }), V7, 'none'],
    ['INSUFFICIENT_DATA', trip({ state: 'INSUFFICIENT_DATA' }), V7, 'none'],
    ['an alarm of another stage', trip({ alarm: 'payments-5xx' }), V7, 'none'],
    ['a newer build desired', trip(), desired(8, {}), 'none'],
    ["a person's rollback desired", trip(), desired(8, { action: 'rollback', from: '6' }), 'none'],
    ['an alarm after the bake', trip({ at: '2026-11-20T10:15:00.001Z' }), V7, 'late'],
  ])('does nothing for %s', (_, change, now, kind) => {
    expect(decideOnAlarm(BAKE, now, change).kind).toBe(kind);
  });

  it('does nothing for a bake that passed, or without a bake', () => {
    expect(decideOnAlarm({ ...BAKE, state: 'passed' }, V7, trip()).kind).toBe('none');
    expect(decideOnAlarm(undefined, V7, trip()).kind).toBe('none');
  });

  it('a redelivered alarm: nothing once the rollback was told; its message again when it was not', () => {
    expect(decideOnAlarm({ ...ROLLED_BACK, reported: true }, ROLLBACK_V8, trip()).kind).toBe('none');
    expect(decideOnAlarm(ROLLED_BACK, ROLLBACK_V8, trip())).toEqual({ kind: 'report' });
    expect(isUnreportedRollback(ROLLED_BACK, desired(8, { action: 'auto-rollback', from: '6' }))).toBe(false);
    // Its end recorded, its new version not (the rollback broke off): made again, with the first reason.
    expect(decideOnAlarm(ROLLED_BACK, V7, trip({ alarm: 'orders-5xx' }))).toMatchObject({
      kind: 'rollback',
      reason: 'r',
    });
  });

  it('no good release to go back to: told once, then nothing more', () => {
    const stranded: BakeRecord = { ...BAKE, state: 'no-good-release', endedBy: 'orders-5xx' };
    expect(decideOnAlarm(stranded, V7, trip()).kind).toBe('rollback');
    expect(decideOnSchedule(stranded, V7, new Date()).kind).toBe('rollback');
    expect(decideOnAlarm({ ...stranded, reported: true }, V7, trip()).kind).toBe('none');
    expect(decideOnSchedule({ ...stranded, reported: true }, V7, new Date()).kind).toBe('none');
  });

  it('on the schedule: baking until the bake time ends, then due; an unfinished end finished', () => {
    expect(decideOnSchedule(BAKE, V7, new Date('2026-11-20T10:14:59Z'))).toEqual({
      kind: 'baking',
      until: BAKE.until,
    });
    expect(decideOnSchedule(BAKE, V7, new Date('2026-11-20T10:15:00Z'))).toEqual({ kind: 'due' });
    expect(decideOnSchedule(BAKE, desired(8), new Date('2026-11-20T10:20:00Z')).kind).toBe('none');
    expect(decideOnSchedule(ROLLED_BACK, V7, new Date()).kind).toBe('rollback');
    expect(decideOnSchedule(ROLLED_BACK, ROLLBACK_V8, new Date()).kind).toBe('report');
    expect(decideOnSchedule({ ...ROLLED_BACK, reported: true }, ROLLBACK_V8, new Date()).kind).toBe('none');
    const passed: BakeRecord = { ...BAKE, state: 'passed' };
    expect(decideOnSchedule(passed, V7, new Date()).kind).toBe('promote');
    expect(decideOnSchedule({ ...passed, promotedAt: BAKE.until }, V7, new Date()).kind).toBe('none');
    expect(decideOnSchedule(passed, desired(8), new Date()).kind).toBe('none');
  });

  it('restoring versions (rollback, reject, auto-rollback) do not bake; builds and promotions do', () => {
    expect(['rollback', 'reject', 'auto-rollback'].map((action) => isRestoring({ action }))).toEqual([
      true,
      true,
      true,
    ]);
    expect([isRestoring({ action: 'promote' }), isRestoring({})]).toEqual([false, false]);
  });

  it('after the bake, an alarm in ALARM rolls back (its event was lost); OK, no data or missing pass', () => {
    const now = new Date('2026-11-20T10:20:00Z');
    expect(
      verdictAfterBake(
        [
          { name: 'a', value: 'OK' },
          { name: 'b', value: 'ALARM', reason: 'r', since: '2026-11-20T10:10:00.000Z' },
        ],
        now,
      ),
    ).toEqual({
      kind: 'rollback',
      alarm: 'b',
      reason: 'r',
      at: '2026-11-20T10:10:00.000Z',
    });
    expect(
      verdictAfterBake(
        [
          { name: 'a', value: 'INSUFFICIENT_DATA' },
          { name: 'b', value: 'MISSING' },
        ],
        now,
      ),
    ).toEqual({ kind: 'pass' });
  });
});

describe('the schedule checks every alarm-gated stage', () => {
  const s3Mock = mockClient(S3Client);
  const ssmMock = mockClient(SSMClient);
  beforeEach(() => {
    s3Mock.reset();
    ssmMock.reset();
  });

  it('one stage failing does not stop the others: they finish, then the check fails naming it', async () => {
    const both = GATED.replace(
      '        stack: orders-api-prod\n',
      '        stack: orders-api-prod\n        alarms: [orders-prod-5xx]\n',
    );
    const runtime = makeRuntime(both);
    const missing = Object.assign(new Error('no such key'), { name: 'NoSuchKey' });
    s3Mock
      .on(GetObjectCommand, { Key: '.deployer/bake/dev.json' })
      .rejects(new Error('S3 is down for dev'))
      .on(GetObjectCommand, { Key: '.deployer/bake/prod.json' })
      .rejectsOnce(missing);
    ssmMock.on(GetParameterHistoryCommand).resolves({ Parameters: [] });

    const error = await endDueBakes(runtime).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(AggregateError);
    expect((error as Error).message).toBe('bake check failed for dev: S3 is down for dev');
    // prod's bake was read (and found missing: nothing to do) before the check failed.
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { Key: '.deployer/bake/prod.json' });
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterHistoryCommand, 2);
  });
});
