/**
 * Memory: the deploy handler's measured peak, the size the template gives, and the cold start at candidate
 * sizes. Lambda gives a function CPU in proportion to its memory (1,769 MB is one vCPU); the benchmark
 * emulates that share by letting the process run only that fraction of each 20 ms (SIGSTOP / SIGCONT), and
 * times the handler's module load under it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadEnv, timedRequire } from './load';
import { deployed } from './processes';
import { goal, median, say, table } from './report';
import { ROOT } from './world';

const FULL_VCPU_MB = 1769;
const PERIOD_MS = 20;

/** Module load time of a bundle in a fresh process that gets `share` of one CPU. */
const loadWithShare = async (file: string, share: number, nodeOptions: string): Promise<number> => {
  const child = spawn(process.execPath, ['-e', timedRequire(file)], {
    env: loadEnv(nodeOptions),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  let running = true;
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  void exited.then(() => {
    running = false;
  });
  if (share < 1) {
    while (running) {
      await sleep(PERIOD_MS * share);
      if (!running) break;
      child.kill('SIGSTOP');
      await sleep(PERIOD_MS * (1 - share));
      child.kill('SIGCONT');
    }
  }
  await exited;
  return Number(out);
};

export const benchMemory = async (peakMiB: number, runs: number): Promise<void> => {
  const { nodeOptions, memoryMb } = deployed();
  const bundle = join(ROOT, 'dist', 'handlers', 'deploy.js');
  const sizes = [...new Set([256, memoryMb, 1024])].sort((a, b) => a - b);
  const rows: (string | number)[][] = [];
  for (const size of sizes) {
    const share = Math.min(1, size / FULL_VCPU_MB);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await loadWithShare(bundle, share, nodeOptions));
    rows.push([
      `${size} MB${size === memoryMb ? ' (template)' : ''}`,
      `${(share * 100).toFixed(0)} % of a vCPU`,
      `${median(times).toFixed(0)} ms`,
      `${((1 - peakMiB / size) * 100).toFixed(0)} %`,
    ]);
  }
  say(`### Memory: the deploy handler's peak during a deploy is ${peakMiB.toFixed(0)} MiB\n`);
  table(['memory size', 'CPU share (emulated)', 'module load (cold start)', 'headroom over the peak'], rows);
  goal({
    metric: 'memory size sized from the measured peak (deploy handler)',
    goal: 'peak with headroom; cold start measured at the size',
    ours: `${memoryMb} MB for a ${peakMiB.toFixed(0)} MiB peak`,
    floor: '',
    ratio: (memoryMb / peakMiB).toFixed(1),
    met: peakMiB * 1.5 <= memoryMb,
  });
};
