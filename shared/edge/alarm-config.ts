/**
 * Alarm-gated deploys, per stage: the CloudWatch alarms that watch a stage's release, how long a release bakes
 * after its stack settles (an alarm in that time rolls the stage back on its own), and how long CloudFormation
 * itself watches them during and after the update (its RollbackConfiguration).
 */
import * as z from 'zod/mini';
import './schema';

/**
 * A CloudWatch alarm name as the deployer accepts it: 1 to 255 printable ASCII characters, not starting or
 * ending with a space (CloudWatch allows any UTF-8 but control characters; the name goes into an alarm ARN
 * and an IAM-scoped DescribeAlarms, so the deployer keeps to ASCII), and no "*" or "?" (not wildcards).
 */
export const ALARM_NAME = /^(?! )(?!.* $)[\x20-\x29\x2b-\x3e\x40-\x7e]{1,255}$/;
/** CloudFormation's RollbackTriggers limit. */
export const MAX_ALARMS = 5;
/** The bake time of a stage with alarms that names none. */
export const DEFAULT_BAKE_MINUTES = 15;

const minutes = (max: number) =>
  z
    .number({ error: `must be a whole number of minutes from 0 to ${max}` })
    .check(z.int(), z.gte(0), z.lte(max));

/**
 * The stage fields of alarm-gated deploys (spread into the stage schema), made when the schema is: the
 * functions use this module's names and limits, not the schema.
 */
export const alarmFields = () => ({
  alarms: z._default(
    z
      .array(
        z
          .string({ error: 'must be a string: a CloudWatch alarm name' })
          .check(
            z.regex(ALARM_NAME, 'a CloudWatch alarm name (1 to 255 printable ASCII characters, no * or ?)'),
          ),
      )
      .check(
        z.maxLength(MAX_ALARMS, `at most ${MAX_ALARMS} alarms (CloudFormation's rollback trigger limit)`),
        z.refine((names) => new Set(names).size === names.length, 'names an alarm twice'),
      ),
    [],
  ),
  /** Minutes a settled release bakes (0–1440); default 15 when alarms are named. */
  bakeMinutes: z.optional(minutes(1440)),
  /** CloudFormation's MonitoringTimeInMinutes (0–180) for the rollback triggers; default 0. */
  monitoringMinutes: z.optional(minutes(180)),
});

interface AlarmFields {
  alarms: string[];
  bakeMinutes?: number | undefined;
  monitoringMinutes?: number | undefined;
}

/** Bake and monitoring times mean nothing without alarms: each problem names its field. */
export const alarmIssues = (stage: AlarmFields): { field: string; message: string }[] =>
  stage.alarms.length > 0
    ? []
    : (['bakeMinutes', 'monitoringMinutes'] as const)
        .filter((field) => stage[field] !== undefined)
        .map((field) => ({ field, message: 'needs alarms: the CloudWatch alarms that watch the release' }));

/** Whether a stage's releases are watched by alarms (and so bake before they count as good). */
export const isAlarmGated = (stage: Pick<AlarmFields, 'alarms'>): boolean => stage.alarms.length > 0;

/** How long a settled release of the stage bakes, in minutes: 0 for a stage without alarms. */
export const bakeMinutesOf = (stage: AlarmFields): number =>
  isAlarmGated(stage) ? (stage.bakeMinutes ?? DEFAULT_BAKE_MINUTES) : 0;
