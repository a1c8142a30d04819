/**
 * The root cause of a failed stack operation: the first resource that failed, read from the stack's
 * events for the operation that just ended (newest first, paged, stopping at the operation's start).
 */
import {
  type CloudFormationClient,
  DescribeStackEventsCommand,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { isOperationStart } from '../stack-status';

export interface RootCause {
  logicalId: string;
  type: string;
  status: string;
  reason: string;
}

/** Failures that only echo another resource's failure. */
const ECHO = /cancell?ed|The following resource\(s\) failed/i;
/** A bound on the walk for stacks with very long event histories. */
const MAX_PAGES = 20;

/** The stack's own events (nested stacks share the type but not the id or the name). */
const isStackItself = (event: StackEvent): boolean =>
  event.ResourceType === 'AWS::CloudFormation::Stack' &&
  (event.PhysicalResourceId === event.StackId || event.LogicalResourceId === event.StackName);

/**
 * Walk the operation's events back to its start and name the resource that failed first. `token` (the
 * operation's client request token), when known, keeps the walk inside that one operation.
 */
export const findRootCause = async (
  cfn: CloudFormationClient,
  stackId: string,
  token?: string,
): Promise<RootCause | undefined> => {
  const failures: StackEvent[] = [];
  let NextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const response = await cfn.send(new DescribeStackEventsCommand({ StackName: stackId, NextToken }));
    for (const event of response.StackEvents ?? []) {
      if (token && event.ClientRequestToken && event.ClientRequestToken !== token) continue;
      if (isStackItself(event)) {
        if (isOperationStart(event.ResourceStatus ?? '')) return pickFirst(failures);
        continue;
      }
      if (event.ResourceStatus?.endsWith('_FAILED')) failures.push(event);
    }
    NextToken = response.NextToken;
    if (!NextToken) break;
  }
  return pickFirst(failures);
};

/** Events come newest first: the first failure is the last one seen, preferring a real cause to an echo. */
const pickFirst = (failures: StackEvent[]): RootCause | undefined => {
  const chronological = [...failures].reverse();
  const event = chronological.find((e) => !ECHO.test(e.ResourceStatusReason ?? '')) ?? chronological[0];
  if (!event) return undefined;
  return {
    logicalId: event.LogicalResourceId ?? '?',
    type: event.ResourceType ?? '?',
    status: event.ResourceStatus ?? '?',
    reason: event.ResourceStatusReason ?? 'no reason given',
  };
};
