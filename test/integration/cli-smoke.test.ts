/**
 * The built command line (dist/bin/deployer.js, a private copy made by buildCli) run as its own process, once
 * per exit code of the README's "Operating a stage": 0 done, 1 failed, 2 usage, configuration or environment
 * error, 3 a stage needs a person (for status: not in sync), 4 refused. Every other test of the commands runs
 * them in process (runCli); these check what only a real process shows: the bundle loads, reads its arguments
 * and environment, and exits with the code and the text a person sees.
 */
import {
  buildCli,
  CLI_TEST_TIMEOUT_MS,
  type CliResult,
  type CliWorld,
  cliWorlds,
  configWith,
  fakeReleaseKey,
  linesOf,
  removeConfigFile,
  snapshotStage,
  spawnCli,
  writeConfigFile,
  writeVersions,
} from './helpers/operate';
import { createStackFor, stageOf, type World } from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const cliWorld = cliWorlds();
let cli: string;
let env: CliWorld;
let world: World;
/** What dev and prod run: their stacks were created on these releases (version 1 of each). */
let initialKeys: { dev: string; prod: string };
/** prod's desired release (version 2), recorded but not deployed. */
let prodDesired: string;

beforeAll(async () => {
  [cli, env] = await Promise.all([buildCli(), cliWorld([{ name: 'dev' }, { name: 'prod' }])]);
  world = env.world;
  initialKeys = { dev: await createStackFor(world, 'dev'), prod: await createStackFor(world, 'prod') };
  prodDesired = fakeReleaseKey(world, 'prod-v2');
  await writeVersions(world, 'prod', [
    { key: prodDesired, provenance: { action: 'rollback', by: 'tester', from: '1' } },
  ]);
});

/** A content-named key as the tables print it: the digest's first 12 digits and an ellipsis. */
const shortKey = (key: string): string => key.replace(/([0-9a-f]{12})[0-9a-f]{52}\.zip$/, '$1…');

/** The cells of a table line: the table pads every cell and puts two spaces between columns. */
const cellsOf = (line: string | undefined): string[] | undefined => line?.split(/ {2,}/);

/** How the process ended, and the stream that must stay empty. */
const ended = (result: CliResult, empty: 'stdout' | 'stderr') => ({
  code: result.code,
  signal: result.signal,
  [empty]: result[empty],
});

test('0 done: status of a stage that runs its desired release', async () => {
  const dev = stageOf(world, 'dev');

  const result = await spawnCli(cli, env, ['status', dev.name]);

  expect(ended(result, 'stderr')).toEqual({ code: 0, signal: null, stderr: '' });
  const [header, row] = linesOf(result);
  expect(cellsOf(header)).toEqual(['STAGE', 'STACK', 'STATUS', 'DESIRED', 'LIVE', 'IN SYNC', 'PENDING']);
  expect(cellsOf(row)).toEqual([
    dev.name,
    dev.stack,
    'CREATE_COMPLETE',
    `v1 ${shortKey(initialKeys.dev)}`,
    `v1 ${shortKey(initialKeys.dev)}`,
    'yes',
    '-',
  ]);
});

test('1 failed: AWS answers with an error (the configured bucket does not exist)', async () => {
  const dev = stageOf(world, 'dev');
  const gone = `it-deployer-gone-${world.id}`;
  const configFile = writeConfigFile(
    configWith(world, {
      dev: {
        artifact: { bucket: gone, key: 'builds/{executionId}/app.zip' },
        template: { bucket: gone, key: world.templateKey },
      },
    }).configText,
  );
  try {
    const result = await spawnCli(cli, { world, configFile }, ['status', dev.name]);

    expect(result).toEqual({
      code: 1,
      signal: null,
      stdout: '',
      stderr: 'deployer: The specified bucket does not exist\n',
    });
  } finally {
    removeConfigFile(configFile);
  }
});

test('2 usage: a stage that is not in the configuration', async () => {
  const result = await spawnCli(cli, env, ['status', 'staging']);

  expect(ended(result, 'stdout')).toEqual({ code: 2, signal: null, stdout: '' });
  expect(result.stderr).toBe(
    `deployer: no stage named "staging" in the configuration (configured: ${stageOf(world, 'dev').name}, ${stageOf(world, 'prod').name})\n`,
  );
});

test('3 needs a person: status of a stage that does not run its desired release', async () => {
  const prod = stageOf(world, 'prod');

  const result = await spawnCli(cli, env, ['status', prod.name]);

  expect(ended(result, 'stderr')).toEqual({ code: 3, signal: null, stderr: '' });
  const [, row, below] = linesOf(result);
  expect(cellsOf(row)).toEqual([
    prod.name,
    prod.stack,
    'CREATE_COMPLETE',
    `v2 ${shortKey(prodDesired)}`,
    `v1 ${shortKey(initialKeys.prod)}`,
    'NO',
    '-',
  ]);
  expect(below).toMatch(
    new RegExp(`^${prod.name}: desired since .* \\(rollback by tester\\); ${prodDesired}$`),
  );
});

test('4 refused: a rollback to a version the history does not have; nothing changes', async () => {
  const dev = stageOf(world, 'dev');
  const before = await snapshotStage(world, 'dev');

  const result = await spawnCli(cli, env, ['rollback', dev.name, '--to', '99']);

  expect(ended(result, 'stdout')).toEqual({ code: 4, signal: null, stdout: '' });
  expect(result.stderr).toBe('deployer: refused: no version 99 in the history (it keeps versions 1..1)\n');
  expect(await snapshotStage(world, 'dev')).toEqual(before);
});
