/**
 * `deployer history` and `deployer status` on a stage whose SSM history holds hostile text: anyone who may
 * write the parameter writes its values and descriptions (the provenance the commands show). Such text must
 * neither add lines, nor clear or retitle the terminal, nor reverse what follows: the commands show it cleaned
 * and quoted, and --json keeps it as data, escaped.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { expectNoInjection, HOSTILE, HOSTILE_QUOTED } from '../support/hostile-text';
import { CLI_TEST_TIMEOUT_MS, type CliWorld, cliWorlds, jsonOf, linesOf, runCli } from './helpers/operate';
import { configuredStage } from './helpers/stack-events';
import { createStackFor, type World } from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

let world: World;
let env: CliWorld;
let hostileKey: string;
const cliWorld = cliWorlds();

/** A version written straight to SSM, as anyone with access to the parameter can. */
const writeVersion = async (value: string, provenance: Record<string, string>): Promise<void> => {
  await world.clients.ssm.send(
    new PutParameterCommand({
      Name: configuredStage(world, 'dev').ssmParameter,
      Type: 'String',
      Overwrite: true,
      Value: value,
      Description: JSON.stringify(provenance),
    }),
  );
};

beforeAll(async () => {
  env = await cliWorld([{ name: 'dev' }]);
  world = env.world;
  await createStackFor(world, 'dev');
  hostileKey = `${configuredStage(world, 'dev').releasePrefix}${HOSTILE}.zip`;
  await writeVersion(hostileKey, {
    pipeline: world.pipeline,
    execution: HOSTILE,
    commit: HOSTILE,
    startedAt: HOSTILE,
  });
  await writeVersion(hostileKey, { action: HOSTILE, by: HOSTILE, from: HOSTILE });
});

describe('hostile text in the SSM history', () => {
  test('history: one row per version, every value from outside cleaned and quoted', async () => {
    const result = await runCli(env, ['history', configuredStage(world, 'dev').name]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expectNoInjection(result.stdout, 0);
    const [header, byPerson, byExecution, first, ...more] = linesOf(result);
    expect(more).toEqual([]);
    expect(header).toMatch(/^VERSION\s+WHEN\s+COMMIT\s+BY\s+RELEASE/);
    expect(first).toMatch(/^1\s/);
    expect(byPerson).toMatch(/^3\s/);
    expect(byPerson).toContain(`${HOSTILE_QUOTED} by ${HOSTILE_QUOTED}`);
    expect(byPerson).toContain(`"${hostileKey.replace(HOSTILE, HOSTILE_QUOTED.slice(1, -1))}"`);
    expect(byExecution).toMatch(
      /^2\s+"it failed\\" Next: run rm -rf ~ evilend"\s+"it fail"\s+execution "it faile"\s/,
    );
  });

  test('history --json: the same data, with every control, ESC and bidi character escaped', async () => {
    const result = await runCli(env, ['history', configuredStage(world, 'dev').name, '--json']);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expectNoInjection(result.stdout, 0);
    const [latest] = jsonOf<{ key: string; provenance: Record<string, string> }[]>(result);
    expect(latest?.key).toBe(hostileKey);
    expect(latest?.provenance).toMatchObject({ action: HOSTILE, by: HOSTILE, from: HOSTILE });
  });

  test('status: the desired release and who recorded it, quoted; no line of its own', async () => {
    const dev = configuredStage(world, 'dev');
    const result = await runCli(env, ['status', dev.name]);
    // Not in sync: the stack still runs its first release.
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 3, stderr: '' });
    expectNoInjection(result.stdout, 0);
    const desired = linesOf(result).filter((line) => line.startsWith(`${dev.name}: desired since`));
    expect(desired).toEqual([
      expect.stringMatching(new RegExp(`^${dev.name}: desired since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(`)),
    ]);
    expect(desired[0]).toContain(
      `(${HOSTILE_QUOTED} by ${HOSTILE_QUOTED}); "${hostileKey.replace(HOSTILE, HOSTILE_QUOTED.slice(1, -1))}"`,
    );
  });
});
