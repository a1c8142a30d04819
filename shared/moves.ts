/**
 * The common end of every move a person (or auto-promotion) makes on a stage — rollback, reject, promote:
 * verify the release it names, record it as a new desired version (so it shows in the history), reconcile
 * the stage under its lock, and tell the ops team like any deploy. A release whose bytes do not match its
 * recorded digest is refused before anything is recorded, and the ops team is told.
 */
import { releaseBucketOf, type Stage } from './config';
import { announceDeploy } from './deploy-messages';
import { type Provenance, writeDesired } from './desired-state';
import { ReleaseIntegrityError } from './errors';
import { digestOfReleaseKey } from './names';
import { type ReconcileResult, reconcile } from './reconcile';
import { RefusedError } from './refusals';
import type { ReleaseVersion } from './release-history';
import type { Runtime } from './runtime';
import { withStageLock } from './stage-lock';
import { UnverifiableReleaseError, verifyRelease } from './verified-release';

export interface MoveResult {
  stage: string;
  action: string;
  version: number;
  key: string;
  reconcile: ReconcileResult;
  notified: boolean;
}

/** What a move deploys: a release key and the digests that pin its bytes and its template. */
export interface MoveTarget {
  key: string;
  artifact: string;
  template?: string;
  commit?: string;
}

/** The release a history entry names, with the digests it pins; refused when it cannot be verified. */
export const moveTargetOf = (
  stage: Stage,
  entry: Pick<ReleaseVersion, 'version' | 'key' | 'provenance'>,
): MoveTarget => {
  const artifact = entry.provenance.artifact ?? digestOfReleaseKey(entry.key);
  if (!artifact) {
    throw new RefusedError(
      `version ${entry.version} of stage ${stage.name} names ${entry.key}, which is not a content-named release: it cannot be verified, so it is not deployed`,
    );
  }
  return {
    key: entry.key,
    artifact,
    ...(entry.provenance.template ? { template: entry.provenance.template } : {}),
    ...(entry.provenance.commit ? { commit: entry.provenance.commit } : {}),
  };
};

/**
 * Check a move's release before anything is recorded. A mismatch is reported to the ops team and refused
 * (exit 4): nothing is recorded or deployed.
 */
export const verifyMoveTarget = async (
  runtime: Runtime,
  stage: Stage,
  target: MoveTarget,
  trigger: string,
): Promise<void> => {
  const desired = {
    parameter: stage.ssmParameter,
    key: target.key,
    version: 0,
    provenance: { artifact: target.artifact, ...(target.template ? { template: target.template } : {}) },
  };
  try {
    await verifyRelease(runtime.clients.s3, stage, desired, {
      creating: false,
      region: runtime.settings.region,
    });
  } catch (error) {
    if (error instanceof UnverifiableReleaseError) throw new RefusedError(error.message, { cause: error });
    if (!(error instanceof ReleaseIntegrityError)) throw error;
    if (error.found === 'missing')
      throw new RefusedError(`the release object ${error.location} is gone: it cannot be deployed again`);
    await announceDeploy(runtime, {
      outcome: 'tampered',
      stage: stage.name,
      stack: stage.stack,
      trigger,
      ...(target.commit ? { commitId: target.commit } : {}),
      reconcile: {
        outcome: 'tampered',
        stage: stage.name,
        stack: stage.stack,
        fresh: true,
        reason: error.message,
      },
    });
    throw new RefusedError(`${error.message}; nothing was recorded or deployed`, { cause: error });
  }
};

/** Record `target` as desired by a move, reconcile, and tell the ops team. */
export const moveTo = async (
  runtime: Runtime,
  stage: Stage,
  target: MoveTarget,
  fields: Provenance,
  trigger: string,
): Promise<MoveResult> => {
  await verifyMoveTarget(runtime, stage, target, trigger);
  const provenance: Provenance = {
    ...fields,
    startedAt: new Date().toISOString(),
    artifact: target.artifact,
    ...(target.template ? { template: target.template } : {}),
    ...(target.commit ? { commit: target.commit } : {}),
  };
  const { version, result } = await withStageLock(
    runtime.clients.s3,
    stage,
    `${provenance.action} by ${provenance.by}`,
    async (lease) => {
      const written = await writeDesired(runtime.clients.ssm, stage, target.key, provenance, true);
      const result = await reconcile(runtime, stage.name, {
        desired: { parameter: stage.ssmParameter, key: target.key, ...written },
        newlyRecorded: true,
        lease,
      });
      return { version: written.version, result };
    },
  );
  await announceDeploy(runtime, {
    outcome: result.outcome,
    stage: stage.name,
    stack: stage.stack,
    reconcile: result,
    trigger,
    ...(target.commit ? { commitId: target.commit } : {}),
  });
  return {
    stage: stage.name,
    action: provenance.action ?? 'move',
    version,
    key: target.key,
    reconcile: result,
    notified: true,
  };
};

/** Whether the release objects a move would copy already sit in the target's bucket and prefix. */
export const sameReleaseLocation = (from: Stage, to: Stage): boolean =>
  releaseBucketOf(from) === releaseBucketOf(to) && from.releasePrefix === to.releasePrefix;
