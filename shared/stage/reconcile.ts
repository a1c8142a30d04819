/**
 * Reconcile(stage): compare what the stage should run (SSM) with what its stack runs, and move the stack
 * towards the desired release through a change set. Every trigger calls it through the stage transaction
 * (shared/stage/transaction.ts), under the stage's lock; it is safe to call twice, and does nothing on a busy stack (the event that ends the busy state calls it again).
 * The release is verified (bytes against recorded digests) before anything is created, recreated or executed.
 * What it came to is data (shared/outcomes.ts): an outcome, and why as a reason code with its facts; the
 * words are the messages' (shared/messages/reasons.ts).
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { deleteChangeSet, isReadyToExecute, pendingChangeSets } from '../aws/change-sets';
import type { DesiredState } from '../aws/desired-state';
import { isFailed, readDesired } from '../aws/release-history';
import { type Applied, readApplied } from '../aws/runs';
import { deleteStack, describeStack, stackParameterValue } from '../aws/stacks';
import { stageCfn } from '../aws/stage-clients';
import { stageRegion } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { ReleaseIntegrityError } from '../errors';
import { logger } from '../logger';
import { changeSetName } from '../names';
import type { ReconcileResult } from '../outcomes';
import type { Runtime } from '../runtime';
import { awaitsCreation, classifyStatus, isFailedCreation } from '../stack-status';
import { executeRun, type Fence, prepareChangeSet } from './change-set-runs';
import { frozenFor } from './freeze-gate';
import {
  type PrefetchedTemplate,
  pinnedTemplateKey,
  UnverifiableReleaseError,
  type VerifiedRelease,
  verifyRelease,
} from './verified-release';

export interface ReconcileOptions {
  /** The desired state when the caller has just written or read it: saves reading it back. */
  desired?: DesiredState;
  /** The desired version was created by this very call: it cannot have been marked failed yet. */
  newlyRecorded?: boolean;
  /** The caller verified the artifact's bytes moments ago (the deploy path's copy). */
  artifactVerified?: boolean;
  /** The stage lock the caller holds: confirmed right before a change set is executed. */
  lease?: Fence;
  /** The stack and the applied record, when the caller read them under the same lock moments ago. */
  observed?: Observed;
  /** The pinned template, being read already (see prefetchTemplate). */
  prefetched?: PrefetchedTemplate;
}

export interface Observed {
  stack: Stack | undefined;
  applied: Applied | undefined;
}

/** Read what reconcile looks at besides the desired state: the stack, and what the deployer last applied. */
export const observeStage = async (runtime: Runtime, stage: Stage): Promise<Observed> => {
  const [stack, applied] = await Promise.all([
    describeStack(stageCfn(runtime, stage), stage.stack),
    readApplied(runtime.clients.s3, stage),
  ]);
  return { stack, applied };
};

type Seen = Omit<ReconcileResult, 'outcome'>;

/** Reconcile one stage. */
export const reconcile = async (
  runtime: Runtime,
  stage: Stage,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> => {
  const base = { stage: stage.name, stack: stage.stack, fresh: true };
  const read = options.desired ? undefined : await readDesired(runtime.clients.ssm, stage);
  const desired = options.desired ?? read;
  if (!desired) return { ...base, outcome: 'nothing-desired' };
  const failed = async () =>
    read
      ? read.failed
      : !options.newlyRecorded && (await isFailed(runtime.clients.ssm, stage, desired.version));

  const { stack, applied } = options.observed ?? (await observeStage(runtime, stage));
  // A stack that awaits creation is created like a missing one (replacing an outdated pending CREATE change set).
  if (!stack || awaitsCreation(stack.StackStatus)) {
    const seen = {
      ...base,
      desired,
      ...(stack ? { stackId: stack.StackId, stackStatus: stack.StackStatus } : {}),
    };
    if (await failed()) return failedRelease(seen, desired);
    return deployRelease(runtime, stage, desired, undefined, seen, options, stack !== undefined, applied);
  }

  const status = stack.StackStatus ?? 'UNKNOWN';
  const live = stackParameterValue(stack, stage.stackParameter);
  const seen = { ...base, desired, stackId: stack.StackId, stackStatus: status, ...(live ? { live } : {}) };
  const condition = classifyStatus(status);
  if (condition === 'busy') return { ...seen, outcome: 'waiting' };
  if (isFailedCreation(status) && stage.onFailedCreate === 'recreate') {
    if (await failed()) return failedRelease(seen, desired);
    return recreate(runtime, stage, desired, seen, options);
  }
  if (condition === 'needs-person') {
    return {
      ...seen,
      outcome: 'blocked',
      why: {
        code: 'stack-needs-person',
        status,
        ...(stack.StackStatusReason ? { statusReason: stack.StackStatusReason } : {}),
        region: stageRegion(runtime.settings, stage),
      },
    };
  }
  if (live === undefined) {
    return {
      ...seen,
      outcome: 'blocked',
      why: { code: 'no-stack-parameter', parameter: stage.stackParameter },
    };
  }
  // A release that changes only the template keeps the artifact key: the template it pins must be applied too.
  const template = desired.provenance.template;
  if (live === desired.key && (!template || applied?.template === template))
    return { ...seen, outcome: 'in-sync' };
  if (await failed()) return failedRelease(seen, desired);
  return deployRelease(runtime, stage, desired, stack, seen, options, false, applied);
};

/** Its deploy already failed and rolled back: retrying the same release would fail the same way. */
const failedRelease = (seen: Seen, desired: DesiredState): ReconcileResult => ({
  ...seen,
  outcome: 'blocked',
  fresh: false,
  why: { code: 'release-failed', key: desired.key, version: desired.version },
});

/** Verify the release; a mismatch or an unverifiable version is reported instead of deployed. */
const verified = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  seen: Seen,
  options: ReconcileOptions,
  creating: boolean,
): Promise<VerifiedRelease | ReconcileResult> => {
  try {
    return await verifyRelease(runtime.clients.s3, stage, desired, {
      creating,
      region: stageRegion(runtime.settings, stage),
      ...(options.artifactVerified ? { artifactVerified: true } : {}),
      ...(options.prefetched ? { prefetched: options.prefetched } : {}),
    });
  } catch (error) {
    if (error instanceof ReleaseIntegrityError) {
      logger.error('release does not match its recorded digest; nothing deployed', {
        stage: stage.name,
        reason: error.message,
      });
      return {
        ...seen,
        outcome: 'tampered',
        why: { code: 'release-tampered', location: error.location, detail: error.message },
      };
    }
    if (error instanceof UnverifiableReleaseError) {
      return { ...seen, outcome: 'blocked', why: { code: error.code, detail: error.message } };
    }
    throw error;
  }
};

const isResult = (value: VerifiedRelease | ReconcileResult): value is ReconcileResult => 'outcome' in value;

const deployRelease = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  stack: Stack | undefined,
  seen: Seen,
  options: ReconcileOptions,
  reviewing: boolean,
  applied: Applied | undefined,
): Promise<ReconcileResult> => {
  const frozen = frozenFor(runtime, stage, desired);
  if (frozen) return { ...seen, outcome: 'frozen', why: frozen };
  const release = await verified(runtime, stage, desired, seen, options, stack === undefined);
  if (isResult(release)) return release;
  const templateKey = pinnedTemplateKey(stage, desired);
  const result = {
    ...seen,
    changeSet: changeSetName(stage.name, desired.version),
    action: stack ? ('update' as const) : ('create' as const),
    ...(templateKey ? { template: templateKey } : {}),
  };
  if (stage.requiresApproval && (stack || reviewing)) {
    const waiting = await discardStalePending(runtime, stage, desired.version);
    if (waiting) return { ...result, outcome: 'pending-approval', fresh: false };
  }
  const run = await prepareChangeSet(runtime, stage, desired, stack, release, applied);
  if (run.outcome === 'empty') {
    const detail = run.reason === undefined ? {} : { detail: run.reason };
    return { ...result, outcome: 'no-change', why: { code: 'nothing-to-change', ...detail } };
  }
  if (run.outcome === 'failed') {
    return {
      ...result,
      outcome: 'blocked',
      token: run.token,
      // A failed change set found again (an earlier run's) was reported when it failed.
      fresh: run.fresh,
      why: { code: 'change-set-failed', changeSet: run.changeSet, detail: run.reason },
    };
  }
  const made = { ...result, token: run.token, changes: run.changes, fresh: run.fresh };
  if (stage.requiresApproval) return { ...made, outcome: 'pending-approval' };
  const executed = await executeRun(runtime, stage, run.ref, run.record, options.lease);
  return executed === 'executed'
    ? { ...made, outcome: 'deploying', fresh: true }
    : { ...made, outcome: 'waiting', fresh: false };
};

/** A stack whose creation failed: verify the release it will be created from, then delete it. */
const recreate = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  seen: Seen,
  options: ReconcileOptions,
): Promise<ReconcileResult> => {
  const frozen = frozenFor(runtime, stage, desired);
  if (frozen) return { ...seen, outcome: 'frozen', why: frozen };
  const release = await verified(runtime, stage, desired, seen, options, true);
  if (isResult(release)) return release;
  await deleteStack(
    stageCfn(runtime, stage),
    stage,
    `recreate-${changeSetName(stage.name, desired.version)}`,
  );
  return {
    ...seen,
    outcome: 'recreating',
    why: { code: 'stack-recreated', key: desired.key },
  };
};

/**
 * On an approval stage, delete pending change sets made for older desired versions (approving one would
 * deploy an outdated release). Returns true when the change set for the current version already waits.
 */
const discardStalePending = async (runtime: Runtime, stage: Stage, version: number): Promise<boolean> => {
  const cfn = stageCfn(runtime, stage);
  const pending = await pendingChangeSets(cfn, stage);
  for (const old of pending.filter((p) => p.version !== version)) {
    await deleteChangeSet(cfn, old);
    logger.info('deleted a pending change set for an older release', {
      stage: stage.name,
      changeSet: old.name,
    });
  }
  return pending.some((p) => p.version === version && isReadyToExecute(p));
};
