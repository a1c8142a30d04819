/**
 * "CloudWatch Alarm State Change" events (source aws.cloudwatch): which alarm changed, to what state, why, and
 * when. Accepted from the deployer's own account and region, and from a configured stage's account and region
 * (forwarded by targets/template.yaml) — the same rule as stack events (stage-place.ts).
 */
import * as z from 'zod/mini';
import type { DeployerConfig } from './config';
import { describeIssues, envelope, freeText, shortText } from './events';
import { built } from './schema';
import { type Home, stackEventRefusal } from './stage-place';

export const ALARM_DETAIL_TYPE = 'CloudWatch Alarm State Change';

const alarmState = () =>
  z.looseObject({
    value: shortText(32),
    reason: z.optional(freeText()),
    /** CloudWatch writes "2019-10-02T17:04:40.989+0000": parsed by alarmTime, not by an ISO schema. */
    timestamp: z.optional(shortText(64)),
  });

export const alarmEventSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(ALARM_DETAIL_TYPE),
    source: z.literal('aws.cloudwatch'),
    detail: z.looseObject({
      alarmName: z.string().check(z.minLength(1), z.maxLength(255)),
      state: alarmState(),
      previousState: z.optional(alarmState()),
    }),
  }),
);

/** An alarm's state change in the deployer's words. */
export interface AlarmChange {
  eventId: string;
  account: string;
  region: string;
  alarm: string;
  state: string;
  previous?: string;
  /** CloudWatch's reason for the new state: outside text, shown quoted. */
  reason: string;
  /** When the alarm entered the state (the event's time when the detail's is unreadable). */
  at: string;
}

/** Whether an event claims to be an alarm state change (then it is parsed here, or rejected). */
export const isAlarmEvent = (raw: unknown): boolean =>
  typeof raw === 'object' && raw !== null && (raw as Record<string, unknown>).source === 'aws.cloudwatch';

/** CloudWatch's "+0000" offset as ISO 8601's "+00:00"; undefined for a time that does not parse. */
export const alarmTime = (text: string | undefined): string | undefined => {
  if (!text) return undefined;
  const iso = text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
};

/** Parse an alarm event and check where it comes from: the change, or why it is rejected. */
export const acceptAlarmEvent = (
  scope: { settings: Home; config: DeployerConfig },
  raw: unknown,
): { change: AlarmChange } | { rejected: string } => {
  const parsed = alarmEventSchema().safeParse(raw);
  if (!parsed.success) return { rejected: `malformed alarm event: ${describeIssues(parsed.error)}` };
  const event = parsed.data;
  const refusal = stackEventRefusal(scope.config, scope.settings, event);
  if (refusal) return { rejected: refusal };
  const { detail } = event;
  return {
    change: {
      eventId: event.id,
      account: event.account,
      region: event.region,
      alarm: detail.alarmName,
      state: detail.state.value,
      ...(detail.previousState ? { previous: detail.previousState.value } : {}),
      reason: detail.state.reason ?? '',
      at: alarmTime(detail.state.timestamp) ?? new Date(event.time).toISOString(),
    },
  };
};
