/**
 * Deploys past SSM's 100 versions: a stage whose parameter already holds 100 labelled versions gets a new
 * build; every call of that deploy is read at the proxy, and none may fail.
 */
import type { AwsProxy } from '../../bin/support/aws-proxy';
import { labelRecorded, recordDesired } from '../../shared/aws/desired-state';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { goal, say, table } from './report';
import { failedCalls } from './timeline';
import { ACCOUNT, newBuild, newExecutionId, REGION, stageOf, type World } from './world';

export const benchVersionLimit = async (world: World, proxy: AwsProxy, stageName: string): Promise<void> => {
  const stage = stageOf(world, stageName);
  // The stage's first deploy reads an applied record that does not exist yet (a 404): made before the
  // measurement, which is about the version limit.
  await handlePipelineEvent(
    world.runtime,
    (await newBuild(world, stageName, new Date('2026-01-01T00:00:00Z'))).event,
  );
  const longAgo = Date.parse('2026-01-02T00:00:00.000Z');
  for (let i = 1; i <= 100; i++) {
    const sha = i.toString(16).padStart(64, '0');
    const executionId = newExecutionId();
    const { version } = await recordDesired(
      world.direct,
      stage,
      {
        bucket: world.bucket,
        key: `${stage.releasePrefix}${sha}.zip`,
        sha256: sha,
        commitId: sha.slice(-40),
      },
      {
        pipeline: stage.pipeline,
        executionId,
        state: 'SUCCEEDED',
        startedAt: new Date(longAgo + i * 60_000).toISOString(),
        account: ACCOUNT,
        region: REGION,
        eventId: executionId,
      },
    );
    await labelRecorded(world.direct.ssm, stage, version, executionId, sha.slice(-40));
  }
  const rows: (string | number)[][] = [];
  let failures = 0;
  for (let d = 1; d <= 3; d++) {
    const build = await newBuild(world, stageName);
    proxy.reset();
    const summary = await handlePipelineEvent(world.runtime, build.event);
    const calls = proxy.forwarded();
    const failed = failedCalls(calls);
    failures += failed.length;
    rows.push([
      `deploy ${d} past version 100`,
      summary.stages.map((s) => `${s.outcome} (v${s.desiredVersion})`).join(', '),
      calls.length,
      failed.join(', ') || 'none',
    ]);
  }
  say('### Deploys past SSM version 100\n');
  table(['deploy', 'outcome', 'AWS calls', 'failed calls'], rows);
  goal({
    metric: 'deploys past SSM version 100: failed calls per deploy',
    goal: '0',
    ours: String(failures / 3),
    floor: '',
    ratio: '',
    met: failures === 0,
  });
};
