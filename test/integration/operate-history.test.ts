/**
 * `deployer history`: every version of a stage's SSM parameter — more than one page of GetParameterHistory
 * (SSM returns at most 50 a page) — newest first, with commit, who recorded it, labels, and failed or
 * rejected versions called so. The versions are written straight to SSM (as the deployer's writers do), not
 * deployed, so that 61 of them take seconds.
 */
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { labelRecorded, recordDesired } from '../../shared/aws/desired-state';
import { markFailed, type ReleaseVersion, readHistory } from '../../shared/aws/release-history';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  fakeReleaseKey,
  jsonOf,
  labelVersion,
  linesOf,
  runCli,
  writeVersions,
} from './helpers/operate';
import { configuredStage } from './helpers/stack-events';
import {
  ACCOUNT,
  createStackFor,
  hoursAfterBase,
  newCommitId,
  newExecutionId,
  REGION,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const TOTAL = 61;
const FAILED = 58;
const REJECTED = 59;

let world: World;
let env: CliWorld;
let initialKey: string;
/** The executions and commits of versions 2..60, by version. */
const recorded = new Map<number, { executionId: string; commitId: string; key: string }>();
const cliWorld = cliWorlds();

beforeAll(async () => {
  env = await cliWorld([{ name: 'dev' }, { name: 'prod' }]);
  world = env.world;
  initialKey = await createStackFor(world, 'dev');
  const stage = configuredStage(world, 'dev');
  // Versions 2..60: pipeline executions, recorded and labelled as the deploy path records them.
  for (let version = 2; version < TOTAL; version++) {
    const executionId = newExecutionId();
    const commitId = newCommitId();
    const key = fakeReleaseKey(world, `v${version}`);
    const result = await recordDesired(
      world.clients,
      stage,
      { bucket: world.bucket, key, sha256: key.slice(-68, -4), commitId },
      {
        pipeline: world.pipeline,
        executionId,
        state: 'SUCCEEDED',
        startedAt: hoursAfterBase(version),
        account: ACCOUNT,
        region: REGION,
        eventId: `event-${version}`,
      },
    );
    expect(result).toMatchObject({ outcome: 'recorded', version });
    // The deploy path labels a version once the ops team was told.
    await labelRecorded(world.clients.ssm, stage, result.version, executionId, commitId);
    recorded.set(version, { executionId, commitId, key });
  }
  await markFailed(world.clients.ssm, stage, FAILED);
  await labelVersion(world, 'dev', REJECTED, [`rejected-v${REJECTED}`]);
  // Version 61: a person's rollback to version 3.
  const target = recorded.get(3);
  await writeVersions(world, 'dev', [
    {
      key: target?.key ?? '',
      provenance: {
        action: 'rollback',
        by: 'tester',
        from: '3',
        startedAt: hoursAfterBase(TOTAL),
        ...(target ? { commit: target.commitId } : {}),
      },
    },
  ]);
});

test('the history is longer than one page of GetParameterHistory', async () => {
  const page = await world.clients.ssm.send(
    new GetParameterHistoryCommand({ Name: stageOf(world).ssmParameter, MaxResults: 50 }),
  );
  expect(page.Parameters).toHaveLength(50);
  expect(page.NextToken).toBeDefined();
});

test('readHistory reads every page: all 61 versions, oldest first, failed versions marked', async () => {
  const history = await readHistory(world.clients.ssm, configuredStage(world, 'dev'));

  expect(history.map((v) => v.version)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  expect(history.filter((v) => v.failed).map((v) => v.version)).toEqual([FAILED]);
  expect(history[0]).toMatchObject({ key: initialKey, provenance: { execution: 'initial-release' } });
  const v60 = recorded.get(60);
  expect(history[59]).toMatchObject({
    version: 60,
    key: v60?.key,
    provenance: { pipeline: world.pipeline, execution: v60?.executionId, commit: v60?.commitId },
  });
  expect(history[59]?.labels.sort()).toEqual([`commit-${v60?.commitId}`, `exec-${v60?.executionId}`].sort());
});

describe('deployer history (the command line)', () => {
  test('--json: every version, newest first, with provenance, labels and failures', async () => {
    const stage = stageOf(world);
    const result = await runCli(env, ['history', stage.name, '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const history = jsonOf<ReleaseVersion[]>(result);
    expect(history.map((v) => v.version)).toEqual(Array.from({ length: TOTAL }, (_, i) => TOTAL - i));
    expect(history).toEqual(
      JSON.parse(JSON.stringify((await readHistory(world.clients.ssm, configuredStage(world))).reverse())),
    );

    const [newest] = history;
    expect(newest).toMatchObject({
      version: TOTAL,
      key: recorded.get(3)?.key,
      provenance: { action: 'rollback', by: 'tester', from: '3', commit: recorded.get(3)?.commitId },
      failed: false,
      labels: [],
    });
    const failed = history.find((v) => v.version === FAILED);
    expect(failed?.failed).toBe(true);
    expect(failed?.labels).toEqual(expect.arrayContaining([`failed-v${FAILED}`]));
    expect(history.find((v) => v.version === REJECTED)?.labels).toEqual(
      expect.arrayContaining([`rejected-v${REJECTED}`]),
    );
    for (const [version, { executionId, commitId }] of recorded) {
      expect(history.find((v) => v.version === version)?.labels).toEqual(
        expect.arrayContaining([`exec-${executionId}`, `commit-${commitId}`]),
      );
    }
    expect(history.at(-1)).toMatchObject({ version: 1, key: initialKey, labels: [] });
  });

  test('the table: one row per version, newest first; who, commit, FAILED and rejected, labels', async () => {
    const stage = stageOf(world);
    const result = await runCli(env, ['history', stage.name]);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = linesOf(result);
    expect(lines).toHaveLength(TOTAL + 1);
    const header = lines[0] ?? '';
    expect(header.split(/\s+/)).toEqual(['VERSION', 'WHEN', 'COMMIT', 'BY', 'RELEASE', 'STATE', 'LABELS']);
    const starts = ['VERSION', 'WHEN', 'COMMIT', 'BY', 'RELEASE', 'STATE', 'LABELS'].map((h) =>
      header.indexOf(h),
    );
    const rows = lines
      .slice(1)
      .map((row) => starts.map((start, i) => row.slice(start, starts[i + 1]).trim()));
    expect(rows.map((cells) => Number(cells[0]))).toEqual(Array.from({ length: TOTAL }, (_, i) => TOTAL - i));
    const row = (version: number) => rows.find((cells) => cells[0] === String(version)) ?? [];
    const short = (key: string | undefined) => `releases/app/${key?.slice(-68, -56)}…`;

    const rolledBackTo = recorded.get(3);
    expect(row(TOTAL)).toEqual([
      String(TOTAL),
      hoursAfterBase(TOTAL).replace(/\.\d+Z$/, 'Z'),
      rolledBackTo?.commitId.slice(0, 7),
      'rollback by tester',
      short(rolledBackTo?.key),
      '',
      '',
    ]);
    const v60 = recorded.get(60);
    expect(row(60)).toEqual([
      '60',
      hoursAfterBase(60).replace(/\.\d+Z$/, 'Z'),
      v60?.commitId.slice(0, 7),
      `execution ${v60?.executionId.slice(0, 8)}`,
      short(v60?.key),
      '',
      expect.stringContaining(`exec-${v60?.executionId}`),
    ]);
    expect(row(60)[6]).toContain(`commit-${v60?.commitId}`);
    expect(row(REJECTED)[5]).toBe('rejected');
    expect(row(REJECTED)[6]).toContain(`rejected-v${REJECTED}`);
    expect(row(FAILED)[5]).toBe('FAILED');
    expect(row(FAILED)[6]).toContain(`failed-v${FAILED}`);
    expect(rows.filter((cells) => cells[5] === 'FAILED').map((cells) => cells[0])).toEqual([String(FAILED)]);
    expect(row(1)).toEqual([
      '1',
      hoursAfterBase(-24).replace(/\.\d+Z$/, 'Z'),
      '-',
      'execution initial-',
      // The table shows a content-named key by its digest's first 12 digits.
      initialKey.replace(/([0-9a-f]{12})[0-9a-f]{52}\.zip$/, '$1…'),
      '',
      '',
    ]);
  });

  test('a stage with no history prints an empty list; no stage or an unknown one is a usage error', async () => {
    const empty = await runCli(env, ['history', stageOf(world, 'prod').name, '--json']);
    expect({ code: empty.code, stdout: empty.stdout }).toEqual({ code: 0, stdout: '[]\n' });

    const missing = await runCli(env, ['history']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('history takes exactly one stage name');

    const unknown = await runCli(env, ['history', 'staging']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('deployer: no stage named "staging" in the configuration');
  });
});
