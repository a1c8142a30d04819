/**
 * A stage's whole deployment history: the versions SSM keeps (its last 100), and before them the versions only
 * the deployer's archive keeps (history-archive.ts). SSM wins where both have a version; an archived version
 * carries no labels and is believed no further than its record: its provenance must name its own release
 * (trustProvenance), and a move to it verifies the release's bytes like any other.
 */

import type { Stage } from '../edge/stages';
import { logger } from '../logger';
import type { DesiredStores } from './desired-state';
import {
  type ArchivedOutcome,
  type ArchivedVersion,
  archiveVersion,
  listArchive,
  readArchive,
} from './history-archive';
import { trustProvenance } from './provenance';
import { type ReleaseVersion, readHistory, type SettledRun } from './release-history';

export interface WholeHistoryOptions {
  /**
   * Read how runs ended (`runs`) only for those that settled since then (metrics over a window). Without it,
   * the runs of the versions only the archive keeps are read (their failed marks).
   */
  settledSince?: Date;
}

/** Every version of the stage, oldest first: the archive's before SSM's, no version twice. */
export const readWholeHistory = async (
  stores: DesiredStores,
  stage: Stage,
  options: WholeHistoryOptions = {},
): Promise<ReleaseVersion[]> => {
  const [kept, listed] = await Promise.all([readHistory(stores.ssm, stage), listArchive(stores.s3, stage)]);
  const below = kept[0]?.version ?? Number.POSITIVE_INFINITY;
  const archive = await readArchive(
    stores.s3,
    stage,
    { below, ...(options.settledSince ? { settledSince: options.settledSince } : {}) },
    listed,
  );
  return mergeHistory(kept, archive.versions, archive.outcomes);
};

/**
 * SSM's versions (oldest first) with the archived versions older than SSM's oldest before them, and the runs
 * the archive says ended on each version. A failed run marks its version failed.
 */
export const mergeHistory = (
  kept: ReleaseVersion[],
  archived: ArchivedVersion[],
  outcomes: ArchivedOutcome[],
): ReleaseVersion[] => {
  const below = kept[0]?.version ?? Number.POSITIVE_INFINITY;
  const older = new Map<number, ReleaseVersion>();
  for (const record of archived)
    if (record.version < below && !older.has(record.version)) older.set(record.version, fromArchive(record));
  const runs = runsByVersion(outcomes);
  return [...older.values(), ...kept]
    .sort((a, b) => a.version - b.version)
    .map((v) => {
      const settled = runs.get(v.version);
      return settled ? { ...v, runs: settled, failed: v.failed || settled.some((r) => r.failed) } : v;
    });
};

const fromArchive = (record: ArchivedVersion): ReleaseVersion => {
  const trusted = record.handWritten
    ? { provenance: {}, handWritten: true }
    : trustProvenance(JSON.stringify(record.provenance), record.key);
  return {
    version: record.version,
    key: record.key,
    labels: [],
    ...trusted,
    modifiedAt: record.recordedAt,
    failed: false,
    archived: true,
  };
};

const runsByVersion = (outcomes: ArchivedOutcome[]): Map<number, SettledRun[]> => {
  const byVersion = new Map<number, SettledRun[]>();
  for (const { version, token, status, settledAt, failed } of outcomes) {
    const runs = byVersion.get(version) ?? [];
    if (!runs.some((r) => r.token === token)) runs.push({ token, status, settledAt, failed });
    byVersion.set(version, runs);
  }
  for (const runs of byVersion.values())
    runs.sort((a, b) => Date.parse(a.settledAt) - Date.parse(b.settledAt));
  return byVersion;
};

/**
 * The reconcile schedule's sweep: archive every version SSM keeps that the archive lacks (one whose archive
 * write failed, one written by hand, or all of them the first time). Returns how many were archived.
 */
export const archiveKept = async (stores: DesiredStores, stage: Stage): Promise<number> => {
  const kept = await readHistory(stores.ssm, stage);
  const oldest = kept[0]?.version;
  if (oldest === undefined) return 0;
  const listed = await listArchive(stores.s3, stage, oldest);
  const archived = new Set(listed.filter((e) => e.kind === 'version').map((e) => e.version));
  let added = 0;
  for (const v of kept) {
    if (archived.has(v.version)) continue;
    const landed = await archiveVersion(stores.s3, stage, {
      version: v.version,
      key: v.key,
      provenance: v.provenance,
      ...(v.handWritten ? { handWritten: true } : {}),
      recordedAt: v.modifiedAt ?? new Date().toISOString(),
    });
    if (landed) added += 1;
  }
  if (added > 0) logger.info('archived versions the history archive lacked', { stage: stage.name, added });
  return added;
};
