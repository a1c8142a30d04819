/**
 * The reconcile trigger: when a stage's stack reaches a final status, reconcile that stage, so a release
 * recorded while the stack was busy is deployed now. A deploy of ours that ended rolled back or failed marks
 * its desired version as failed first, so the same broken release is not retried in a loop.
 */
import { randomUUID } from 'node:crypto';
import { markFailed } from '../aws/release-history';
import { ownRun, settleRun } from '../aws/runs';
import { archiveKept } from '../aws/whole-history';
import { describeIssues, envelope } from '../edge/events';
import { assertSameAccountAndRegion } from '../edge/settings';
import { acceptStackEvent } from '../edge/stack-events';
import { stageAt } from '../edge/stage-place';
import { allStages, type Stage } from '../edge/stages';
import { EventValidationError, errorMessage } from '../errors';
import { logger } from '../logger';
import { eventIdOf, ledgerKeys } from '../messages/ledger-keys';
import { countDeploy, countNotifications, recordSettled } from '../metrics';
import type { Runtime } from '../runtime';
import { isFailureStatus, isFinalStatus, isSuccessfulDeploy } from '../stack-status';
import { isNews, newsReport, runStageTransaction } from '../stage/transaction';
import { endDueBakes, startBake } from './alarm';
import { sendDueDigests } from './api-call-storm';
import { autoPromote } from './promotion';

import type { SettleSummary } from './settle-summary';

export type { SettleSummary };

/** Handle one "CloudFormation Stack Status Change" event. */
export const handleStackSettled = async (runtime: Runtime, raw: unknown): Promise<SettleSummary> => {
  const accepted = acceptStackEvent(runtime, raw);
  if ('rejected' in accepted) return { verdict: 'rejected', reason: accepted.rejected };
  const { event } = accepted;
  if (event?.kind !== 'status-change') return { verdict: 'ignored', reason: 'not a stack status change' };
  if (!isFinalStatus(event.status))
    return { verdict: 'ignored', reason: `in-progress status ${event.status}` };
  const stage = stageAt(runtime.config, runtime.settings, event);
  if (!stage) return { verdict: 'ignored', reason: 'not the stack of a configured stage' };

  const eventId = eventIdOf(raw);
  // Ours only by the deployer's own record of the token (never by how the token looks), and acted on once.
  const run = await ownRun(runtime.clients.s3, stage, event.token, eventId);
  const failed = run && isFailureStatus(event.status) ? run.version : undefined;
  const { result, notified } = await reconcileWithNews(
    runtime,
    stage,
    `stack ${event.stack} reached ${event.status}`,
    eventId,
    async () => {
      if (failed === undefined) return undefined;
      await markFailed(runtime.clients.ssm, stage, failed);
      logger.warn('release failed to deploy; marked so it is not retried', {
        stage: stage.name,
        version: failed,
      });
      return undefined;
    },
  );
  // A release that bakes (alarm-gated stage) is promoted when its bake passes (alarm.ts), not now.
  const completed = run && isSuccessfulDeploy(event.status);
  const baking =
    completed && (await startBake(runtime, stage, run, { status: event.status, settledAt: event.time }));
  const promoted = completed && !baking ? await autoPromote(runtime, stage, run.version) : [];
  // Settled last: a redelivery of an event whose handling broke off acts again (each step is idempotent).
  if (run && run.state !== 'settled') {
    const settled = { eventId, status: event.status, settledAt: event.time };
    await settleRun(runtime.clients.s3, stage, run, settled);
    recordSettled(stage.name, { ...settled, startedAt: run.startedAt });
  }
  return {
    verdict: 'reconciled',
    stage: stage.name,
    outcome: result.outcome,
    ...(failed !== undefined ? { markedFailed: failed } : {}),
    ...(promoted.length ? { promoted } : {}),
    notified,
  };
};

/**
 * The scheduled safety net: reconcile every configured stage, one failure not stopping the others. What it
 * announces is announced once per schedule event (a run without one, by a test or a person, is its own).
 */
export const reconcileAll = async (
  runtime: Runtime,
  eventId: string = randomUUID(),
): Promise<SettleSummary[]> => {
  const stages = allStages(runtime.config);
  const settled = await Promise.allSettled(
    stages.map(async (stage): Promise<SettleSummary> => {
      const { result, notified } = await reconcileWithNews(
        runtime,
        stage,
        'the scheduled reconcile',
        eventId,
      );
      return { verdict: 'reconciled', stage: stage.name, outcome: result.outcome, notified };
    }),
  );
  const failures = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [{ stage: stages[i]?.name, error: s.reason as unknown }] : [],
  );
  for (const { stage, error } of failures)
    logger.error('scheduled reconcile failed', { stage, error: error as Error });
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f) => f.error),
      `scheduled reconcile failed for ${failures.map((f) => `${f.stage}: ${errorMessage(f.error)}`).join('; ')}`,
    );
  }
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
};

/**
 * Reconcile a stage in one stage transaction and tell the ops team what is news, once per triggering event
 * (a refusal once per desired version: each schedule run is an event of its own).
 */
export const reconcileWithNews = async (
  runtime: Runtime,
  stage: Stage,
  trigger: string,
  eventId: string,
  before?: () => Promise<undefined>,
) => {
  const done = await runStageTransaction(runtime, stage, {
    holder: trigger.slice(0, 120),
    trigger,
    ...(before ? { record: before } : {}),
    report: (result) =>
      isNews(result)
        ? {
            report: newsReport(stage, result, trigger),
            once: ledgerKeys.settled(
              result.outcome === 'tampered' ? 'refused' : eventId,
              stage.name,
              result.outcome,
              result.desired?.version,
            ),
          }
        : undefined,
  });
  if (!done.done) throw new Error('a reconcile transaction cannot stop before reconciling');
  if (isNews(done.result)) countDeploy(stage.name, done.result.outcome);
  countNotifications(stage.name, done.notified ? 1 : 0);
  return done;
};

const isScheduledEvent = (raw: unknown): boolean =>
  typeof raw === 'object' &&
  raw !== null &&
  (raw as Record<string, unknown>).source === 'aws.events' &&
  (raw as Record<string, unknown>)['detail-type'] === 'Scheduled Event';

/** The reconcile trigger's entry: the schedule reconciles every stage, a stack status change its stage. */
export const handleReconcileTrigger = async (runtime: Runtime, raw: unknown): Promise<SettleSummary[]> => {
  if (!isScheduledEvent(raw)) return [await handleStackSettled(runtime, raw)];
  const parsed = envelope().safeParse(raw);
  try {
    if (!parsed.success)
      throw new EventValidationError(`malformed schedule event: ${describeIssues(parsed.error)}`);
    assertSameAccountAndRegion(runtime.settings, parsed.data);
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    logger.error('rejected schedule event', { reason: error.message });
    return [{ verdict: 'rejected', reason: error.message }];
  }
  // The sweep of API-call digests rides on the schedule: digests of windows that closed without a later call.
  // So does the history archive's: every version SSM keeps is archived before SSM drops it.
  // And the end of bakes whose time is over (alarm.ts): after the reconcile (even one that failed somewhere).
  // Every part runs to its end; then the first failure fails the invocation, so the schedule retries it.
  const reconciled = reconcileAll(runtime, parsed.data.id);
  const [summaries, ...rest] = await Promise.allSettled([
    reconciled,
    reconciled
      .catch(() => undefined)
      .then(async () => {
        const bakes = await endDueBakes(runtime);
        if (bakes.length > 0) logger.info('bakes checked', { bakes });
      }),
    sendDueDigests(runtime, parsed.data.time),
    Promise.all(allStages(runtime.config).map((stage) => archiveKept(runtime.clients, stage))),
  ]);
  const failed = [summaries, ...rest].find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return summaries.status === 'fulfilled' ? summaries.value : [];
};
