/**
 * The stage lock against moto, through the fault proxy: answers lost after S3 acted (a 500 or a reset
 * connection) on taking and releasing the lock, lock objects written by someone else (a lease "until 2099",
 * an unreadable object), a lock deleted or taken over while its holder works, and a writer that gives up
 * waiting. Foreign objects are written straight to moto; the deployer's calls go through the proxy.
 * No assertion depends on timing: "at once" is proven by a writer that may not wait at all (waitMs 0).
 */
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import type { LostAs } from '../../bin/support/aws-proxy';
import type { Clients } from '../../shared/aws/clients';
import { AmbiguousWriteError, guardWrite } from '../../shared/aws/single-writes';
import {
  LEASE_MS,
  LockLostError,
  lockKey,
  readStageLock,
  StageLockedError,
  withStageLock,
} from '../../shared/aws/stage-lock';
import type { Stage } from '../../shared/edge/stages';
import { proxyOfFile } from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import { objectExists, parameterHistory, type World } from './helpers/world';

jest.setTimeout(120_000);

/** Faults are cleared after each test (see proxyOfFile). */
const aws = proxyOfFile();
let world: World;
let clients: Clients;
let stage: Stage;

beforeAll(async () => {
  world = await aws.worlds.create();
  clients = aws.clients();
  stage = configuredStage(world);
});
afterEach(async () => {
  await world.clients.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: lockKey(stage) }));
});

const location = () => `s3://${world.bucket}/${lockKey(stage)}`;
const lockIsThere = () => objectExists(world, lockKey(stage));
/** The stage's lock as moto has it, read without the proxy. */
const lockInMoto = () => readStageLock(world.clients.s3, stage);
/** Calls of an S3 operation on the lock object that reached moto through the proxy. */
const lockCalls = (operation: string) =>
  aws.proxy
    .forwarded()
    .filter((c) => c.operation === operation && c.params.path === `/${world.bucket}/${lockKey(stage)}`);
/** Write an object at the lock key straight to moto, as anyone with write access to the bucket could. */
const writeForeignLock = (body: string) =>
  world.clients.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: lockKey(stage), Body: body }));

const LOSSES: LostAs[] = ['serverError', 'reset'];

describe('lost answers', () => {
  test.each(LOSSES)(
    'taking the lock, its answer lost (%s): the same call holds the lease at once',
    async (as) => {
      aws.proxy.reset();
      aws.proxy.setFaults({ lost: { 's3.PutObject': { next: 1, as } } });

      const held = await withStageLock(
        clients.s3,
        stage,
        'deploy 1234',
        async () => ({ puts: lockCalls('s3.PutObject'), lock: await lockInMoto() }),
        { waitMs: 0 },
      );

      // The first write reached moto and landed, its answer lost; reading back (or the refusal of the SDK's
      // own repeat, read back) proved the lease ours, without waiting.
      expect(held.puts[0]).toMatchObject({ status: 200, lost: as });
      expect(held.puts.length).toBeLessThanOrEqual(2);
      expect(aws.proxy.injected().lost).toBe(1);
      expect(held.lock).toMatchObject({ holder: 'deploy 1234', expired: false });
      expect(await lockIsThere()).toBe(false);
    },
  );

  test.each(LOSSES)(
    'releasing the lock, its answer lost (%s): the stage is free for the next writer',
    async (as) => {
      aws.proxy.reset();
      aws.proxy.setFaults({ lost: { 's3.DeleteObject': { next: 1, as } } });

      await withStageLock(clients.s3, stage, 'deploy 1234', async () => undefined, { waitMs: 0 });

      expect(lockCalls('s3.DeleteObject')[0]).toMatchObject({ status: 204, lost: as });
      expect(await lockIsThere()).toBe(false);
      const next = await withStageLock(clients.s3, stage, 'deploy 5678', async () => lockInMoto(), {
        waitMs: 0,
      });
      expect(next?.holder).toBe('deploy 5678');
    },
  );

  test.each(LOSSES)('the proxy loses answers (%s) after the emulator acted, and counts them', async (as) => {
    aws.proxy.reset();
    aws.proxy.setFaults({ lost: { 'ssm.PutParameter': { next: 2, as } } });
    const before = (await parameterHistory(world, stage.ssmParameter)).length;

    // Unguarded, the SDK repeats the write after each lost answer: three attempts, three versions.
    const out = await clients.ssm.send(
      new PutParameterCommand({
        Name: stage.ssmParameter,
        Value: `lost-${as}`,
        Type: 'String',
        Overwrite: true,
      }),
    );

    expect(out.$metadata.attempts).toBe(3);
    const calls = aws.proxy.forwarded().filter((c) => c.operation === 'ssm.PutParameter');
    expect(calls.map((c) => [c.status, c.lost])).toEqual([
      [200, as],
      [200, as],
      [200, undefined],
    ]);
    expect(aws.proxy.injected()).toEqual({ lost: 2, throttle: 0, serverError: 0, drop: 0 });
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(before + 3);
  });

  test('a guarded write is not repeated after a lost 500: the caller learns the write may have landed', async () => {
    aws.proxy.setFaults({ lost: { 'ssm.PutParameter': { next: 1 } } });
    const put = new PutParameterCommand({
      Name: stage.ssmParameter,
      Value: 'once',
      Type: 'String',
      Overwrite: true,
    });
    await expect(clients.ssm.send(guardWrite(put))).rejects.toBeInstanceOf(AmbiguousWriteError);
    expect((await parameterHistory(world, stage.ssmParameter)).at(-1)?.Value).toBe('once');
  });
});

describe('a lock nobody else can wedge', () => {
  test('a foreign lease "until 2099" lasts LEASE_MS from its LastModified, and is taken over after that', async () => {
    await writeForeignLock(JSON.stringify({ owner: 'squatter', expiresAt: '2099-12-31T23:59:59Z' }));

    const lock = await readStageLock(clients.s3, stage);
    expect(lock).toMatchObject({ holder: 'squatter', expired: false, location: location() });
    expect(Date.parse(lock?.until ?? '') - Date.parse(lock?.since ?? '')).toBe(LEASE_MS);
    await expect(withStageLock(clients.s3, stage, 'deploy 1234', jest.fn(), { waitMs: 0 })).rejects.toThrow(
      StageLockedError,
    );

    // With a 2-second maximum, the writer waits until S3's clock passes LastModified + 2 s, then takes it.
    const holder = await withStageLock(
      clients.s3,
      stage,
      'deploy 1234',
      async () => (await lockInMoto())?.holder,
      { leaseMs: 2_000, waitMs: 60_000 },
    );
    expect(holder).toBe('deploy 1234');
    expect(await lockIsThere()).toBe(false);
  });

  test('an unreadable lock object counts from its LastModified: not taken at once, taken once expired', async () => {
    await writeForeignLock('\u0000 not json');

    const error = await withStageLock(clients.s3, stage, 'deploy 1234', jest.fn(), { waitMs: 0 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StageLockedError);
    expect((error as StageLockedError).lock).toMatchObject({
      holder: 'unknown (the lock object is not a lease)',
      location: location(),
    });

    expect(
      await withStageLock(clients.s3, stage, 'deploy 1234', async () => 'held', {
        leaseMs: 1_000,
        waitMs: 60_000,
      }),
    ).toBe('held');
  });

  test('a writer that gives up names the holder, since and until when, and the lock object', async () => {
    const message = await withStageLock(clients.s3, stage, 'rollback by kim', async () => {
      const error = await withStageLock(clients.s3, stage, 'deploy 5678', jest.fn(), { waitMs: 500 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StageLockedError);
      return (error as Error).message;
    });

    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';
    expect(message).toMatch(
      new RegExp(
        `^stage ${stage.name} is locked by "rollback by kim" since ${iso} until ${iso} \\(${location().replace(/[.]/g, '\\.')}\\); gave up after 0.5s$`,
      ),
    );
  });
});

describe('fencing: lease.confirm()', () => {
  test('passes while the lease is ours (and keeps it)', async () => {
    await withStageLock(clients.s3, stage, 'deploy 1234', async (lease) => {
      await lease.confirm();
      await lease.confirm();
      expect(await lockInMoto()).toMatchObject({ holder: 'deploy 1234', expired: false });
    });
    expect(await lockIsThere()).toBe(false);
  });

  test('refuses when the lock was deleted while the holder worked, and does not bring it back', async () => {
    const error = await withStageLock(clients.s3, stage, 'deploy 1234', async (lease) => {
      await world.clients.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: lockKey(stage) }));
      await lease.confirm();
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toContain('it was deleted');
    expect(await lockIsThere()).toBe(false);
  });

  test('refuses when another writer took the lock over, and the release leaves that lease alone', async () => {
    const error = await withStageLock(clients.s3, stage, 'deploy 1234', async (lease) => {
      await writeForeignLock(JSON.stringify({ holder: 'rollback by kim', token: '0'.repeat(32) }));
      await lease.confirm();
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toContain('it is now held by "rollback by kim" since');
    expect((await lockInMoto())?.holder).toBe('rollback by kim');
  });

  test('a lost answer to the renewal is harmless: still ours', async () => {
    await withStageLock(clients.s3, stage, 'deploy 1234', async (lease) => {
      aws.proxy.setFaults({ lost: { 's3.PutObject': { next: 1, as: 'reset' } } });
      await lease.confirm();
      expect(await lockInMoto()).toMatchObject({ holder: 'deploy 1234' });
    });
    expect(await lockIsThere()).toBe(false);
  });
});

describe("S3's conditional writes, as the proxy keeps them", () => {
  it('ten If-None-Match writes of one key at once: exactly one lands, the others are refused (412)', async () => {
    // moto checks the condition and writes without a lock; S3 decides conditional writes one at a time, and
    // so does the proxy the reliability tests run through (bin/support/aws-proxy.ts).
    const key = `${lockKey(stage)}.race-${Date.now()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        clients.s3.send(
          new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: `writer ${i}`, IfNoneMatch: '*' }),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(
      refused.map((e) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode),
    ).toEqual(Array(9).fill(412));
    await world.clients.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
  });
});
