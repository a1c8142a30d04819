/**
 * Schemas for the CloudFormation events the notify and reconcile triggers accept: "AWS API Call via
 * CloudTrail" (who started what) and "CloudFormation Stack Status Change" (how it ended). Every string
 * that later reaches AWS is bounded and shaped here; free text that only reaches messages is bounded by
 * the event's own size and shortened where it is shown, so that no event is lost to its length.
 */

import * as z from 'zod/mini';
import { EventValidationError } from '../errors';
import { logger } from '../logger';
import { type Caller, callerOf, userIdentity } from './callers';
import type { DeployerConfig } from './config';
import { describeIssues, envelope, freeText, shaped, shortText } from './events';
import { built } from './schema';
import type { Settings } from './settings';
import { stackEventRefusal } from './stage-place';

const STACK_ARN =
  /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):stack\/([a-zA-Z][-a-zA-Z0-9]{0,127})\/[-a-zA-Z0-9]{1,64}$/;
const STACK_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;
/** A change set's ARN names its account, region and own name, but not its stack. */
const CHANGE_SET_ARN =
  /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):changeSet\/([a-zA-Z][-a-zA-Z0-9]{0,127})\/[-a-zA-Z0-9]{1,64}$/;
const STATUS = /^[A-Z_]{1,64}$/;
const text = shortText;

export const API_CALL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
export const STATUS_CHANGE_DETAIL_TYPE = 'CloudFormation Stack Status Change';

/** The stack operations whose API calls are reported. */
export const REPORTED_CALLS = [
  'CreateStack',
  'UpdateStack',
  'DeleteStack',
  'CreateChangeSet',
  'ExecuteChangeSet',
] as const;

/** A stack name, or the name inside a stack ARN; undefined for anything else. */
export const stackNameOf = (nameOrArn: string): string | undefined => {
  if (STACK_NAME.test(nameOrArn)) return nameOrArn;
  return STACK_ARN.exec(nameOrArn)?.[3];
};

/**
 * The stack and change set ARNs an event names must be of the account and region it came from: another
 * account's stack of the same name is not ours. Checked after the event itself is known to be from the
 * deployer's account.
 */
const assertStacksAreLocal = (event: StackEvent | ChangeSetCall): void => {
  const refs: [string, RegExp][] = event.stackRefs.map((ref) => [ref, STACK_ARN]);
  if (event.kind !== 'status-change' && event.changeSetArn) refs.push([event.changeSetArn, CHANGE_SET_ARN]);
  for (const [ref, pattern] of refs) {
    const match = pattern.exec(ref);
    if (match && (match[1] !== event.region || match[2] !== event.account)) {
      const what = pattern === STACK_ARN ? 'stack' : 'change set';
      throw new EventValidationError(
        `the event names a ${what} of account ${match[2]} in ${match[1]}, not of ${event.account} in ${event.region}`,
      );
    }
  }
};

export const apiCallSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(API_CALL_DETAIL_TYPE),
    source: z.literal('aws.cloudformation'),
    detail: z.looseObject({
      eventSource: z.literal('cloudformation.amazonaws.com'),
      eventName: text(128),
      eventTime: z.iso.datetime({ offset: true }),
      awsRegion: shaped(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region'),
      userIdentity: z.optional(userIdentity()),
      requestParameters: z.optional(
        z.nullable(
          z.looseObject({ stackName: z.optional(text(2048)), changeSetName: z.optional(text(2048)) }),
        ),
      ),
      responseElements: z.optional(z.nullable(z.looseObject({ stackId: z.optional(text(2048)) }))),
      errorCode: z.optional(freeText()),
      errorMessage: z.optional(freeText()),
    }),
  }),
);

export const statusChangeSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(STATUS_CHANGE_DETAIL_TYPE),
    source: z.literal('aws.cloudformation'),
    detail: z.looseObject({
      'stack-id': shaped(STACK_ARN, 'must be a CloudFormation stack ARN'),
      'status-details': z.looseObject({
        status: shaped(STATUS, 'must be a stack status such as UPDATE_COMPLETE'),
        'status-reason': z.optional(freeText()),
      }),
      'client-request-token': z.optional(text(256)),
    }),
  }),
);

export interface StackApiCall {
  kind: 'api-call';
  /** Every stack name or ARN the event gives. */
  stackRefs: string[];
  eventName: string;
  stack: string;
  stackId?: string;
  changeSet?: string;
  /** The change set's ARN, when the call named the change set by it. */
  changeSetArn?: string;
  caller: Caller;
  time: string;
  region: string;
  account: string;
  error?: { code: string; message: string };
}

/**
 * An API call that names its stack only through a change set ARN (ExecuteChangeSet with the ARN alone): the
 * ARN does not contain the stack's name, so the notify trigger looks it up (see withStack).
 */
export interface ChangeSetCall extends Omit<StackApiCall, 'kind' | 'stack' | 'stackId' | 'changeSetArn'> {
  kind: 'change-set-call';
  changeSetArn: string;
}

export interface StackStatusChange {
  kind: 'status-change';
  stackRefs: string[];
  stack: string;
  stackId: string;
  status: string;
  reason?: string;
  token?: string;
  time: string;
  region: string;
  account: string;
}

export type StackEvent = StackApiCall | StackStatusChange;
/** What an event says before the notify trigger has named the stack of a call by change set ARN. */
export type ParsedStackEvent = StackEvent | ChangeSetCall;

const fail = (what: string, error: z.core.$ZodError): never => {
  throw new EventValidationError(`malformed ${what} event: ${describeIssues(error)}`, { cause: error });
};

/** Validate a CloudFormation event of either kind; undefined for an API call we do not report. */
export const parseStackEvent = (raw: unknown): ParsedStackEvent | undefined => {
  const detailType =
    typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['detail-type'] : undefined;
  if (detailType === STATUS_CHANGE_DETAIL_TYPE) {
    const parsed = statusChangeSchema().safeParse(raw);
    if (!parsed.success) return fail('stack status change', parsed.error);
    const { detail, time, region, account } = parsed.data;
    const reason = detail['status-details']['status-reason'];
    const token = detail['client-request-token'];
    return {
      kind: 'status-change',
      stack: stackNameOf(detail['stack-id']) ?? '',
      stackId: detail['stack-id'],
      stackRefs: [detail['stack-id']],
      status: detail['status-details'].status,
      ...(reason ? { reason } : {}),
      ...(token ? { token } : {}),
      time,
      region,
      account,
    };
  }
  if (detailType === API_CALL_DETAIL_TYPE) {
    const parsed = apiCallSchema().safeParse(raw);
    if (!parsed.success) return fail('CloudTrail API call', parsed.error);
    const { detail, account } = parsed.data;
    if (!(REPORTED_CALLS as readonly string[]).includes(detail.eventName)) return undefined;
    const stackRef = detail.requestParameters?.stackName ?? detail.responseElements?.stackId;
    const stack = stackRef ? stackNameOf(stackRef) : undefined;
    const changeSet = detail.requestParameters?.changeSetName;
    const changeSetArn = changeSet && CHANGE_SET_ARN.test(changeSet) ? changeSet : undefined;
    const common = {
      eventName: detail.eventName,
      ...(changeSet ? { changeSet: changeSet.split('/').at(-2) ?? changeSet } : {}),
      caller: callerOf(detail.userIdentity),
      time: detail.eventTime,
      region: detail.awsRegion,
      account,
      ...(detail.errorCode ? { error: { code: detail.errorCode, message: detail.errorMessage ?? '' } } : {}),
    };
    // ExecuteChangeSet may name the change set by its ARN alone: the notify trigger looks up the stack.
    if (!stackRef && changeSetArn) return { kind: 'change-set-call', ...common, stackRefs: [], changeSetArn };
    if (!stack) {
      throw new EventValidationError(
        `CloudTrail ${detail.eventName} event names no valid stack (requestParameters.stackName)`,
      );
    }
    const stackId = detail.responseElements?.stackId;
    return {
      kind: 'api-call',
      ...common,
      stack,
      stackRefs: [detail.requestParameters?.stackName, detail.responseElements?.stackId].filter(
        (ref): ref is string => typeof ref === 'string',
      ),
      ...(stackId && STACK_ARN.test(stackId) ? { stackId } : {}),
      ...(changeSetArn ? { changeSetArn } : {}),
    };
  }
  throw new EventValidationError(
    `not a CloudFormation event this deployer handles: detail-type ${typeof detailType === 'string' ? JSON.stringify(detailType.slice(0, 100)) : typeof detailType}`,
  );
};

/**
 * A CloudFormation event the deployer may act on: well-formed, from the deployer's account and region or from
 * a configured stage's (about that stage's stack: stage-place.ts), and naming only stacks of the account and
 * region it came from. Otherwise the reason it was rejected (logged once; never retried). A call that names
 * its change set by ARN alone is checked again once its stack is known (see servedStack).
 */
export const acceptStackEvent = (
  scope: { settings: Settings; config: DeployerConfig },
  raw: unknown,
): { event: ParsedStackEvent | undefined } | { rejected: string } => {
  try {
    const event = parseStackEvent(raw);
    if (event) {
      assertServed(scope, event);
      assertStacksAreLocal(event);
    }
    return { event };
  } catch (error) {
    return rejection(error);
  }
};

const assertServed = (
  { settings, config }: { settings: Settings; config: DeployerConfig },
  event: ParsedStackEvent,
): void => {
  const stack = event.kind === 'change-set-call' ? undefined : event.stack;
  const refusal = stackEventRefusal(config, settings, {
    account: event.account,
    region: event.region,
    stack,
  });
  if (refusal) throw new EventValidationError(refusal);
};

/** The call, now that its stack is known, when that stack is one the deployer serves where the call came from. */
export const servedStack = (
  scope: { settings: Settings; config: DeployerConfig },
  call: StackApiCall,
): { event: StackApiCall } | { rejected: string } => {
  try {
    assertServed(scope, call);
    return { event: call };
  } catch (error) {
    return rejection(error);
  }
};

const rejection = (error: unknown): { rejected: string } => {
  if (!(error instanceof EventValidationError)) throw error;
  logger.error('rejected stack event', { reason: error.message });
  return { rejected: error.message };
};

/** What DescribeChangeSet says about the change set of a call. */
export interface ChangeSetOwner {
  ChangeSetId?: string | undefined;
  StackId?: string | undefined;
  StackName?: string | undefined;
}

/**
 * The call of a change set named by ARN, with the stack DescribeChangeSet gave for it: a valid stack name,
 * and the ARN of that stack in the call's account and region. Otherwise the reason it was rejected.
 */
export const withStack = (
  call: ChangeSetCall,
  owner: ChangeSetOwner,
): { event: StackApiCall } | { rejected: string } => {
  try {
    const stackId = owner.StackId ?? '';
    const stack = STACK_ARN.test(stackId) ? stackNameOf(stackId) : undefined;
    if (!stack || owner.StackName !== stack || owner.ChangeSetId !== call.changeSetArn) {
      throw new EventValidationError(
        `change set ${call.changeSet ?? call.changeSetArn} does not name a valid stack (DescribeChangeSet)`,
      );
    }
    const { kind: _kind, ...rest } = call;
    const event: StackApiCall = { ...rest, kind: 'api-call', stack, stackId, stackRefs: [stackId] };
    assertStacksAreLocal(event);
    return { event };
  } catch (error) {
    return rejection(error);
  }
};
