/**
 * The notify trigger: CloudTrail API calls that start stack operations, and stack status changes, become
 * one message each for the ops team — with the root cause, the release and the next step.
 */
import {
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { isChangeSetMissing } from '../aws/change-sets';
import { latestWithKey, type ReleaseVersion, readHistory } from '../aws/release-history';
import { findRootCause } from '../aws/root-cause';
import { ownRun } from '../aws/runs';
import { describeStack, isStackMissing, stackParameterValue } from '../aws/stacks';
import { placeCfn, stageCfn } from '../aws/stage-clients';
import {
  acceptStackEvent,
  type ChangeSetCall,
  type StackApiCall,
  type StackEvent,
  type StackStatusChange,
  servedStack,
  withStack,
} from '../edge/stack-events';
import { stageAt, stagesAt } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { logger } from '../logger';
import { sendOnce } from '../messages/ledger';
import { eventIdOf, ledgerKeys } from '../messages/ledger-keys';
import { apiCallMessage, startedBy, statusMessage } from '../messages/stack-messages';
import { countNotifications } from '../metrics';
import type { Runtime } from '../runtime';
import { isDeletedStatus, isFailureStatus, isFinalStatus } from '../stack-status';
import { reportApiCall, unsentReason } from './api-call-storm';

export interface NotifySummary {
  verdict: 'notified' | 'ignored' | 'rejected';
  reason?: string;
  stack?: string;
  subject?: string;
}

/** Handle one "AWS API Call via CloudTrail" or "CloudFormation Stack Status Change" event. */
export const handleStackNotification = async (runtime: Runtime, raw: unknown): Promise<NotifySummary> => {
  const accepted = acceptStackEvent(runtime, raw);
  if ('rejected' in accepted) return { verdict: 'rejected', reason: accepted.rejected };
  if (!accepted.event) return ignored('an API call that does not start a stack operation');
  const named =
    accepted.event.kind === 'change-set-call'
      ? await nameStack(runtime, accepted.event)
      : { event: accepted.event };
  if (!('event' in named)) return named;
  const { event } = named;
  const stage = stageAt(runtime.config, runtime.settings, event);
  const skip = outOfScope(runtime, event, stage);
  if (skip) return ignored(skip, event.stack);
  const message =
    event.kind === 'api-call'
      ? apiCallMessage(event, stage)
      : statusMessage(await statusReport(runtime, event, stage, eventIdOf(raw)));
  const eventId = eventIdOf(raw);
  const sent =
    event.kind === 'api-call'
      ? await reportApiCall(runtime, event, eventId, message)
      : await sendOnce(runtime, ledgerKeys.stackEvent(eventId), message);
  if (sent !== 'sent') return ignored(unsentReason(sent), event.stack);
  logger.info('stack event reported', { stack: event.stack, kind: event.kind, subject: message.subject });
  countNotifications(stage?.name, 1);
  return { verdict: 'notified', stack: event.stack, subject: message.subject };
};

const ignored = (reason: string, stack?: string): NotifySummary => {
  logger.info('stack event not reported', { reason, stack });
  return { verdict: 'ignored', reason, ...(stack ? { stack } : {}) };
};

/** Why an event is not reported, or undefined when it is. */
const outOfScope = (runtime: Runtime, event: StackEvent, stage: Stage | undefined): string | undefined => {
  const { notifications } = runtime.config;
  if (!stage && !notifications.allStacks) return 'not the stack of a configured stage';
  if (stage?.mute) return `stage ${stage.name} is muted`;
  if (event.kind === 'api-call') return apiCallOutOfScope(runtime, event);
  if (!isFinalStatus(event.status) && !notifications.inProgress) return `in-progress status ${event.status}`;
  return undefined;
};

/**
 * The call of a change set named by its ARN alone, with its stack: DescribeChangeSet with the ARN answers with
 * the stack's name and id. Calls that are not reported anyway are left alone, without the lookup.
 */
const nameStack = async (
  runtime: Runtime,
  call: ChangeSetCall,
): Promise<{ event: StackApiCall } | NotifySummary> => {
  const skip = apiCallOutOfScope(runtime, call);
  if (skip) return ignored(skip);
  let owner: DescribeChangeSetCommandOutput;
  // Accepted, so the deployer's home or a place where a stage is configured: there is a client for it.
  const cfn = placeCfn(runtime, call) ?? runtime.clients.cfn;
  try {
    owner = await cfn.send(new DescribeChangeSetCommand({ ChangeSetName: call.changeSetArn }));
  } catch (error) {
    // Gone already (deleted with its stack, or never there): nothing names the stack any more.
    if (isChangeSetMissing(error) || isStackMissing(error)) {
      return ignored(
        `change set ${call.changeSet ?? call.changeSetArn} no longer exists: its stack is unknown`,
      );
    }
    throw error;
  }
  const named = withStack(call, owner);
  const served = 'rejected' in named ? named : servedStack(runtime, named.event);
  return 'rejected' in served ? { verdict: 'rejected', reason: served.rejected } : served;
};

const apiCallOutOfScope = (runtime: Runtime, call: StackApiCall | ChangeSetCall): string | undefined => {
  if (!runtime.config.notifications.apiCalls) return 'API call reports are off';
  const role = call.caller.role;
  if (!call.error && role && runtime.settings.ownRoles?.includes(role)) {
    return 'a call of the deployer itself (its deploy message reports it)';
  }
  // Elsewhere the deployer acts with the role its stages name there.
  const assumed = call.caller.arn;
  if (
    !call.error &&
    assumed &&
    stagesAt(runtime.config, runtime.settings, call).some((s) => s.assumeRoleArn === assumed)
  )
    return 'a call of the deployer itself, with the role it assumes there (its deploy message reports it)';
  return undefined;
};

/** Everything the status message says beyond the event: root cause, release, what runs now. */
const statusReport = async (
  runtime: Runtime,
  change: StackStatusChange,
  stage: Stage | undefined,
  eventId: string,
) => {
  const { ssm, s3 } = runtime.clients;
  // The stack of a stage is read where it lives; any other stack is one of the deployer's home.
  const cfn = stage ? stageCfn(runtime, stage) : runtime.clients.cfn;
  const [stack, history, rootCause, run] = await Promise.all([
    describeStack(cfn, change.stackId),
    stage ? readHistory(ssm, stage) : Promise.resolve([] as ReleaseVersion[]),
    isFailureStatus(change.status)
      ? findRootCause(cfn, change.stackId, change.token).catch((error: unknown) => {
          // A stack deleted since has no events to read: the message goes out without the root cause.
          if (isStackMissing(error)) return undefined;
          throw error;
        })
      : Promise.resolve(undefined),
    // Ours only by the deployer's own record of the token, never by how the token looks.
    stage ? ownRun(s3, stage, change.token, eventId) : Promise.resolve(undefined),
  ]);
  const ourVersion = run?.version;
  const desired = history.at(-1);
  // A deleted stack still answers DescribeStacks by its id, with the parameters it last had: it runs nothing.
  const running =
    stage && stack && !isDeletedStatus(stack.StackStatus)
      ? stackParameterValue(stack, stage.stackParameter)
      : undefined;
  // The release the operation deployed: ours by its change set; otherwise, after a success, the one that
  // runs now. After someone else's failed operation the stack runs what it rolled back to, not what failed.
  const release =
    ourVersion !== undefined
      ? history.find((v) => v.version === ourVersion)
      : running && !isFailureStatus(change.status)
        ? latestWithKey(history, running)
        : undefined;
  return {
    change,
    ...(stage ? { stage } : {}),
    startedBy: startedBy(change.token, ourVersion !== undefined),
    ours: ourVersion !== undefined,
    ...(rootCause ? { rootCause } : {}),
    ...(release ? { release } : {}),
    // The stage's desired release: the chat thread of a stack outcome whose release is not known.
    ...(desired ? { desired: { key: desired.key, version: desired.version } } : {}),
    ...(running ? { running } : {}),
  };
};
