/**
 * One run of the deployer on a stage's stack: make the change set for a desired version (recording it, with an
 * unpredictable token, before CloudFormation sees it), wait for it, and execute it — or leave it for
 * approval. The run record is what later tells the deployer's own operations from look-alikes.
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { rollbackConfigurationOf } from '../aws/alarms';
import { awaitChangeSet, type PlannedChange } from '../aws/change-set-wait';
import { type ChangeSetRef, createChangeSet, deleteChangeSet, executeChangeSet } from '../aws/change-sets';
import type { DesiredState } from '../aws/desired-state';
import { buildStartOf } from '../aws/provenance';
import {
  type Applied,
  newRunToken,
  type RunRecord,
  readRun,
  tokenInDescription,
  writeApplied,
  writeRun,
} from '../aws/runs';
import { stageCfn } from '../aws/stage-clients';
import { stagePlace } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { errorName } from '../errors';
import { logger } from '../logger';
import { changeSetName } from '../names';
import type { Runtime } from '../runtime';
import { templateParameters, type VerifiedRelease } from './verified-release';

/** Proof that the caller still holds the stage's lock; checked right before a change set is executed. */
export interface Fence {
  confirm(): Promise<void>;
}

export type RunOutcome =
  /** `reason`: CloudFormation's words for the empty change set, when it gave any. */
  | { outcome: 'empty'; reason?: string; changeSet: string }
  | { outcome: 'failed'; reason: string; changeSet: string; token: string; fresh: boolean }
  | {
      outcome: 'ready';
      changeSet: string;
      token: string;
      changes: PlannedChange[];
      fresh: boolean;
      record: RunRecord;
      ref: ChangeSetRef;
    };

/**
 * Make (or find) the change set for the desired version and wait until CloudFormation has computed it.
 * A change set of that name that the deployer did not record (someone made it, or replaced ours) is deleted
 * and made again.
 */
export const prepareChangeSet = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  stack: Stack | undefined,
  release: VerifiedRelease,
  applied?: Applied,
): Promise<RunOutcome> => {
  const { s3 } = runtime.clients;
  const cfn = stageCfn(runtime, stage);
  const name = changeSetName(stage.name, desired.version);
  const token = newRunToken(stage, desired.version);
  const startedAt = buildStartOf(desired.provenance);
  const parameters = stack ? await templateParameters(cfn, release.template, applied) : undefined;
  const record: RunRecord = {
    token,
    stage: stage.name,
    stack: stage.stack,
    version: desired.version,
    artifactKey: desired.key,
    artifact: release.artifactSha256,
    ...(release.template.kind === 'pinned' ? { template: release.template.sha256 } : {}),
    ...(parameters ? { parameters } : {}),
    changeSet: name,
    state: 'created',
    createdAt: new Date().toISOString(),
    ...(startedAt ? { startedAt } : {}),
  };
  const request = {
    stage,
    name,
    token,
    artifactKey: desired.key,
    stack,
    template: release.template,
    ...(parameters ? { templateParameters: parameters } : {}),
    ...withRollbackConfiguration(runtime, stage),
  };
  // The record and the change set are made together: an execute (which alone starts an operation on the
  // stack) comes only after both; a change set found later without its record is replaced, not adopted.
  let [, created] = await Promise.all([writeRun(s3, stage, record), createChangeSet(cfn, request)]);
  let run = record;
  let fresh = true;
  if (created.result === 'exists') {
    const earlier = await ourEarlierRun(runtime, stage, desired, created.ref, created.description);
    if (earlier) {
      // Another reconcile of ours made it (and reported it).
      run = earlier;
      fresh = false;
    } else {
      logger.warn("a change set with the deployer's name was not made by the deployer; it is replaced", {
        stage: stage.name,
        changeSet: name,
      });
      await deleteChangeSet(cfn, created.ref);
      created = await createChangeSet(cfn, request);
    }
  }
  if (created.result === 'empty') return { outcome: 'empty', changeSet: name };
  // Found and ours (an earlier run's), or made now; one that reappeared after its deletion is neither.
  if (created.result === 'exists' && fresh)
    throw new Error(`change set ${name} on ${stage.stack} reappeared after it was deleted`);
  const ref = created.ref;
  if (fresh) run = { ...record, ...(ref.id ? { changeSetId: ref.id } : {}) };
  // An approval stage's record names the change set's ARN before anyone can approve it (approve executes
  // only the recorded ARN); elsewhere the record written right before the execute names it. Written while
  // CloudFormation computes the change set.
  const [state] = await Promise.all([
    awaitChangeSet(cfn, ref, runtime.config.settings.changeSetTimeoutSeconds),
    fresh && stage.requiresApproval ? writeRun(s3, stage, run) : undefined,
  ]);
  if (state.status === 'empty') {
    await deleteChangeSet(cfn, ref);
    await writeApplied(s3, stage, appliedOf(run));
    return { outcome: 'empty', reason: state.reason, changeSet: name };
  }
  if (state.status === 'failed')
    return { outcome: 'failed', reason: state.reason, changeSet: name, token: run.token, fresh };
  return {
    outcome: 'ready',
    changeSet: name,
    token: run.token,
    changes: state.changes,
    fresh,
    record: run,
    ref,
  };
};

/** The earlier run of the deployer that made this change set for this desired version, if one did. */
const ourEarlierRun = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  ref: ChangeSetRef,
  description: string | undefined,
): Promise<RunRecord | undefined> => {
  const token = tokenInDescription(description);
  const record = token ? await readRun(runtime.clients.s3, stage, token) : undefined;
  const matches =
    record &&
    record.version === desired.version &&
    record.artifactKey === desired.key &&
    record.template === desired.provenance.template &&
    (record.changeSetId === undefined || record.changeSetId === ref.id);
  return matches ? { ...record, ...(ref.id ? { changeSetId: ref.id } : {}) } : undefined;
};

/** The stage's alarms as CloudFormation's rollback triggers, in the stage's own account and region. */
const withRollbackConfiguration = (runtime: Runtime, stage: Stage) => {
  const rollbackConfiguration = rollbackConfigurationOf(stagePlace(runtime.settings, stage), stage);
  return rollbackConfiguration ? { rollbackConfiguration } : {};
};

const appliedOf = (run: RunRecord): Applied => ({
  version: run.version,
  key: run.artifactKey,
  ...(run.template ? { template: run.template } : {}),
  ...(run.parameters ? { parameters: run.parameters } : {}),
  token: run.token,
});

export type ExecuteOutcome = 'executed' | 'already-executed';

/**
 * Execute a recorded change set with its run's token, once: the caller's lease is confirmed first (a writer
 * that lost the stage's lock stops here), and the record and the applied state are written around it.
 */
export const executeRun = async (
  runtime: Runtime,
  stage: Stage,
  ref: ChangeSetRef,
  run: RunRecord,
  fence: Fence | undefined,
): Promise<ExecuteOutcome> => {
  const { s3 } = runtime.clients;
  const cfn = stageCfn(runtime, stage);
  await fence?.confirm();
  await writeRun(s3, stage, { ...run, state: 'executing' });
  try {
    await executeChangeSet(cfn, ref, run.token);
  } catch (error) {
    // Another reconcile executed it first, or the stack started changing since: its end reconciles again.
    if (['InvalidChangeSetStatusException', 'InvalidChangeSetStatus'].includes(errorName(error) ?? '')) {
      logger.info('change set already executed or obsolete; waiting for the stack', {
        stage: stage.name,
        changeSet: ref.name,
      });
      return 'already-executed';
    }
    throw error;
  }
  await writeApplied(s3, stage, appliedOf(run));
  return 'executed';
};
