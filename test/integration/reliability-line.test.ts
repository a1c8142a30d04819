/**
 * Reliability: a burst of builds for one stage while another writer holds it (issue 13). The builds newer
 * than the holder stand in the stage's line (shared/aws/lock-line.ts) once their release is made; every one
 * but the newest stops waiting while the stage is still held, so that only the newest takes the stage after
 * the holder and deploys. A build older than the holder stops at once and copies nothing.
 *
 * Deliveries here are first deliveries (sent now): only those give way to a later build.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { withStageLock } from '../../shared/aws/stage-lock';
import { stateBucketOf } from '../../shared/edge/stage-place';
import type { Stage } from '../../shared/edge/stages';
import { type DeploySummary, handlePipelineEvent } from '../../shared/triggers/deploy';
import { type Build, uploadedBuild } from './helpers/file-setup';
import { forwardedFor, proxyOfFile } from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import { artifactKeyOf, hoursAfterBase, pipelineEvent, stackOf, type World } from './helpers/world';

jest.setTimeout(120_000);

const aws = proxyOfFile();

/** The pipeline event of a build, sent now (a first delivery). */
const firstDelivery = (world: World, build: Build) => {
  const event = pipelineEvent(world, build.execution);
  event.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return event;
};

/** Hold the stage's lock as a deploy of `rank` would, until `letGo` is called. */
const holdStage = async (s3: S3Client, stage: Stage, rank: string) => {
  let letGo = (): void => {};
  const released = new Promise<void>((resolve) => {
    letGo = resolve;
  });
  let taken = (): void => {};
  const holding = new Promise<void>((resolve) => {
    taken = resolve;
  });
  const done = withStageLock(
    s3,
    stage,
    'deploy holder',
    async () => {
      taken();
      await released;
    },
    { rank },
  );
  await holding;
  return { letGo, done };
};

/** Resolves once `count` of the promises settled; the ones settled so far, by index. */
const settledCount = (promises: Promise<unknown>[]) => {
  const settled = new Set<number>();
  promises.forEach((p, i) => {
    p.then(
      () => settled.add(i),
      () => settled.add(i),
    );
  });
  return settled;
};

const until = async (condition: () => boolean, what: string, timeoutMs = 90_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe('a burst of builds for a stage another writer holds', () => {
  it('the builds newer than the holder stand in line; all but the newest stop waiting while the stage is held, and the newest alone deploys', async () => {
    const { world, runtime } = await aws.stageWorld();
    const stage = configuredStage(world);
    const builds: Build[] = [];
    for (const hours of [1, 2, 3, 4]) builds.push(await uploadedBuild(world, hours));
    const newest = builds[3] as Build;
    const holder = await holdStage(runtime.clients.s3, stage, hoursAfterBase(0));

    // Delivered at once, newest first: the others find it in line whichever order they stand in.
    const deliveries = [3, 0, 2, 1].map((k) =>
      handlePipelineEvent(runtime, firstDelivery(world, builds[k] as Build)),
    );
    const byBuild = new Map<number, Promise<DeploySummary>>(
      [3, 0, 2, 1].map((k, i) => [k, deliveries[i] as Promise<DeploySummary>]),
    );
    const settled = settledCount(deliveries);

    // The three older builds stop waiting while the stage is still held: none of them will ever deploy.
    await until(() => settled.size >= 3, 'three deliveries stopped waiting');
    expect(settled.has(0)).toBe(false);
    for (const k of [0, 1, 2]) {
      const summary = await byBuild.get(k);
      expect(summary?.stages).toEqual([expect.objectContaining({ outcome: 'superseded', notified: false })]);
    }
    // The newest build stands in line, and nothing was recorded or created meanwhile.
    const line = await world.clients.s3.send(
      new GetObjectCommand({ Bucket: stateBucketOf(stage), Key: `.deployer/queue/${stage.name}.json` }),
    );
    expect(JSON.parse((await line.Body?.transformToString()) ?? '{}')).toMatchObject({
      holder: `deploy ${newest.execution.executionId}`,
      rank: newest.execution.startTime,
    });
    expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toEqual([]);

    holder.letGo();
    await holder.done;
    const deployed = await byBuild.get(3);
    expect(deployed?.stages).toEqual([expect.objectContaining({ outcome: 'deploying' })]);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(newest.releaseKey);
    // One change set, one execution: the newest build's.
    expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toHaveLength(1);
    expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toHaveLength(1);
  });

  it('a build older than the holder stops at once and copies nothing to the release prefix', async () => {
    const { world, runtime } = await aws.stageWorld();
    const stage = configuredStage(world);
    const older = await uploadedBuild(world, 1);
    const holder = await holdStage(runtime.clients.s3, stage, hoursAfterBase(5));
    try {
      const summary = await handlePipelineEvent(runtime, firstDelivery(world, older));
      expect(summary.stages).toEqual([
        { stage: stage.name, stack: stage.stack, outcome: 'superseded', notified: false },
      ]);
      const copied = await world.clients.s3
        .send(new HeadObjectCommand({ Bucket: world.bucket, Key: older.releaseKey }))
        .then(
          () => true,
          () => false,
        );
      expect(copied).toBe(false);
      const copies = aws.proxy
        .forwarded()
        .filter((c) => c.operation === 's3.CopyObject' && String(c.params.path).includes(world.bucket));
      expect(copies).toEqual([]);
    } finally {
      holder.letGo();
      await holder.done;
    }
  });
});
