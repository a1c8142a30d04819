/**
 * Promotion: make a release of one stage desired in another — build once, deploy many. Only a release that
 * is in the source stage's history, did not fail, and verifies is promoted; its artifact and its template
 * travel together (copied, and checked, when the stages keep releases in different places).
 */
import { copyToRelease } from '../aws/artifacts';
import { latestWithKey, type ReleaseVersion, readDesired, readHistory } from '../aws/release-history';
import { describeStack, stackParameterValue } from '../aws/stacks';
import { stageCfn } from '../aws/stage-clients';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { RefusedError } from '../errors';
import { keyExtension, releaseKey, templateReleaseKey } from '../names';
import type { Runtime } from '../runtime';
import { isBusyStatus } from '../stack-status';
import {
  type MoveResult,
  type MoveTarget,
  moveTargetOf,
  moveTo,
  sameReleaseLocation,
  verifyMoveTarget,
} from '../stage/moves';
import { stageOrRefuse } from './refusals';

export interface PromoteOptions {
  /** Promote this version of the source stage (auto-promotion: the version its deploy just completed). */
  version?: number;
}

/** Make the release running in one stage (or the given version of its history) desired in another. */
export const promote = async (
  runtime: Runtime,
  fromName: string,
  toName: string,
  by: string,
  options: PromoteOptions = {},
): Promise<MoveResult> => {
  const from = stageOrRefuse(runtime, fromName);
  const to = stageOrRefuse(runtime, toName);
  if (from.name === to.name) throw new RefusedError('promote needs two different stages');
  const entry = await promotable(runtime, from, options);
  const source = moveTargetOf(from, entry);
  const trigger = `a promotion by ${by} from ${from.name}`;
  await verifyMoveTarget(runtime, from, source, trigger);
  const target = carriedTarget(from, to, source);
  return moveTo(runtime, to, { action: 'promote', by, from: from.name }, trigger, async () => {
    // Refused before anything is copied.
    const current = await readDesired(runtime.clients.ssm, to);
    if (current?.key === target.key && current.provenance.template === target.template)
      throw new RefusedError(`stage ${to.name} already has ${target.key} as its desired release`);
    await carry(runtime, from, to, source, target);
    return target;
  });
};

/** The source stage's release to promote: recorded in its history, not failed. */
const promotable = async (
  runtime: Runtime,
  from: Stage,
  options: PromoteOptions,
): Promise<ReleaseVersion> => {
  const [stack, history] = await Promise.all([
    describeStack(stageCfn(runtime, from), from.stack),
    readHistory(runtime.clients.ssm, from),
  ]);
  if (stack?.StackStatus && isBusyStatus(stack.StackStatus))
    throw new RefusedError(`stack ${from.stack} is ${stack.StackStatus}; promote once it settles`);
  let entry: ReleaseVersion | undefined;
  if (options.version !== undefined) {
    entry = history.find((v) => v.version === options.version);
    if (!entry) throw new RefusedError(`version ${options.version} is not in stage ${from.name}'s history`);
  } else {
    const running = stack ? stackParameterValue(stack, from.stackParameter) : undefined;
    if (!running)
      throw new RefusedError(
        `stage ${from.name} runs no release to promote (stack ${from.stack} ${stack ? 'has no artifact parameter' : 'does not exist'})`,
      );
    entry = latestWithKey(history, running);
    if (!entry)
      throw new RefusedError(
        `stage ${from.name} runs ${running}, which is not in its history: only recorded releases are promoted`,
      );
  }
  if (entry.failed)
    throw new RefusedError(
      `version ${entry.version} of stage ${from.name} failed to deploy; it is not promoted`,
    );
  return entry;
};

/** The release's keys under the target stage's bucket and prefix: the same, or content-named there. */
const carriedTarget = (from: Stage, to: Stage, source: MoveTarget): MoveTarget =>
  sameReleaseLocation(from, to)
    ? source
    : { ...source, key: releaseKey(to.releasePrefix, source.artifact, `x${keyExtension(source.key)}`) };

/** Copy the release's objects to the target stage's bucket and prefix, each checked against its digest. */
const carry = async (
  runtime: Runtime,
  from: Stage,
  to: Stage,
  source: MoveTarget,
  target: MoveTarget,
): Promise<void> => {
  if (sameReleaseLocation(from, to)) return;
  const copy = (key: string, targetKey: string, sha256: string) =>
    copyToRelease(
      runtime.clients.s3,
      { bucket: releaseBucketOf(from), key },
      { bucket: releaseBucketOf(to), key: targetKey, sha256 },
      { sha256, 'promoted-from': from.name },
    );
  await copy(source.key, target.key, source.artifact);
  if (source.template) {
    const templateKey = templateReleaseKey(from.releasePrefix, source.template);
    await copy(templateKey, templateReleaseKey(to.releasePrefix, source.template), source.template);
  }
};
