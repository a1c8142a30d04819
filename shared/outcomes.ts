/**
 * What reconciling a stage came to, as data: the stage layer decides it, the messages layer and the command
 * line put it into words. Kept apart from both so that neither the words nor the work import the other's
 * internals.
 */
import type { PlannedChange } from './aws/change-sets';
import type { DesiredState } from './aws/desired-state';

export type ReconcileOutcome =
  /** A change set was executed now: the stack is updating (or being created) towards the desired release. */
  | 'deploying'
  /** A change set waits for a person to approve it. */
  | 'pending-approval'
  /** CloudFormation found nothing to change; the empty change set was deleted. */
  | 'no-change'
  /** The stack already runs the desired release. */
  | 'in-sync'
  /** The stack is busy; its own completion reconciles again. */
  | 'waiting'
  /** The stack is in a state only a person can resolve. */
  | 'blocked'
  /** The release's bytes do not match what was recorded for it: nothing was deployed. */
  | 'tampered'
  /** A stack whose creation failed is being deleted, to be created again from the desired release. */
  | 'recreating'
  /** Nothing was ever recorded as desired for this stage. */
  | 'nothing-desired';

export interface ReconcileResult {
  outcome: ReconcileOutcome;
  stage: string;
  stack: string;
  stackId?: string;
  stackStatus?: string;
  desired?: DesiredState;
  /** The release key the stack ran when reconcile looked. */
  live?: string;
  changeSet?: string;
  /** The run's request token, when a change set of the deployer's was made or executed. */
  token?: string;
  /** The pinned template the change set deploys (its release key), when the release pins one. */
  template?: string;
  /** 'create' when the stack did not exist and is being created. */
  action?: 'create' | 'update';
  changes?: PlannedChange[];
  reason?: string;
  nextStep?: string;
  /** False when another reconcile already did this (a pending change set found, not made). */
  fresh: boolean;
}
