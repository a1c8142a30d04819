/**
 * Roll a stage back: make an earlier release — its artifact and its template — desired again, and deploy it.
 */

import type { ReleaseVersion } from '../aws/release-history';
import { readWholeHistory } from '../aws/whole-history';
import { RefusedError } from '../errors';
import type { Runtime } from '../runtime';
import { type MoveResult, moveTargetOf, moveTo } from '../stage/moves';
import { stageOrRefuse } from './refusals';

/**
 * What `--to` may name: the previous release, a commit (7+ hex digits), or an SSM version number. A commit
 * names the release that commit really produced: versions written by hand are credited to no commit.
 */
export const findRollbackTarget = (history: ReleaseVersion[], to: string): ReleaseVersion => {
  const current = history.at(-1);
  if (!current) throw new RefusedError('the stage has no deployment history to roll back to');
  const newestFirst = [...history].reverse();
  const isCurrent = (v: ReleaseVersion) =>
    v.key === current.key && v.provenance.template === current.provenance.template;
  let target: ReleaseVersion | undefined;
  if (to === 'previous') {
    target = newestFirst.find((v) => !isCurrent(v) && !v.failed);
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
  if (isCurrent(target))
    throw new RefusedError(`version ${target.version} holds the release already desired (${current.key})`);
  return target;
};

/** Make an earlier release desired again, and deploy it. */
export const rollback = async (
  runtime: Runtime,
  stageName: string,
  to: string,
  by: string,
): Promise<MoveResult> => {
  const stage = stageOrRefuse(runtime, stageName);
  // Chosen before the lock (the refusals need no lock), and again under it: the history may have moved.
  // The whole history: a version SSM no longer keeps is rolled back to from the deployer's archive.
  const first = findRollbackTarget(await readWholeHistory(runtime.clients, stage), to);
  return moveTo(
    runtime,
    stage,
    { action: 'rollback', by, from: String(first.version) },
    `a rollback by ${by} to version ${first.version}`,
    async () => {
      const history = await readWholeHistory(runtime.clients, stage);
      const target = moveTargetOf(stage, findRollbackTarget(history, to));
      // Reported in the thread of the release it replaces, where that release's failure was.
      const current = history.at(-1);
      return current ? { ...target, replaces: current.key } : target;
    },
  );
};
