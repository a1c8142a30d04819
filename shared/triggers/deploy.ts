/**
 * The deploy path for one pipeline event: validate it, then for each stage the pipeline feeds: find this
 * execution's build, release it under an immutable key, record that key as desired, reconcile the stage
 * and tell the ops team. Safe to deliver twice; an older execution never overwrites a newer one.
 */
import type { Release } from '../aws/artifacts';
import { labelRecorded, type RecordResult, recordDesired } from '../aws/desired-state';
import { readHistory } from '../aws/release-history';
import { LockYieldedError } from '../aws/stage-lock';
import { type PipelineExecution, parsePipelineEvent } from '../edge/events';
import { assertSameAccountAndRegion } from '../edge/settings';
import { type Stage, stagesOfPipeline } from '../edge/stages';
import { EventValidationError, errorMessage, isPermanent } from '../errors';
import { logger } from '../logger';
import { announceDeploy, type DeployOutcome } from '../messages/deploy-messages';
import { countDeliveries } from '../metrics';
import { executionLabel } from '../names';
import type { Runtime } from '../runtime';
import { observeStage } from '../stage/reconcile';
import { runStageTransaction } from '../stage/transaction';
import { type PrefetchedTemplate, prefetchTemplate } from '../stage/verified-release';
import { firstTemplate, gate, isFirstDelivery, releaseOnce, reportUnreleasable } from './deploy-release';

export type EventVerdict = 'deployed' | 'ignored' | 'rejected';

export interface StageSummary {
  stage: string;
  stack: string;
  outcome: DeployOutcome | 'superseded';
  recorded?: RecordResult['outcome'];
  releaseKey?: string;
  desiredVersion?: number;
  changeSet?: string;
  /** The request token of the deployer's run, when it made or executed a change set. */
  token?: string;
  notified: boolean;
  error?: string;
}

export interface DeploySummary {
  verdict: EventVerdict;
  reason?: string;
  pipeline?: string;
  executionId?: string;
  stages: StageSummary[];
}

/** Handle one "CodePipeline Pipeline Execution State Change" event. */
export const handlePipelineEvent = async (runtime: Runtime, raw: unknown): Promise<DeploySummary> => {
  let execution: PipelineExecution;
  try {
    execution = parsePipelineEvent(raw);
    assertSameAccountAndRegion(runtime.settings, execution);
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    // Reported once and not retried: the same bytes would fail the same way.
    logger.error('rejected pipeline event', { reason: error.message });
    return { verdict: 'rejected', reason: error.message, stages: [] };
  }
  const ids = { pipeline: execution.pipeline, executionId: execution.executionId };
  if (execution.state !== 'SUCCEEDED') {
    logger.info('pipeline state is not SUCCEEDED; nothing to deploy', { ...ids, state: execution.state });
    return { verdict: 'ignored', reason: `state ${execution.state}`, ...ids, stages: [] };
  }
  const stages = stagesOfPipeline(runtime.config, execution.pipeline);
  if (!stages) {
    logger.info('pipeline is not in the configuration; ignored', ids);
    return { verdict: 'ignored', reason: 'pipeline not configured', ...ids, stages: [] };
  }
  if (runtime.config.pipelines[execution.pipeline]?.source === 'upload') {
    logger.info('pipeline takes its builds from uploads (source: upload); its executions are ignored', ids);
    return { verdict: 'ignored', reason: 'pipeline takes uploaded builds', ...ids, stages: [] };
  }
  return { verdict: 'deployed', ...ids, stages: await deployToStages(runtime, stages, execution) };
};

/**
 * Deploy a validated build to each of these stages, side by side, each in its transaction: the path every
 * trigger of a deploy shares (a pipeline that succeeded, a build a CI uploaded). A transient failure of any
 * stage fails the whole call after every stage finished, so that the event is retried.
 */
export const deployToStages = async (
  runtime: Runtime,
  stages: Stage[],
  execution: PipelineExecution,
): Promise<StageSummary[]> => {
  const ids = { pipeline: execution.pipeline, executionId: execution.executionId };
  const releases = new Map<string, Promise<unknown>>();
  // The build is copied to its release once a stage takes its lock or waits for it, not when every stage
  // stops at once (a later build holds it).
  const going = gate();
  const settled = await Promise.allSettled(
    stages.map((stage) => deployStage(runtime, stage, execution, { releases, going })),
  );
  const summaries: StageSummary[] = [];
  const failures: unknown[] = [];
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') summaries.push(outcome.value);
    else {
      failures.push(outcome.reason);
      logger.error('stage deploy failed; the event will be retried', {
        ...ids,
        stage: stages[i]?.name,
        error: outcome.reason as Error,
      });
    }
  });
  countDeliveries(summaries);
  if (failures.length > 0) {
    // Transient AWS faults after the SDK's own retries: fail the invocation so the platform retries the
    // event. Every step is idempotent, so the stages that succeeded find nothing left to do.
    throw new AggregateError(
      failures,
      `deploy of ${buildOf(execution)} failed for ${failures.length} of ${stages.length} stage(s): ${failures.map(errorMessage).join('; ')}`,
    );
  }
  return summaries;
};

/** The build in a sentence: a pipeline's execution, or an uploaded build. */
const buildOf = (execution: PipelineExecution): string =>
  execution.source === 'upload'
    ? `upload pipeline ${execution.pipeline} build ${execution.executionId}`
    : `${execution.pipeline} execution ${execution.executionId}`;

const deployStage = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  { releases, going }: { releases: Map<string, Promise<unknown>>; going: ReturnType<typeof gate> },
): Promise<StageSummary> => {
  const base = { stage: stage.name, stack: stage.stack };
  /** A redelivery of a delivery that finished (recorded and labelled). */
  let duplicate = false;
  // The build is found while the stage's lock is taken, and copied once the stage is taken or waited for.
  const releasing = releaseOnce(runtime, stage, execution, releases, going.opened);
  releasing.catch(() => undefined);
  /** The release, once it is made (the transaction's steps after `record` run only then). */
  let release: Release | undefined;
  const yielded = async (error: unknown): Promise<StageSummary> => {
    if (!(error instanceof LockYieldedError)) throw error;
    logger.info(
      error.later === 'holds'
        ? 'a later build is being deployed to this stage; this one stopped waiting for it'
        : 'a later build waits for this stage first; this one stopped waiting for it',
      { ...base, executionId: execution.executionId, holder: error.holder, rank: error.rank },
    );
    // Nothing was copied for it unless another stage of this event goes on: no release key to name.
    return { ...base, outcome: 'superseded', notified: false };
  };
  // Recording, reconciling and reporting hold the stage's lock: deliveries of the same or other builds for
  // this stage take turns, so none is recorded twice, an older one never lands after a newer one, and only
  // one change set is executed.
  const done = await runStageTransaction<StageSummary>(runtime, stage, {
    holder: `deploy ${execution.executionId}`,
    trigger: execution.source === 'upload' ? buildOf(execution) : `pipeline ${buildOf(execution)}`,
    // A first delivery that finds a later build's deploy holding the stage stops there: it would only be
    // superseded once it got the lock. (A redelivery goes on: it may have a version of its own to report.)
    // It stands in the stage's line once its release is made; a waiter that finds a later build in line
    // stops too, so that only the newest build waiting for the stage asks for it again and again.
    lock: {
      rank: execution.startedAt,
      yieldToLater: isFirstDelivery(execution),
      line: releasing,
      onStay: going.open,
    },
    record: async () => {
      try {
        release = await releasing;
      } catch (error) {
        if (!isPermanent(error)) throw error;
        return { stop: await reportUnreleasable(runtime, stage, execution, error) };
      }
      // What reconcile looks at is read together with the desired state; the pinned template is read while
      // the version is written.
      const observing = observeStage(runtime, stage);
      observing.catch(() => undefined);
      let prefetched: PrefetchedTemplate | undefined;
      const recorded = await recordDesired(
        runtime.clients,
        stage,
        release,
        execution,
        (first) => firstTemplate(runtime, stage, first, observing),
        (template) => {
          prefetched = template ? prefetchTemplate(runtime.clients.s3, stage, template) : undefined;
        },
      );
      if (recorded.outcome === 'superseded') {
        logger.info('a newer execution is already desired; this older one is not recorded', {
          ...base,
          executionId: execution.executionId,
          newer: recorded.by.execution,
        });
        const notified = await reportOvertaken(runtime, stage, execution, release, recorded.version);
        return { stop: { ...base, ...releasedAs(release, recorded), outcome: 'superseded', notified } };
      }
      if (
        recorded.outcome === 'duplicate' &&
        recorded.provenance.artifact !== undefined &&
        recorded.provenance.artifact !== release.sha256
      ) {
        // One build, one set of bytes: the same build uploaded again with other bytes (a CI's retry rebuilt
        // it) leaves the bytes it was recorded with desired; only those are deployed.
        logger.info('this build is recorded already, with other bytes; those stay desired', {
          ...base,
          executionId: execution.executionId,
          recorded: recorded.provenance.artifact,
          delivered: release.sha256,
        });
        return {
          stop: { ...base, ...releasedAs(release, recorded), outcome: 'superseded', notified: false },
        };
      }
      duplicate = recorded.outcome === 'duplicate' && recorded.announced;
      return {
        desired: {
          parameter: stage.ssmParameter,
          key: release.key,
          version: recorded.version,
          provenance: recorded.provenance,
        },
        newlyRecorded: recorded.outcome === 'recorded',
        ...(recorded.outcome === 'recorded' ? { archived: recorded.archived } : {}),
        // The release was copied and checked against its digest moments ago, in this invocation.
        artifactVerified: true,
        observed: await observing,
        ...(prefetched ? { prefetched } : {}),
      };
    },
    // A duplicate of a delivery that finished says nothing new, unless it did something the first did not.
    report: (result) =>
      !release || (duplicate && (!result.fresh || ['in-sync', 'waiting', 'blocked'].includes(result.outcome)))
        ? undefined
        : { report: { outcome: result.outcome, ...base, execution, release, reconcile: result } },
    // Labelled last: a version without its execution label is a delivery whose report may not have gone out.
    finish: async (_, recorded, notified) => {
      if (recorded && notified)
        await labelRecorded(
          runtime.clients.ssm,
          stage,
          recorded.desired.version,
          execution.executionId,
          release?.commitId,
        );
    },
  }).catch(yielded);
  if (!('done' in done)) return done;
  if (!done.done) return done.stop;
  const { result, notified, recorded } = done;
  logger.info('stage reconciled', { ...base, outcome: result.outcome, changeSet: result.changeSet });
  return {
    ...base,
    ...(release ? { releaseKey: release.key } : {}),
    recorded: recorded?.newlyRecorded ? 'recorded' : 'duplicate',
    ...(recorded ? { desiredVersion: recorded.desired.version } : {}),
    outcome: result.outcome,
    ...(result.changeSet ? { changeSet: result.changeSet } : {}),
    ...(result.token ? { token: result.token } : {}),
    notified,
  };
};

/**
 * An earlier delivery of this execution recorded (and may have deployed) its release, then failed before its
 * report went out; a newer build took its place before this redelivery. Its version carries no execution
 * label (labels go on once the report went out): say now what happened to it, once, and label it.
 */
const reportOvertaken = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  release: Release,
  newest: number,
): Promise<boolean> => {
  const label = executionLabel(execution.executionId);
  const mine = (await readHistory(runtime.clients.ssm, stage)).findLast(
    (v) => v.provenance.execution === execution.executionId,
  );
  if (!mine || mine.labels.includes(label)) return false;
  const notified = await announceDeploy(runtime, {
    outcome: 'superseded',
    stage: stage.name,
    stack: stage.stack,
    execution,
    release,
    overtaken: { version: mine.version, newest },
  });
  await labelRecorded(runtime.clients.ssm, stage, mine.version, execution.executionId, release.commitId);
  return notified;
};

const releasedAs = (release: Release, recorded: RecordResult) => ({
  releaseKey: release.key,
  recorded: recorded.outcome,
  desiredVersion: recorded.version,
});
