/**
 * Operating a stage, for a person at 3 a.m.: what runs where (status), what ran before (history), and
 * the moves that change it — roll back, approve or reject a pending change set, promote a release from one
 * stage to another. Every move records a new desired version (so it shows in the history), reconciles the
 * stage under its lock, and tells the ops team like any deploy.
 */

import { DescribeChangeSetCommand } from '@aws-sdk/client-cloudformation';
import { CopyObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { copySourceOf } from './artifacts';
import { deleteChangeSet, executeChangeSet, pendingChangeSets } from './change-sets';
import { releaseBucketOf, type Stage, stageNamed } from './config';
import { announceDeploy } from './deploy-messages';
import { addLabels, type Provenance, readDesired, writeDesired } from './desired-state';
import { isMissingObject, PermanentError } from './errors';
import { changeSetName, keyExtension, rejectedLabel, releaseKey } from './names';
import { type ReconcileResult, reconcile } from './reconcile';
import { latestWithKey, type ReleaseVersion, readHistory } from './release-history';
import type { Runtime } from './runtime';
import { classifyStatus, describeStack, stackParameterValue } from './stacks';
import { withStageLock } from './stage-lock';

/** A refusal a person can act on: nothing was changed. */
export class RefusedError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

export const stageOrRefuse = (runtime: Runtime, name: string): Stage => {
  const stage = stageNamed(runtime.config, name);
  if (!stage) {
    const known = Object.values(runtime.config.pipelines).flatMap((p) => Object.keys(p.stages));
    throw new RefusedError(
      `no stage named ${JSON.stringify(name.slice(0, 64))} (configured: ${known.join(', ')})`,
    );
  }
  return stage;
};

// ------------------------------------------------------------------ status

export interface StageStatus {
  stage: string;
  stack: string;
  stackStatus: string;
  desired?: ReleaseVersion;
  live?: { key: string; release?: ReleaseVersion };
  pendingChangeSet?: { name: string; version: number };
  inSync: boolean;
}

/** What a stage should run, what it runs, and what waits. */
export const stageStatus = async (runtime: Runtime, stage: Stage): Promise<StageStatus> => {
  const { cfn, ssm } = runtime.clients;
  const [stack, history] = await Promise.all([describeStack(cfn, stage.stack), readHistory(ssm, stage)]);
  const desired = history.at(-1);
  const liveKey = stack ? stackParameterValue(stack, stage.stackParameter) : undefined;
  const stackStatus = stack?.StackStatus ?? 'DOES_NOT_EXIST';
  const pending = stack
    ? (await pendingChangeSets(cfn, stage)).find((p) => p.status === 'CREATE_COMPLETE')
    : undefined;
  return {
    stage: stage.name,
    stack: stage.stack,
    stackStatus,
    ...(desired ? { desired } : {}),
    ...(liveKey ? { live: { key: liveKey, ...withRelease(latestWithKey(history, liveKey)) } } : {}),
    ...(pending ? { pendingChangeSet: { name: pending.name, version: pending.version } } : {}),
    inSync:
      desired !== undefined &&
      !desired.failed &&
      liveKey === desired.key &&
      classifyStatus(stackStatus) === 'stable',
  };
};

const withRelease = (release: ReleaseVersion | undefined) => (release ? { release } : {});

// ------------------------------------------------------------------ rollback

/** What `--to` may name: the previous release, a commit (7+ hex digits), or an SSM version number. */
export const findRollbackTarget = (history: ReleaseVersion[], to: string): ReleaseVersion => {
  const current = history.at(-1);
  if (!current) throw new RefusedError('the stage has no deployment history to roll back to');
  const newestFirst = [...history].reverse();
  let target: ReleaseVersion | undefined;
  if (to === 'previous') {
    target = newestFirst.find((v) => v.key !== current.key && !v.failed);
    if (!target)
      throw new RefusedError('no earlier release that differs from the current one and did not fail');
  } else if (/^[1-9][0-9]{0,15}$/.test(to) && history.some((v) => v.version === Number(to))) {
    target = history.find((v) => v.version === Number(to));
  } else if (/^[0-9a-f]{7,64}$/i.test(to)) {
    // Also a number that is no version here: a commit id may be made of digits only.
    const wanted = to.toLowerCase();
    target = newestFirst.find((v) => v.provenance.commit?.toLowerCase().startsWith(wanted));
    if (!target) {
      throw new RefusedError(
        /^\d+$/.test(to)
          ? `no version and no release of commit ${to} in the history (it keeps versions ${history[0]?.version}..${current.version})`
          : `no release of commit ${to} in the history`,
      );
    }
  } else if (/^[1-9][0-9]{0,15}$/.test(to)) {
    throw new RefusedError(
      `no version ${to} in the history (it keeps versions ${history[0]?.version}..${current.version})`,
    );
  } else {
    throw new RefusedError(
      `--to takes "previous", a commit id (7 to 64 hex digits) or an SSM version number, not ${JSON.stringify(to.slice(0, 80))}`,
    );
  }
  if (!target) throw new RefusedError(`no release ${JSON.stringify(to.slice(0, 80))} in the history`);
  if (target.key === current.key)
    throw new RefusedError(`version ${target.version} holds the release already desired (${current.key})`);
  return target;
};

const assertObjectExists = async (runtime: Runtime, stage: Stage, key: string): Promise<void> => {
  try {
    await runtime.clients.s3.send(new HeadObjectCommand({ Bucket: releaseBucketOf(stage), Key: key }));
  } catch (error) {
    if (isMissingObject(error)) {
      throw new RefusedError(
        `the release object s3://${releaseBucketOf(stage)}/${key} is gone: it cannot be deployed again`,
      );
    }
    throw error;
  }
};

export interface MoveResult {
  stage: string;
  action: string;
  version: number;
  key: string;
  reconcile: ReconcileResult;
  notified: boolean;
}

/** Record `key` as desired by a person's move, reconcile, and tell the ops team. */
const moveTo = async (
  runtime: Runtime,
  stage: Stage,
  key: string,
  provenance: Provenance,
  trigger: string,
): Promise<MoveResult> => {
  const { version, result } = await withStageLock(
    runtime.clients.s3,
    stage,
    `${provenance.action} by ${provenance.by}`,
    async () => {
      const version = await writeDesired(runtime.clients.ssm, stage, key, provenance, true);
      const result = await reconcile(runtime, stage.name, {
        desired: { parameter: stage.ssmParameter, key, version },
        newlyRecorded: true,
      });
      return { version, result };
    },
  );
  await announceDeploy(runtime, {
    outcome: result.outcome,
    stage: stage.name,
    stack: stage.stack,
    reconcile: result,
    trigger,
    ...(provenance.commit ? { commitId: provenance.commit } : {}),
  });
  return {
    stage: stage.name,
    action: provenance.action ?? 'move',
    version,
    key,
    reconcile: result,
    notified: true,
  };
};

const now = () => new Date().toISOString();

/** Make an earlier release desired again, and deploy it. */
export const rollback = async (
  runtime: Runtime,
  stageName: string,
  to: string,
  by: string,
): Promise<MoveResult> => {
  const stage = stageOrRefuse(runtime, stageName);
  const history = await readHistory(runtime.clients.ssm, stage);
  const target = findRollbackTarget(history, to);
  await assertObjectExists(runtime, stage, target.key);
  const provenance: Provenance = {
    action: 'rollback',
    by,
    from: String(target.version),
    startedAt: now(),
    ...(target.provenance.commit ? { commit: target.provenance.commit } : {}),
  };
  return moveTo(runtime, stage, target.key, provenance, `a rollback by ${by} to version ${target.version}`);
};

// ------------------------------------------------------------------ approve / reject

/** The pending change set for the current desired release, checked to be safe to execute. */
const currentPending = async (runtime: Runtime, stage: Stage) => {
  if (!stage.requiresApproval)
    throw new RefusedError(`stage ${stage.name} does not require approval: its deploys run on their own`);
  const desired = await readDesired(runtime.clients.ssm, stage);
  if (!desired) throw new RefusedError(`stage ${stage.name} has no desired release`);
  const pending = await pendingChangeSets(runtime.clients.cfn, stage);
  const wanted = changeSetName(stage.name, desired.version);
  const current = pending.find((p) => p.name === wanted && p.status === 'CREATE_COMPLETE');
  if (!current) {
    const others = pending.map((p) => p.name).join(', ');
    throw new RefusedError(
      `no pending change set for the current desired release (version ${desired.version}, ${wanted})${others ? `; ${others} is for an older release and will not be executed` : ''}`,
    );
  }
  const [described, stack] = await Promise.all([
    runtime.clients.cfn.send(
      new DescribeChangeSetCommand({ StackName: stage.stack, ChangeSetName: current.id ?? current.name }),
    ),
    describeStack(runtime.clients.cfn, stage.stack),
  ]);
  if (described.ExecutionStatus !== 'AVAILABLE') {
    throw new RefusedError(
      `change set ${current.name} cannot be executed: it is ${described.ExecutionStatus}`,
    );
  }
  const changedSince =
    stack?.LastUpdatedTime &&
    described.CreationTime &&
    stack.LastUpdatedTime.getTime() > described.CreationTime.getTime();
  if (changedSince) {
    throw new RefusedError(
      `stack ${stage.stack} changed after change set ${current.name} was made; it is stale (the next reconcile makes a new one)`,
    );
  }
  return { desired, changeSet: current, stack };
};

/** Execute the pending change set of an approval stage. */
export const approve = async (runtime: Runtime, stageName: string, by: string) => {
  const stage = stageOrRefuse(runtime, stageName);
  return withStageLock(runtime.clients.s3, stage, `approve by ${by}`, async () => {
    const { desired, changeSet, stack } = await currentPending(runtime, stage);
    const commit = (await readHistory(runtime.clients.ssm, stage)).find((v) => v.version === desired.version)
      ?.provenance.commit;
    await executeChangeSet(runtime.clients.cfn, changeSet);
    const creating = !stack || stack.StackStatus === 'REVIEW_IN_PROGRESS';
    const result: ReconcileResult = {
      outcome: 'deploying',
      stage: stage.name,
      stack: stage.stack,
      desired,
      changeSet: changeSet.name,
      action: creating ? 'create' : 'update',
      fresh: true,
    };
    await announceDeploy(runtime, {
      outcome: 'deploying',
      stage: stage.name,
      stack: stage.stack,
      reconcile: result,
      trigger: `approval by ${by}`,
      ...(commit ? { commitId: commit } : {}),
    });
    return {
      stage: stage.name,
      action: 'approve',
      version: desired.version,
      key: desired.key,
      changeSet: changeSet.name,
    };
  });
};

/**
 * Delete the pending change set of an approval stage, and make what the stage runs now desired again, so
 * no later reconcile proposes the rejected release again. The rejected version is labelled for the history.
 */
export const reject = async (
  runtime: Runtime,
  stageName: string,
  by: string,
): Promise<MoveResult & { changeSet: string }> => {
  const stage = stageOrRefuse(runtime, stageName);
  const { desired, changeSet, running } = await withStageLock(
    runtime.clients.s3,
    stage,
    `reject by ${by}`,
    async () => {
      const found = await currentPending(runtime, stage);
      const running = found.stack ? stackParameterValue(found.stack, stage.stackParameter) : undefined;
      if (!running) {
        // The first release of a stage: nothing runs that could stay desired instead.
        throw new RefusedError(
          `stack ${stage.stack} runs no release yet, so there is nothing to keep instead of version ${found.desired.version}; delete the stack (or leave the change set) to stop this first deploy`,
        );
      }
      await deleteChangeSet(runtime.clients.cfn, found.changeSet);
      await addLabels(runtime.clients.ssm, stage, found.desired.version, [
        rejectedLabel(found.desired.version),
      ]);
      return { ...found, running };
    },
  );
  const commit = latestWithKey(await readHistory(runtime.clients.ssm, stage), running)?.provenance.commit;
  const provenance: Provenance = {
    action: 'reject',
    by,
    from: String(desired.version),
    startedAt: now(),
    ...(commit ? { commit } : {}),
  };
  const moved = await moveTo(
    runtime,
    stage,
    running,
    provenance,
    `the rejection by ${by} of version ${desired.version}`,
  );
  return { ...moved, changeSet: changeSet.name };
};

// ------------------------------------------------------------------ promote

/** Make the release running in one stage desired in another: build once, deploy many. */
export const promote = async (
  runtime: Runtime,
  fromName: string,
  toName: string,
  by: string,
): Promise<MoveResult> => {
  const from = stageOrRefuse(runtime, fromName);
  const to = stageOrRefuse(runtime, toName);
  if (from.name === to.name) throw new RefusedError('promote needs two different stages');
  const [stack, history] = await Promise.all([
    describeStack(runtime.clients.cfn, from.stack),
    readHistory(runtime.clients.ssm, from),
  ]);
  const running = stack ? stackParameterValue(stack, from.stackParameter) : undefined;
  if (!running)
    throw new RefusedError(
      `stage ${from.name} runs no release to promote (stack ${from.stack} ${stack ? 'has no artifact parameter' : 'does not exist'})`,
    );
  if (stack?.StackStatus?.endsWith('_IN_PROGRESS'))
    throw new RefusedError(`stack ${from.stack} is ${stack.StackStatus}; promote once it settles`);
  await assertObjectExists(runtime, from, running);
  const key = promotedKey(from, to, running);
  const current = await readDesired(runtime.clients.ssm, to);
  if (current?.key === key)
    throw new RefusedError(`stage ${to.name} already has ${key} as its desired release`);
  if (key !== running) await copyRelease(runtime, from, to, running, key);
  const commit = latestWithKey(history, running)?.provenance.commit;
  const provenance: Provenance = {
    action: 'promote',
    by,
    from: from.name,
    startedAt: now(),
    ...(commit ? { commit } : {}),
  };
  return moveTo(runtime, to, key, provenance, `a promotion by ${by} from ${from.name}`);
};

/** The release's key for the target stage: the same, or its content-named key under the target's prefix. */
const promotedKey = (from: Stage, to: Stage, key: string): string => {
  if (releaseBucketOf(from) === releaseBucketOf(to) && from.releasePrefix === to.releasePrefix) return key;
  const digest = /([0-9a-f]{64})(\.[a-z0-9]{1,8})?$/.exec(key)?.[1];
  if (!digest)
    throw new RefusedError(`release ${key} is not a content-named release key; it cannot be promoted`);
  return releaseKey(to.releasePrefix, digest, `x${keyExtension(key)}`);
};

/** Copy a release to the target stage's bucket and prefix (the same bytes, so the same digest). */
const copyRelease = async (
  runtime: Runtime,
  from: Stage,
  to: Stage,
  key: string,
  target: string,
): Promise<void> => {
  await runtime.clients.s3.send(
    new CopyObjectCommand({
      Bucket: releaseBucketOf(to),
      Key: target,
      CopySource: copySourceOf(releaseBucketOf(from), key),
      MetadataDirective: 'COPY',
    }),
  );
};
