/**
 * The deploy path for one pipeline event: validate it, then for each stage the pipeline feeds: find this
 * execution's build, release it under an immutable key, record that key as desired, reconcile the stage
 * and tell the ops team. Safe to deliver twice; an older execution never overwrites a newer one.
 */
import { type BuildArtifact, locateBuild, type Release, releaseBuild } from '../aws/artifacts';
import { labelRecorded, type RecordResult, recordDesired } from '../aws/desired-state';
import { readHistory } from '../aws/release-history';
import { pinConfiguredTemplate, releaseBuildTemplate } from '../aws/release-templates';
import { describeStack } from '../aws/stacks';
import { releaseBucketOf, type Stage, stagesOfPipeline } from '../edge/config';
import { type PipelineExecution, parsePipelineEvent } from '../edge/events';
import { assertSameAccountAndRegion } from '../edge/settings';
import { EventValidationError, errorMessage, isPermanent } from '../errors';
import { logger } from '../logger';
import { announceDeploy, type DeployOutcome } from '../messages/deploy-messages';
import { announceDeployOnce } from '../messages/ledger';
import { ledgerKeys } from '../messages/ledger-keys';
import { executionLabel } from '../names';
import type { Runtime } from '../runtime';
import { runStageTransaction } from '../stage/transaction';

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
  const releases = new Map<string, Promise<unknown>>();
  const settled = await Promise.allSettled(
    stages.map((stage) => deployStage(runtime, stage, execution, releases)),
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
  if (failures.length > 0) {
    // Transient AWS faults after the SDK's own retries: fail the invocation so the platform retries the
    // event. Every step is idempotent, so the stages that succeeded find nothing left to do.
    throw new AggregateError(
      failures,
      `deploy of ${execution.pipeline} execution ${execution.executionId} failed for ${failures.length} of ${stages.length} stage(s): ${failures.map(errorMessage).join('; ')}`,
    );
  }
  return { verdict: 'deployed', ...ids, stages: summaries };
};

/**
 * The configured template is the template of a stage's first release, and of the release that creates a
 * stack that does not exist yet; an existing stack keeps its own template until a build brings one.
 */
const firstTemplate = async (runtime: Runtime, stage: Stage, firstVersion: boolean) => {
  if (!stage.template) return undefined;
  if (!firstVersion && (await describeStack(runtime.clients.cfn, stage.stack))) return undefined;
  return pinConfiguredTemplate(runtime.clients.s3, stage);
};

/** Release the build once per invocation for stages that share a source and a release location. */
const releaseOnce = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  releases: Map<string, Promise<unknown>>,
): Promise<Release> => {
  const { s3 } = runtime.clients;
  const { bucket, key, executionMetadataKey, commitMetadataKey, templateKey } = stage.artifact;
  const where = [releaseBucketOf(stage), stage.releasePrefix];
  // The artifact and the template the build published beside it are released together; stages that share a
  // source and a release location share each release (a stage may publish a template where another does not).
  const [artifact, template] = await Promise.all([
    once(releases, ['artifact', bucket, key, executionMetadataKey, commitMetadataKey, ...where], () =>
      locateBuild(s3, stage, execution).then((build: BuildArtifact) =>
        releaseBuild(s3, stage, build, execution),
      ),
    ),
    once(releases, ['template', bucket, templateKey ?? '', executionMetadataKey, ...where], () =>
      releaseBuildTemplate(s3, stage, execution),
    ),
  ]);
  return template ? { ...artifact, template } : artifact;
};

/** The promise made for this id in this invocation, or a new one. */
const once = <T>(cache: Map<string, Promise<unknown>>, id: string[], make: () => Promise<T>): Promise<T> => {
  const key = JSON.stringify(id);
  const found = cache.get(key) as Promise<T> | undefined;
  if (found) return found;
  const made = make();
  cache.set(key, made);
  return made;
};

const deployStage = async (
  runtime: Runtime,
  stage: Stage,
  execution: PipelineExecution,
  releases: Map<string, Promise<unknown>>,
): Promise<StageSummary> => {
  const base = { stage: stage.name, stack: stage.stack };
  /** A redelivery of a delivery that finished (recorded and labelled). */
  let duplicate = false;
  let release: Release;
  try {
    release = await releaseOnce(runtime, stage, execution, releases);
  } catch (error) {
    if (!isPermanent(error)) throw error;
    logger.error('build cannot be released', {
      ...base,
      executionId: execution.executionId,
      reason: error.message,
    });
    // Nothing is recorded for a build that cannot be released: the ledger keeps a redelivery quiet.
    const key = ledgerKeys.deployOutcome(stage.name, execution.executionId, 'failed');
    const notified = await announceDeployOnce(runtime, key, {
      outcome: 'failed',
      ...base,
      execution,
      error: error.message,
    });
    return { ...base, outcome: 'failed', notified, error: error.message };
  }
  // Recording, reconciling and reporting hold the stage's lock: deliveries of the same or other builds for
  // this stage take turns, so none is recorded twice, an older one never lands after a newer one, and only
  // one change set is executed.
  const done = await runStageTransaction<StageSummary>(runtime, stage, {
    holder: `deploy ${execution.executionId}`,
    trigger: `pipeline ${execution.pipeline} execution ${execution.executionId}`,
    record: async () => {
      const recorded = await recordDesired(runtime.clients.ssm, stage, release, execution, (first) =>
        firstTemplate(runtime, stage, first),
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
      duplicate = recorded.outcome === 'duplicate' && recorded.announced;
      return {
        desired: { parameter: stage.ssmParameter, key: release.key, ...recorded },
        newlyRecorded: recorded.outcome === 'recorded',
        // The release was copied (or found) and checked against its digest moments ago, in this invocation.
        artifactVerified: true,
      };
    },
    // A duplicate of a delivery that finished says nothing new, unless it did something the first did not.
    report: (result) =>
      duplicate && (!result.fresh || ['in-sync', 'waiting', 'blocked'].includes(result.outcome))
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
          release.commitId,
        );
    },
  });
  if (!done.done) return done.stop;
  const { result, notified, recorded } = done;
  logger.info('stage reconciled', { ...base, outcome: result.outcome, changeSet: result.changeSet });
  return {
    ...base,
    releaseKey: release.key,
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
    error: `recorded as desired version ${mine.version} (and deployed if its change set ran); a newer build is desired now (version ${newest})`,
  });
  await labelRecorded(runtime.clients.ssm, stage, mine.version, execution.executionId, release.commitId);
  return notified;
};

const releasedAs = (release: Release, recorded: RecordResult) => ({
  releaseKey: release.key,
  recorded: recorded.outcome,
  desiredVersion: recorded.version,
});
