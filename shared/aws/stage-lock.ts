/**
 * One writer per stage at a time. Recording a release and reconciling the stage happen under a lease on an
 * S3 object, taken and stolen with S3's conditional writes (If-None-Match, If-Match), so two deliveries of
 * the same event, or two builds landing together, or a deploy and a reconcile, never interleave: no
 * duplicate SSM version, no older release recorded after a newer one, no two change sets executed.
 *
 * The lease survives lost answers: it carries a random token of its holder, so when S3's answer to a write
 * is lost, reading the object back tells whether the write landed (our token) or another writer holds it.
 *
 * Nobody can wedge it: a lease lasts LEASE_MS from the moment S3 wrote it (its LastModified), judged by S3's
 * own clock (the Date of S3's answer), whatever the object claims and whatever a function's clock says. A
 * holder that dies, a foreign object, or an unreadable one, is taken over once that time has passed.
 *
 * Fencing: the work receives the held lease; `lease.confirm()` proves, right before an action that must
 * not run twice, that the lease is still ours, and extends it (see HeldLease).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Stage } from '../edge/stages';
import { quoted } from '../edge/untrusted';
import { DeployerError } from '../errors';
import { logger } from '../logger';
import {
  type Claim,
  credibleRank,
  described,
  describeLock,
  etagOf,
  expiryOf,
  isRefused,
  type Lease,
  type LockOptions,
  newClaim,
  type Place,
  placeOf,
  putLease,
  type Reading,
  readLease,
  type StageLock,
} from './lease-object';
import { laterInLine, standInLine } from './lock-line';
import { guardWrite, writeOnce } from './single-writes';

export { LEASE_MS, type LockOptions, lockKey, type StageLock } from './lease-object';

/** How long a writer waits for the stage before failing (and being retried by the platform). */
export const WAIT_MS = 150_000;
/**
 * Between attempts a waiter backs off, from 1.5 s to 8 s (with jitter): a holder keeps the stage for seconds
 * (a change set takes 3 to 12 s), and each attempt costs a refused write and a read.
 */
const POLL_MS = { first: 1_500, max: 8_000 };

/** The lease a `withStageLock` work runs under. */
export interface HeldLease {
  readonly holder: string;
  readonly location: string;
  /**
   * Fencing: call right before an action that must not happen twice or under another holder (executing a
   * change set). Rewrites the lease under If-Match its ETag, so it succeeds only while the object is still
   * exactly ours, and then lasts another LEASE_MS from now by S3's clock: no other writer can take it over
   * before the action is done. Throws LockLostError when the lease was deleted or taken over.
   */
  confirm(): Promise<void>;
}

/** The stage's lease is no longer ours: the work must stop; the event is retried and finds the stage anew. */
export class LockLostError extends DeployerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LockLostError';
  }
}

/**
 * The holder's work makes ours moot (LockOptions.yieldToLater: it is deploying a later build): we stopped
 * waiting without taking the lock.
 */
export class LockYieldedError extends DeployerError {
  readonly holder: string;
  readonly rank: string;
  /** The later work holds the stage, or waits for it first in the stage's line (shared/aws/lock-line.ts). */
  readonly later: 'holds' | 'waits';
  constructor(holder: string, rank: string, later: 'holds' | 'waits' = 'holds') {
    super(
      later === 'holds'
        ? `the stage is held by ${quoted(holder)}, whose work is later (${rank}); stopped waiting`
        : `${quoted(holder)}, whose work is later (${rank}), waits for the stage first; stopped waiting`,
    );
    this.name = 'LockYieldedError';
    this.holder = holder;
    this.rank = rank;
    this.later = later;
  }
}

/** Another writer held the stage for as long as we could wait; the error names it. */
export class StageLockedError extends DeployerError {
  readonly lock: StageLock | undefined;
  constructor(message: string, lock: StageLock | undefined) {
    super(message);
    this.name = 'StageLockedError';
    this.lock = lock;
  }
}

/**
 * Run `work` while holding the stage's lease; the lease is released whatever `work` does. `holder` says who
 * holds it ("deploy <execution id>", "rollback by kim") in status output and in other writers' errors.
 */
export const withStageLock = async <T>(
  s3: S3Client,
  stage: Stage,
  holder: string,
  work: (lease: HeldLease) => Promise<T>,
  options: LockOptions = {},
): Promise<T> => {
  const place = placeOf(s3, stage, options);
  let lease = await acquire(newClaim(place, holder, options.rank), options.waitMs ?? WAIT_MS, {
    yieldToLater: options.yieldToLater === true,
    ...(options.line ? { line: options.line } : {}),
    ...(options.onStay ? { onStay: options.onStay } : {}),
  });
  options.onStay?.();
  const held: HeldLease = {
    holder: lease.holder,
    location: place.location,
    confirm: async () => {
      lease = await renew(lease);
    },
  };
  try {
    return await work(held);
  } finally {
    await release(lease).catch((error: unknown) => {
      // An unreleased lease only delays the next writer until it expires.
      logger.warn('could not release the stage lock', { stage: stage.name, error: error as Error });
    });
  }
};

/** The stage's lock, if an object is there (held or expired), for `deployer status` and ops messages. */
export const readStageLock = async (
  s3: S3Client,
  stage: Stage,
  options: Pick<LockOptions, 'leaseMs'> = {},
): Promise<StageLock | undefined> => {
  const place = placeOf(s3, stage, options);
  const reading = await readLease(place);
  return reading && describeLock(place, reading);
};

// ---- taking, keeping and giving back ----

/**
 * Take the lease, waiting for it at most `waitMs`. An attempt that fails after one of its writes may have
 * landed (its answer lost, and the read-back failed too) deletes its own lease on the way out — by its ETag,
 * the MD5 of its own bytes — so that the event's redelivery does not find the stage locked by itself.
 */
const acquire = async (claim: Claim, waitMs: number, waiting: Waiting): Promise<Lease> => {
  try {
    return await acquireOrWait(claim, waitMs, waiting);
  } catch (error) {
    if (!(error instanceof StageLockedError) && !(error instanceof LockYieldedError))
      await dropOwnLease(claim);
    throw error;
  }
};

/** How a waiter waits: whether it yields to later work, and when it may stand in the stage's line. */
interface Waiting {
  yieldToLater: boolean;
  line?: Promise<unknown>;
  onStay?: () => void;
}

/** The holder's rank is later than the claim's (and one a build can have: see credibleRank). */
const laterThan = (claim: Claim, current: Reading | undefined): current is Reading & { rank: string } =>
  Boolean(
    claim.rank && current && credibleRank(current) && Date.parse(current.rank) > Date.parse(claim.rank),
  );

const dropOwnLease = async (claim: Claim): Promise<void> => {
  const { s3, bucket, key } = claim.place;
  await s3
    .send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etagOf(claim.body) }))
    .catch((error: unknown) => {
      // Not ours (412), gone, or S3 still failing: the lease then expires on its own.
      if (!isRefused(error))
        logger.warn('could not drop a lease this attempt may have written', { key, error: error as Error });
    });
};

const acquireOrWait = async (claim: Claim, waitMs: number, waiting: Waiting): Promise<Lease> => {
  const { place } = claim;
  const { yieldToLater } = waiting;
  const deadline = Date.now() + waitMs;
  let pause = POLL_MS.first;
  /** Whether this waiter stands in the stage's line: not yet asked, yes, or never (no line, or it failed). */
  let inLine: 'not yet' | 'yes' | 'never' = yieldToLater && waiting.line && claim.rank ? 'not yet' : 'never';
  for (;;) {
    if (inLine === 'yes') {
      const later = await laterInLine(place, claim);
      if (later) throw new LockYieldedError(later.holder, later.rank, 'waits');
    }
    const created = await putLease(claim, { IfNoneMatch: '*' }, 'read back');
    if (created) return created;
    const current = await readLease(place);
    // Our own earlier write, landed after its answer was lost and read back.
    if (current?.token === claim.token) return { ...claim, etag: current.etag ?? etagOf(claim.body) };
    if (current?.etag && current.now >= expiryOf(place, current)) {
      const taken = await putLease(claim, { IfMatch: current.etag }, 'read back');
      if (taken) {
        logger.warn('took over an expired stage lock', {
          stage: place.stage,
          ...describeLock(place, current),
        });
        return taken;
      }
    }
    if (yieldToLater && laterThan(claim, current) && current.now < expiryOf(place, current))
      throw new LockYieldedError(current.holder, current.rank);
    waiting.onStay?.();
    if (inLine === 'not yet') {
      // Only a build whose release is made stands in line: a waiter never yields to one that cannot deploy.
      const made = await waiting.line?.then(
        () => true,
        () => false,
      );
      const later = made ? await standInLine(place, claim) : undefined;
      if (later) throw new LockYieldedError(later.holder, later.rank, 'waits');
      inLine = made ? 'yes' : 'never';
    }
    if (Date.now() + pause > deadline) throw lockedError(place, current, waitMs);
    await sleep(pause * (0.5 + Math.random() / 2));
    pause = Math.min(pause * 2, POLL_MS.max);
  }
};

const lockedError = (place: Place, current: Reading | undefined, waitMs: number): StageLockedError => {
  const lock = current && describeLock(place, current);
  const waited = `gave up after ${waitMs / 1000}s`;
  return new StageLockedError(
    lock
      ? `stage ${place.stage} is locked by ${described(lock)}; ${waited}`
      : `stage ${place.stage} stayed locked (${place.location}); ${waited}`,
    lock,
  );
};

/** Fencing: rewrite our lease under If-Match its ETag (see HeldLease.confirm). */
const renew = async (lease: Lease): Promise<Lease> => {
  const renewed = await putLease(lease, { IfMatch: lease.etag }, 'write again');
  if (renewed) return renewed;
  const now = await readLease(lease.place);
  const fate = now ? `it is now held by ${described(describeLock(lease.place, now))}` : 'it was deleted';
  throw new LockLostError(
    `stage ${lease.place.stage}: the lock of ${quoted(lease.holder)} is no longer ours: ${fate}; stopping`,
  );
};

/**
 * Give the lease back, unless it is no longer ours: the delete is conditional on our ETag, so it never
 * removes another holder's lease. After a lost answer, the lease still carrying our token is deleted
 * again; gone or someone else's means done.
 */
const release = async (lease: Lease): Promise<void> => {
  const { s3, bucket, key, location } = lease.place;
  const remove = async (): Promise<true> => {
    try {
      await s3.send(guardWrite(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: lease.etag })));
    } catch (error) {
      if (!isRefused(error)) throw error;
    }
    return true;
  };
  const gone = async (): Promise<true | undefined> =>
    (await readLease(lease.place))?.token === lease.token ? undefined : true;
  await writeOnce(`releasing the stage lock ${location}`, remove, gone);
};
