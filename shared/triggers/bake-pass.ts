/**
 * A bake that passed: recorded under the stage's lock (only while it is still the stage's current bake), then
 * its release handed to the stages configured to receive it, and that recorded too — so the promotion happens
 * once, and one that broke off is made by the next schedule run (promote refuses a release already desired).
 */
import { type BakeRecord, readBake, writeBake } from '../aws/bake-record';
import { readDesired } from '../aws/release-history';
import type { Stage } from '../edge/stages';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import { runStageTransaction } from '../stage/transaction';
import type { BakeSummary } from './bake-end';
import { autoPromote } from './promotion';

/** The bake passed: recorded under the lock (if still the stage's current bake), then promoted. */
export const passBake = async (
  runtime: Runtime,
  stage: Stage,
  bake: BakeRecord,
  now: Date,
): Promise<BakeSummary> => {
  const passed = await updateBake(
    runtime,
    stage,
    `bake of version ${bake.version} passed`,
    (current, desired) =>
      current?.token === bake.token && current.state === 'baking' && desired === bake.version
        ? {
            ...current,
            state: 'passed',
            endedAt: now.toISOString(),
            endedBy: 'the schedule',
            ...(stage.promoteTo.length === 0 ? { promotedAt: now.toISOString() } : {}),
          }
        : undefined,
  );
  if (!passed) return { verdict: 'ignored', stage: stage.name, reason: 'the bake ended otherwise meanwhile' };
  logger.info('release passed its bake', { stage: stage.name, version: bake.version });
  return promoteBaked(runtime, stage, passed, now);
};

/** Hand a release that passed its bake to the promoteTo stages, then record that it was (once). */
export const promoteBaked = async (
  runtime: Runtime,
  stage: Stage,
  bake: BakeRecord,
  now: Date,
): Promise<BakeSummary> => {
  const promoted = bake.promotedAt === undefined ? await autoPromote(runtime, stage, bake.version) : [];
  if (bake.promotedAt === undefined)
    await updateBake(runtime, stage, `promotion of version ${bake.version}`, (current) =>
      current?.token === bake.token && current.state === 'passed' && current.promotedAt === undefined
        ? { ...current, promotedAt: now.toISOString() }
        : undefined,
    );
  return {
    verdict: 'passed',
    stage: stage.name,
    version: bake.version,
    ...(promoted.length ? { promoted } : {}),
  };
};

/** Change the stage's bake record under its lock: `change` sees it and the desired version as they are. */
const updateBake = async (
  runtime: Runtime,
  stage: Stage,
  holder: string,
  change: (current: BakeRecord | undefined, desired: number | undefined) => BakeRecord | undefined,
): Promise<BakeRecord | undefined> => {
  const done = await runStageTransaction<BakeRecord | undefined>(runtime, stage, {
    holder,
    trigger: 'the scheduled reconcile',
    record: async () => {
      const [current, desired] = await Promise.all([
        readBake(runtime.clients.s3, stage),
        readDesired(runtime.clients.ssm, stage),
      ]);
      const next = change(current, desired?.version);
      if (next) await writeBake(runtime.clients.s3, stage, next);
      return { stop: next };
    },
    report: () => undefined,
  });
  return done.done ? undefined : done.stop;
};
