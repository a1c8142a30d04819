/**
 * Waiting for CloudFormation to compute a change set, and what it plans to change, as an ops engineer
 * reads it.
 */
import {
  type Change,
  type CloudFormationClient,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { DeployerError, errorMessage, errorName } from '../errors';
import { type ChangeSetRef, isChangeSetMissing, isNoChangeReason, target } from './change-sets';

/** One planned resource change, as an ops engineer reads it. */
export interface PlannedChange {
  action: string;
  logicalId: string;
  type: string;
  replacement: string;
}

export type ChangeSetState =
  | { status: 'ready'; changes: PlannedChange[] }
  | { status: 'empty'; reason: string }
  | { status: 'failed'; reason: string };

/**
 * Polling for a change set. CloudFormation takes about 3 to 12 seconds to compute one: asking once at once
 * (an emulator is ready then), again at 2 s (CloudFormation is not ready sooner), then every second, sleeps at
 * most a second past the moment it is ready, with no call in the seconds it cannot be. (The SDK's waiter
 * backs off from 2 s to 10 s: it slept 2 to 6 s past readiness, holding the stage's lock.)
 */
export const CHANGE_SET_POLL_MS = { first: 0, second: 2_000, every: 1_000 };

/** A change set's resource changes as an ops engineer reads them. */
export const plannedChanges = (changes: Change[] | undefined): PlannedChange[] =>
  (changes ?? []).flatMap(({ ResourceChange: rc }) =>
    rc
      ? [
          {
            action: rc.Action ?? 'Unknown',
            logicalId: rc.LogicalResourceId ?? '?',
            type: rc.ResourceType ?? '?',
            replacement: rc.Replacement ?? 'False',
          },
        ]
      : [],
  );

/** Wait for CloudFormation to compute the change set, at most `timeoutSeconds`. */
export const awaitChangeSet = async (
  cfn: CloudFormationClient,
  ref: ChangeSetRef,
  timeoutSeconds: number,
): Promise<ChangeSetState> => {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let pause = CHANGE_SET_POLL_MS.first;
  for (let asked = 1; ; asked++) {
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    const next = asked === 1 ? CHANGE_SET_POLL_MS.second : CHANGE_SET_POLL_MS.every;
    const state = await changeSetState(cfn, ref, Date.now() + next > deadline);
    if (state) return state;
    if (Date.now() + next > deadline)
      throw new DeployerError(
        `change set ${ref.name} on ${ref.stack} was not ready after ${timeoutSeconds}s`,
      );
    pause = next;
  }
};

/**
 * The change set's state once CloudFormation finished computing it; undefined while it is still being
 * computed, or when asking failed transiently (the SDK retried already) and there is time to ask again.
 */
const changeSetState = async (
  cfn: CloudFormationClient,
  ref: ChangeSetRef,
  last: boolean,
): Promise<ChangeSetState | undefined> => {
  let described: DescribeChangeSetCommandOutput;
  try {
    described = await cfn.send(new DescribeChangeSetCommand(target(ref)));
  } catch (error) {
    // A change set that does not exist (any more) will not become ready.
    if (errorName(error) === 'ValidationError' || isChangeSetMissing(error))
      return { status: 'failed', reason: errorMessage(error) };
    if (last) throw error;
    return undefined;
  }
  if (described.Status === 'CREATE_COMPLETE')
    return { status: 'ready', changes: plannedChanges(described.Changes) };
  if (described.Status === 'FAILED') {
    const reason = described.StatusReason ?? 'no reason given';
    return isNoChangeReason(reason) ? { status: 'empty', reason } : { status: 'failed', reason };
  }
  return undefined;
};
