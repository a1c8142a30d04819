/**
 * The CloudFormation sample events of events/ (API calls via CloudTrail, stack status changes, the
 * schedule), typed from the schemas that accept them so that a schema change breaks the fixtures at compile
 * time, and the names the samples use (stack ids, parameters, access keys). Nothing here talks to the
 * network.
 */
import type * as z from 'zod/mini';
import type { userIdentity } from '../../../shared/edge/callers';
import type { envelope } from '../../../shared/edge/events';
import type { apiCallSchema, statusChangeSchema } from '../../../shared/edge/stack-events';
import { ACCOUNT, REGION, readEventSample } from './fixtures';

export type StatusEventName =
  | 'stack-update-complete'
  | 'stack-update-rollback-complete'
  | 'stack-update-rollback-failed'
  | 'stack-create-failed'
  | 'stack-rollback-complete'
  | 'stack-delete-complete';

export type ApiCallEventName =
  | 'cloudtrail-create-stack'
  | 'cloudtrail-update-stack'
  | 'cloudtrail-execute-change-set'
  | 'cloudtrail-execute-change-set-by-arn'
  | 'cloudtrail-update-stack-failed'
  | 'cloudtrail-delete-stack';

export const STATUS_EVENTS: StatusEventName[] = [
  'stack-update-complete',
  'stack-update-rollback-complete',
  'stack-update-rollback-failed',
  'stack-create-failed',
  'stack-rollback-complete',
  'stack-delete-complete',
];

/** The samples that name their stack (the by-ARN sample names only its change set: its stack is looked up). */
export const API_CALL_EVENTS: ApiCallEventName[] = [
  'cloudtrail-create-stack',
  'cloudtrail-update-stack',
  'cloudtrail-execute-change-set',
  'cloudtrail-update-stack-failed',
  'cloudtrail-delete-stack',
];

/**
 * The EventBridge envelope of the samples, as the schema takes it in. Damage beyond what its types allow
 * (a wrong type, a missing required field) goes through `loose` of fixtures.ts.
 */
export type EnvelopeSample = z.input<ReturnType<typeof envelope>>;
export type StatusChangeSample = z.input<ReturnType<typeof statusChangeSchema>>;
export type IdentitySample = z.input<ReturnType<typeof userIdentity>>;
export type ApiCallSample = z.input<ReturnType<typeof apiCallSchema>>;

/** A fresh copy of a stack status change sample, optionally changed first. */
export const statusEvent = (
  name: StatusEventName,
  change: (event: StatusChangeSample) => void = () => {},
): StatusChangeSample => {
  const event = readEventSample<StatusChangeSample>(name);
  change(event);
  return event;
};

/** A fresh copy of a CloudTrail API call sample, optionally changed first. */
export const apiCallEvent = (
  name: ApiCallEventName,
  change: (event: ApiCallSample) => void = () => {},
): ApiCallSample => {
  const event = readEventSample<ApiCallSample>(name);
  change(event);
  return event;
};

/** A fresh copy of events/schedule.json. */
export const scheduleEvent = (): EnvelopeSample => readEventSample<EnvelopeSample>('schedule');

/** The stack ids of the samples. */
export const STACK_IDS = {
  dev: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/orders-api-dev/6f1c2d3e-4a5b-11ef-9c8d-0a1b2c3d4e5f`,
  prod: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/orders-api-prod/0b9a8c7d-4a5b-11ef-8e7f-0a1b2c3d4e60`,
} as const;

export const PARAMETERS = {
  dev: '/deployer/orders-api/dev/artifact',
  prod: '/deployer/orders-api/prod/artifact',
} as const;

/** The access keys in the samples: they must never appear in a message. */
export const SAMPLE_ACCESS_KEYS = ['AKIAIOSFODNN7EXAMPLE', 'ASIAEXAMPLEKEY123456'];
