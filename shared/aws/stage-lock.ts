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
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { releaseBucketOf, type Stage } from '../edge/config';
import { cleanText, quoted } from '../edge/untrusted';
import { DeployerError, errorName, isMissingObject } from '../errors';
import { logger } from '../logger';
import { guardWrite, writeOnce } from './single-writes';

/** Longer than the functions' 300-second timeout: a live holder never loses its lease. */
export const LEASE_MS = 330_000;
/** How long a writer waits for the stage before failing (and being retried by the platform). */
export const WAIT_MS = 150_000;
const POLL_MS = { first: 200, max: 2_000 };
/** Holder descriptions are one line of at most this many characters (and a marker when cut). */
const HOLDER_MAX = 200;
/** A lock object larger than this is not a lease of ours; it is not read into memory. */
const BODY_MAX = 4_096;

export const lockKey = (stage: Stage): string => `.deployer/locks/${stage.name}.json`;

export interface LockOptions {
  /** The longest a lease lasts, from S3's LastModified (default LEASE_MS); tests shorten it. */
  leaseMs?: number;
  /** How long to wait for the stage before giving up (default WAIT_MS). */
  waitMs?: number;
}

/** A stage's lock as a person reads it: who holds it, since and until when (S3 times, ISO UTC), and where. */
export interface StageLock {
  holder: string;
  since: string;
  until: string;
  /** S3's clock is past `until`: the next writer takes the lock over. */
  expired: boolean;
  /** The lock object, as s3://bucket/key. */
  location: string;
}

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
  let lease = await acquire(newClaim(place, holder), options.waitMs ?? WAIT_MS);
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

// ---- where the lease lives, and what it says ----

interface Place {
  s3: S3Client;
  stage: string;
  bucket: string;
  key: string;
  location: string;
  leaseMs: number;
}

/** A lease we mean to write: its bytes carry our token. */
interface Claim {
  place: Place;
  token: string;
  holder: string;
  body: string;
}

/** A lease we hold: the ETag S3 gave our bytes, the condition of every later write and of the release. */
interface Lease extends Claim {
  etag: string;
}

/** A lock object as read back, dated by S3: when it was written and what S3's clock said when we read it. */
interface Reading {
  token: string | undefined;
  holder: string;
  etag: string | undefined;
  written: number;
  now: number;
}

const placeOf = (s3: S3Client, stage: Stage, options: Pick<LockOptions, 'leaseMs'>): Place => {
  const bucket = releaseBucketOf(stage);
  const key = lockKey(stage);
  return {
    s3,
    stage: stage.name,
    bucket,
    key,
    location: `s3://${bucket}/${key}`,
    leaseMs: options.leaseMs ?? LEASE_MS,
  };
};

const newClaim = (place: Place, holderText: string): Claim => {
  const holder = cleanHolder(holderText);
  // 128 random bits: nobody can write a lease that passes for ours.
  const token = randomBytes(16).toString('hex');
  // expiresAt is for people and for deployers of earlier versions, which judge by it; this one does not.
  const expiresAt = new Date(Date.now() + place.leaseMs).toISOString();
  return { place, token, holder, body: JSON.stringify({ holder, token, expiresAt }) };
};

/**
 * Holder descriptions come from callers and, when read back, from whoever wrote the object: one bounded
 * line without control, escape or bidi characters, so it can be quoted in a message or a terminal.
 */
const cleanHolder = (text: string): string => cleanText(text, HOLDER_MAX) || 'someone unnamed';

const UNREADABLE = 'unknown (the lock object is not a lease)';

const parseLease = (text: string | undefined): Pick<Reading, 'token' | 'holder'> => {
  try {
    const parsed: unknown = JSON.parse(text ?? '');
    if (parsed && typeof parsed === 'object') {
      const { token, holder, owner } = parsed as Record<string, unknown>;
      // `owner`: the holder's description in leases of earlier versions.
      const said = typeof holder === 'string' ? holder : typeof owner === 'string' ? owner : undefined;
      return {
        token: typeof token === 'string' ? token : undefined,
        holder: said ? cleanHolder(said) : UNREADABLE,
      };
    }
  } catch {
    // not JSON: not a lease of ours
  }
  return { token: undefined, holder: UNREADABLE };
};

const expiryOf = (place: Place, reading: Reading): number => reading.written + place.leaseMs;

/** S3 times have whole seconds. */
const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

const describeLock = (place: Place, reading: Reading): StageLock => ({
  holder: reading.holder,
  since: isoTime(reading.written),
  until: isoTime(expiryOf(place, reading)),
  expired: reading.now >= expiryOf(place, reading),
  location: place.location,
});

const described = (lock: StageLock): string =>
  `${quoted(lock.holder)} since ${lock.since} until ${lock.until} (${lock.location})`;

// ---- S3's clock ----

type Next = (args: unknown) => Promise<{ response?: unknown }>;
interface ClockedCommand {
  middlewareStack: {
    add(middleware: (next: Next) => Next, options: { step: 'deserialize'; name: string }): void;
  };
}

/**
 * Note the Date header of S3's answer to this command in `clock`. The SDK's outputs carry no response
 * headers, so a middleware reads it off the raw answer. An answer without one leaves `clock` empty.
 */
const withServerClock = <C>(command: C, clock: { date?: number }): C => {
  (command as unknown as ClockedCommand).middlewareStack.add(
    (next: Next) => async (args: unknown) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> } | undefined)?.headers;
      const date = Date.parse(headers?.date ?? '');
      if (!Number.isNaN(date)) clock.date = date;
      return result;
    },
    { step: 'deserialize', name: 'deployerServerClock' },
  );
  return command;
};

// ---- reading and writing the lease ----

/** The lock object as it is now, or undefined when there is none. */
const readLease = async (place: Place): Promise<Reading | undefined> => {
  const clock: { date?: number } = {};
  try {
    const answer = await place.s3.send(
      withServerClock(new GetObjectCommand({ Bucket: place.bucket, Key: place.key }), clock),
    );
    // An answer without a body holds no lease.
    if (!answer?.Body) return undefined;
    const oversized = (answer.ContentLength ?? 0) > BODY_MAX;
    if (oversized) (answer.Body as { destroy?: () => void }).destroy?.();
    const said = parseLease(oversized ? undefined : await answer.Body.transformToString());
    // Without S3's Date (never missing from S3 itself), this machine's clock is the best there is.
    const now = clock.date ?? Date.now();
    return { ...said, etag: answer.ETag, written: answer.LastModified?.getTime() ?? now, now };
  } catch (error) {
    if (isMissingObject(error)) return undefined;
    throw error;
  }
};

/** Conditional-write refusals: the object exists (If-None-Match), changed or is gone (If-Match), or a race. */
const isRefused = (error: unknown): boolean =>
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes(errorName(error) ?? '') ||
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412 ||
  isMissingObject(error);

/**
 * S3 answers every PutObject with the object's ETag; for a single-part object without KMS that is the quoted
 * MD5 of its bytes, which stands in when an answer lacks it. A wrong guess can only make a conditional
 * write refuse: another holder's bytes carry another token, so they never match.
 */
const etagOf = (body: string): string => `"${createHash('md5').update(body).digest('hex')}"`;

type Condition = { IfNoneMatch: '*' } | { IfMatch: string };

/** How many attempts the SDK made before it threw (its retry middleware notes them on the error). */
const attemptsOf = (error: unknown): number =>
  (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;

/**
 * Write our lease under a condition: If-None-Match '*' (nobody holds it), If-Match an expired lease's ETag
 * (nobody took it over first), or If-Match our own ETag (still ours). Undefined when the condition failed
 * for another holder.
 *
 * A lost answer (AmbiguousWriteError) is followed by a read-back when `afterLoss` says so: the object
 * carrying our token means the write landed. Otherwise the same bytes are written again, which is harmless
 * when repeating the write cannot hurt (a renewal). A refusal that follows a lost answer, or an attempt
 * the SDK repeated, may be of our own earlier write, so it is read back too.
 */
const putLease = async (
  claim: Claim,
  condition: Condition,
  afterLoss: 'read back' | 'write again',
): Promise<Lease | undefined> => {
  const { s3, bucket, key, location } = claim.place;
  let lost = false;
  const ours = async (): Promise<Lease | undefined> => {
    const found = await readLease(claim.place);
    return found?.token === claim.token ? { ...claim, etag: found.etag ?? etagOf(claim.body) } : undefined;
  };
  const write = async (): Promise<Lease | 'refused'> => {
    try {
      const answer = await s3.send(
        guardWrite(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: claim.body,
            ContentType: 'application/json',
            ...condition,
          }),
        ),
      );
      return { ...claim, etag: answer?.ETag ?? etagOf(claim.body) };
    } catch (error) {
      if (!isRefused(error)) throw error;
      // The refusal may be of our own write: one whose answer was lost, or an earlier attempt of this call
      // that the SDK repeated because its failure looked like nothing had landed.
      const maybeOurs = lost || attemptsOf(error) > 1;
      return (maybeOurs && (await ours())) || 'refused';
    }
  };
  const landed = async (): Promise<Lease | 'refused' | undefined> => {
    lost = true;
    if (afterLoss === 'write again') return undefined;
    const found = await readLease(claim.place);
    if (found?.token === claim.token) return { ...claim, etag: found.etag ?? etagOf(claim.body) };
    // Another holder's lease is there: our conditional write did not land.
    return found ? 'refused' : undefined;
  };
  const result = await writeOnce(`writing the stage lock ${location}`, write, landed);
  return result === 'refused' ? undefined : result;
};

// ---- taking, keeping and giving back ----

/**
 * Take the lease, waiting for it at most `waitMs`. An attempt that fails after one of its writes may have
 * landed (its answer lost, and the read-back failed too) deletes its own lease on the way out — by its ETag,
 * the MD5 of its own bytes — so that the event's redelivery does not find the stage locked by itself.
 */
const acquire = async (claim: Claim, waitMs: number): Promise<Lease> => {
  try {
    return await acquireOrWait(claim, waitMs);
  } catch (error) {
    if (!(error instanceof StageLockedError)) await dropOwnLease(claim);
    throw error;
  }
};

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

const acquireOrWait = async (claim: Claim, waitMs: number): Promise<Lease> => {
  const { place } = claim;
  const deadline = Date.now() + waitMs;
  let pause = POLL_MS.first;
  for (;;) {
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
