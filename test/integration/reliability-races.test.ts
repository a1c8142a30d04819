/**
 * Reliability: deliveries racing for one stage. Several builds land while the stack is busy, in any order
 * (the oldest last included): none is executed, the history never goes back in time, the newest is desired,
 * and when the stack settles the newest is deployed by one ExecuteChangeSet. Two reconciles racing on a
 * stage whose desired release differs from its live one execute one change set.
 *
 * "Busy" is simulated by the proxy (moto's stack operations finish at once); the deployer's clients go
 * through the proxy, the world is set up and read back straight from moto.
 */
import type { Runtime } from '../../shared/runtime';
import { type DeploySummary, handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackSettled, reconcileAll } from '../../shared/triggers/reconcile';
import { type Build, uploadedBuild } from './helpers/file-setup';
import {
  changeSetNameOf,
  executedChangeSets,
  forwardedFor,
  isNonDecreasing,
  provenanceOf,
  proxyOfFile,
} from './helpers/reliability';
import { recordRelease, stackStatusEvent, targetOf } from './helpers/stack-events';
import {
  artifactKeyOf,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  pipelineEvent,
  stackOf,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

/** How many builds race for the stage. */
const K = 4;
/** DescribeStacks reads that report the stack busy: more than any test makes. */
const FOREVER = 1_000_000;

const aws = proxyOfFile();

/** K builds with distinct bytes and increasing start times, uploaded; index 0 is the oldest. */
const uploadBuilds = async (world: World): Promise<Build[]> => {
  const builds: Build[] = [];
  for (let k = 0; k < K; k++) builds.push(await uploadedBuild(world, k));
  return builds;
};

/** The executions an in-order delivery records: each one newer than every one delivered before it. */
const recordedInOrder = (order: number[]): number[] =>
  order.filter((k, i) => order.slice(0, i).every((earlier) => earlier < k));

describe(`${K} builds for one stage while its stack is busy`, () => {
  test.each([
    ['newest first, oldest last', [3, 1, 2, 0], 'one after another'],
    ['shuffled, oldest last', [1, 3, 2, 0], 'one after another'],
    ['shuffled', [2, 0, 3, 1], 'one after another'],
    ['in start order', [0, 1, 2, 3], 'one after another'],
    ['shuffled, oldest last', [2, 3, 1, 0], 'all at once'],
    ['newest first, oldest last', [3, 2, 1, 0], 'all at once'],
  ] as const)(
    '%s %j, delivered %s: waiting or superseded, history in order; the newest deploys when the stack settles',
    async (_, order, delivery) => {
      const { world, stage, initialKey, runtime } = await aws.stageWorld();
      const builds = await uploadBuilds(world);
      const newest = builds[K - 1] as Build;
      aws.proxy.makeBusy(stage.stack, FOREVER);
      const deliver = (k: number): Promise<DeploySummary> =>
        handlePipelineEvent(runtime, pipelineEvent(world, (builds[k] as Build).execution));

      const summaries: (DeploySummary | undefined)[] = new Array(K);
      if (delivery === 'one after another') {
        for (const k of order) summaries[k] = await deliver(k);
      } else {
        const delivered = await Promise.all(order.map(deliver));
        order.forEach((k, i) => {
          summaries[k] = delivered[i];
        });
      }

      // Every delivery either waits for the stack or lost to a newer build; nothing touched the stack.
      const results = summaries.map((s) => s?.stages[0]);
      for (const result of results) expect(['waiting', 'superseded']).toContain(result?.outcome);
      expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toEqual([]);
      expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toEqual([]);
      expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);

      // The newest build is desired; the history holds exactly the recorded ones, each labelled with its
      // execution, and never an older execution after a newer one.
      const history = await parameterHistory(world, stage.ssmParameter);
      const latest = history.at(-1);
      expect(latest?.Value).toBe(newest.releaseKey);
      expect(provenanceOf(latest ?? {}).execution).toBe(newest.execution.executionId);
      const recordedVersions = history.slice(1);
      for (const version of recordedVersions) {
        const execution = provenanceOf(version).execution;
        expect(version.Labels ?? []).toContain(`exec-${execution}`);
      }
      const inHistory = recordedVersions.map((v) => provenanceOf(v).execution);
      const recorded = builds
        .filter((_, k) => results[k]?.recorded === 'recorded')
        .map((b) => b.execution.executionId);
      const superseded = builds
        .filter((_, k) => results[k]?.outcome === 'superseded')
        .map((b) => b.execution.executionId);
      expect([...inHistory].sort()).toEqual([...recorded].sort());
      for (const execution of superseded) expect(inHistory).not.toContain(execution);
      expect(recorded.length + superseded.length).toBe(K);
      expect(isNonDecreasing(history.map((v) => provenanceOf(v).startedAt))).toBe(true);
      if (delivery === 'one after another') {
        expect(inHistory).toEqual(recordedInOrder([...order]).map((k) => builds[k]?.execution.executionId));
      }

      // The stack settles: its completion event deploys the newest build, with one ExecuteChangeSet.
      aws.proxy.makeBusy(stage.stack, 0);
      const target = await targetOf(world);
      const settled = await handleStackSettled(
        runtime,
        stackStatusEvent('stack-update-complete.json', target, { token: null }),
      );

      expect(settled).toMatchObject({ verdict: 'reconciled', stage: stage.name, outcome: 'deploying' });
      const stack = await stackOf(world, stage.stack);
      expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
      expect(artifactKeyOf(stack)).toBe(newest.releaseKey);
      expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([
        `deploy-${stage.name}-v${latest?.Version}`,
      ]);
      expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toHaveLength(1);
    },
  );
});

type Reconciler = (runtime: Runtime, world: World) => Promise<unknown>;

const settledEvent: Reconciler = async (runtime, world) =>
  handleStackSettled(runtime, stackStatusEvent('stack-update-complete.json', await targetOf(world)));
const schedule: Reconciler = (runtime) => reconcileAll(runtime);

describe('two reconciles racing on one stage whose desired release is not live', () => {
  test.each([
    ['two stack-settled events', settledEvent, settledEvent],
    ['a stack-settled event and the schedule', settledEvent, schedule],
    ['the schedule twice', schedule, schedule],
  ])('%s: exactly one ExecuteChangeSet reaches moto', async (_, first, second) => {
    const { world, stage, initialKey, runtime } = await aws.stageWorld();
    const { release, recorded } = await recordRelease(world, newExecution(hoursAfterBase(0)));
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 2 });
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(initialKey);

    await Promise.all([first(runtime, world), second(runtime, world)]);

    expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toHaveLength(1);
    expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([
      `deploy-${stage.name}-v2`,
    ]);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(release.key);
    expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(2);
    const deploying = (await inbox(world)).filter((m) => m.attributes.outcome === 'deploying');
    expect(deploying).toHaveLength(1);
  });
});
