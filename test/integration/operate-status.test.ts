/**
 * `deployer status`: what each stage should run (its SSM parameter), what it runs (its stack's parameter),
 * the stack's status, a change set waiting for approval, and whether the stage is in sync — through the
 * shared function and the real command line, on three stages of one world: dev deployed and in sync, prod
 * (an approval stage) with a release waiting for approval, and test whose stack does not exist.
 */

import { lockKey, withStageLock } from '../../shared/aws/stage-lock';
import { type StageStatus, stageStatus } from '../../shared/operations/index';
import { CLI_TEST_TIMEOUT_MS, type CliWorld, cliWorlds, jsonOf, linesOf, runCli } from './helpers/operate';
import { configuredStage } from './helpers/stack-events';
import {
  createStackFor,
  deploy,
  type Execution,
  hoursAfterBase,
  inbox,
  newExecution,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

/** A content-named key as the status table prints it: the digest's first 12 digits and an ellipsis. */
const shortKey = (key: string): string => key.replace(/([0-9a-f]{12})[0-9a-f]{52}\.zip$/, '$1…');

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

let world: World;
let env: CliWorld;
let execution: Execution;
let releaseKey: string;
let initialKeys: { dev: string; prod: string };
const cliWorld = cliWorlds();

beforeAll(async () => {
  env = await cliWorld([
    { name: 'dev' },
    { name: 'prod', requiresApproval: true },
    { name: 'test', template: false },
  ]);
  world = env.world;
  initialKeys = { dev: await createStackFor(world, 'dev'), prod: await createStackFor(world, 'prod') };
  execution = newExecution(hoursAfterBase(0));
  await uploadExecutionBuild(world, execution);
  const summary = await deploy(world, execution);
  expect(summary.stages.map((s) => [s.stage.split('-')[0], s.outcome, s.desiredVersion])).toEqual([
    ['dev', 'deploying', 2],
    ['prod', 'pending-approval', 2],
    ['test', 'blocked', 1],
  ]);
  releaseKey = summary.stages[0]?.releaseKey ?? '';
  await inbox(world);
});

/** The cells of a table row, cut at the columns of the header (the table pads every cell to its column). */
const cellsOf = (header: string, row: string): string[] => {
  const starts = ['STAGE', 'STACK', 'STATUS', 'DESIRED', 'LIVE', 'IN SYNC', 'PENDING'].map((h) =>
    header.indexOf(h),
  );
  return starts.map((start, i) => row.slice(start, starts[i + 1]).trim());
};

const names = () => ({
  dev: configuredStage(world, 'dev'),
  prod: configuredStage(world, 'prod'),
  test: configuredStage(world, 'test'),
});

describe('stageStatus', () => {
  test('a deployed stage: desired and live are the same release, with commit and version; in sync', async () => {
    const { dev } = names();
    const status = await stageStatus(world.runtime, dev);

    expect(status).toMatchObject({
      stage: dev.name,
      stack: dev.stack,
      stackStatus: 'UPDATE_COMPLETE',
      inSync: true,
      desired: {
        version: 2,
        key: releaseKey,
        failed: false,
        provenance: {
          pipeline: world.pipeline,
          execution: execution.executionId,
          commit: execution.commitId,
          startedAt: execution.startTime,
        },
      },
      live: { key: releaseKey, release: { version: 2, key: releaseKey } },
    });
    expect(status.desired?.labels).toEqual(
      expect.arrayContaining([`exec-${execution.executionId}`, `commit-${execution.commitId}`]),
    );
    expect(status.pendingChangeSet).toBeUndefined();
  });

  test('an approval stage: the pending change set of the new release; live is the older one; not in sync', async () => {
    const { prod } = names();
    const status = await stageStatus(world.runtime, prod);

    expect(status).toMatchObject({
      stage: prod.name,
      stack: prod.stack,
      stackStatus: 'CREATE_COMPLETE',
      inSync: false,
      desired: { version: 2, key: releaseKey, provenance: { commit: execution.commitId } },
      live: {
        key: initialKeys.prod,
        release: { version: 1, key: initialKeys.prod, provenance: { execution: 'initial-release' } },
      },
      pendingChangeSet: { name: `deploy-${prod.name}-v2`, version: 2 },
    });
  });

  test('a stage whose stack does not exist: no live release, not in sync', async () => {
    const { test: stage } = names();
    const status = await stageStatus(world.runtime, stage);

    expect(status).toMatchObject({
      stage: stage.name,
      stackStatus: 'DOES_NOT_EXIST',
      inSync: false,
      desired: { version: 1, key: releaseKey },
    });
    expect(status.live).toBeUndefined();
    expect(status.pendingChangeSet).toBeUndefined();
  });
});

describe('deployer status (the command line)', () => {
  test('--json: every stage, as stageStatus reports it; exit 3 because one is not in sync', async () => {
    const { dev, prod, test: stage } = names();
    const result = await runCli(env, ['status', '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 3, stderr: '' });
    const statuses = jsonOf<StageStatus[]>(result);
    const expected = await Promise.all([dev, prod, stage].map((s) => stageStatus(world.runtime, s)));
    expect(statuses).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(statuses.map((s) => [s.stage, s.inSync])).toEqual([
      [dev.name, true],
      [prod.name, false],
      [stage.name, false],
    ]);
  });

  test('one stage in sync: exit 0', async () => {
    const { dev } = names();
    const result = await runCli(env, ['status', dev.name, '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const statuses = jsonOf<StageStatus[]>(result);
    expect(statuses).toHaveLength(1);
    expect(statuses[0]).toMatchObject({
      stage: dev.name,
      inSync: true,
      desired: { version: 2, key: releaseKey },
      live: { key: releaseKey },
    });
  });

  test('the table: a header and one row per stage with desired, live, in sync and pending change set', async () => {
    const { dev, prod, test: stage } = names();
    const result = await runCli(env, ['status']);

    expect(result.code).toBe(3);
    const lines = linesOf(result);
    const header = lines[0] ?? '';
    expect(header.split(/\s+/)).toEqual([
      'STAGE',
      'STACK',
      'STATUS',
      'DESIRED',
      'LIVE',
      'IN',
      'SYNC',
      'PENDING',
    ]);
    const rows = lines.slice(1, 4).map((row) => cellsOf(header, row));
    const commit = execution.commitId.slice(0, 7);
    const digest = /([0-9a-f]{64})/.exec(releaseKey)?.[1]?.slice(0, 12) ?? '?';
    const release = `v2 ${commit} releases/app/${digest}…`;

    expect(rows).toEqual([
      [dev.name, dev.stack, 'UPDATE_COMPLETE', release, release, 'yes', '-'],
      [
        prod.name,
        prod.stack,
        'CREATE_COMPLETE',
        release,
        expect.stringMatching(/^v1 +releases\/app\/[0-9a-f]{12}/),
        'NO',
        `deploy-${prod.name}-v2`,
      ],
      [stage.name, stage.stack, 'DOES_NOT_EXIST', `v1 ${commit} releases/app/${digest}…`, '-', 'NO', '-'],
    ]);
    expect(rows[1]?.[4]?.replace(/ +/, ' ')).toBe(`v1 ${shortKey(initialKeys.prod)}`);

    // Below the table: since when and by whom each desired release is desired.
    expect(lines.slice(4)).toEqual([
      `${dev.name}: desired since ${execution.startTime} (execution ${execution.executionId}); ${releaseKey}`,
      `${prod.name}: desired since ${execution.startTime} (execution ${execution.executionId}); ${releaseKey}`,
      `${stage.name}: desired since ${execution.startTime} (execution ${execution.executionId}); ${releaseKey}`,
    ]);
  });

  // A release without a commit leaves no gap in its cell: one space between version and key.
  it('a live release without a commit reads "v<N> <key>", like the desired column', async () => {
    const { prod } = names();
    const result = await runCli(env, ['status', prod.name]);
    const [header = '', row = ''] = linesOf(result);
    expect(cellsOf(header, row)[4]).toBe(`v1 ${shortKey(initialKeys.prod)}`);
  });

  test('an unknown stage and extra arguments are usage errors (exit 2)', async () => {
    const unknown = await runCli(env, ['status', 'staging']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^deployer: no stage named "staging" in the configuration \(configured: /);

    const extra = await runCli(env, ['status', names().dev.name, names().prod.name]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('status takes at most one stage name');
  });

  test('status reads only: no message is sent, nothing is written', async () => {
    const before = await Promise.all(Object.values(names()).map((s) => stageStatus(world.runtime, s)));
    await runCli(env, ['status']);
    const after = await Promise.all(Object.values(names()).map((s) => stageStatus(world.runtime, s)));
    expect(after).toEqual(before);
    expect(await inbox(world)).toEqual([]);
  });

  test('a locked stage: who holds the lock, since and until when, and where (the table, and --json)', async () => {
    const { dev } = names();
    const location = `s3://${world.bucket}/${lockKey(dev)}`;
    const [text, json] = await withStageLock(world.runtime.clients.s3, dev, 'deploy 1234', () =>
      Promise.all([runCli(env, ['status', dev.name]), runCli(env, ['status', dev.name, '--json'])]),
    );

    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';
    expect(linesOf(text).at(-1)).toMatch(
      new RegExp(
        `^${dev.name}: locked by "deploy 1234" since ${iso} until ${iso} \\(${location.replace(/\./g, '\\.')}\\)$`,
      ),
    );
    expect(jsonOf<StageStatus[]>(json)[0]?.lock).toEqual({
      holder: 'deploy 1234',
      since: expect.stringMatching(new RegExp(`^${iso}$`)),
      until: expect.stringMatching(new RegExp(`^${iso}$`)),
      expired: false,
      location,
    });
    // Released again: no lock shown.
    expect((await stageStatus(world.runtime, dev)).lock).toBeUndefined();
  });
});
