/**
 * One writer per stage at a time. Recording a release and reconciling the stage happen under a lease on an
 * S3 object, taken and stolen with S3's conditional writes (If-None-Match, If-Match), so two deliveries of
 * the same event, or two builds landing together, or a deploy and a reconcile, never interleave: no
 * duplicate SSM version, no older release recorded after a newer one, no two change sets executed.
 *
 * A holder that dies leaves a lease that expires after LEASE_MS (longer than any function may run), and
 * the next writer takes it over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { releaseBucketOf, type Stage } from './config';
import { DeployerError, errorName, isMissingObject } from './errors';
import { logger } from './logger';

/** Longer than the functions' 300-second timeout: a live holder never loses its lease. */
export const LEASE_MS = 330_000;
/** How long a writer waits for the stage before failing (and being retried by the platform). */
export const WAIT_MS = 150_000;
const POLL_MS = { first: 200, max: 2_000 };

export const lockKey = (stage: Stage): string => `.deployer/locks/${stage.name}.json`;

/** Conditional-write refusals: the object exists (If-None-Match), changed (If-Match), or another write raced. */
const isConflict = (error: unknown): boolean =>
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes(errorName(error) ?? '') ||
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412;

interface Lease {
  bucket: string;
  key: string;
  etag: string | undefined;
}

const leaseBody = (owner: string, now: number): string =>
  JSON.stringify({ owner: owner.slice(0, 200), expiresAt: new Date(now + LEASE_MS).toISOString() });

/** Run `work` while holding the stage's lease; the lease is released whatever `work` does. */
export const withStageLock = async <T>(
  s3: S3Client,
  stage: Stage,
  owner: string,
  work: () => Promise<T>,
): Promise<T> => {
  const lease = await acquire(s3, stage, owner);
  try {
    return await work();
  } finally {
    await release(s3, lease).catch((error: unknown) => {
      // An unreleased lease only delays the next writer until it expires.
      logger.warn('could not release the stage lock', { stage: stage.name, error: error as Error });
    });
  }
};

const acquire = async (s3: S3Client, stage: Stage, owner: string): Promise<Lease> => {
  const bucket = releaseBucketOf(stage);
  const key = lockKey(stage);
  const deadline = Date.now() + WAIT_MS;
  let pause = POLL_MS.first;
  for (;;) {
    const taken = (await create(s3, bucket, key, owner)) ?? (await stealIfExpired(s3, bucket, key, owner));
    if (taken) return taken;
    if (Date.now() + pause > deadline) {
      throw new DeployerError(`stage ${stage.name} stayed locked by another deploy for ${WAIT_MS / 1000}s`);
    }
    await sleep(pause * (0.5 + Math.random() / 2));
    pause = Math.min(pause * 2, POLL_MS.max);
  }
};

/**
 * Write the lease under a condition: If-None-Match '*' (nobody holds it) or If-Match the expired lease's
 * ETag (nobody took it over first). Undefined when another writer won.
 */
const putLease = async (
  s3: S3Client,
  bucket: string,
  key: string,
  owner: string,
  condition: { IfNoneMatch: '*' } | { IfMatch: string },
): Promise<Lease | undefined> => {
  try {
    const response = await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: leaseBody(owner, Date.now()),
        ContentType: 'application/json',
        ...condition,
      }),
    );
    return { bucket, key, etag: response?.ETag };
  } catch (error) {
    if (isConflict(error) || isMissingObject(error)) return undefined;
    throw error;
  }
};

/** Take the lease if nobody holds it. */
const create = (s3: S3Client, bucket: string, key: string, owner: string): Promise<Lease | undefined> =>
  putLease(s3, bucket, key, owner, { IfNoneMatch: '*' });

/** When a lease ends; an unreadable lease counts as expired, so a corrupt object cannot block a stage. */
const leaseExpiry = (body: string | undefined): number => {
  try {
    const parsed = JSON.parse(body ?? '') as { expiresAt?: unknown };
    return typeof parsed.expiresAt === 'string' ? Date.parse(parsed.expiresAt) || 0 : 0;
  } catch {
    return 0;
  }
};

/** Take over a lease whose holder died; only one of several writers can replace the same expired object. */
const stealIfExpired = async (
  s3: S3Client,
  bucket: string,
  key: string,
  owner: string,
): Promise<Lease | undefined> => {
  let etag: string | undefined;
  let expiresAt = 0;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    etag = response.ETag;
    expiresAt = leaseExpiry(await response.Body?.transformToString());
  } catch (error) {
    if (isMissingObject(error)) return undefined; // released meanwhile: try to create again
    throw error;
  }
  if (expiresAt > Date.now() || !etag) return undefined;
  const lease = await putLease(s3, bucket, key, owner, { IfMatch: etag });
  if (lease) logger.warn('took over an expired stage lock', { key });
  return lease;
};

/** Release the lease, unless it is no longer ours. */
const release = async (s3: S3Client, lease: Lease): Promise<void> => {
  try {
    await s3.send(
      new DeleteObjectCommand({
        Bucket: lease.bucket,
        Key: lease.key,
        ...(lease.etag ? { IfMatch: lease.etag } : {}),
      }),
    );
  } catch (error) {
    if (isConflict(error) || isMissingObject(error)) return;
    throw error;
  }
};
