/**
 * Starts moto's AWS emulator on a free loopback port and stops it again: used by the integration tests
 * and by `npm start`. Fails with install instructions when moto is missing, never silently.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface Emulator {
  endpoint: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'moto is not installed. Install its server with: pip install "moto[server]"';
/** Generous: on a loaded machine python takes its time to import moto; a missing moto fails at once anyway. */
const READY_TIMEOUT_MS = 180_000;

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

/** The commands that start moto's server, in order of preference. */
const launchers = (port: number): [string, string[]][] => [
  ['moto_server', ['-H', '127.0.0.1', '-p', String(port)]],
  ['python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)]],
];

const launch = (command: string, args: string[]): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString()}`.slice(-4000);
    });
    child.once('error', reject);
    child.once('spawn', () => {
      // A python without moto exits at once; a server keeps running.
      const early = setTimeout(() => resolve(child), 300);
      child.once('exit', (code) => {
        clearTimeout(early);
        reject(new Error(`${command} exited with code ${code}: ${stderr.trim().slice(-500)}`));
      });
    });
  });

const waitUntilReady = async (endpoint: string, child: ChildProcess): Promise<void> => {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`moto exited with code ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000}s`);
};

/** Stops moto; until then, moto is killed when this process exits for any reason (a crash, a closed pipe). */
const stopper = (child: ChildProcess) => {
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return (): Promise<void> =>
    new Promise((resolve) => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
};

/** Start moto on a free 127.0.0.1 port and wait until it answers. */
export const startMoto = async (): Promise<Emulator> => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const failures: string[] = [];
  for (const [command, args] of launchers(port)) {
    let child: ChildProcess;
    try {
      child = await launch(command, args);
    } catch (error) {
      failures.push(`${command}: ${(error as Error).message}`);
      continue;
    }
    const stop = stopper(child);
    try {
      await waitUntilReady(endpoint, child);
    } catch (error) {
      await stop();
      throw error;
    }
    return { endpoint, port, pid: child.pid, stop };
  }
  throw new Error(`${INSTALL_HINT}\n(tried: ${failures.join('; ')})`);
};

/** The environment that points the AWS SDK at the emulator, with dummy credentials. */
export const emulatorEnv = (endpoint: string, region = 'us-east-1'): Record<string, string> => ({
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: region,
  AWS_DEFAULT_REGION: region,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
});
