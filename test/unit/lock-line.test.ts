/**
 * The stage's line (shared/aws/lock-line.ts) with S3 mocked: an in-memory bucket of objects by key with
 * S3's conditional writes (If-None-Match '*', If-Match an ETag) and LastModified, and S3's clock given to
 * the reads as the Date a lease reading carries. A waiter stands in line unless a later build does; a
 * place in line counts for LINE_MS of S3's time; a rank from the future never counts; a line that cannot
 * be read or written leaves the waiter waiting as without one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { type Claim, newClaim, type Place } from '../../shared/aws/lease-object';
import { LINE_MS, laterInLine, lineKey, standInLine } from '../../shared/aws/lock-line';
import { LockYieldedError, lockKey, StageLockedError, withStageLock } from '../../shared/aws/stage-lock';
import { parseConfig } from '../../shared/edge/config';
import { type Stage, stageNamed } from '../../shared/edge/stages';
import { getObjectReply, type StoredObject, s3Error, s3Time, storedObject } from './helpers/fixtures';

const BUCKET = 'orders-api-artifacts';
const s3 = new S3Client({ region: 'us-east-1' });
const s3Mock = mockClient(s3);
const LOCK: Place = {
  s3,
  stage: 'dev',
  bucket: BUCKET,
  key: '.deployer/locks/dev.json',
  location: `s3://${BUCKET}/.deployer/locks/dev.json`,
  leaseMs: 330_000,
};
const LINE = lineKey('dev');

let objects: Map<string, StoredObject>;
/** Runs before a write is judged: another waiter's move at that moment. */
let beforeWrite: (() => void) | undefined;
let failing: { get?: Error; put?: Error };

const place = (holder: string, rank: string, lastModified = s3Time()): void => {
  const body = JSON.stringify({ holder, rank });
  objects.set(LINE, storedObject(body, lastModified));
};
const inLine = (): { holder?: string; rank?: string } => JSON.parse(objects.get(LINE)?.body ?? '{}');
const lineWrites = () =>
  s3Mock
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input)
    .filter((input) => input.Key === LINE);

beforeEach(() => {
  s3Mock.reset();
  objects = new Map();
  beforeWrite = undefined;
  failing = {};
  s3Mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    if (failing.put) throw failing.put;
    beforeWrite?.();
    beforeWrite = undefined;
    const key = String(input.Key);
    const now = objects.get(key);
    if (input.IfNoneMatch === '*' && now) throw s3Error('PreconditionFailed', 412);
    if (input.IfMatch !== undefined && !now) throw s3Error('NoSuchKey', 404);
    if (input.IfMatch !== undefined && now?.etag !== input.IfMatch) throw s3Error('PreconditionFailed', 412);
    const body = String(input.Body);
    const written = storedObject(body);
    objects.set(key, written);
    return { ETag: written.etag };
  });
  s3Mock.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => {
    if (failing.get) throw failing.get;
    const found = objects.get(String(input.Key));
    if (!found) throw s3Error('NoSuchKey', 404);
    return getObjectReply(found);
  });
});

const HOUR = 3_600_000;
/** Build start times in the past: the rank of build k is k hours after a base a day ago. */
const BASE = Date.now() - 24 * HOUR;
const rankOf = (k: number): string => new Date(BASE + k * HOUR).toISOString();
const claimOf = (k: number): Claim => newClaim(LOCK, `deploy build-${k}`, rankOf(k));

describe('standing in the stage line', () => {
  it('stands in an empty line with If-None-Match, beside the lock in the state bucket', async () => {
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine()).toEqual({ holder: 'deploy build-3', rank: rankOf(3) });
    expect(lineWrites()).toEqual([expect.objectContaining({ Bucket: BUCKET, Key: LINE, IfNoneMatch: '*' })]);
    expect(LINE).toBe('.deployer/queue/dev.json');
  });

  it('finds a later build in line: returns it and writes nothing', async () => {
    place('deploy build-5', rankOf(5));
    const later = await standInLine(LOCK, claimOf(3));
    expect(later).toMatchObject({ holder: 'deploy build-5', rank: rankOf(5) });
    expect(lineWrites()).toEqual([]);
  });

  it('takes the place of an earlier build, under If-Match its ETag', async () => {
    place('deploy build-1', rankOf(1));
    const etag = objects.get(LINE)?.etag;
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine().rank).toBe(rankOf(3));
    expect(lineWrites()).toEqual([expect.objectContaining({ IfMatch: etag })]);
  });

  it('leaves a build of the same rank in line (a twin delivery of one build): no write, no yield', async () => {
    place('deploy build-3 (first delivery)', rankOf(3));
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(lineWrites()).toEqual([]);
  });

  it('a later build that wrote the line between our read and our write wins the race: we read again and yield to it', async () => {
    place('deploy build-1', rankOf(1));
    beforeWrite = () => place('deploy build-7', rankOf(7));
    const later = await standInLine(LOCK, claimOf(3));
    expect(later).toMatchObject({ holder: 'deploy build-7', rank: rankOf(7) });
    expect(inLine().rank).toBe(rankOf(7));
    expect(lineWrites()).toHaveLength(1);
  });

  it(`a place written more than LINE_MS (${LINE_MS / 1000} s) ago by S3's clock no longer counts: its waiter gave up`, async () => {
    place('deploy build-9', rankOf(9), s3Time(Date.now() - LINE_MS - 2_000));
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine().rank).toBe(rankOf(3));
  });

  it('attack: a rank from the future (no build starts there) never counts, so nobody yields to it', async () => {
    place('deploy forever', '2099-01-01T00:00:00.000Z');
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine().rank).toBe(rankOf(3));
    place('deploy forever', '2099-01-01T00:00:00.000Z');
    await expect(laterInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
  });

  it('an object in line that is no place (not JSON) is replaced', async () => {
    objects.set(LINE, storedObject('garbage'));
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine().rank).toBe(rankOf(3));
  });

  it('a line that cannot be read leaves the waiter waiting as without one: it neither stands nor yields', async () => {
    place('deploy build-5', rankOf(5));
    failing.get = s3Error('AccessDenied', 403);
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    await expect(laterInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(lineWrites()).toEqual([]);
  });

  it('a line that cannot be written leaves the waiter waiting as without one: the line is as it was', async () => {
    place('deploy build-1', rankOf(1));
    failing.put = s3Error('InternalError', 500);
    await expect(standInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
    expect(inLine().rank).toBe(rankOf(1));
  });
});

describe('a later build in line', () => {
  it('is found for an earlier claim, not for a later or equal one', async () => {
    place('deploy build-5', rankOf(5));
    await expect(laterInLine(LOCK, claimOf(3))).resolves.toMatchObject({ rank: rankOf(5) });
    await expect(laterInLine(LOCK, claimOf(5))).resolves.toBeUndefined();
    await expect(laterInLine(LOCK, claimOf(6))).resolves.toBeUndefined();
  });

  it('is nobody when the line is empty', async () => {
    await expect(laterInLine(LOCK, claimOf(3))).resolves.toBeUndefined();
  });
});

describe('waiting for the stage with a line (withStageLock)', () => {
  const config = parseConfig(readFileSync(join(__dirname, '..', '..', 'deployer.config.yaml'), 'utf8'));
  const dev = stageNamed(config, 'dev') as Stage;
  const holdStage = (rank: string): void => {
    const body = JSON.stringify({ holder: 'deploy holder', token: 'f'.repeat(32), rank });
    objects.set(lockKey(dev), storedObject(body));
  };
  const wait = (line: Promise<unknown>, onStay = jest.fn()) =>
    withStageLock(s3, dev, 'deploy build-3', jest.fn(), {
      rank: rankOf(3),
      yieldToLater: true,
      line,
      onStay,
      waitMs: 0,
    }).catch((e: unknown) => e);

  it('a waiter whose release is made stands in line, and says it goes on (onStay)', async () => {
    holdStage(rankOf(1));
    const onStay = jest.fn();
    expect(await wait(Promise.resolve(), onStay)).toBeInstanceOf(StageLockedError);
    expect(inLine()).toEqual({ holder: 'deploy build-3', rank: rankOf(3) });
    expect(onStay).toHaveBeenCalled();
  });

  it('a waiter that finds a later build in line stops at once (LockYieldedError, "waits"), writing nothing', async () => {
    holdStage(rankOf(1));
    place('deploy build-5', rankOf(5));
    const error = await wait(Promise.resolve());
    expect(error).toBeInstanceOf(LockYieldedError);
    expect(error).toMatchObject({ holder: 'deploy build-5', rank: rankOf(5), later: 'waits' });
    expect(lineWrites()).toEqual([]);
  });

  it('a waiter whose release failed never stands in line and never gives way to it: it waits as before', async () => {
    holdStage(rankOf(1));
    place('deploy build-5', rankOf(5));
    const failed = Promise.reject(new Error('the build cannot be released'));
    expect(await wait(failed)).toBeInstanceOf(StageLockedError);
    expect(lineWrites()).toEqual([]);
    expect(inLine().rank).toBe(rankOf(5));
  });

  it('a waiter that gives way to a later holder does not say it goes on (nothing of its build is copied)', async () => {
    holdStage(rankOf(9));
    const onStay = jest.fn();
    expect(await wait(Promise.resolve(), onStay)).toBeInstanceOf(LockYieldedError);
    expect(onStay).not.toHaveBeenCalled();
    expect(lineWrites()).toEqual([]);
  });
});
