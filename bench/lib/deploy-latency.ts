/**
 * From pipeline event to ExecuteChangeSet, in a realistic world (every call a round trip, change sets that
 * take seconds): the deploy handler run as Lambda runs it against the floor script, interleaved; the
 * sequential round trips before the execute, the time slept past the change set's readiness, and the
 * handler's peak memory.
 */
import type { AwsProxy } from '../../bin/support/aws-proxy';
import { awsEnv, type Bundles, handlerEnv, runHandler, runProcess, writeEvent } from './processes';
import { goal, median, ms, pairedRatio, say, table } from './report';
import { executeOf, failedCalls, roundTripsBefore, sleptPastReady } from './timeline';
import { newBuild, stageOf, TEMPLATE_KEY, type World } from './world';

/** How often the floor asks whether its change set is ready. */
export const FLOOR_POLL_MS = 250;

interface Run {
  toExecute: number;
  roundTrips: number;
  slept: number;
  calls: number;
  failed: string[];
  maxRssKiB?: number;
}

const measure = async (proxy: AwsProxy, start: () => Promise<{ spawnedAt: number; maxRssKiB?: number }>) => {
  proxy.reset();
  const finished = await start();
  const calls = proxy.forwarded();
  if (process.env.BENCH_TRACE) {
    const t0 = finished.spawnedAt;
    for (const c of calls)
      say(
        `    ${(c.startedAt - t0).toFixed(0).padStart(6)} → ${(c.answeredAt - t0).toFixed(0).padStart(6)} ms  ${c.operation} ${c.status}`,
      );
  }
  const execute = executeOf(calls);
  return {
    toExecute: execute.startedAt - finished.spawnedAt,
    roundTrips: roundTripsBefore(calls),
    slept: sleptPastReady(calls, proxy.changeSets()),
    calls: calls.length,
    failed: failedCalls(calls),
    ...(finished.maxRssKiB ? { maxRssKiB: finished.maxRssKiB } : {}),
  } satisfies Run;
};

export const benchDeployLatency = async (
  world: World,
  proxy: AwsProxy,
  bundles: Bundles,
  runs: number,
  stageName: string,
): Promise<{ maxRssMiB: number }> => {
  const stage = stageOf(world, stageName);
  const floorEnv = {
    ...awsEnv(proxy.endpoint),
    FLOOR_BUCKET: stage.artifact.bucket,
    FLOOR_BUILD_KEY: stage.artifact.key,
    FLOOR_RELEASE_PREFIX: stage.releasePrefix,
    FLOOR_PARAMETER: `${stage.ssmParameter}-floor`,
    FLOOR_STACK: stage.stack,
    FLOOR_TEMPLATE_KEY: TEMPLATE_KEY,
    FLOOR_OVERRIDES: JSON.stringify(stage.parameterOverrides ?? {}),
    FLOOR_POLL_MS: String(FLOOR_POLL_MS),
  };
  const ours: Run[] = [];
  const floor: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const ourBuild = await newBuild(world, stageName);
    ours.push(
      await measure(proxy, () =>
        runHandler(bundles.handler, ourBuild.event, handlerEnv(world, proxy.endpoint)),
      ),
    );
    const floorBuild = await newBuild(world, stageName);
    const eventFile = writeEvent(floorBuild.event);
    floor.push(
      await measure(proxy, () =>
        runProcess([bundles.floor], { ...floorEnv, FLOOR_EVENT: eventFile }, 'the floor script'),
      ),
    );
  }
  const of = (runs: Run[], pick: (r: Run) => number) => median(runs.map(pick));
  const ratio = pairedRatio(
    ours.map((r) => r.toExecute),
    floor.map((r) => r.toExecute),
  );
  const rssMiB = of(ours, (r) => (r.maxRssKiB ?? 0) / 1024);
  say(
    `### Event → ExecuteChangeSet, realistic world (${runs} interleaved pairs of fresh processes; medians, ratio of pairs)\n`,
  );
  table(
    ['', 'event → execute', 'round trips before execute', 'slept past ready', 'calls', 'failed calls'],
    [
      [
        'deploy handler as Lambda runs it',
        ms(of(ours, (r) => r.toExecute)),
        of(ours, (r) => r.roundTrips),
        ms(of(ours, (r) => r.slept)),
        of(ours, (r) => r.calls),
        [...new Set(ours.flatMap((r) => r.failed))].join(', ') || 'none',
      ],
      [
        `floor script (polls every ${FLOOR_POLL_MS} ms)`,
        ms(of(floor, (r) => r.toExecute)),
        of(floor, (r) => r.roundTrips),
        ms(of(floor, (r) => r.slept)),
        of(floor, (r) => r.calls),
        [...new Set(floor.flatMap((r) => r.failed))].join(', ') || 'none',
      ],
    ],
  );
  goal({
    metric: 'event → ExecuteChangeSet, handler as Lambda runs it',
    goal: '≤ 1.25× the floor',
    ours: ms(of(ours, (r) => r.toExecute)),
    floor: ms(of(floor, (r) => r.toExecute)),
    ratio: ratio.toFixed(2),
    met: ratio <= 1.25,
  });
  const slept = of(ours, (r) => r.slept);
  goal({
    metric: 'time slept past change-set readiness (median)',
    goal: '≤ 1 s',
    ours: ms(slept),
    floor: ms(of(floor, (r) => r.slept)),
    ratio: '',
    met: slept <= 1000,
  });
  const trips = of(ours, (r) => r.roundTrips);
  goal({
    metric: 'sequential round trips before ExecuteChangeSet (the wait counts once)',
    goal: '≤ 8',
    ours: String(trips),
    floor: String(of(floor, (r) => r.roundTrips)),
    ratio: (trips / of(floor, (r) => r.roundTrips)).toFixed(2),
    met: trips <= 8,
  });
  return { maxRssMiB: rssMiB };
};
