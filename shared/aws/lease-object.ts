/**
 * The stage lock's S3 object: where it lives, what a lease says (holder, token), how it is read (with S3's
 * own clock) and written under a condition, and how long it lasts. shared/aws/stage-lock.ts takes, keeps
 * and gives back leases with these.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { stateBucketOf } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { cleanText, quoted } from '../edge/untrusted';
import { errorName, isMissingObject } from '../errors';
import { guardWrite, writeOnce } from './single-writes';

/** Longer than the functions' 300-second timeout: a live holder never loses its lease. */
export const LEASE_MS = 330_000;
/** Holder descriptions are one line of at most this many characters (and a marker when cut). */
export const HOLDER_MAX = 200;
/** A lock object larger than this is not a lease of ours; it is not read into memory. */
export const BODY_MAX = 4_096;

export const lockKey = (stage: Stage): string => `.deployer/locks/${stage.name}.json`;

export interface LockOptions {
  /** The longest a lease lasts, from S3's LastModified (default LEASE_MS); tests shorten it. */
  leaseMs?: number;
  /** How long to wait for the stage before giving up (default WAIT_MS). */
  waitMs?: number;
  /**
   * The order of the holder's work (a deploy's build start time, ISO): written in the lease, so that
   * writers waiting for the stage can see what the holder is about to make desired.
   */
  rank?: string;
  /** Stop waiting (LockYieldedError) when the holder's rank is later than ours: its work makes ours moot. */
  yieldToLater?: boolean;
  /**
   * With yieldToLater and a rank: once this settles successfully (the work's input is ready: a deploy's
   * release is made), a waiter stands in the stage's line (shared/aws/lock-line.ts) and stops waiting when
   * a later rank stands there, so that only the newest waiting work keeps asking for the lock.
   */
  line?: Promise<unknown>;
  /** Called when the claim holds the lock, or waits for it instead of yielding (it goes on); maybe more than once. */
  onStay?: () => void;
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

// ---- where the lease lives, and what it says ----

export interface Place {
  s3: S3Client;
  stage: string;
  bucket: string;
  key: string;
  location: string;
  leaseMs: number;
}

/** A lease we mean to write: its bytes carry our token. */
export interface Claim {
  place: Place;
  token: string;
  holder: string;
  body: string;
  rank?: string;
}

/** A lease we hold: the ETag S3 gave our bytes, the condition of every later write and of the release. */
export interface Lease extends Claim {
  etag: string;
}

/** A lock object as read back, dated by S3: when it was written and what S3's clock said when we read it. */
export interface Reading {
  token: string | undefined;
  holder: string;
  /** The holder's rank (LockOptions.rank), when its lease carries a valid one. */
  rank?: string;
  etag: string | undefined;
  written: number;
  now: number;
}

export const placeOf = (s3: S3Client, stage: Stage, options: Pick<LockOptions, 'leaseMs'>): Place => {
  const bucket = stateBucketOf(stage);
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

export const newClaim = (place: Place, holderText: string, rank?: string): Claim => {
  const holder = cleanHolder(holderText);
  // 128 random bits: nobody can write a lease that passes for ours.
  const token = randomBytes(16).toString('hex');
  // expiresAt is for people and for deployers of earlier versions, which judge by it; this one does not.
  const expiresAt = new Date(Date.now() + place.leaseMs).toISOString();
  const body = JSON.stringify({ holder, token, expiresAt, ...(rank ? { rank } : {}) });
  return { place, token, holder, body, ...(rank ? { rank } : {}) };
};

/**
 * Holder descriptions come from callers and, when read back, from whoever wrote the object: one bounded
 * line without control, escape or bidi characters, so it can be quoted in a message or a terminal.
 */
const cleanHolder = (text: string): string => cleanText(text, HOLDER_MAX) || 'someone unnamed';

const UNREADABLE = 'unknown (the lock object is not a lease)';

const parseLease = (text: string | undefined): Pick<Reading, 'token' | 'holder' | 'rank'> => {
  try {
    const parsed: unknown = JSON.parse(text ?? '');
    if (parsed && typeof parsed === 'object') {
      const { token, holder, owner, rank } = parsed as Record<string, unknown>;
      // `owner`: the holder's description in leases of earlier versions.
      const said = typeof holder === 'string' ? holder : typeof owner === 'string' ? owner : undefined;
      const ranked = typeof rank === 'string' && !Number.isNaN(Date.parse(rank)) ? rank : undefined;
      return {
        token: typeof token === 'string' ? token : undefined,
        holder: said ? cleanHolder(said) : UNREADABLE,
        ...(ranked ? { rank: ranked } : {}),
      };
    }
  } catch {
    // not JSON: not a lease of ours
  }
  return { token: undefined, holder: UNREADABLE };
};

export const expiryOf = (place: Place, reading: Reading): number => reading.written + place.leaseMs;

/** A rank may be this far ahead of S3's clock (the clock that dated the build running fast) and count. */
export const RANK_SKEW_MS = 300_000;

/**
 * A reading whose rank a build can have: not later than S3's clock allows. (A rank is a build's start
 * time; one in the future would make every waiter yield to it.)
 */
export const credibleRank = (reading: Reading): reading is Reading & { rank: string } =>
  reading.rank !== undefined && Date.parse(reading.rank) <= reading.now + RANK_SKEW_MS;

/** S3 times have whole seconds. */
const isoTime = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

export const describeLock = (place: Place, reading: Reading): StageLock => ({
  holder: reading.holder,
  since: isoTime(reading.written),
  until: isoTime(expiryOf(place, reading)),
  expired: reading.now >= expiryOf(place, reading),
  location: place.location,
});

export const described = (lock: StageLock): string =>
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
export const readLease = async (place: Place): Promise<Reading | undefined> => {
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
export const isRefused = (error: unknown): boolean =>
  ['PreconditionFailed', 'ConditionalRequestConflict'].includes(errorName(error) ?? '') ||
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412 ||
  isMissingObject(error);

/**
 * S3 answers every PutObject with the object's ETag; for a single-part object without KMS that is the quoted
 * MD5 of its bytes, which stands in when an answer lacks it. A wrong guess can only make a conditional
 * write refuse: another holder's bytes carry another token, so they never match.
 */
export const etagOf = (body: string): string => `"${createHash('md5').update(body).digest('hex')}"`;

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
export const putLease = async (
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
