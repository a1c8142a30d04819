/**
 * SSM keeps 100 versions of a parameter and refuses to drop a labelled oldest version. The deployer labels
 * every version it writes, so without care the 101st deploy of a stage would fail: it must keep recording
 * past version 100, with the newest versions still labelled.
 */

import { labelRecorded, recordDesired } from '../../shared/aws/desired-state';
import { worldsOfFile } from './helpers/file-setup';
import { configuredStage } from './helpers/stack-events';
import { hoursAfterBase, latestVersion, parameterHistory, stageOf, type World } from './helpers/world';

jest.setTimeout(120_000);

const worlds = worldsOfFile();
let world: World;
beforeAll(async () => {
  world = await worlds.create();
});

test('records 105 releases in a row: every write succeeds, 100 versions kept, the newest labelled', async () => {
  const names = stageOf(world);
  const stage = configuredStage(world);
  for (let i = 1; i <= 105; i++) {
    const sha = i.toString(16).padStart(64, '0');
    const result = await recordDesired(
      world.runtime.clients,
      stage,
      {
        bucket: world.bucket,
        key: `${names.releasePrefix}${sha}.zip`,
        sha256: sha,
        commitId: sha.slice(-40),
      },
      {
        pipeline: world.pipeline,
        executionId: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
        state: 'SUCCEEDED',
        startedAt: hoursAfterBase(i),
        account: '123456789012',
        region: 'us-east-1',
        eventId: `event-${i}`,
      },
    );
    expect(result).toMatchObject({ outcome: 'recorded', version: i });
    // The deploy path labels a version once the ops team was told.
    await labelRecorded(
      world.runtime.clients.ssm,
      stage,
      i,
      `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
      sha.slice(-40),
    );
  }
  const history = await parameterHistory(world, names.ssmParameter);
  expect(history).toHaveLength(100);
  expect(history[0]?.Version).toBe(6);
  const newest = await latestVersion(world, names.ssmParameter);
  expect(newest?.Version).toBe(105);
  expect(newest?.Value).toBe(`${names.releasePrefix}${(105).toString(16).padStart(64, '0')}.zip`);
  expect(newest?.Labels).toEqual(
    expect.arrayContaining([
      'exec-00000000-0000-4000-8000-000000000105',
      `commit-${(105).toString(16).padStart(40, '0')}`,
    ]),
  );
});
