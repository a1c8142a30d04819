/**
 * What a message reports, as data: a deploy outcome, how a stack operation ended, an API-call storm. The
 * email composers (deploy-messages.ts, stack-messages.ts, storm-messages.ts) and the chat composers
 * (chat/) both put these into words, each in its own form; neither parses the other's text.
 */
import type { Release } from '../aws/artifacts';
import type { ReleaseVersion } from '../aws/release-history';
import type { RootCause } from '../aws/root-cause';
import type { PipelineExecution } from '../edge/events';
import type { StackStatusChange } from '../edge/stack-events';
import type { Stage } from '../edge/stages';
import type { ReconcileOutcome, ReconcileResult } from '../outcomes';

export type DeployOutcome = ReconcileOutcome | 'failed' | 'locked' | 'superseded';

export interface DeployReport {
  outcome: DeployOutcome;
  stage: string;
  stack: string;
  /** The pipeline execution that triggered the deploy, when a pipeline did. */
  execution?: PipelineExecution;
  /** What else triggered it (a stack that settled, the schedule, a person). */
  trigger?: string;
  /** The commit of the release, when known from elsewhere than the release or the execution. */
  commitId?: string;
  release?: Release;
  reconcile?: ReconcileResult;
  /** Why the deploy failed before reaching the stack (artifact missing, …). */
  error?: string;
  /** A superseded build: the version it was recorded as, and the newer version desired now. */
  overtaken?: { version: number; newest: number };
  /** The stage's lock that did not come free: who holds it, since and until when, and where it is. */
  lock?: { holder: string; since: string; until: string; location: string };
  /**
   * The release key a person's move (rollback, reject) replaced as desired: the move is reported in that
   * release's chat thread, where its failure was.
   */
  replaces?: string;
  /** An automatic rollback: the alarm that went to ALARM while the release it replaces was baking. */
  alarm?: AlarmTrip;
}

/** The alarm behind an automatic rollback, in its own words (name and reason are outside text). */
export interface AlarmTrip {
  name: string;
  reason: string;
  /** When it went to ALARM, the version it rolled back from, and until when that version was to bake. */
  at: string;
  from: number;
  bakeUntil: string;
  /** Set when the stage could not be rolled back: why (no earlier good release, or it cannot be verified). */
  noGoodRelease?: string;
}

export interface StatusReport {
  change: StackStatusChange;
  stage?: Stage;
  startedBy: string;
  rootCause?: RootCause;
  /** The release the operation deployed, when the stage's history knows it. */
  release?: ReleaseVersion;
  /** The stage's desired release (its newest version) when the event was handled. */
  desired?: Pick<ReleaseVersion, 'key' | 'version'>;
  /** What the stack runs now. */
  running?: string;
  /** The operation was a change set of the deployer's. */
  ours?: boolean;
}

export interface StormDigest {
  stage?: string;
  stack: string;
  region: string;
  windowStart: number;
  windowEnd: number;
  /** Calls of the window that were not reported one by one. */
  folded: number;
  /** How many of all the window's calls AWS refused. */
  refused: number;
  /** Calls reported one by one before the folding started. */
  sentOneByOne: number;
  /** Who made the noted calls, and which calls (with AWS's refusal code). */
  callers: string[];
  calls: string[];
  /** How many of the folded calls the callers and calls were noted from. */
  noted: number;
}
