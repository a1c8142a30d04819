/**
 * The deployer's own archive of every desired version, beyond the 100 SSM keeps: one object per version
 * (`.deployer/history/<stage>/<version>.json`, the version zero-padded so that keys sort by version) with its
 * release key, its provenance and when it was recorded, and one object per settled run of the deployer
 * (`<version>.outcome.<token>.json`) with how it ended. Only the deployer (and the operators) may write under
 * `.deployer/` (see the README's security model); what the archive says is still no more than it says: a
 * version only it keeps is checked like any other before it is deployed again.
 *
 * Each object is written once and never read, changed and written back: a version object is created only if
 * it is not there yet (If-None-Match), and an outcome object is written by the one event that settled its
 * run, so a retry writes the same bytes again.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { built } from '../edge/schema';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { DeployerError, isMissingObject } from '../errors';
import { logger } from '../logger';
import { STAGE_NAME } from '../names';
import { isFailureStatus } from '../stack-status';
import { isRefused } from './lease-object';
import type { Provenance } from './provenance';

/** Digits of a version in a key: SSM versions are at most 16 digits long (see the run tokens). */
const VERSION_DIGITS = 16;
const VERSION_OBJECT = /^(\d{16})\.json$/;
const OUTCOME_OBJECT = /^(\d{16})\.outcome\.([a-z0-9-]{1,100})\.json$/;

/** Where a stage's archive lives in its release bucket. */
export const archivePrefix = (stage: Pick<Stage, 'name'>): string => {
  if (!STAGE_NAME.test(stage.name))
    throw new DeployerError(`invalid stage name ${JSON.stringify(stage.name)}`);
  return `.deployer/history/${stage.name}/`;
};

const padded = (version: number): string => {
  if (!Number.isSafeInteger(version) || version < 1) throw new DeployerError(`invalid version ${version}`);
  return String(version).padStart(VERSION_DIGITS, '0');
};

export const archivedVersionKey = (stage: Pick<Stage, 'name'>, version: number): string =>
  `${archivePrefix(stage)}${padded(version)}.json`;

export const archivedOutcomeKey = (stage: Pick<Stage, 'name'>, version: number, token: string): string => {
  if (!/^[a-z0-9-]{1,100}$/.test(token))
    throw new DeployerError(`invalid run token ${JSON.stringify(token)}`);
  return `${archivePrefix(stage)}${padded(version)}.outcome.${token}.json`;
};

const versionSchema = built(() =>
  z.object({
    stage: z.string(),
    version: z.number(),
    key: z.string(),
    provenance: z.record(z.string(), z.unknown()),
    /** Written by hand (archived by the schedule's sweep from SSM): credited to nobody. */
    handWritten: z.optional(z.boolean()),
    recordedAt: z.string(),
  }),
);
export type ArchivedVersion = z.output<ReturnType<typeof versionSchema>>;

const outcomeSchema = built(() =>
  z.object({
    stage: z.string(),
    version: z.number(),
    token: z.string(),
    /** The stack's final status that ended the run, and when CloudFormation reported it. */
    status: z.string(),
    settledAt: z.string(),
    /** The run failed (rolled back): its version is marked failed. */
    failed: z.boolean(),
    /** A run whose stack settled well but whose release an alarm rolled back while it baked: "alarm <name>". */
    failedBy: z.optional(z.string()),
  }),
);
export type ArchivedOutcome = z.output<ReturnType<typeof outcomeSchema>>;

/**
 * Archive a desired version, once. Another record already there is kept: the same write retried (its
 * provenance's write token) is what it should be; any other means the parameter was made again from version
 * 1, and the archive keeps what it said first. Returns whether the archive now holds this write.
 */
export const archiveVersion = async (
  s3: S3Client,
  stage: Stage,
  entry: Omit<ArchivedVersion, 'stage' | 'provenance'> & { provenance: Provenance },
): Promise<boolean> => {
  const record: ArchivedVersion = { stage: stage.name, ...entry };
  const Key = archivedVersionKey(stage, entry.version);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: releaseBucketOf(stage),
        Key,
        Body: JSON.stringify(record),
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
    return true;
  } catch (error) {
    if (!isRefused(error) || isMissingObject(error)) throw error;
  }
  const kept = await readJson(s3, stage, Key, versionSchema());
  const same = kept?.key === entry.key && kept.provenance.write === entry.provenance.write;
  if (!same)
    logger.warn('the history archive already holds another record of this version; it keeps the first', {
      stage: stage.name,
      version: entry.version,
      key: Key,
    });
  return same;
};

/**
 * Archive a desired version right after SSM recorded it. A failure is logged, not thrown: the version is
 * desired and deploys without its archive copy; the reconcile schedule's sweep (archiveKept) archives every
 * version SSM still keeps that the archive lacks, long before SSM drops it.
 */
export const archiveRecorded = async (
  s3: S3Client,
  stage: Stage,
  entry: Omit<ArchivedVersion, 'stage' | 'provenance'> & { provenance: Provenance },
): Promise<void> => {
  try {
    await archiveVersion(s3, stage, entry);
  } catch (error) {
    logger.error('could not archive the desired version; the reconcile schedule will', {
      stage: stage.name,
      version: entry.version,
      error: error as Error,
    });
  }
};

/**
 * Archive how one of the deployer's runs ended: written by the event that settled it (a retry, again), and
 * once more, failed, when an alarm rolls back the release it deployed while it baked (`failedBy`).
 */
export const archiveOutcome = async (
  s3: S3Client,
  stage: Stage,
  outcome: Omit<ArchivedOutcome, 'stage' | 'failed'>,
): Promise<void> => {
  const failed = outcome.failedBy !== undefined || isFailureStatus(outcome.status);
  const record: ArchivedOutcome = { stage: stage.name, ...outcome, failed };
  await s3.send(
    new PutObjectCommand({
      Bucket: releaseBucketOf(stage),
      Key: archivedOutcomeKey(stage, outcome.version, outcome.token),
      Body: JSON.stringify(record),
      ContentType: 'application/json',
    }),
  );
};

/** One object of the archive, as a listing names it. */
export interface ArchiveEntry {
  key: string;
  version: number;
  kind: 'version' | 'outcome';
  lastModified?: Date;
}

/** Every object of a stage's archive from `fromVersion` on, in key order (versions ascending). */
export const listArchive = async (s3: S3Client, stage: Stage, fromVersion = 1): Promise<ArchiveEntry[]> => {
  const prefix = archivePrefix(stage);
  const entries: ArchiveEntry[] = [];
  let ContinuationToken: string | undefined;
  // Keys sort by version: a listing of the newest versions starts after the one before the first wanted.
  const StartAfter = fromVersion > 1 ? `${prefix}${padded(fromVersion - 1)}.zz` : undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: releaseBucketOf(stage),
        Prefix: prefix,
        ContinuationToken,
        ...(StartAfter && !ContinuationToken ? { StartAfter } : {}),
      }),
    );
    for (const object of page?.Contents ?? []) {
      const entry = entryOf(prefix, object.Key, object.LastModified);
      if (entry) entries.push(entry);
    }
    ContinuationToken = page?.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return entries;
};

const entryOf = (prefix: string, key: string | undefined, lastModified: Date | undefined) => {
  const name = key?.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  const version = name && VERSION_OBJECT.exec(name);
  const outcome = name && OUTCOME_OBJECT.exec(name);
  const digits = version ? version[1] : outcome ? outcome[1] : undefined;
  if (!key || !digits || Number(digits) < 1) return undefined;
  return {
    key,
    version: Number(digits),
    kind: version ? ('version' as const) : ('outcome' as const),
    ...(lastModified ? { lastModified } : {}),
  };
};

export interface ArchiveReadOptions {
  /** Read the version objects (and their outcomes) of versions below this one: those SSM no longer keeps. */
  below: number;
  /**
   * Read only what settled since then: the outcomes written since (any version), and of the versions below
   * `below` only those that have one. Without it, every outcome of the versions below `below`.
   */
  settledSince?: Date;
}

/**
 * What a stage's archive says, read as asked: version records and run outcomes, each checked against the key
 * it lies under. `listing`: the archive as listArchive listed it just before, when the caller has it.
 */
export const readArchive = async (
  s3: S3Client,
  stage: Stage,
  options: ArchiveReadOptions,
  listing?: ArchiveEntry[],
): Promise<{ versions: ArchivedVersion[]; outcomes: ArchivedOutcome[] }> => {
  const { below, settledSince } = options;
  const listed = listing ?? (await listArchive(s3, stage));
  const outcomeEntries = listed.filter(
    (e) =>
      e.kind === 'outcome' &&
      (settledSince ? (e.lastModified?.getTime() ?? 0) >= settledSince.getTime() : e.version < below),
  );
  const settled = new Set(outcomeEntries.map((e) => e.version));
  const versionEntries = listed.filter(
    (e) => e.kind === 'version' && e.version < below && (!settledSince || settled.has(e.version)),
  );
  const [versions, outcomes] = await Promise.all([
    readAll(s3, stage, versionEntries, versionSchema()),
    readAll(s3, stage, outcomeEntries, outcomeSchema()),
  ]);
  // A record counts only for the key it lies under: the stage and the version it names must be the key's.
  const own = <T extends { stage: string; version: number }>(
    records: (T | undefined)[],
    entries: ArchiveEntry[],
  ) => records.filter((r, i): r is T => r?.stage === stage.name && r.version === entries[i]?.version);
  return { versions: own(versions, versionEntries), outcomes: own(outcomes, outcomeEntries) };
};

/** Objects read at once: a long history is read in parallel, without a burst S3 would throttle. */
const PARALLEL_READS = 16;

const readAll = async <T>(
  s3: S3Client,
  stage: Stage,
  entries: ArchiveEntry[],
  schema: z.ZodMiniType<T>,
): Promise<(T | undefined)[]> => {
  const results: (T | undefined)[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < entries.length; i = next++) {
      const entry = entries[i];
      results[i] = entry ? await readJson(s3, stage, entry.key, schema) : undefined;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, entries.length) }, worker));
  return results;
};

/** An archive object, parsed; undefined when it is gone or is not what it should be. */
const readJson = async <T>(
  s3: S3Client,
  stage: Stage,
  Key: string,
  schema: z.ZodMiniType<T>,
): Promise<T | undefined> => {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: releaseBucketOf(stage), Key }));
    const parsed = schema.safeParse(JSON.parse((await response.Body?.transformToString()) ?? ''));
    if (parsed.success) return parsed.data;
    logger.warn('an archive object is not a record of the deployer; ignored', { key: Key });
    return undefined;
  } catch (error) {
    if (isMissingObject(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
};
