/**
 * The history beyond SSM's 100 versions, on moto: every version the deployer writes is archived as it is
 * written, and the reconcile schedule archives what SSM keeps and the archive lacks (a version written by
 * hand). Once SSM has dropped the oldest versions, `deployer history` still lists them from the archive and
 * `deployer rollback --to 1` deploys version 1's release again — after checking its bytes, as any rollback
 * does.
 */

import type { ReleaseVersion } from '../../shared/aws/release-history';
import { handleReconcileTrigger } from '../../shared/triggers/reconcile';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  fakeReleaseKey,
  jsonOf,
  linesOf,
  provenanceOf,
  runCli,
  uploadRelease,
  type VersionSpec,
  writeVersions,
} from './helpers/operate';
import { scheduleEvent } from './helpers/stack-events';
import {
  artifactKeyOf,
  createStackFor,
  hoursAfterBase,
  latestVersion,
  newCommitId,
  newExecutionId,
  parameterHistory,
  readObject,
  sha256Hex,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const cliWorld = cliWorlds();
let env: CliWorld;
let world: World;
/** Version 1: a pipeline's release, recorded (and archived) by the deployer. */
let first: VersionSpec;
/** Version 2: the release the stack was created with, recorded by hand before the deployer archived. */
let initialKey: string;

const stageName = () => stageOf(world).name;
const archiveKey = (version: number) =>
  `.deployer/history/${stageName()}/${String(version).padStart(16, '0')}.json`;
const archivedRecord = async (version: number) =>
  JSON.parse((await readObject(world, archiveKey(version))).toString('utf8')) as Record<string, unknown>;

/** A pipeline's version of release `seed`: its provenance names the release's digest. */
const pipelineVersion = (seed: string, hours: number): VersionSpec => {
  const key = fakeReleaseKey(world, seed);
  return {
    key,
    provenance: {
      pipeline: world.pipeline,
      execution: newExecutionId(),
      commit: newCommitId(),
      startedAt: hoursAfterBase(hours),
      artifact: key.slice(-68, -4),
    },
  };
};

beforeAll(async () => {
  env = await cliWorld([{ name: 'dev' }]);
  world = env.world;
  first = pipelineVersion('v1', -48);
  await uploadRelease(world, first.key);
  expect(await writeVersions(world, 'dev', [first])).toEqual([1]);
  // moto answers a change set back to the parameters a stack was created with as "no changes": the stack is
  // created with another release than version 1's, which the rollback below deploys again.
  initialKey = await createStackFor(world, 'dev');
});

test('the reconcile schedule archives the version SSM keeps and the archive lacks', async () => {
  expect(await archivedRecord(1)).toMatchObject({ version: 1, key: first.key });
  await expect(readObject(world, archiveKey(2))).rejects.toMatchObject({ name: 'NoSuchKey' });

  await handleReconcileTrigger(world.runtime, scheduleEvent());

  expect(await archivedRecord(2)).toEqual({
    stage: stageName(),
    version: 2,
    key: initialKey,
    provenance: { pipeline: world.pipeline, execution: 'initial-release', startedAt: hoursAfterBase(-24) },
    recordedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  });
});

test('past 100 versions, `deployer history` lists every version from 1, the oldest from the archive', async () => {
  const specs = Array.from({ length: 104 }, (_, i) => pipelineVersion(`v${i + 3}`, i + 3));
  expect(await writeVersions(world, 'dev', specs)).toEqual(specs.map((_, i) => i + 3));
  const kept = await parameterHistory(world, stageOf(world).ssmParameter);
  expect(kept.map((v) => v.Version)).toEqual(Array.from({ length: 100 }, (_, i) => i + 7));
  // Archived as it was written: the archive has version 106 as SSM has it.
  expect(await archivedRecord(106)).toMatchObject({
    version: 106,
    key: specs[103]?.key,
    provenance: provenanceOf(kept.at(-1)),
  });

  const listed = await runCli(env, ['history', stageName(), '--json']);
  expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
  const versions = jsonOf<ReleaseVersion[]>(listed);
  expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 106 }, (_, i) => 106 - i));
  expect(versions.filter((v) => v.archived).map((v) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
  expect(versions.at(-1)).toMatchObject({
    version: 1,
    key: first.key,
    labels: [],
    provenance: { ...first.provenance, write: expect.any(String) },
    handWritten: false,
    failed: false,
    archived: true,
  });
  expect(versions.at(-2)).toMatchObject({ version: 2, key: initialKey, archived: true });

  const table = linesOf(await runCli(env, ['history', stageName()]));
  expect(table).toHaveLength(107);
  expect(table.at(-1)).toMatch(/^1 .* \(archived\)$/);
  expect(table[1]).toMatch(/^106 /);
  expect(table[1]).not.toContain('(archived)');
});

test('`deployer rollback --to 1` re-records version 1’s release as a new version and deploys it', async () => {
  expect(artifactKeyOf(await stackOf(world, stageOf(world).stack))).toBe(initialKey);

  const result = await runCli(env, ['rollback', stageName(), '--to', '1', '--json']);

  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(jsonOf(result)).toMatchObject({ version: 107, key: first.key, reconcile: { outcome: 'deploying' } });
  const recorded = await latestVersion(world, stageOf(world).ssmParameter);
  expect(recorded).toMatchObject({ Version: 107, Value: first.key });
  expect(provenanceOf(recorded)).toMatchObject({
    action: 'rollback',
    by: 'tester',
    from: '1',
    commit: first.provenance.commit,
    // The bytes it deploys, checked against the release object before anything was recorded.
    artifact: sha256Hex(await readObject(world, first.key)),
    // A deploy's lead time still counts from the build of version 1.
    builtAt: first.provenance.startedAt,
  });
  expect(artifactKeyOf(await stackOf(world, stageOf(world).stack))).toBe(first.key);
  expect(await archivedRecord(107)).toMatchObject({ version: 107, key: first.key });
});

test('a rollback to an archived version whose release object is gone is refused, nothing recorded', async () => {
  // Version 3's release was never uploaded (fakeReleaseKey names bytes nobody put there).
  const result = await runCli(env, ['rollback', stageName(), '--to', '3']);

  expect(result.code).toBe(4);
  expect(result.stderr).toContain('is gone: it cannot be deployed again');
  expect((await latestVersion(world, stageOf(world).ssmParameter))?.Version).toBe(107);
  expect(artifactKeyOf(await stackOf(world, stageOf(world).stack))).toBe(first.key);
});

test('an archived release that is there again is rolled back to like any other', async () => {
  const history = jsonOf<ReleaseVersion[]>(await runCli(env, ['history', stageName(), '--json']));
  const third = history.find((v) => v.version === 3);
  expect(third?.archived).toBe(true);
  await uploadRelease(world, third?.key ?? '');

  const result = await runCli(env, ['rollback', stageName(), '--to', '3', '--json']);

  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(jsonOf(result)).toMatchObject({
    version: 108,
    key: third?.key,
    reconcile: { outcome: 'deploying' },
  });
  expect(artifactKeyOf(await stackOf(world, stageOf(world).stack))).toBe(third?.key);
});
