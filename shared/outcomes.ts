/**
 * What reconciling a stage came to, as data: the stage layer decides it, the messages layer and the command
 * line put it into words. Kept apart from both so that neither the words nor the work import the other's
 * internals.
 */
import type { PlannedChange } from './aws/change-set-wait';
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
  | 'nothing-desired'
  /** The stage is outside its deploy windows or in a freeze: the release stays desired, not deployed. */
  | 'frozen';

/** A desired version whose release the deployer cannot verify: it deploys nothing from it. */
export type UnverifiableCode =
  /** Its key names no digest (a key written by hand). */
  | 'release-not-content-named'
  /** The stack does not exist, and the version pins no template to create it from. */
  | 'no-template-to-create';

/**
 * Why reconcile came to its outcome, as a code and the facts a person needs; shared/messages/reasons.ts
 * says it in words. `detail` is text that came with the facts, shown as it is: AWS's own reason, or the
 * message of the error that stopped the release.
 */
export type ReconcileReason =
  /** The stack is in a status only a person can resolve. */
  | { code: 'stack-needs-person'; status: string; statusReason?: string; region: string }
  /** The stack has no parameter to receive the release key. */
  | { code: 'no-stack-parameter'; parameter: string }
  /** The release failed to deploy and was rolled back: it is not retried. */
  | { code: 'release-failed'; key: string; version: number }
  /** The release's bytes do not match the digest recorded for them. */
  | { code: 'release-tampered'; location: string; detail: string }
  | { code: UnverifiableCode; detail: string }
  /** CloudFormation could not make the change set. */
  | { code: 'change-set-failed'; changeSet: string; detail: string }
  /** CloudFormation found nothing to change (`detail`: its words, when it gave any). */
  | { code: 'nothing-to-change'; detail?: string }
  /** The stack's creation failed: it is deleted, to be created again from `key`. */
  | { code: 'stack-recreated'; key: string }
  /**
   * The stage is frozen (stage/windows.ts): outside its allowed windows, or in a freeze (`reason`, `until`).
   * `opensAt` (ISO 8601) is when the scheduled reconcile may deploy it; absent: not within the search.
   */
  | {
      code: 'stage-frozen';
      kind: 'outside-windows' | 'freeze';
      reason?: string;
      until?: string;
      opensAt?: string;
      timeZone: string;
    };

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
  /** Why it came to this outcome, where there is more to say than the outcome itself. */
  why?: ReconcileReason;
  /** False when another reconcile already did this (a pending change set found, not made). */
  fresh: boolean;
}
