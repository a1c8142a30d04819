/**
 * The test builds' safety when two runs of the suite share a machine: each checkout has its own directory,
 * and the build lock waits for a live holder however long it takes, and takes over only from a dead one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutDirOf, withDirLock } from '../support/checkout-build';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'deployer-lock-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A lock directory held by `pid`, as withDirLock leaves it while it runs. */
const heldBy = (pid: number | undefined): string => {
  const lock = join(dir, 'build.lock');
  mkdirSync(lock);
  if (pid !== undefined) writeFileSync(join(lock, 'pid'), String(pid));
  return lock;
};

/** The pid of a process that has exited. */
const deadPid = (): number => {
  const done = spawnSync(process.execPath, ['-e', '0']);
  if (!done.pid) throw new Error('test setup: no pid');
  return done.pid;
};

const tick = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('checkoutDirOf', () => {
  it('gives each checkout its own directory, never the one all checkouts once shared', () => {
    const one = checkoutDirOf('/home/a/deployer');
    const other = checkoutDirOf('/home/b/deployer');
    expect(one).not.toBe(other);
    expect(checkoutDirOf('/home/a/deployer')).toBe(one);
    expect(one).not.toBe(join(tmpdir(), 'deployer-cli-tests'));
    expect(one.startsWith(tmpdir())).toBe(true);
  });
});

describe('withDirLock', () => {
  it('runs the function holding the lock, and releases it afterwards, also when the function fails', async () => {
    const lock = join(dir, 'build.lock');
    await expect(
      withDirLock(lock, async () => {
        expect(existsSync(join(lock, 'pid'))).toBe(true);
        throw new Error('build failed');
      }),
    ).rejects.toThrow('build failed');
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose holder died', async () => {
    const lock = heldBy(deadPid());
    expect(await withDirLock(lock, async () => 'built')).toBe('built');
  });

  it('waits for a live holder, however long it holds the lock', async () => {
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
    try {
      if (!holder.pid) throw new Error('test setup: no pid');
      const lock = heldBy(holder.pid);
      // Older than any timer would allow: only the holder's death or release frees it.
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(lock, old, old);
      let ran = false;
      const waiting = withDirLock(lock, async () => {
        ran = true;
      });
      for (let i = 0; i < 10; i++) await tick();
      expect(ran).toBe(false);
      rmSync(lock, { recursive: true, force: true });
      await waiting;
      expect(ran).toBe(true);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('waits for a holder that has not written its pid yet, and takes over once that stays so for a minute', async () => {
    const fresh = heldBy(undefined);
    let ran = false;
    const waiting = withDirLock(fresh, async () => {
      ran = true;
    });
    for (let i = 0; i < 10; i++) await tick();
    expect(ran).toBe(false);
    const old = new Date(Date.now() - 120_000);
    utimesSync(fresh, old, old);
    await waiting;
    expect(ran).toBe(true);
  });
});
