/**
 * `npm run bench`: the deployer's figures, measured in one run and printed as tables (never asserted by
 * the test suite: these machines are shared and noisy), ending with the goals of issue 13 side by side
 * with our figure, the floor's and their ratio.
 *
 * The realistic world puts a proxy in front of the emulator that gives every call a round trip of
 * BENCH_LATENCY_MS (25) and keeps each change set CREATE_IN_PROGRESS for BENCH_CHANGE_SET_MS (3,000), as
 * CloudFormation does; the whole-process comparisons run at the emulator's own pace.
 *
 *   bench/lib/load.ts            handler module load as deployed, against the SDK clients and commands it uses
 *   bench/lib/deploy-latency.ts  event → ExecuteChangeSet against the floor script (bench/floor/deploy.ts)
 *   bench/lib/bursts.ts          bursts: calls per event, lock conflicts, every stage on its newest build
 *   bench/lib/version-limit.ts   deploys past SSM's 100 versions
 *   bench/lib/whole-process.ts   `deployer invoke` against the handler run directly, and against awscli
 *   bench/lib/memory.ts          peak memory, and cold start at candidate sizes
 */
import { startAwsProxy } from '../bin/support/aws-proxy';
import { emulatorEnv, startMoto } from '../bin/support/moto';
import { logger } from '../shared/logger';
import { benchBursts } from './lib/bursts';
import { benchDeployLatency } from './lib/deploy-latency';
import { benchLoad } from './lib/load';
import { benchMemory } from './lib/memory';
import { buildBundles } from './lib/processes';
import { printGoals, say } from './lib/report';
import { benchVersionLimit } from './lib/version-limit';
import { benchWholeProcess } from './lib/whole-process';
import { makeWorld, REGION } from './lib/world';

const number = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

const main = async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  logger.setLogLevel('ERROR');
  const realism = {
    latencyMs: number('BENCH_LATENCY_MS', 25),
    changeSetMs: number('BENCH_CHANGE_SET_MS', 3000),
  };
  say(`# deployer benchmark — ${new Date().toISOString()}, node ${process.version}\n`);
  say(
    `Realistic world: ${realism.latencyMs} ms per call, change sets computed in ${realism.changeSetMs} ms.\n`,
  );
  if (!['latency', 'bursts'].includes(process.env.BENCH_ONLY ?? ''))
    await benchLoad(number('BENCH_LOAD_RUNS', 21));
  if (process.env.BENCH_ONLY === 'load') return printGoals();
  const moto = await startMoto();
  const proxy = await startAwsProxy(moto.endpoint);
  try {
    Object.assign(process.env, emulatorEnv(moto.endpoint, REGION));
    const stages = Array.from({ length: 13 }, (_, i) => `s${i}`);
    const world = await makeWorld(moto.endpoint, proxy.endpoint, stages);
    const bundles = await buildBundles(world);
    proxy.setRealism(realism);
    if (process.env.BENCH_ONLY === 'bursts') {
      await benchBursts(world, proxy, stages.slice(0, 10));
      return printGoals();
    }
    const { maxRssMiB } = await benchDeployLatency(
      world,
      proxy,
      bundles,
      number('BENCH_LATENCY_RUNS', 7),
      's10',
    );
    if (process.env.BENCH_ONLY === 'latency') return printGoals();
    await benchBursts(world, proxy, stages.slice(0, 10));
    proxy.setRealism({});
    await benchVersionLimit(world, proxy, 's11');
    await benchWholeProcess(world, proxy.endpoint, 's12', number('BENCH_PROCESS_RUNS', 5));
    await benchMemory(maxRssMiB, number('BENCH_MEMORY_RUNS', 5));
  } finally {
    await proxy.close();
    await moto.stop();
  }
  printGoals();
};

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
