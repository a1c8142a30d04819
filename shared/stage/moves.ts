/**
 * The common end of every move a person (or auto-promotion) makes on a stage — rollback, reject, promote:
 * one stage transaction that verifies the release it names, records it as a new desired version (so it shows
 * in the history), reconciles the stage, and tells the ops team like any deploy. A release whose bytes do not match its
 * recorded digest is refused before anything is recorded, and the ops team is told.
 */

import { writeDesired } from '../aws/desired-state';
import { buildStartOf, type Provenance } from '../aws/provenance';
import type { ReleaseVersion } from '../aws/release-history';
import { stageRegion } from '../edge/stage-place';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { RefusedError, ReleaseIntegrityError } from '../errors';
import { announceDeploy, type DeployReport } from '../messages/deploy-messages';
import { digestOfReleaseKey } from '../names';
import type { ReconcileResult } from '../outcomes';
import type { Runtime } from '../runtime';
import { runStageTransaction } from './transaction';
import { UnverifiableReleaseError, verifyRelease } from './verified-release';

/** How a move made by the deployer on its own is reported: once (ledger key), with more to say. */
export interface MoveReporting {
  once?: string;
  report?: Pick<DeployReport, 'alarm'>;
  /** Still under the lock, after the report went out (or was found sent): the mark that says so. */
  finish?: () => Promise<void>;
}

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
  /** When the release's build started: a deploy's lead time counts from there, not from the move. */
  builtAt?: string;
  /** The desired release a rollback or a rejection replaces: the move is reported in that release's thread. */
  replaces?: string;
}

/** The release a history entry names, with the digests it pins; refused when it cannot be verified. */
export const moveTargetOf = (
  stage: Stage,
  entry: Pick<ReleaseVersion, 'version' | 'key' | 'provenance'>,
): MoveTarget => {
  const artifact = entry.provenance.artifact ?? digestOfReleaseKey(entry.key);
  const builtAt = buildStartOf(entry.provenance);
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
    ...(builtAt ? { builtAt } : {}),
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
  consequence = 'nothing was recorded or deployed',
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
      region: stageRegion(runtime.settings, stage),
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
        why: { code: 'release-tampered', location: error.location, detail: error.message },
      },
    });
    throw new RefusedError(`${error.message}; ${consequence}`, { cause: error });
  }
};

/**
 * A move, as one stage transaction: under the stage's lock, choose the release (`choose` may look at the
 * stage as it is now), verify it, record it as a new desired version, reconcile, and tell the ops team.
 */
export const moveTo = async (
  runtime: Runtime,
  stage: Stage,
  fields: Provenance,
  trigger: string,
  choose: () => Promise<MoveTarget>,
  reporting: MoveReporting = {},
): Promise<MoveResult> => {
  let target: MoveTarget | undefined;
  const done = await runStageTransaction(runtime, stage, {
    holder: `${fields.action} by ${fields.by}`,
    trigger,
    record: async () => {
      const chosen = await choose();
      await verifyMoveTarget(runtime, stage, chosen, trigger);
      const provenance: Provenance = {
        ...fields,
        startedAt: new Date().toISOString(),
        artifact: chosen.artifact,
        ...(chosen.template ? { template: chosen.template } : {}),
        ...(chosen.commit ? { commit: chosen.commit } : {}),
        ...(chosen.builtAt ? { builtAt: chosen.builtAt } : {}),
      };
      const { archived, ...written } = await writeDesired(
        runtime.clients,
        stage,
        chosen.key,
        provenance,
        true,
      );
      target = chosen;
      return {
        desired: { parameter: stage.ssmParameter, key: chosen.key, ...written },
        newlyRecorded: true,
        archived,
      };
    },
    report: (result) => ({
      report: {
        outcome: result.outcome,
        stage: stage.name,
        stack: stage.stack,
        reconcile: result,
        trigger,
        ...(target?.commit ? { commitId: target.commit } : {}),
        ...(target?.replaces ? { replaces: target.replaces } : {}),
        ...reporting.report,
      },
      ...(reporting.once ? { once: reporting.once } : {}),
    }),
    ...(reporting.finish ? { finish: reporting.finish } : {}),
  });
  if (!done.done || !done.recorded || !target)
    throw new Error('a move records a version before it reconciles');
  return {
    stage: stage.name,
    action: fields.action ?? 'move',
    version: done.recorded.desired.version,
    key: target.key,
    reconcile: done.result,
    notified: done.notified,
  };
};

/** Whether the release objects a move would copy already sit in the target's bucket and prefix. */
export const sameReleaseLocation = (from: Stage, to: Stage): boolean =>
  releaseBucketOf(from) === releaseBucketOf(to) && from.releasePrefix === to.releasePrefix;
