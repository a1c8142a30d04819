/**
 * The stage lock with S3 mocked: a small in-memory store behind aws-sdk-client-mock keeps the lock object
 * with S3's conditional-write rules (If-None-Match '*', If-Match an ETag, ETag = MD5 of the bytes), and can
 * lose an answer after the write landed, before it landed, or let a write land late. The last tests give an
 * S3 client scripted HTTP answers instead, so that S3's Date header (its clock) reaches the lock as it
 * would from AWS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  GetObjectCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AmbiguousWriteError } from '../../shared/aws/single-writes';
import {
  LEASE_MS,
  LockLostError,
  LockYieldedError,
  lockKey,
  readStageLock,
  StageLockedError,
  withStageLock,
} from '../../shared/aws/stage-lock';
import { parseConfig } from '../../shared/edge/config';
import { type Stage, stageNamed } from '../../shared/edge/stages';
import { DeployerError, PermanentError } from '../../shared/errors';
import { getObjectReply, type StoredObject, s3Error, s3Time, storedObject } from './helpers/fixtures';

const config = parseConfig(readFileSync(join(__dirname, '..', '..', 'deployer.config.yaml'), 'utf8'));
const dev = stageNamed(config, 'dev') as Stage;
const BUCKET = 'orders-api-artifacts';
const KEY = lockKey(dev);
const LOCATION = `s3://${BUCKET}/${KEY}`;

// ---- an S3 bucket of one lock object, with conditional writes and lost answers ----

/**
 * What happens to the next write: 'lost' lands and loses its answer; 'unlanded' loses its answer without
 * landing; 'late' loses its answer and lands just before the next write is served (after a read-back);
 * 'repeated' lands, loses its answer in a way the SDK takes for "nothing landed", and the SDK's repeat is
 * refused: the caller sees that refusal, with two attempts noted.
 */
type Fault = 'lost' | 'unlanded' | 'late' | 'repeated';

const s3 = new S3Client({ region: 'us-east-1' });
/** Only this client is mocked: the scripted ones below go through the SDK's HTTP path. */
const s3Mock = mockClient(s3);
let stored: StoredObject | undefined;
let faults: { put: Fault[]; delete: Fault[] };
let pending: (() => void) | undefined;
/** Runs before each write is judged: another writer's move at that moment. */
let beforeWrite: (() => void) | undefined;

const lostAnswer = (): AmbiguousWriteError =>
  new AmbiguousWriteError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));

/** Put an object at the lock key directly, as another writer (or anyone with bucket write) would. */
const store = (body: string, lastModified = s3Time()): void => {
  stored = storedObject(body, lastModified);
};

const foreignLease = (holder: string, lastModified = s3Time()): void =>
  store(JSON.stringify({ holder, token: 'f'.repeat(32), expiresAt: '2026-01-01T00:00:00Z' }), lastModified);

/** Check S3's conditions for a write on the lock key. */
const checkCondition = (input: { IfMatch?: string; IfNoneMatch?: string }): void => {
  if (input.IfNoneMatch === '*' && stored) throw s3Error('PreconditionFailed', 412);
  if (input.IfMatch !== undefined && !stored) throw s3Error('NoSuchKey', 404);
  if (input.IfMatch !== undefined && stored?.etag !== input.IfMatch) throw s3Error('PreconditionFailed', 412);
};

/** Serve a write: judge it, apply it, and lose its answer when a fault says so. */
const write = <T>(
  fault: Fault | undefined,
  input: { IfMatch?: string; IfNoneMatch?: string },
  apply: () => T,
): T => {
  const land = () => {
    checkCondition(input);
    return apply();
  };
  if (fault === 'unlanded') throw lostAnswer();
  if (fault === 'late') {
    pending = () => {
      try {
        land();
      } catch {
        // refused when it finally arrived
      }
    };
    throw lostAnswer();
  }
  const result = land();
  if (fault === 'lost') throw lostAnswer();
  if (fault === 'repeated') throw s3Error('PreconditionFailed', 412, 2);
  return result;
};

const serveLatePending = (): void => {
  const late = pending;
  pending = undefined;
  late?.();
};

beforeEach(() => {
  s3Mock.reset();
  stored = undefined;
  faults = { put: [], delete: [] };
  pending = undefined;
  beforeWrite = undefined;
  s3Mock.on(PutObjectCommand).callsFake(async (input: PutObjectCommandInput) => {
    serveLatePending();
    beforeWrite?.();
    const body = String(input.Body);
    return write(faults.put.shift(), input, () => {
      stored = storedObject(body);
      return { ETag: stored.etag };
    });
  });
  s3Mock.on(DeleteObjectCommand).callsFake(async (input: DeleteObjectCommandInput) => {
    serveLatePending();
    beforeWrite?.();
    return write(faults.delete.shift(), input, () => {
      stored = undefined;
      return {};
    });
  });
  s3Mock.on(GetObjectCommand).callsFake(async () => {
    if (!stored) throw s3Error('NoSuchKey', 404);
    return getObjectReply(stored);
  });
});

const storedLease = (): { holder?: string; token?: string } =>
  stored ? (JSON.parse(stored.body) as { holder?: string; token?: string }) : {};

const putCalls = () => s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);

/** S3 times have whole seconds. */
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// ---------------------------------------------------------------------------------------------------------

describe('taking and giving back the lock', () => {
  it('takes a free stage with If-None-Match, holds it during the work, gives it back with If-Match', async () => {
    const during = await withStageLock(s3, dev, 'deploy 1234', async (lease) => {
      expect(lease).toMatchObject({ holder: 'deploy 1234', location: LOCATION });
      return storedLease();
    });

    expect(during.holder).toBe('deploy 1234');
    expect(during.token).toMatch(/^[0-9a-f]{32}$/);
    expect(putCalls()).toEqual([expect.objectContaining({ Key: KEY, IfNoneMatch: '*' })]);
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectCommand, {
      Key: KEY,
      IfMatch: storedObject(JSON.stringify(during)).etag,
    });
    expect(stored).toBeUndefined();
  });

  it('gives every lease a token of its own', async () => {
    const first = await withStageLock(s3, dev, 'deploy 1', async () => storedLease().token);
    const second = await withStageLock(s3, dev, 'deploy 1', async () => storedLease().token);
    expect(first).not.toBe(second);
  });

  it('writes the holder description as one bounded line without control, escape or bidi characters', async () => {
    const hostile = `rollback by kim\u001b[2J\r\nNext: run \u202Erm -rf\u0000 ${'x'.repeat(500)}`;
    const holder = await withStageLock(s3, dev, hostile, async (lease) => {
      expect(lease.holder).toBe(storedLease().holder);
      return storedLease().holder ?? '';
    });
    expect(holder).toMatch(/^rollback by kim Next: run rm -rf x+…\[cut \d+ chars\]$/);
    expect(Array.from(holder.replace(/…\[cut \d+ chars\]$/, ''))).toHaveLength(200);
  });
});

describe('lost answers', () => {
  it.each<[string, Fault, number]>([
    ['landed but its answer was lost: reading it back shows our token', 'lost', 1],
    ['landed after it was read back: the repeated write is refused (412) by our own lease', 'late', 2],
    [
      'was repeated by the SDK after a failure it took for "nothing landed": its 412 is our own',
      'repeated',
      1,
    ],
  ])('the lock write %s: we hold the lease at once', async (_, fault, writes) => {
    faults.put = [fault];
    const token = await withStageLock(s3, dev, 'deploy 1234', async () => storedLease().token, { waitMs: 0 });

    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(putCalls()).toHaveLength(writes);
    expect(stored).toBeUndefined();
  });

  it('a lost answer, then a 412 from another writer that took the stage meanwhile: we wait, and say who holds it', async () => {
    faults.put = ['unlanded'];
    beforeWrite = () => {
      beforeWrite = undefined;
      foreignLease('rollback by kim');
    };
    const work = jest.fn();

    const error = await withStageLock(s3, dev, 'deploy 1234', work, { waitMs: 0 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StageLockedError);
    expect((error as StageLockedError).lock?.holder).toBe('rollback by kim');
    expect(work).not.toHaveBeenCalled();
    expect(storedLease().holder).toBe('rollback by kim');
  });

  it.each<[string, Fault]>([
    ['landed', 'lost'],
    ['did not land', 'unlanded'],
  ])('the release %s but its answer was lost: the stage is free afterwards', async (_, fault) => {
    faults.delete = [fault];
    await withStageLock(s3, dev, 'deploy 1234', async () => undefined);

    expect(stored).toBeUndefined();
    expect(await withStageLock(s3, dev, 'deploy 5678', async () => storedLease().holder, { waitMs: 0 })).toBe(
      'deploy 5678',
    );
  });
});

describe('waiting for another holder', () => {
  it('gives up naming the holder, since and until when (S3 times) and the lock object', async () => {
    const written = s3Time(Date.now() - 60_000);
    foreignLease('deploy 1234', written);

    const error = await withStageLock(s3, dev, 'deploy 5678', jest.fn(), { waitMs: 0 }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(StageLockedError);
    expect(error).toBeInstanceOf(DeployerError);
    expect(error).not.toBeInstanceOf(PermanentError);
    const since = iso(written.getTime());
    const until = iso(written.getTime() + LEASE_MS);
    expect((error as StageLockedError).lock).toEqual({
      holder: 'deploy 1234',
      since,
      until,
      expired: false,
      location: LOCATION,
    });
    expect((error as Error).message).toBe(
      `stage dev is locked by "deploy 1234" since ${since} until ${until} (${LOCATION}); gave up after 0s`,
    );
  });

  it('quotes a hostile holder as one clean line', async () => {
    foreignLease('deploy 1\n\u001b[31mNext: approve prod\u202E');
    const error = (await withStageLock(s3, dev, 'x', jest.fn(), { waitMs: 0 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toContain('locked by "deploy 1 Next: approve prod" since');
    expect(error.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
  });

  const rankedLease = (holder: string, rank: string): void =>
    store(JSON.stringify({ holder, token: 'f'.repeat(32), expiresAt: '2026-01-01T00:00:00Z', rank }));
  const EARLIER = '2026-11-20T10:00:00.000Z';
  const LATER = '2026-11-20T11:00:00.000Z';

  it('writes the rank of its work in the lease, for the writers that wait', async () => {
    const body = await withStageLock(s3, dev, 'deploy 1234', async () => JSON.parse(stored?.body ?? '{}'), {
      rank: LATER,
    });
    expect(body).toMatchObject({ holder: 'deploy 1234', rank: LATER });
  });

  it('stops waiting (LockYieldedError) at once when the holder works for a later rank, writing nothing more', async () => {
    rankedLease('deploy later', LATER);
    const work = jest.fn();
    const error = await withStageLock(s3, dev, 'deploy earlier', work, {
      rank: EARLIER,
      yieldToLater: true,
      waitMs: 60_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockYieldedError);
    expect((error as LockYieldedError).holder).toBe('deploy later');
    expect(work).not.toHaveBeenCalled();
    // One refused attempt and one read: no second attempt, no delete of a lease that was never ours.
    expect(putCalls()).toHaveLength(1);
    expect(s3Mock.commandCalls(DeleteObjectCommand)).toHaveLength(0);
    expect(storedLease().holder).toBe('deploy later');
  });

  it('attack: a lease whose rank lies in the future (no build starts there) does not make a waiter give up its build', async () => {
    // Anyone who could write the lock object could otherwise stop every build that arrives while it stands.
    rankedLease('deploy from the future', '2099-01-01T00:00:00.000Z');
    const error = await withStageLock(s3, dev, 'deploy mine', jest.fn(), {
      rank: new Date(Date.now() - 60_000).toISOString(),
      yieldToLater: true,
      waitMs: 0,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageLockedError);
    expect(error).not.toBeInstanceOf(LockYieldedError);
  });

  it.each([
    ['an earlier rank', EARLIER, true],
    ['a later rank, when not asked to yield', LATER, false],
  ])('waits on a holder of %s', async (_what, holderRank, yieldToLater) => {
    rankedLease('deploy other', holderRank);
    const error = await withStageLock(s3, dev, 'deploy mine', jest.fn(), {
      rank: holderRank === EARLIER ? LATER : EARLIER,
      yieldToLater,
      waitMs: 0,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageLockedError);
  });
});

describe('a lock nobody else can wedge', () => {
  const squatter = (lastModified: Date) =>
    store(JSON.stringify({ owner: 'squatter', expiresAt: '2099-01-01T00:00:00Z' }), lastModified);

  it('a lease claiming to last until 2099 is reported expiring at its LastModified + LEASE_MS', async () => {
    const written = s3Time(Date.now() - 1_000);
    squatter(written);
    expect(await readStageLock(s3, dev)).toEqual({
      holder: 'squatter',
      since: iso(written.getTime()),
      until: iso(written.getTime() + LEASE_MS),
      expired: false,
      location: LOCATION,
    });
  });

  it('a lease claiming to last until 2099, written more than LEASE_MS ago, is taken over', async () => {
    squatter(s3Time(Date.now() - LEASE_MS - 1_000));
    const holder = await withStageLock(s3, dev, 'deploy 1234', async () => storedLease().holder, {
      waitMs: 0,
    });

    expect(holder).toBe('deploy 1234');
    expect(putCalls().map((p) => (p.IfMatch ? 'If-Match' : 'If-None-Match'))).toEqual([
      'If-None-Match',
      'If-Match',
    ]);
    expect(stored).toBeUndefined();
  });

  it('a lease written less than LEASE_MS ago is not taken over, whatever it claims', async () => {
    squatter(s3Time(Date.now() - LEASE_MS + 60_000));
    await expect(withStageLock(s3, dev, 'deploy 1234', jest.fn(), { waitMs: 0 })).rejects.toThrow(
      StageLockedError,
    );
    expect(storedLease()).toMatchObject({ owner: 'squatter' });
  });

  it('an unreadable lock object counts from its LastModified: not taken while fresh, taken once old', async () => {
    store('not a lease \u0000');
    const error = await withStageLock(s3, dev, 'deploy 1234', jest.fn(), { waitMs: 0 }).catch(
      (e: unknown) => e,
    );
    expect((error as StageLockedError).lock?.holder).toBe('unknown (the lock object is not a lease)');

    store('not a lease \u0000', s3Time(Date.now() - LEASE_MS - 1_000));
    expect(await withStageLock(s3, dev, 'deploy 1234', async () => 'held', { waitMs: 0 })).toBe('held');
  });

  it('a shorter maximum (LockOptions.leaseMs) caps leases the same way', async () => {
    squatter(s3Time(Date.now() - 5_000));
    expect(await readStageLock(s3, dev, { leaseMs: 2_000 })).toMatchObject({ expired: true });
    expect(
      await withStageLock(s3, dev, 'deploy 1234', async () => 'held', { leaseMs: 2_000, waitMs: 0 }),
    ).toBe('held');
  });

  it('an oversized lock object is not read into memory: it counts as unreadable', async () => {
    store(JSON.stringify({ holder: 'padded', pad: 'x'.repeat(5_000) }));
    expect(await readStageLock(s3, dev)).toMatchObject({
      holder: 'unknown (the lock object is not a lease)',
      expired: false,
    });
  });

  it('readStageLock: undefined when the stage is not locked', async () => {
    expect(await readStageLock(s3, dev)).toBeUndefined();
  });
});

describe('fencing: lease.confirm()', () => {
  it('passes while the lease is ours, rewriting it under If-Match its ETag (it lasts LEASE_MS from now)', async () => {
    await withStageLock(s3, dev, 'deploy 1234', async (lease) => {
      const before = stored;
      await lease.confirm();
      expect(putCalls().at(-1)).toMatchObject({ IfMatch: before?.etag });
      expect(stored?.body).toBe(before?.body);
      await lease.confirm();
    });
    expect(stored).toBeUndefined();
  });

  it('throws LockLostError (transient) when the lease was deleted meanwhile', async () => {
    const error = await withStageLock(s3, dev, 'deploy 1234', async (lease) => {
      stored = undefined;
      return lease.confirm();
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LockLostError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe(
      'stage dev: the lock of "deploy 1234" is no longer ours: it was deleted; stopping',
    );
    expect(stored).toBeUndefined();
  });

  it('throws LockLostError naming the new holder when the lease was replaced, and the release leaves that lease alone', async () => {
    const error = await withStageLock(s3, dev, 'deploy 1234', async (lease) => {
      foreignLease('rollback by kim');
      return lease.confirm();
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(
      /^stage dev: the lock of "deploy 1234" is no longer ours: it is now held by "rollback by kim" since \S+ until \S+ \(s3:\/\/orders-api-artifacts\/\.deployer\/locks\/dev\.json\); stopping$/,
    );
    expect(storedLease().holder).toBe('rollback by kim');
  });

  it('a lost answer to the renewal is harmless: written again, still ours', async () => {
    await withStageLock(s3, dev, 'deploy 1234', async (lease) => {
      faults.put = ['lost'];
      await lease.confirm();
      faults.put = ['unlanded'];
      await lease.confirm();
    });
    expect(stored).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// S3's clock, through the SDK's own HTTP path: answers scripted per request
// ---------------------------------------------------------------------------------------------------------

describe("S3's clock, not the function's", () => {
  const T = Date.parse('2026-11-20T10:00:00Z');
  const httpDate = (ms: number) => new Date(ms).toUTCString();
  const LEASE = JSON.stringify({ holder: 'deploy 1234', token: 'a'.repeat(32) });

  /** An S3 client whose answers are scripted: the lock object written at T, S3's clock at `s3Now`. */
  const scriptedS3 = (s3Now: number) => {
    const seen: { method: string; ifMatch?: string }[] = [];
    const client = new S3Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' },
      endpoint: 'http://s3.unit.test',
      forcePathStyle: true,
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: { method: string; headers: Record<string, string> }) => {
          seen.push({ method: request.method, ifMatch: request.headers['if-match'] });
          const answer = (statusCode: number, text: string, headers: Record<string, string> = {}) => ({
            response: {
              statusCode,
              headers: {
                date: httpDate(s3Now),
                'content-length': String(Buffer.byteLength(text)),
                ...headers,
              },
              body: Readable.from([Buffer.from(text)]),
            },
          });
          if (request.method === 'GET')
            return answer(200, LEASE, {
              'last-modified': httpDate(T),
              etag: '"lease-etag"',
              'content-type': 'application/json',
            });
          if (request.method === 'PUT' && !request.headers['if-match'])
            return answer(412, '<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>');
          if (request.method === 'PUT') return answer(200, '', { etag: '"our-etag"' });
          return answer(204, '');
        },
      },
    });
    return { client, seen };
  };

  afterEach(() => jest.restoreAllMocks());

  it('a function whose clock runs an hour ahead does not take over a lease S3 wrote 10 s ago', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(T + 3_600_000);
    const { client, seen } = scriptedS3(T + 10_000);

    expect(await readStageLock(client, dev)).toMatchObject({ holder: 'deploy 1234', expired: false });
    await expect(withStageLock(client, dev, 'deploy 5678', jest.fn(), { waitMs: 0 })).rejects.toThrow(
      StageLockedError,
    );
    expect(seen.filter((r) => r.ifMatch)).toEqual([]);
  });

  it('a function whose clock runs behind takes over a lease S3 says has expired', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(T);
    const { client, seen } = scriptedS3(T + LEASE_MS + 1_000);

    expect(await readStageLock(client, dev)).toMatchObject({ expired: true, until: iso(T + LEASE_MS) });
    expect(await withStageLock(client, dev, 'deploy 5678', async () => 'held', { waitMs: 0 })).toBe('held');
    expect(seen).toContainEqual({ method: 'PUT', ifMatch: '"lease-etag"' });
    expect(seen).toContainEqual({ method: 'DELETE', ifMatch: '"our-etag"' });
  });
});
