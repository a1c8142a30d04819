/**
 * Past SSM's 100 versions through a person's moves. ssm-version-limit.test.ts records 105 pipeline releases
 * (recordDesired → writeDesired); here rollback and promote write the 101st and 102nd versions through
 * writeDesired while the oldest version is labelled (SSM then refuses to drop it until its labels are freed),
 * and the stacks still end on the releases chosen.
 */

import type { ReleaseVersion } from '../../shared/aws/release-history';
import { promote, rollback } from '../../shared/operations/index';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  fakeReleaseKey,
  jsonOf,
  labelVersion,
  provenanceOf,
  runCli,
  uploadRelease,
  type VersionSpec,
  writeVersions,
} from './helpers/operate';
import {
  artifactKeyOf,
  createStackFor,
  hoursAfterBase,
  latestVersion,
  newCommitId,
  newExecutionId,
  parameterHistory,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

let world: World;
let env: CliWorld;
/** dev's versions 2..100 by version. */
const devVersions = new Map<number, VersionSpec & { commit: string }>();
const cliWorld = cliWorlds();

/** Versions 2..100 of a stage: pipeline releases, labelled as the deploy path labels them. */
const fillTo100 = async (role: string) => {
  const specs = Array.from({ length: 99 }, (_, i) => {
    const version = i + 2;
    const execution = newExecutionId();
    const commit = newCommitId();
    return {
      key: fakeReleaseKey(world, `${role}-v${version}`),
      provenance: { pipeline: world.pipeline, execution, commit, startedAt: hoursAfterBase(version) },
      labels: [`exec-${execution}`, `commit-${commit}`],
      commit,
    };
  });
  // The first version carries a label too, as every version the deployer writes does.
  await labelVersion(world, role, 1, ['seed-v1']);
  const written = await writeVersions(world, role, specs);
  expect(written).toEqual(specs.map((_, i) => i + 2));
  return specs;
};

beforeAll(async () => {
  env = await cliWorld([{ name: 'dev' }, { name: 'prod' }]);
  world = env.world;
  await createStackFor(world, 'dev');
  await createStackFor(world, 'prod');
  const specs = await fillTo100('dev');
  specs.forEach((spec, i) => {
    devVersions.set(i + 2, spec);
  });
  await fillTo100('prod');
  // Only versions 2 and 3 of dev are releases that still exist and can be deployed again.
  for (const version of [2, 3]) await uploadRelease(world, devVersions.get(version)?.key ?? '');
});

test('a rollback writes version 101 (the labelled version 1 gives way) and deploys it', async () => {
  const dev = stageOf(world, 'dev');
  const before = await parameterHistory(world, dev.ssmParameter);
  expect(before.map((v) => v.Version)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  // SSM refuses to drop a labelled oldest version: writeDesired must free it first.
  expect(before[0]?.Labels).toEqual(['seed-v1']);
  const target = devVersions.get(2);

  const result = await rollback(world.runtime, dev.name, '2', 'tester');

  expect(result).toMatchObject({ version: 101, key: target?.key, reconcile: { outcome: 'deploying' } });
  const history = await parameterHistory(world, dev.ssmParameter);
  expect(history).toHaveLength(100);
  expect(history[0]?.Version).toBe(2);
  const newest = history.at(-1);
  expect(newest).toMatchObject({ Version: 101, Value: target?.key });
  expect(provenanceOf(newest)).toMatchObject({
    action: 'rollback',
    by: 'tester',
    from: '2',
    commit: target?.commit,
  });
  // The labels of the versions still kept are untouched.
  expect(history[0]?.Labels).toEqual(expect.arrayContaining(target?.labels ?? ['?']));
  expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(target?.key);
});

test('a rollback from the command line writes version 102 (the labelled version 2 gives way) and deploys it', async () => {
  const dev = stageOf(world, 'dev');
  const target = devVersions.get(3);

  const result = await runCli(env, [
    'rollback',
    dev.name,
    '--to',
    target?.commit.slice(0, 7) ?? '?',
    '--json',
  ]);

  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(jsonOf(result)).toMatchObject({ version: 102, key: target?.key });
  expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(target?.key);

  // SSM keeps versions 3..102; the deployer's archive (history-archive.test.ts) keeps version 2 too, which it
  // wrote. Version 1 was written by hand and dropped before the reconcile schedule's sweep could archive it.
  const listed = await runCli(env, ['history', dev.name, '--json']);
  const versions = jsonOf<ReleaseVersion[]>(listed);
  expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 101 }, (_, i) => 102 - i));
  expect(versions.filter((v) => v.archived).map((v) => v.version)).toEqual([2]);

  const gone = await runCli(env, ['rollback', dev.name, '--to', '1']);
  expect(gone.code).toBe(4);
  expect(gone.stderr).toContain('no version 1 in the history (it keeps versions 2..102)');
});

test('a promotion to a stage at 100 versions writes its version 101 and deploys it', async () => {
  const [dev, prod] = [stageOf(world, 'dev'), stageOf(world, 'prod')];
  const running = artifactKeyOf(await stackOf(world, dev.stack));
  expect(running).toBe(devVersions.get(3)?.key);
  expect(await parameterHistory(world, prod.ssmParameter)).toHaveLength(100);

  const result = await promote(world.runtime, dev.name, prod.name, 'tester');

  expect(result).toMatchObject({ version: 101, key: running, reconcile: { outcome: 'deploying' } });
  const newest = await latestVersion(world, prod.ssmParameter);
  expect(newest).toMatchObject({ Version: 101, Value: running });
  expect(provenanceOf(newest)).toMatchObject({
    action: 'promote',
    from: dev.name,
    commit: devVersions.get(3)?.commit,
  });
  expect((await parameterHistory(world, prod.ssmParameter))[0]?.Version).toBe(2);
  expect(artifactKeyOf(await stackOf(world, prod.stack))).toBe(running);
});
