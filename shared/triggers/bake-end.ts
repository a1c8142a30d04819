/**
 * How a bake ends, each under the stage's lock and checked again there: rolled back after an alarm (the baked
 * version marked failed, the last good release made desired as an automatic rollback and deployed, the ops
 * team told once), or passed (then promoted to the stages configured to receive it). A step recorded but not
 * finished — a message not sent, a promotion not made — is finished by the next alarm event or schedule run.
 */
import { type BakeRecord, readBake, writeBake } from '../aws/bake-record';
import { archiveOutcome } from '../aws/history-archive';
import { markFailed, readDesired } from '../aws/release-history';
import { readWholeHistory } from '../aws/whole-history';
import type { Stage } from '../edge/stages';
import { RefusedError } from '../errors';
import { logger } from '../logger';
import { announceDeployOnce } from '../messages/ledger';
import { ledgerKeys } from '../messages/ledger-keys';
import type { AlarmTrip } from '../messages/reports';
import { countAutoRollback } from '../metrics';
import { findRollbackTarget } from '../operations/rollback';
import { nowOf, type Runtime } from '../runtime';
import { AUTO_ROLLBACK, isUnreportedRollback } from '../stage/bake';
import { moveTargetOf, moveTo, verifyMoveTarget } from '../stage/moves';
import { runStageTransaction } from '../stage/transaction';
import type { SettleSummary } from './settle-summary';

/** What an alarm event or the schedule did to a stage's bake. */
export type BakeSummary = SettleSummary & {
  verdict: 'rolled-back' | 'no-good-release' | 'baking' | 'passed' | 'ignored' | 'rejected';
};

export interface Trip {
  alarm: string;
  reason: string;
  at: string;
}

/** The stage could not be rolled back: no earlier good release, or none that can be verified. */
class NoGoodReleaseError extends RefusedError {}

const tripOf = (bake: BakeRecord, trip: Trip): AlarmTrip => ({
  name: trip.alarm,
  reason: trip.reason,
  at: trip.at,
  from: bake.version,
  bakeUntil: bake.until,
});

/**
 * Roll the stage back from the baked version, as a move: under the lock, only while this bake is the stage's
 * and its version desired; the version marked failed (SSM label and archived outcome), the last good release
 * verified, recorded as desired and deployed, the ops team told once for the version. Without a good release
 * to go back to, the ops team is told that instead, and the stack is left as it is.
 */
export const rollBack = async (
  runtime: Runtime,
  stage: Stage,
  bake: BakeRecord,
  trip: Trip,
  trigger: string,
): Promise<BakeSummary> => {
  const by = `alarm ${trip.alarm}`;
  const once = ledgerKeys.autoRollback(stage.name, bake.version);
  let ended: BakeRecord | undefined;
  try {
    const moved = await moveTo(
      runtime,
      stage,
      { action: AUTO_ROLLBACK, by, from: String(bake.version) },
      trigger,
      async () => {
        const [current, desired] = await Promise.all([
          readBake(runtime.clients.s3, stage),
          readDesired(runtime.clients.ssm, stage),
        ]);
        if (current?.token !== bake.token || current.state === 'passed' || desired?.version !== bake.version)
          throw new RefusedError(
            `version ${bake.version} is no longer the baking, desired release (version ${desired?.version ?? 'none'} is desired): nothing to roll back`,
          );
        // The first trip is the one told, whichever delivery finishes the rollback.
        const endedNow: BakeRecord = {
          ...current,
          endedAt: current.endedAt ?? new Date(nowOf(runtime)).toISOString(),
          endedBy: current.endedBy ?? trip.alarm,
          reason: current.reason ?? trip.reason,
          trippedAt: current.trippedAt ?? trip.at,
        };
        await Promise.all([
          markFailed(runtime.clients.ssm, stage, bake.version),
          archiveOutcome(runtime.clients.s3, stage, {
            version: bake.version,
            token: bake.token,
            status: bake.status,
            settledAt: bake.settledAt,
            failedBy: by,
          }),
        ]);
        const target = await lastGoodRelease(runtime, stage, trigger).catch(async (error: unknown) => {
          if (!(error instanceof RefusedError)) throw error;
          await reportNoGoodRelease(
            runtime,
            stage,
            { ...endedNow, state: 'no-good-release' },
            error,
            trigger,
          );
          throw new NoGoodReleaseError(error.message, { cause: error });
        });
        ended = { ...endedNow, state: 'rolled-back' };
        await writeBake(runtime.clients.s3, stage, ended);
        return { ...target, replaces: bake.key };
      },
      {
        once,
        report: { alarm: tripOf(bake, trip) },
        finish: async () => {
          if (ended) await writeBake(runtime.clients.s3, stage, { ...ended, reported: true });
        },
      },
    );
    countAutoRollback(stage.name);
    logger.warn('alarm rolled the stage back', {
      stage: stage.name,
      alarm: trip.alarm,
      from: bake.version,
      to: moved.version,
    });
    return {
      verdict: 'rolled-back',
      stage: stage.name,
      version: bake.version,
      rollbackVersion: moved.version,
      notified: moved.notified,
    };
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    const stranded = error instanceof NoGoodReleaseError;
    logger.warn(stranded ? 'the stage has no good release to roll back to' : 'the stage is not rolled back', {
      stage: stage.name,
      alarm: trip.alarm,
      reason: error.message,
    });
    return {
      verdict: stranded ? 'no-good-release' : 'ignored',
      stage: stage.name,
      reason: error.message,
      ...(stranded ? { version: bake.version } : {}),
    };
  }
};

/** The newest earlier release that did not fail, its bytes checked: refused when there is none. */
const lastGoodRelease = async (runtime: Runtime, stage: Stage, trigger: string) => {
  const history = await readWholeHistory(runtime.clients, stage);
  const target = moveTargetOf(stage, findRollbackTarget(history, 'previous'));
  // Checked here too (the move checks it again), so that a release that cannot be deployed is told as such.
  await verifyMoveTarget(runtime, stage, target, trigger, 'the stage was not rolled back');
  return target;
};

/** Under the lock: the bake ended without a rollback; tell the ops team once, then record that it was told. */
const reportNoGoodRelease = async (
  runtime: Runtime,
  stage: Stage,
  ended: BakeRecord,
  why: RefusedError,
  trigger: string,
): Promise<void> => {
  await writeBake(runtime.clients.s3, stage, ended);
  await announceDeployOnce(runtime, ledgerKeys.autoRollback(stage.name, ended.version), {
    outcome: 'failed',
    stage: stage.name,
    stack: stage.stack,
    trigger,
    replaces: ended.key,
    alarm: {
      ...tripOf(ended, {
        alarm: ended.endedBy ?? '',
        reason: ended.reason ?? '',
        at: ended.trippedAt ?? '',
      }),
      noGoodRelease: why.message,
    },
  });
  await writeBake(runtime.clients.s3, stage, { ...ended, reported: true });
};

/**
 * An automatic rollback recorded as desired whose message did not go out (its invocation broke off): under
 * the lock, reconcile the stage (the rollback may not be deployed either), tell the ops team once, and
 * record that it was told.
 */
export const reportRollback = async (
  runtime: Runtime,
  stage: Stage,
  bake: BakeRecord,
  trigger: string,
): Promise<BakeSummary> => {
  let current: BakeRecord | undefined;
  const done = await runStageTransaction<string>(runtime, stage, {
    holder: `report of the automatic rollback of version ${bake.version}`,
    trigger,
    record: async () => {
      const [found, desired] = await Promise.all([
        readBake(runtime.clients.s3, stage),
        readDesired(runtime.clients.ssm, stage),
      ]);
      if (found?.token !== bake.token || !isUnreportedRollback(found, desired))
        return { stop: 'the automatic rollback was reported meanwhile, or the stage moved on' };
      current = found;
      return undefined;
    },
    report: (result) => ({
      report: {
        outcome: result.outcome,
        stage: stage.name,
        stack: stage.stack,
        reconcile: result,
        trigger,
        replaces: bake.key,
        alarm: tripOf(bake, {
          alarm: bake.endedBy ?? '',
          reason: bake.reason ?? '',
          at: bake.trippedAt ?? bake.endedAt ?? '',
        }),
      },
      once: ledgerKeys.autoRollback(stage.name, bake.version),
    }),
    finish: async () => {
      if (current) await writeBake(runtime.clients.s3, stage, { ...current, reported: true });
    },
  });
  if (!done.done) return { verdict: 'ignored', stage: stage.name, reason: done.stop };
  countAutoRollback(stage.name);
  logger.warn('the automatic rollback is reported', { stage: stage.name, version: bake.version });
  return {
    verdict: 'rolled-back',
    stage: stage.name,
    version: bake.version,
    ...(done.result.desired ? { rollbackVersion: done.result.desired.version } : {}),
    notified: done.notified,
  };
};
