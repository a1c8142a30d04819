/**
 * `deployer metrics` on moto, from a history the deployer made: a build deployed and settled, a second one
 * that rolled back, and a rollback by a person that settled — the stacks' final statuses fed to the reconcile
 * trigger as EventBridge would deliver them, at chosen times. The command reads the stage's history and the
 * archived outcomes of its runs, and says what the window holds, as a table and as JSON; a wrong --since or
 * stage changes nothing and exits 2.
 */
import type { StageMetrics } from '../../shared/operations/index';
import { handleStackSettled } from '../../shared/triggers/reconcile';
import { deployBuild } from './helpers/file-setup';
import { CLI_TEST_TIMEOUT_MS, type CliWorld, cliWorlds, jsonOf, linesOf, runCli } from './helpers/operate';
import { runTokenOf } from './helpers/runs';
import { type StatusSample, stackStatusEvent, targetOf } from './helpers/stack-events';
import { createStackFor, hoursAfterBase, stageOf, type World } from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const HOUR = 3_600_000;
const cliWorld = cliWorlds();
let env: CliWorld;
let world: World;
/** When the runs settled: 30, 26 and 25 hours before the tests began. */
const NOW = Date.now();
const settledAt = (hoursAgo: number) => new Date(NOW - hoursAgo * HOUR).toISOString().replace(/\.\d+Z$/, 'Z');

/** The stack's final status for the deployer's run of a version, delivered to the reconcile trigger. */
const settle = async (version: number, sample: StatusSample, time: string) => {
  const token = await runTokenOf(world, 'dev', version);
  const event = stackStatusEvent(sample, await targetOf(world), { token, time });
  return handleStackSettled(world.runtime, event);
};

const stageName = () => stageOf(world).name;

beforeAll(async () => {
  env = await cliWorld([{ name: 'dev' }]);
  world = env.world;
  await createStackFor(world, 'dev');
  // Version 2: a build whose update completed.
  expect((await deployBuild(world, 0)).summary.stages[0]).toMatchObject({ desiredVersion: 2 });
  expect(await settle(2, 'stack-update-complete.json', settledAt(30))).toMatchObject({
    verdict: 'reconciled',
  });
  // Version 3: a build whose update rolled back.
  expect((await deployBuild(world, 1)).summary.stages[0]).toMatchObject({ desiredVersion: 3 });
  expect(await settle(3, 'stack-update-rollback-complete.json', settledAt(26))).toMatchObject({
    markedFailed: 3,
  });
  // Version 4: a person rolls back to version 2's release, and that update completes.
  const rolledBack = await runCli(env, ['rollback', stageName(), '--json']);
  expect(jsonOf(rolledBack)).toMatchObject({ version: 4, reconcile: { outcome: 'deploying' } });
  await settle(4, 'stack-update-complete.json', settledAt(25));
});

test('--json: deploys, frequency, lead time, change failure rate and time to restore over the window', async () => {
  const result = await runCli(env, ['metrics', stageName(), '--since', '2d', '--json']);

  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const [dev, ...more] = jsonOf<StageMetrics[]>(result);
  expect(more).toEqual([]);
  expect(Date.parse(dev?.until ?? '') - Date.parse(dev?.since ?? '')).toBe(48 * HOUR);
  // Version 2's build started at the base time; its update settled 30 hours before the tests began.
  const leadTime = Date.parse(settledAt(30)) - Date.parse(hoursAfterBase(0));
  expect(dev).toEqual({
    stage: stageName(),
    since: expect.any(String),
    until: expect.any(String),
    days: 2,
    deploys: 2,
    successful: 1,
    failed: 1,
    restores: 1,
    deploymentFrequency: { perDay: 0.5, perWeek: 3.5 },
    leadTime: { measured: 1, medianMs: leadTime, p90Ms: leadTime },
    changeFailureRate: 0.5,
    timeToRestore: { restored: 1, open: 0, medianMs: HOUR },
  });
});

test('a window that ends before the runs settled holds no deploys', async () => {
  const [dev] = jsonOf<StageMetrics[]>(
    await runCli(env, ['metrics', stageName(), '--since', '24h', '--json']),
  );
  expect(dev).toMatchObject({
    deploys: 0,
    restores: 0,
    changeFailureRate: null,
    leadTime: { medianMs: null },
  });
});

test('the table, for every configured stage by default', async () => {
  const result = await runCli(env, ['metrics', '--since', '2w']);

  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const [span, header, row, ...more] = linesOf(result);
  expect(span).toMatch(
    /^over the last 2w \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ to \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/,
  );
  expect(header?.split(/ {2,}/)).toEqual([
    'STAGE',
    'DEPLOYS',
    'FAILED',
    'PER DAY',
    'PER WEEK',
    'LEAD TIME p50',
    'p90',
    'CHANGE FAILURE',
    'TIME TO RESTORE',
  ]);
  expect(row?.split(/ {2,}/)).toEqual([
    stageName(),
    '2',
    '1',
    '0.07',
    '0.5',
    expect.any(String),
    expect.any(String),
    '50%',
    '1h 00m',
  ]);
  expect(more).toEqual([]);
});

test('a --since it cannot read exits 2, naming the flag; nothing is printed', async () => {
  for (const since of ['30', '30x', '0d', '1.5d']) {
    const result = await runCli(env, ['metrics', stageName(), '--since', since]);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
    expect(result.stderr).toContain(`deployer: --since takes a number and a unit`);
    expect(result.stderr).toContain(JSON.stringify(since));
  }
});

test('a stage that is not configured exits 2, as for every command', async () => {
  const result = await runCli(env, ['metrics', 'nosuchstage']);
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
  expect(result.stderr).toMatch(/^deployer: no stage named "nosuchstage" in the configuration/);
});
