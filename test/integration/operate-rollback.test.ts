/**
 * `deployer rollback`: make an earlier release desired again and deploy it. Each world: the dev stack was
 * created on an initial release (version 1), then builds A (version 2) and B (version 3) were deployed; the
 * stack runs B. Rolling back records a new version naming the person and where it came from, deploys it
 * through a change set, and tells the ops team once. A refusal changes nothing.
 */
import { rollback } from '../../shared/operations/index';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  deleteObject,
  jsonOf,
  provenanceOf,
  runCli,
  snapshotStage,
} from './helpers/operate';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  deploy,
  type Execution,
  hoursAfterBase,
  inbox,
  latestVersion,
  newExecution,
  parameterHistory,
  type StageNames,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const cliWorld = cliWorlds();

interface RollbackWorld {
  world: World;
  env: CliWorld;
  stage: StageNames;
  initialKey: string;
  a: Execution & { key: string };
  b: Execution & { key: string };
}

const deployed = async (world: World, startTime: string): Promise<Execution & { key: string }> => {
  const execution = newExecution(startTime);
  await uploadExecutionBuild(world, execution);
  const summary = await deploy(world, execution);
  expect(summary.stages[0]?.outcome).toBe('deploying');
  return { ...execution, key: summary.stages[0]?.releaseKey ?? '' };
};

const rollbackWorld = async (): Promise<RollbackWorld> => {
  const env = await cliWorld();
  const { world } = env;
  const stage = stageOf(world);
  const initialKey = await createStackFor(world);
  const a = await deployed(world, hoursAfterBase(0));
  const b = await deployed(world, hoursAfterBase(1));
  expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(b.key);
  expect(await parameterHistory(world, stage.ssmParameter)).toHaveLength(3);
  await inbox(world);
  return { world, env, stage, initialKey, a, b };
};

/** The stage ends on `key`, recorded as a new version by a rollback of `by` from `from`. */
const expectRolledBack = async (
  { world, stage }: RollbackWorld,
  expected: { version: number; key: string; from: string; commit?: string },
) => {
  const stack = await stackOf(world, stage.stack);
  expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
  expect(artifactKeyOf(stack)).toBe(expected.key);
  const history = await parameterHistory(world, stage.ssmParameter);
  expect(history).toHaveLength(expected.version);
  const newest = await latestVersion(world, stage.ssmParameter);
  expect(newest?.Version).toBe(expected.version);
  expect(newest?.Value).toBe(expected.key);
  const provenance = provenanceOf(newest);
  const target = history.find((v) => v.Version === Number(expected.from));
  expect(provenance).toEqual({
    action: 'rollback',
    by: 'tester',
    from: expected.from,
    startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    ...(expected.commit ? { commit: expected.commit } : {}),
    // The version describes its own value (the artifact's digest), and carries a token of its write.
    artifact: /([0-9a-f]{64})\.zip$/.exec(expected.key)?.[1],
    // The start of the build of the release it restores (that version's), where a lead time counts from.
    builtAt: provenanceOf(target).startedAt,
    write: expect.stringMatching(/^[0-9a-f]{24}$/),
  });
  expect(Date.now() - Date.parse(provenance.startedAt ?? '')).toBeLessThan(120_000);
  const changeSets = await changeSetsOf(world, stage.stack);
  expect(
    changeSets.find((c) => c.ChangeSetName === `deploy-${stage.name}-v${expected.version}`),
  ).toMatchObject({
    ExecutionStatus: 'EXECUTE_COMPLETE',
  });
  const messages = await inbox(world);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  expect(message?.subject).toBe(
    `[${stage.name}] ${stage.stack} DEPLOYING${expected.commit ? ` ${expected.commit.slice(0, 7)}` : ''}`,
  );
  expect(message?.attributes).toMatchObject({ stage: stage.name, outcome: 'deploying', severity: 'info' });
  expect(bodyField(message?.body ?? '', 'Triggered by')).toBe(
    `a rollback by tester to version ${expected.from}`,
  );
  expect(bodyField(message?.body ?? '', 'Desired')).toBe(`${stage.ssmParameter} version ${expected.version}`);
  expect(bodyField(message?.body ?? '', 'Release')).toBe(expected.key);
};

describe('rollback by each selector', () => {
  test('previous (shared function): the release before the current one, version 2', async () => {
    const w = await rollbackWorld();

    const result = await rollback(w.world.runtime, w.stage.name, 'previous', 'tester');

    expect(result).toMatchObject({
      stage: w.stage.name,
      action: 'rollback',
      version: 4,
      key: w.a.key,
      notified: true,
      reconcile: { outcome: 'deploying', changeSet: `deploy-${w.stage.name}-v4`, live: w.b.key },
    });
    await expectRolledBack(w, { version: 4, key: w.a.key, from: '2', commit: w.a.commitId });
  });

  test('previous is the default of the command line, which says what it did in words', async () => {
    const w = await rollbackWorld();

    const result = await runCli(w.env, ['rollback', w.stage.name]);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const digest = w.a.key.slice(w.stage.releasePrefix.length, w.stage.releasePrefix.length + 12);
    expect(result.stdout.split('\n').map((line) => line.replace(/ {2,}/g, ' '))).toEqual([
      `rolled back stage ${w.stage.name}`,
      `desired: version 4: ${w.stage.releasePrefix}${digest}… (commit ${w.a.commitId.slice(0, 7)})`,
      `outcome: deploying: the change set was executed; stack ${w.stage.stack} is updating`,
      `change set: deploy-${w.stage.name}-v4`,
      `next: npx deployer status ${w.stage.name} shows when the stack settles; the ops team hears how it ends`,
      'ops team: told, as for any deploy',
      '',
    ]);
    await expectRolledBack(w, { version: 4, key: w.a.key, from: '2', commit: w.a.commitId });
  });

  test('--to <7-character commit prefix> (command line)', async () => {
    const w = await rollbackWorld();
    // Roll back to A first, so that B's commit names an earlier release.
    await rollback(w.world.runtime, w.stage.name, '2', 'tester');
    await inbox(w.world);

    const result = await runCli(w.env, [
      'rollback',
      w.stage.name,
      '--to',
      w.b.commitId.slice(0, 7),
      '--json',
    ]);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonOf(result)).toMatchObject({
      stage: w.stage.name,
      action: 'rollback',
      version: 5,
      key: w.b.key,
      reconcile: { outcome: 'deploying' },
    });
    await expectRolledBack(w, { version: 5, key: w.b.key, from: '3', commit: w.b.commitId });
  });

  // Version 2 (A), not version 1: moto compares a change set with the parameters the stack was created
  // with, not those it runs now, and so finds "no changes" in a move back to the creation release.
  test('--to <SSM version> (command line)', async () => {
    const w = await rollbackWorld();

    const result = await runCli(w.env, ['rollback', w.stage.name, '--to', '2', '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonOf(result)).toMatchObject({ action: 'rollback', version: 4, key: w.a.key });
    await expectRolledBack(w, { version: 4, key: w.a.key, from: '2', commit: w.a.commitId });
  });

  test('--to <SSM version> of a release without a commit: recorded without one, the message says none', async () => {
    const w = await rollbackWorld();

    const result = await rollback(w.world.runtime, w.stage.name, '1', 'tester');

    expect(result).toMatchObject({ action: 'rollback', version: 4, key: w.initialKey });
    const newest = await latestVersion(w.world, w.stage.ssmParameter);
    expect(newest?.Value).toBe(w.initialKey);
    expect(provenanceOf(newest)).toEqual({
      action: 'rollback',
      by: 'tester',
      from: '1',
      startedAt: expect.any(String),
      artifact: /([0-9a-f]{64})\.zip$/.exec(w.initialKey)?.[1],
      // Version 1's build start (createStackFor recorded it a day before the base time).
      builtAt: hoursAfterBase(-24),
      write: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
    const messages = await inbox(w.world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toMatch(new RegExp(`^\\[${w.stage.name}\\] ${w.stage.stack} [A-Z ]+$`));
    expect(bodyField(messages[0]?.body ?? '', 'Commit')).toBeUndefined();
  });

  test('a build that started before the rollback and arrives late does not undo it; a later build deploys forward', async () => {
    const w = await rollbackWorld();
    const before = newExecution(new Date(Date.now() - 60_000).toISOString());
    await uploadExecutionBuild(w.world, before);
    await rollback(w.world.runtime, w.stage.name, 'previous', 'tester');
    await inbox(w.world);

    const late = await deploy(w.world, before);

    expect(late.stages[0]).toMatchObject({ recorded: 'superseded' });
    expect(artifactKeyOf(await stackOf(w.world, w.stage.stack))).toBe(w.a.key);
    expect(await parameterHistory(w.world, w.stage.ssmParameter)).toHaveLength(4);

    const after = await deployed(w.world, new Date(Date.now() + 1_000).toISOString());
    expect(artifactKeyOf(await stackOf(w.world, w.stage.stack))).toBe(after.key);
    expect(await parameterHistory(w.world, w.stage.ssmParameter)).toHaveLength(5);
  });
});

describe('rollback refusals: exit code 4, nothing changed, nobody told', () => {
  let w: RollbackWorld;
  beforeAll(async () => {
    w = await rollbackWorld();
  });

  const refused = async (args: string[], message: RegExp | string) => {
    const before = await snapshotStage(w.world, 'dev');
    const result = await runCli(w.env, ['rollback', ...args]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^deployer: refused: /);
    if (typeof message === 'string') expect(result.stderr).toContain(message);
    else expect(result.stderr).toMatch(message);
    expect(await snapshotStage(w.world, 'dev')).toEqual(before);
    expect(before.versions).toHaveLength(3);
    expect(before.artifactKey).toBe(w.b.key);
    expect(await inbox(w.world)).toEqual([]);
  };

  test('an unknown SSM version', async () => {
    await refused([w.stage.name, '--to', '99'], 'no version 99 in the history (it keeps versions 1..3)');
  });

  test('an unknown commit', async () => {
    await refused([w.stage.name, '--to', 'deadbee'], 'no release of commit deadbee in the history');
  });

  test('the release already desired: by version and by commit', async () => {
    await refused([w.stage.name, '--to', '3'], `version 3 holds the release already desired (${w.b.key})`);
    await refused([w.stage.name, '--to', w.b.commitId.slice(0, 7)], 'holds the release already desired');
  });

  test('a --to that is neither previous, a commit nor a version', async () => {
    await refused([w.stage.name, '--to', 'yesterday'], '--to takes "previous", a commit id');
  });

  test("the release's object is gone from S3", async () => {
    await deleteObject(w.world, w.a.key);
    await refused(
      [w.stage.name],
      `the release object s3://${w.world.bucket}/${w.a.key} is gone: it cannot be deployed again`,
    );
    await refused([w.stage.name, '--to', w.a.commitId.slice(0, 7)], 'is gone');
  });

  test('a stage not in the configuration is a usage error (exit 2): nothing changed', async () => {
    const before = await snapshotStage(w.world, 'dev');
    const result = await runCli(w.env, ['rollback', 'staging']);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(
      /^deployer: no stage named "staging" in the configuration \(configured: [^)]+\)\n$/,
    );
    expect(await snapshotStage(w.world, 'dev')).toEqual(before);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('without DEPLOYER_TOPIC_ARN the command is a usage error (exit 2) and changes nothing', async () => {
    const before = await snapshotStage(w.world, 'dev');
    const result = await runCli(w.env, ['rollback', w.stage.name, '--to', '1'], { DEPLOYER_TOPIC_ARN: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DEPLOYER_TOPIC_ARN is not set');
    expect(await snapshotStage(w.world, 'dev')).toEqual(before);
  });
});
