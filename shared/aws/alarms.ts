/**
 * The CloudWatch alarms of an alarm-gated stage: their ARNs (CloudFormation's rollback triggers name alarms by
 * ARN, in the stage's own account and region), the RollbackConfiguration every change set of the stage
 * carries, and the alarms' current states (DescribeAlarms), which the schedule reads before a bake passes:
 * an ALARM whose event was lost must not let a bad release pass.
 */
import type { RollbackConfiguration } from '@aws-sdk/client-cloudformation';
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { ALARM_NAME } from '../edge/alarm-config';
import type { Place } from '../edge/stage-place';
import { DeployerError } from '../errors';

/** The partition of a region: aws-cn for China, aws-us-gov for GovCloud, aws elsewhere. */
export const partitionOf = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/** An alarm's ARN in the stage's account and region; the name is checked again before it reaches the ARN. */
export const alarmArn = (place: Place, name: string): string => {
  if (!ALARM_NAME.test(name))
    throw new DeployerError(`invalid alarm name ${JSON.stringify(name.slice(0, 80))}`);
  return `arn:${partitionOf(place.region)}:cloudwatch:${place.region}:${place.account}:alarm:${name}`;
};

/** The change set's rollback configuration for a stage with alarms; undefined for a stage without. */
export const rollbackConfigurationOf = (
  place: Place,
  stage: { alarms: string[]; monitoringMinutes?: number | undefined },
): RollbackConfiguration | undefined =>
  stage.alarms.length === 0
    ? undefined
    : {
        RollbackTriggers: stage.alarms.map((name) => ({
          Arn: alarmArn(place, name),
          Type: 'AWS::CloudWatch::Alarm',
        })),
        MonitoringTimeInMinutes: stage.monitoringMinutes ?? 0,
      };

export interface AlarmState {
  name: string;
  /** OK, ALARM or INSUFFICIENT_DATA; MISSING when CloudWatch has no alarm of that name. */
  value: string;
  reason?: string;
  /** When the alarm entered its state (ISO 8601). */
  since?: string;
}

/** The current state of each named alarm (one DescribeAlarms: at most 5 names, one page). */
export const alarmStates = async (cw: CloudWatchClient, names: string[]): Promise<AlarmState[]> => {
  if (names.length === 0) return [];
  const response = await cw.send(
    new DescribeAlarmsCommand({ AlarmNames: names, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
  );
  const found = [...(response.MetricAlarms ?? []), ...(response.CompositeAlarms ?? [])];
  return names.map((name) => {
    const alarm = found.find((a) => a.AlarmName === name);
    if (!alarm) return { name, value: 'MISSING' };
    return {
      name,
      value: alarm.StateValue ?? 'INSUFFICIENT_DATA',
      ...(alarm.StateReason ? { reason: alarm.StateReason } : {}),
      ...(alarm.StateUpdatedTimestamp ? { since: alarm.StateUpdatedTimestamp.toISOString() } : {}),
    };
  });
};
