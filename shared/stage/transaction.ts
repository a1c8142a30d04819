/**
 * One stage transaction: lock → record → reconcile → report → label. Every trigger and every move goes
 * through it — the deploy path, the reconcile trigger and its schedule, the command line's moves and
 * auto-promotion — so the order is the same everywhere, and so is the one rule for the report: it is sent
 * under the stage's lock, once the stack was acted on, and before the marks that say "this delivery
 * finished". A stage whose lock stays taken is reported (once per lease) and the error goes on, so the
 * event is delivered again.
 */

import type { DesiredState } from '../aws/desired-state';
import { type HeldLease, type LockOptions, withStageLock } from '../aws/stage-lock';
import type { Stage } from '../edge/stages';
import { withLogKeys } from '../logger';
import { announceDeploy, type DeployReport } from '../messages/deploy-messages';
import { announceDeployOnce } from '../messages/ledger';
import { ledgerKeys } from '../messages/ledger-keys';
import { reportLockedStage } from '../messages/locked-stage';
import type { ReconcileResult } from '../outcomes';
import type { Runtime } from '../runtime';
import { type Observed, reconcile } from './reconcile';
import type { PrefetchedTemplate } from './verified-release';

/** What a transaction recorded as desired, for reconcile to move the stack to. */
export interface Recorded {
  desired: DesiredState;
  /** Written by this transaction: it cannot have been marked failed yet. */
  newlyRecorded: boolean;
  /** The artifact's bytes were checked moments ago, in this transaction. */
  artifactVerified?: boolean;
  /** The stack and the applied record, read under this lock while the release was recorded. */
  observed?: Observed;
  /** The template the recorded version pins, being read already. */
  prefetched?: PrefetchedTemplate;
  /** The archive write of the recorded version, still going: awaited before the lock is let go. */
  archived?: Promise<void>;
}

/** The ops message a transaction sends; `once` names it in the notification ledger (a redelivery is quiet). */
export interface Report {
  report: DeployReport;
  once?: string;
}

export interface StageTransaction<Stop> {
  /** Who holds the stage's lock meanwhile ("deploy <execution>", "rollback by kim"): shown to other writers. */
  holder: string;
  /** What started it, for the message about a lock that stayed taken. */
  trigger: string;
  /** How it waits for the stage's lock (a deploy's rank, and whether it yields to a later one). */
  lock?: Pick<LockOptions, 'rank' | 'yieldToLater' | 'line' | 'onStay'>;
  /**
   * Under the lock, before the stack is looked at: record what the stage should run. Undefined reconciles
   * what SSM holds; `{ stop }` ends the transaction without touching the stack.
   */
  record?: (lease: HeldLease) => Promise<Recorded | { stop: Stop } | undefined>;
  /** Act on the stack instead of reconciling (approve executes the change set already made). */
  act?: (lease: HeldLease) => Promise<ReconcileResult>;
  /** The message for what happened, or undefined when it is no news. */
  report: (result: ReconcileResult, recorded: Recorded | undefined) => Report | undefined;
  /** After the report, still under the lock: marks that say this delivery finished (labels). */
  finish?: (result: ReconcileResult, recorded: Recorded | undefined, notified: boolean) => Promise<void>;
}

export type TransactionResult<Stop> =
  | { done: true; result: ReconcileResult; notified: boolean; recorded?: Recorded }
  | { done: false; stop: Stop };

/** Run one transaction on a stage. */
export const runStageTransaction = <Stop = never>(
  runtime: Runtime,
  stage: Stage,
  tx: StageTransaction<Stop>,
): Promise<TransactionResult<Stop>> =>
  // Every log line of the transaction names its stage (stages of one event run side by side).
  withLogKeys({ stage: stage.name }, () => transaction(runtime, stage, tx));

const transaction = <Stop>(
  runtime: Runtime,
  stage: Stage,
  tx: StageTransaction<Stop>,
): Promise<TransactionResult<Stop>> =>
  withStageLock(
    runtime.clients.s3,
    stage,
    tx.holder,
    async (lease): Promise<TransactionResult<Stop>> => {
      const recorded = await tx.record?.(lease);
      if (recorded && 'stop' in recorded) return { done: false, stop: recorded.stop };
      try {
        return await reconcileAndReport(runtime, stage, tx, lease, recorded);
      } finally {
        // The recorded version's archive write ran beside reconcile; it ends before the lock is let go.
        await recorded?.archived;
      }
    },
    tx.lock,
  ).catch(async (error: unknown) => {
    await reportLockedStage(runtime, stage, error, tx.trigger);
    throw error;
  });

/** Under the lock, once the release is recorded: reconcile (or the transaction's own act), report, finish. */
const reconcileAndReport = async <Stop>(
  runtime: Runtime,
  stage: Stage,
  tx: StageTransaction<Stop>,
  lease: HeldLease,
  recorded: Recorded | undefined,
): Promise<TransactionResult<Stop>> => {
  const result = tx.act
    ? await tx.act(lease)
    : await reconcile(runtime, stage, {
        ...(recorded
          ? {
              desired: recorded.desired,
              newlyRecorded: recorded.newlyRecorded,
              ...(recorded.artifactVerified ? { artifactVerified: true } : {}),
              ...(recorded.observed ? { observed: recorded.observed } : {}),
              ...(recorded.prefetched ? { prefetched: recorded.prefetched } : {}),
            }
          : {}),
        lease,
      });
  const message = tx.report(result, recorded);
  const notified = message ? await send(runtime, onceIfFrozen(message, result)) : false;
  await tx.finish?.(result, recorded, notified);
  return { done: true, result, notified, ...(recorded ? { recorded } : {}) };
};

/** A frozen release is announced once per stage and desired version, whatever triggered the reconcile. */
const onceIfFrozen = (message: Report, result: ReconcileResult): Report =>
  result.outcome === 'frozen' && result.desired
    ? { ...message, once: ledgerKeys.frozen(result.stage, result.desired.version) }
    : message;

const send = (runtime: Runtime, { report, once }: Report): Promise<boolean> =>
  once ? announceDeployOnce(runtime, once, report) : announceDeploy(runtime, report);

/**
 * What a reconcile found that nobody has said yet: a deploy started, an approval requested, an empty change
 * set, a change set that failed, a stack being recreated, a release refused. A busy or in-sync stage, or one
 * blocked by its stack status (the stack status message said so), is no news.
 */
export const isNews = (result: ReconcileResult): boolean =>
  result.fresh &&
  (['deploying', 'pending-approval', 'no-change', 'recreating', 'tampered', 'frozen'].includes(
    result.outcome,
  ) ||
    (result.outcome === 'blocked' && result.changeSet !== undefined));

/** The message for a reconcile's news, triggered by something other than a pipeline or a person's move. */
export const newsReport = (stage: Stage, result: ReconcileResult, trigger: string): DeployReport => ({
  outcome: result.outcome,
  stage: stage.name,
  stack: stage.stack,
  reconcile: result,
  trigger,
  ...(result.desired?.provenance.commit ? { commitId: result.desired.provenance.commit } : {}),
});

/** Reconcile a stage in a transaction of its own that reports nothing: the caller (a person) sees the result. */
export const reconcileStage = async (
  runtime: Runtime,
  stage: Stage,
  holder: string,
): Promise<ReconcileResult> => {
  const done = await runStageTransaction(runtime, stage, {
    holder,
    trigger: holder,
    report: () => undefined,
  });
  if (!done.done) throw new Error('a reconcile transaction reconciles');
  return done.result;
};
