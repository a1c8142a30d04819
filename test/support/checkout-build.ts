/**
 * Builds of this checkout for the tests, safe when several test files, or two runs of the suite (in this
 * checkout or another on the same machine), build at once: the command line (dist/bin/deployer.js, built by
 * scripts/build.mjs) as a private copy named after its sources, in a directory named after the checkout,
 * built under the checkout's build lock; and the generous bounds of a loaded machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** What the bundle is built from: a change to any of these is a different command line. */
const SOURCE_DIRS = ['bin', 'shared', 'handlers', 'bench', 'scripts'];
const SOURCE_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'deployer.config.yaml'];

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });

const sourceDigest = (): string => {
  const hash = createHash('sha256');
  const files = [
    ...SOURCE_DIRS.flatMap((dir) => filesUnder(join(ROOT, dir))),
    ...SOURCE_FILES.map((file) => join(ROOT, file)).filter((file) => existsSync(file)),
  ].sort();
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Run {
  code: number | null;
  /** The signal that ended the process: SIGKILL when it ran past its (generous) bound. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export const runProcess = (
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    // Decoded as a stream, so that a character split between two chunks stays one character.
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const bounded = signal === 'SIGKILL' ? `\n(killed after ${timeoutMs / 1000} s)` : '';
      resolve({ code, signal, stdout, stderr: `${stderr}${bounded}` });
    });
  });

/** The environment of the repository's processes, without any AWS or deployer setting of this one. */
export const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('AWS_') && !name.startsWith('DEPLOYER_') && name !== 'LOG_LEVEL',
    ),
  );

/**
 * The command line's bundles: the dispatcher, and the bundles it loads for a command (paths under dist/bin).
 */
const CLI_BUNDLES = ['deployer.js', 'cli/invoke.js', 'cli/commands/index.js'];

/** A finished bundle ends with its source map comment: a copy taken while esbuild writes does not. */
const isComplete = (file: string): boolean =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .endsWith(`//# sourceMappingURL=${file.split('/').at(-1)}.map`);

/**
 * Generous bounds for a loaded machine: a test that waits for a build (another test file's, or a second run's
 * in this checkout), builds, and runs the command line a few times. Nothing in these tests depends on speed.
 */
export const CLI_TEST_TIMEOUT_MS = 900_000;
const BUILD_TIMEOUT_MS = 300_000;
export const CLI_RUN_TIMEOUT_MS = 300_000;

/**
 * A checkout's own directory for test builds, named after the checkout's path: a second checkout on the
 * same machine has its own, so neither ever touches the other's files.
 */
export const checkoutDirOf = (root: string): string =>
  join(tmpdir(), `deployer-tests-${createHash('sha256').update(root).digest('hex').slice(0, 16)}`);

const checkoutDir = (): string => {
  const dir = checkoutDirOf(ROOT);
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** Whether the process that wrote a lock is still running (signal 0 only checks). */
const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The pid that holds a lock directory, or undefined while its holder has not written it yet. */
const lockHolder = (lock: string): number | undefined => {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A lock whose holder is no longer running. A lock without a pid yet is between its holder's two calls,
 * unless it has stayed so for a minute (its holder died in between).
 */
const isAbandoned = (lock: string): boolean => {
  const holder = lockHolder(lock);
  if (holder !== undefined) return !isRunning(holder);
  try {
    return Date.now() - statSync(lock).mtimeMs > 60_000;
  } catch {
    return false;
  }
};

/**
 * Run `fn` holding the lock directory `lock`, across processes. A lock whose holder died is taken over; a
 * live holder is waited for, however long it takes: no timer decides that a holder is gone.
 */
export const withDirLock = async <T>(lock: string, fn: () => Promise<T>): Promise<T> => {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isAbandoned(lock)) rmSync(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
};

/**
 * Run `fn` holding this checkout's build lock: whatever writes the checkout's dist/ (scripts/build.mjs) or
 * runs from it holds it, so that no build rewrites a bundle under a reader, in any test file or run of this
 * checkout.
 */
export const withBuildLock = <T>(fn: () => Promise<T>): Promise<T> =>
  withDirLock(join(checkoutDir(), 'build.lock'), fn);

/** Build the checkout with `node scripts/build.mjs`; the caller holds the build lock. */
const buildCheckout = async (): Promise<void> => {
  const build = await runProcess(process.execPath, ['scripts/build.mjs'], cleanEnv(), BUILD_TIMEOUT_MS);
  if (build.code !== 0) {
    throw new Error(`node scripts/build.mjs failed (${build.code ?? build.signal}): ${build.stderr}`);
  }
};

/** Whether a built copy exists; if so, marks it as used now, so that no prune removes it during this run. */
const usedNow = (cli: string): boolean => {
  if (!existsSync(cli)) return false;
  const now = new Date();
  utimesSync(cli, now, now);
  return true;
};

/**
 * Build the command line with `node scripts/build.mjs` and return a private copy of dist/bin/deployer.js
 * (in a directory with the bundles it loads). Builds take this checkout's build lock, and each source state
 * is built once: the copy is named after a digest of the sources, so a later test file or run of the same
 * sources reuses it and a changed source is built again. The copy keeps other builds from changing the files
 * under a running command, and no copy is ever deleted while a run may use it (only copies untouched for a
 * day are).
 */
export const buildCli = async (): Promise<string> => {
  const digest = sourceDigest();
  const cacheDir = join(checkoutDir(), 'cli');
  mkdirSync(cacheDir, { recursive: true });
  const built = join(cacheDir, `deployer-${digest}`);
  const cli = join(built, 'deployer.js');
  if (usedNow(cli)) return cli;
  return withBuildLock(async () => {
    if (usedNow(cli)) return cli;
    for (let attempt = 1; ; attempt++) {
      await buildCheckout();
      const partial = `${built}.${process.pid}.tmp`;
      for (const bundle of CLI_BUNDLES) {
        mkdirSync(join(partial, bundle, '..'), { recursive: true });
        copyFileSync(join(ROOT, 'dist', 'bin', bundle), join(partial, bundle));
      }
      if (CLI_BUNDLES.every((bundle) => isComplete(join(partial, bundle)))) {
        renameSync(partial, built);
        pruneOldBuilds(cacheDir);
        return cli;
      }
      rmSync(partial, { recursive: true, force: true });
      if (attempt >= 3) throw new Error('dist/bin kept changing while it was copied');
    }
  });
};

/** Copies of earlier source states nobody has used for a day (see buildCli): no test run lasts that long. */
const pruneOldBuilds = (cacheDir: string): void => {
  const dayAgo = Date.now() - 24 * 3_600_000;
  for (const file of readdirSync(cacheDir)) {
    const path = join(cacheDir, file);
    if (/^deployer-[0-9a-f]{16}(\.js)?$/.test(file) && statSync(path).mtimeMs < dayAgo)
      rmSync(path, { recursive: true, force: true });
  }
};
