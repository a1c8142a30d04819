/**
 * Reconcile(stage): compare what the stage should run (SSM) with what its stack runs, and move the stack
 * towards the desired release through a change set. Every trigger calls this with just a stage name; it is
 * safe to call twice, and does nothing on a busy stack (the event that ends the busy state calls it again).
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import {
  awaitChangeSet,
  type ChangeSetRef,
  createChangeSet,
  deleteChangeSet,
  executeChangeSet,
  type PlannedChange,
  pendingChangeSets,
} from './change-sets';
import { type Stage, stageNamed } from './config';
import { type DesiredState, isFailed, readDesired } from './desired-state';
import { errorName, PermanentError } from './errors';
import { logger } from './logger';
import { changeSetName, encodeKeyPath } from './names';
import type { Runtime } from './runtime';
import { classifyStatus, deleteStack, describeStack, nextStepFor, stackParameterValue } from './stacks';

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
  /** 'create' when the stack did not exist and is being created. */
  action?: 'create' | 'update';
  changes?: PlannedChange[];
  reason?: string;
  nextStep?: string;
  /** False when another reconcile already did this (a pending change set found, not made). */
  fresh: boolean;
}

export interface ReconcileOptions {
  /** The desired state when the caller has just written it: saves reading it back. */
  desired?: DesiredState;
  /** The desired version was created by this very call: it cannot have been marked failed yet. */
  newlyRecorded?: boolean;
}

/** Reconcile one stage by name. */
export const reconcile = async (
  runtime: Runtime,
  stageName: string,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> => {
  const stage = stageNamed(runtime.config, stageName);
  if (!stage)
    throw new PermanentError(`no stage named ${JSON.stringify(stageName.slice(0, 64))} in the configuration`);
  const base = { stage: stage.name, stack: stage.stack, fresh: true };
  const desired = options.desired ?? (await readDesired(runtime.clients.ssm, stage));
  if (!desired) return { ...base, outcome: 'nothing-desired' };

  const stack = await describeStack(runtime.clients.cfn, stage.stack);
  // REVIEW_IN_PROGRESS: the stack exists only as the target of CREATE change sets; nothing ends that state
  // by itself, so it is created like a missing stack (replacing an outdated pending CREATE change set).
  if (!stack || stack.StackStatus === 'REVIEW_IN_PROGRESS') {
    if (!options.newlyRecorded && (await isFailed(runtime.clients.ssm, stage, desired.version))) {
      return failedRelease({ ...base, desired }, desired);
    }
    return createStack(runtime, stage, desired, stack);
  }

  const status = stack.StackStatus ?? 'UNKNOWN';
  const live = stackParameterValue(stack, stage.stackParameter);
  const seen = { ...base, desired, stackId: stack.StackId, stackStatus: status, ...(live ? { live } : {}) };
  const condition = classifyStatus(status);
  if (condition === 'busy') return { ...seen, outcome: 'waiting' };
  if (status === 'ROLLBACK_COMPLETE' && stage.onFailedCreate === 'recreate') {
    if (await isFailed(runtime.clients.ssm, stage, desired.version)) return failedRelease(seen, desired);
    await deleteStack(runtime.clients.cfn, stage, `recreate-${changeSetName(stage.name, desired.version)}`);
    return {
      ...seen,
      outcome: 'recreating',
      reason: `stack ${stage.stack} failed to create (ROLLBACK_COMPLETE); it is being deleted, and is created again from ${desired.key} when the deletion completes`,
    };
  }
  if (condition === 'needs-person') {
    return {
      ...seen,
      outcome: 'blocked',
      reason: `stack ${stage.stack} is ${status}${stack.StackStatusReason ? `: ${stack.StackStatusReason}` : ''}`,
      nextStep: nextStepFor(status, stage.stack, runtime.settings.region),
    };
  }
  if (live === undefined) {
    return {
      ...seen,
      outcome: 'blocked',
      reason: `stack ${stage.stack} has no parameter ${stage.stackParameter} to receive the release key`,
      nextStep: `Add a ${stage.stackParameter} parameter to the stack's template, or set stackParameter for stage ${stage.name} in the configuration.`,
    };
  }
  if (live === desired.key) return { ...seen, outcome: 'in-sync' };
  if (!options.newlyRecorded && (await isFailed(runtime.clients.ssm, stage, desired.version))) {
    return failedRelease(seen, desired);
  }
  return applyChangeSet(runtime, stage, desired, stack, seen);
};

/** Its deploy already failed and rolled back: retrying the same release would fail the same way. */
const failedRelease = (seen: Omit<ReconcileResult, 'outcome'>, desired: DesiredState): ReconcileResult => ({
  ...seen,
  outcome: 'blocked',
  fresh: false,
  reason: `release ${desired.key} (desired version ${desired.version}) failed to deploy and was rolled back`,
  nextStep: 'Push a new build, or roll back to an earlier release; the failed release is not retried.',
});

const templateUrlOf = (stage: Stage, region: string): string | undefined =>
  stage.template
    ? `https://${stage.template.bucket}.s3.${region}.amazonaws.com/${encodeKeyPath(stage.template.key)}`
    : undefined;

const createStack = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  reviewing: Stack | undefined,
): Promise<ReconcileResult> => {
  const base = {
    stage: stage.name,
    stack: stage.stack,
    desired,
    fresh: true,
    ...(reviewing ? { stackId: reviewing.StackId, stackStatus: reviewing.StackStatus } : {}),
  };
  const templateUrl = templateUrlOf(stage, runtime.settings.region);
  if (!templateUrl) {
    return {
      ...base,
      outcome: 'blocked',
      reason: `stack ${stage.stack} does not exist and stage ${stage.name} names no template to create it from`,
      nextStep: `Add template (bucket and key) to stage ${stage.name} in the configuration, or create the stack.`,
    };
  }
  return applyChangeSet(runtime, stage, desired, undefined, base, {
    templateUrl,
    reviewing: reviewing !== undefined,
  });
};

const applyChangeSet = async (
  runtime: Runtime,
  stage: Stage,
  desired: DesiredState,
  stack: Stack | undefined,
  seen: Omit<ReconcileResult, 'outcome'>,
  create?: { templateUrl: string; reviewing: boolean },
): Promise<ReconcileResult> => {
  const { cfn } = runtime.clients;
  const name = changeSetName(stage.name, desired.version);
  const result = { ...seen, changeSet: name, action: stack ? ('update' as const) : ('create' as const) };

  if (stage.requiresApproval && (stack || create?.reviewing)) {
    const waiting = await discardStalePending(runtime, stage, desired.version);
    if (waiting) return { ...result, outcome: 'pending-approval', fresh: false };
  }
  const created = await createChangeSet(cfn, {
    stage,
    name,
    artifactKey: desired.key,
    stack,
    ...(create ? { templateUrl: create.templateUrl } : {}),
  });
  if (created.result === 'empty') {
    return { ...result, outcome: 'no-change', reason: 'CloudFormation found nothing to change' };
  }
  // A change set found, not made, was made by another reconcile, which reported it.
  const made = { ...result, fresh: created.result === 'created' };
  const state = await awaitChangeSet(cfn, created.ref, runtime.config.settings.changeSetTimeoutSeconds);
  if (state.status === 'empty') {
    await deleteChangeSet(cfn, created.ref);
    return { ...made, outcome: 'no-change', reason: state.reason };
  }
  if (state.status === 'failed') {
    return {
      ...made,
      outcome: 'blocked',
      reason: `change set ${name} failed: ${state.reason}`,
      nextStep: `Read the reason above, fix the template or parameters, then deploy a new build (the failed change set stays on the stack for inspection).`,
    };
  }
  if (stage.requiresApproval) return { ...made, outcome: 'pending-approval', changes: state.changes };
  return execute(runtime, stage, created.ref, { ...made, changes: state.changes });
};

const execute = async (
  runtime: Runtime,
  stage: Stage,
  ref: ChangeSetRef,
  result: Omit<ReconcileResult, 'outcome'>,
): Promise<ReconcileResult> => {
  try {
    await executeChangeSet(runtime.clients.cfn, ref);
    return { ...result, outcome: 'deploying', fresh: true };
  } catch (error) {
    // Another reconcile executed it first, or the stack started changing since: its end reconciles again.
    if (
      errorName(error) === 'InvalidChangeSetStatusException' ||
      errorName(error) === 'InvalidChangeSetStatus'
    ) {
      logger.info('change set already executed or obsolete; waiting for the stack', {
        stage: stage.name,
        changeSet: ref.name,
      });
      return { ...result, outcome: 'waiting', fresh: false };
    }
    throw error;
  }
};

/**
 * On an approval stage, delete pending change sets made for older desired versions (approving one would
 * deploy an outdated release). Returns true when the change set for the current version already waits.
 */
const discardStalePending = async (runtime: Runtime, stage: Stage, version: number): Promise<boolean> => {
  const pending = await pendingChangeSets(runtime.clients.cfn, stage);
  for (const old of pending.filter((p) => p.version !== version)) {
    await deleteChangeSet(runtime.clients.cfn, old);
    logger.info('deleted a pending change set for an older release', {
      stage: stage.name,
      changeSet: old.name,
    });
  }
  return pending.some((p) => p.version === version && p.status === 'CREATE_COMPLETE');
};
