/**
 * Reliability under AWS faults: a burst of pipeline events over several stages, delivered all at once in
 * shuffled order while the proxy throttles, answers 5xx and drops connections for a fifth of the requests.
 * Invocations that fail are delivered again (Lambda's asynchronous retries), then the scheduled reconcile
 * runs once with the faults still on. Every stage must end on its newest build, no build may be lost, and
 * no change set may be executed twice. The world is set up and read back straight from moto.
 */
import { type AwsProxy, startAwsProxy } from '../../bin/support/aws-proxy';
import type { Clients } from '../../shared/aws/clients';
import { lockKey } from '../../shared/aws/stage-lock';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { reconcileAll } from '../../shared/triggers/reconcile';
import {
  deliverWithRetries,
  destroyClients,
  executionsPerChangeSet,
  isNonDecreasing,
  pipelineOfStage,
  provenanceOf,
  proxiedClients,
  runtimeWithPipelinePerStage,
  seededRandom,
  shuffled,
  withRetries,
} from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import {
  artifactKeyOf,
  createStackFor,
  createWorld,
  destroyWorld,
  type Execution,
  hoursAfterBase,
  newExecution,
  objectExists,
  objectMetadata,
  parameterHistory,
  pipelineEvent,
  RELEASE_PREFIX,
  sha256Hex,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
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

let proxy: AwsProxy;
let world: World | undefined;
let clients: Clients | undefined;

beforeAll(async () => {
  proxy = await startAwsProxy(process.env.AWS_ENDPOINT_URL ?? '');
});
afterAll(async () => {
  if (world) destroyWorld(world);
  if (clients) destroyClients(clients);
  await proxy.close();
});

interface Build {
  role: string;
  execution: Execution;
  releaseKey: string;
}

describe(`${STAGES.length * BUILDS_PER_STAGE} pipeline events over ${STAGES.length} stages with ${FAULT_RATE} of AWS calls faulted`, () => {
  test('every stage ends on its newest build; no build lost, no change set executed twice', async () => {
    const w = await createWorld(STAGES.map((name) => ({ name })));
    world = w;
    await Promise.all(STAGES.map((role) => createStackFor(w, role)));
    // Six builds per stage with distinct bytes and increasing start times.
    const builds: Build[] = await Promise.all(
      STAGES.flatMap((role) =>
        Array.from({ length: BUILDS_PER_STAGE }, async (_, k): Promise<Build> => {
          const execution = newExecution(hoursAfterBase(k));
          const { bytes } = await uploadExecutionBuild(w, execution, { stage: role });
          return { role, execution, releaseKey: `${RELEASE_PREFIX}${sha256Hex(bytes)}.zip` };
        }),
      ),
    );
    const newestOf = (role: string): Build => {
      const mine = builds.filter((b) => b.role === role);
      return mine[mine.length - 1] as Build;
    };
    clients = proxiedClients(proxy);
    const runtime = runtimeWithPipelinePerStage(w, clients);
    const random = seededRandom(SEED);
    const events = shuffled(builds, random).map((build) => ({
      build,
      event: pipelineEvent({ pipeline: pipelineOfStage(w, build.role) }, build.execution),
    }));

    proxy.reset();
    proxy.setFaults({ ...FAULTS, random });
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
    const injected = proxy.injected();
    proxy.setFaults({});

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
    const doubles = [...executionsPerChangeSet(proxy, stacks)].filter(([, count]) => count > 1);

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
