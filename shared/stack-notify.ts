/**
 * The notify trigger: CloudTrail API calls that start stack operations, and stack status changes, become
 * one message each for the ops team — with the root cause, the release and the next step.
 */
import { type Stage, stageOfStack } from './config';
import { logger } from './logger';
import { desiredVersionOfChangeSet } from './names';
import { publish } from './notify';
import { latestWithKey, type ReleaseVersion, readHistory } from './release-history';
import { findRootCause } from './root-cause';
import type { Runtime } from './runtime';
import { acceptStackEvent, type StackApiCall, type StackEvent, type StackStatusChange } from './stack-events';
import { apiCallMessage, isFailureStatus, isFinalStatus, startedBy, statusMessage } from './stack-messages';
import { describeStack, isStackMissing, stackParameterValue } from './stacks';

export interface NotifySummary {
  verdict: 'notified' | 'ignored' | 'rejected';
  reason?: string;
  stack?: string;
  subject?: string;
}

/** Handle one "AWS API Call via CloudTrail" or "CloudFormation Stack Status Change" event. */
export const handleStackNotification = async (runtime: Runtime, raw: unknown): Promise<NotifySummary> => {
  const accepted = acceptStackEvent(runtime.settings, raw);
  if ('rejected' in accepted) return { verdict: 'rejected', reason: accepted.rejected };
  const { event } = accepted;
  if (!event) return ignored('an API call that does not start a stack operation');
  const stage = stageOfStack(runtime.config, event.stack);
  const skip = outOfScope(runtime, event, stage);
  if (skip) return ignored(skip, event.stack);
  const message =
    event.kind === 'api-call'
      ? apiCallMessage(event, stage)
      : statusMessage(await statusReport(runtime, event, stage));
  await publish(runtime.clients.sns, runtime.settings.topicArn, message);
  logger.info('stack event reported', { stack: event.stack, kind: event.kind, subject: message.subject });
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

const apiCallOutOfScope = (runtime: Runtime, call: StackApiCall): string | undefined => {
  if (!runtime.config.notifications.apiCalls) return 'API call reports are off';
  const role = call.caller.role;
  if (!call.error && role && runtime.settings.ownRoles?.includes(role)) {
    return 'a call of the deployer itself (its deploy message reports it)';
  }
  return undefined;
};

/** Everything the status message says beyond the event: root cause, release, what runs now. */
const statusReport = async (runtime: Runtime, change: StackStatusChange, stage: Stage | undefined) => {
  const { cfn, ssm } = runtime.clients;
  const ourVersion = stage && change.token ? desiredVersionOfChangeSet(stage.name, change.token) : undefined;
  const [stack, history, rootCause] = await Promise.all([
    describeStack(cfn, change.stackId),
    stage ? readHistory(ssm, stage) : Promise.resolve([] as ReleaseVersion[]),
    isFailureStatus(change.status)
      ? findRootCause(cfn, change.stackId, change.token).catch((error: unknown) => {
          // A stack deleted since has no events to read: the message goes out without the root cause.
          if (isStackMissing(error)) return undefined;
          throw error;
        })
      : Promise.resolve(undefined),
  ]);
  // A deleted stack still answers DescribeStacks by its id, with the parameters it last had: it runs nothing.
  const running =
    stage && stack && stack.StackStatus !== 'DELETE_COMPLETE'
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
    ...(running ? { running } : {}),
  };
};
