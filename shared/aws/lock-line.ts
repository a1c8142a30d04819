/**
 * The stage's line: the newest build waiting for the stage's lock, beside the lock in the state bucket
 * (`.deployer/queue/<stage>.json`).
 *
 * When many builds land on one stage at once, one takes the lock and the others wait. Without a line every
 * waiter keeps asking for the lock, takes it in turn, and deploys a build the next waiter supersedes: change
 * sets nobody needs, and lock conflicts that grow faster than the builds. With it, a waiting deploy whose
 * release is made writes its build's rank (build start time) in the line when it is later than the one
 * there; a waiter that finds a later build in line stops waiting (LockYieldedError): that build will be
 * recorded after it and make its own moot. So only the newest waiting build keeps asking for the lock.
 *
 * The line is an optimisation the lock does not depend on. A place in line lasts LINE_MS from the moment S3
 * wrote it (its LastModified, judged by S3's clock), longer than any waiter waits (WAIT_MS), so a waiter
 * that died or gave up stops counting on its own; a rank later than S3's clock (no build starts in the
 * future) never counts; and when the line cannot be read or written, a waiter simply waits for the lock
 * as it would without one.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { errorMessage } from '../errors';
import { logger } from '../logger';
import { type Claim, credibleRank, isRefused, type Place, type Reading, readLease } from './lease-object';

/** How long a place in line counts, from S3's LastModified: longer than a waiter waits (WAIT_MS, 150 s). */
export const LINE_MS = 180_000;
/** Writers race for the line at most this many times before waiting without a place in it. */
const ROUNDS = 8;

export const lineKey = (stageName: string): string => `.deployer/queue/${stageName}.json`;

/** The line of the stage whose lock is at `place`. */
export const linePlaceOf = (place: Place): Place => {
  const key = lineKey(place.stage);
  return { ...place, key, location: `s3://${place.bucket}/${key}` };
};

/** `a` is a later rank than `b`. */
const isLater = (a: string | undefined, b: string | undefined): boolean =>
  Boolean(a && b && Date.parse(a) > Date.parse(b));

/** The build standing in line now: a credible rank written less than LINE_MS ago (S3's clock). */
const standing = (line: Reading | undefined): (Reading & { rank: string }) | undefined =>
  line && line.now < line.written + LINE_MS && credibleRank(line) ? line : undefined;

const readLine = async (place: Place): Promise<Reading | undefined | 'unreadable'> => {
  try {
    return await readLease(place);
  } catch (error) {
    logger.warn('could not read the stage line; waiting for the lock without it', {
      location: place.location,
      error: errorMessage(error),
    });
    return 'unreadable';
  }
};

/** A build later than the claim's standing in the stage's line, if there is one. */
export const laterInLine = async (
  lock: Place,
  claim: Claim,
): Promise<(Reading & { rank: string }) | undefined> => {
  const line = await readLine(linePlaceOf(lock));
  const now = line === 'unreadable' ? undefined : standing(line);
  return now && isLater(now.rank, claim.rank) ? now : undefined;
};

/**
 * Stand in the stage's line: write the claim's rank there, under a condition on what was read (If-Match its
 * ETag, or If-None-Match when there is none), unless a build as late or later stands in it already. Returns
 * the later build when there is one (the claim's build would be superseded by it); undefined when the claim
 * stands in line, an equal rank does (a twin delivery of the same build), or the line could not be written.
 */
export const standInLine = async (
  lock: Place,
  claim: Claim,
): Promise<(Reading & { rank: string }) | undefined> => {
  const place = linePlaceOf(lock);
  for (let round = 0; round < ROUNDS; round++) {
    const line = await readLine(place);
    if (line === 'unreadable') return undefined;
    const now = standing(line);
    if (now && isLater(now.rank, claim.rank)) return now;
    if (now && !isLater(claim.rank, now.rank)) return undefined;
    try {
      await place.s3.send(
        new PutObjectCommand({
          Bucket: place.bucket,
          Key: place.key,
          Body: JSON.stringify({ holder: claim.holder, rank: claim.rank }),
          ContentType: 'application/json',
          ...(line?.etag ? { IfMatch: line.etag } : { IfNoneMatch: '*' }),
        }),
      );
      return undefined;
    } catch (error) {
      if (!isRefused(error)) {
        logger.warn('could not stand in the stage line; waiting for the lock without it', {
          location: place.location,
          error: errorMessage(error),
        });
        return undefined;
      }
      // Another waiter wrote the line since we read it: read it again.
    }
  }
  return undefined;
};
