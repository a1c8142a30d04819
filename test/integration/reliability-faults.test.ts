/**
 * Reliability under AWS faults: a burst of pipeline events over several stages, delivered all at once in
 * shuffled order while the proxy throttles, answers 5xx and drops connections for a fifth of the requests.
 * Invocations that fail are delivered again (Lambda's asynchronous retries), then the scheduled reconcile
 * runs once with the faults still on. Every stage must end on its newest build, no build may be lost, and
 * no change set may be executed twice. The world is set up and read back straight from moto.
 */
import { lockKey } from '../../shared/aws/stage-lock';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { reconcileAll } from '../../shared/triggers/reconcile';
import {
  burstWorld,
  deliverWithRetries,
  executionsPerChangeSet,
  isNonDecreasing,
  provenanceOf,
  proxyOfFile,
  runtimeWithPipelinePerStage,
  seededRandom,
  withRetries,
} from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import {
  artifactKeyOf,
  objectExists,
  objectMetadata,
  parameterHistory,
  stackOf,
  stageOf,
} from './helpers/world';

/** The burst takes 10–25 s; the bound keeps it well under a minute. */
jest.setTimeout(60_000);

const STAGES = ['s1', 's2', 's3', 's4', 's5'];
const BUILDS_PER_STAGE = 6;
/** About a fifth of the requests faulted (the proxy draws drop, then throttle, then 5xx). */
const FAULTS = { throttle: 0.08, serverError: 0.06, drop: 0.06 };
const FAULT_RATE = '20%';
const SEED = 20_261_120;
/** Lambda retries a failed asynchronous invocation; the tests allow up to three more rounds. */
const REDELIVERY_ROUNDS = 3;
const RECONCILE_RETRIES = 3;

const aws = proxyOfFile();

describe(`${STAGES.length * BUILDS_PER_STAGE} pipeline events over ${STAGES.length} stages with ${FAULT_RATE} of AWS calls faulted`, () => {
  test('every stage ends on its newest build; no build lost, no change set executed twice', async () => {
    // Six builds per stage with distinct bytes and increasing start times.
    const burst = await burstWorld(aws.worlds, STAGES, BUILDS_PER_STAGE);
    const { world: w, builds, newestOf } = burst;
    const runtime = runtimeWithPipelinePerStage(w, aws.clients());
    const random = seededRandom(SEED);
    const events = burst.shuffledEvents(random);

    aws.proxy.reset();
    aws.proxy.setFaults({ ...FAULTS, random });
    const delivery = await deliverWithRetries(
      events,
      ({ event }) => handlePipelineEvent(runtime, structuredClone(event)),
      REDELIVERY_ROUNDS,
    );
    let scheduleError: unknown;
    try {
      await withRetries(() => reconcileAll(runtime), RECONCILE_RETRIES);
    } catch (error) {
      scheduleError = error;
    }
    const injected = aws.proxy.injected();
    aws.proxy.setFaults({});

    // Read the end state back from moto.
    let converged = 0;
    const divergent: string[] = [];
    for (const role of STAGES) {
      const stage = stageOf(w, role);
      const newest = newestOf(role);
      const live = artifactKeyOf(await stackOf(w, stage.stack));
      const owner = live ? (await objectMetadata(w, live))['pipeline-execution-id'] : undefined;
      if (live === newest.releaseKey && owner === newest.execution.executionId) converged += 1;
      else divergent.push(`${role}: runs ${live} (execution ${owner}), newest ${newest.releaseKey}`);
    }
    const lost: string[] = [];
    for (const build of builds) if (!(await objectExists(w, build.releaseKey))) lost.push(build.releaseKey);
    const stacks = STAGES.map((role) => stageOf(w, role).stack);
    const doubles = [...executionsPerChangeSet(aws.proxy, stacks)].filter(([, count]) => count > 1);

    console.log(
      `faults: rate=${FAULT_RATE} injected=${JSON.stringify(injected)} events=${events.length} converged=${converged}/${STAGES.length} lost=${lost.length} double-executions=${doubles.length}`,
    );

    expect(injected.throttle + injected.serverError + injected.drop).toBeGreaterThan(0);
    // Every event was handled in the end (the redeliveries sufficed), and so was the schedule.
    expect(delivery.results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(scheduleError).toBeUndefined();
    expect(divergent).toEqual([]);
    expect(converged).toBe(STAGES.length);
    expect(lost).toEqual([]);
    expect(doubles).toEqual([]);
    // No stage is left locked.
    for (const role of STAGES) expect(await objectExists(w, lockKey(configuredStage(w, role)))).toBe(false);
    // Each stage's history: the newest build last, no execution twice, never older after newer.
    for (const role of STAGES) {
      const history = await parameterHistory(w, stageOf(w, role).ssmParameter);
      const recorded = history.slice(1).map((v) => provenanceOf(v).execution);
      expect(recorded.at(-1)).toBe(newestOf(role).execution.executionId);
      expect(new Set(recorded).size).toBe(recorded.length);
      expect(isNonDecreasing(history.map((v) => provenanceOf(v).startedAt))).toBe(true);
    }
  });
});
