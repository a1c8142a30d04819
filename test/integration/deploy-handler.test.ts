/**
 * The real Lambda handler module (handlers/deploy.ts), loaded the way Lambda loads it: settings from the
 * environment at module load, the configuration from DEPLOYER_CONFIG_FILE.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as DeployHandlerModule from '../../handlers/deploy';
import {
  ACCOUNT,
  artifactKeyOf,
  createStackFor,
  createWorld,
  destroyWorld,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  pipelineEvent,
  RELEASE_PREFIX,
  readObject,
  sha256Hex,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

const HANDLER_ENV = [
  'DEPLOYER_ACCOUNT_ID',
  'DEPLOYER_TOPIC_ARN',
  'DEPLOYER_LEDGER_TABLE',
  'DEPLOYER_CONFIG_FILE',
] as const;

let world: World;
let configDir: string;
let handler: (typeof DeployHandlerModule)['handler'];
const savedEnv: Partial<Record<(typeof HANDLER_ENV)[number], string>> = {};

beforeAll(async () => {
  world = await createWorld([{ name: 'dev' }, { name: 'prod', requiresApproval: true }]);
  await createStackFor(world, 'dev');
  configDir = mkdtempSync(join(tmpdir(), 'deployer-it-'));
  const configFile = join(configDir, 'deployer.config.yaml');
  writeFileSync(configFile, world.configText);
  for (const name of HANDLER_ENV) savedEnv[name] = process.env[name];
  Object.assign(process.env, {
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: world.topicArn,
    DEPLOYER_LEDGER_TABLE: world.ledgerTable,
    DEPLOYER_CONFIG_FILE: configFile,
  });
  jest.isolateModules(() => {
    ({ handler } = require('../../handlers/deploy') as typeof DeployHandlerModule);
  });
});

afterAll(() => {
  for (const name of HANDLER_ENV) {
    const value = savedEnv[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  if (world) destroyWorld(world);
});

describe('handlers/deploy.ts handler', () => {
  test('deploys every stage of the pipeline named in the configuration file', async () => {
    const dev = stageOf(world, 'dev');
    const prod = stageOf(world, 'prod');
    const execution = newExecution(hoursAfterBase(0));
    const { bytes } = await uploadExecutionBuild(world, execution, { stage: 'dev' });
    const releaseKey = `${RELEASE_PREFIX}${sha256Hex(bytes)}.zip`;

    const summary = await handler(pipelineEvent(world, execution));

    expect(summary.verdict).toBe('deployed');
    expect(summary.stages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stage: dev.name, outcome: 'deploying', releaseKey, desiredVersion: 2 }),
        expect.objectContaining({
          stage: prod.name,
          outcome: 'pending-approval',
          releaseKey,
          desiredVersion: 1,
        }),
      ]),
    );
    expect((await readObject(world, releaseKey)).equals(bytes)).toBe(true);
    expect((await parameterHistory(world, dev.ssmParameter)).at(-1)?.Value).toBe(releaseKey);
    expect((await parameterHistory(world, prod.ssmParameter)).map((v) => v.Value)).toEqual([releaseKey]);
    const devStack = await stackOf(world, dev.stack);
    expect(devStack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(devStack)).toBe(releaseKey);
    // prod's stack waits for the approval of its CREATE change set.
    expect((await stackOf(world, prod.stack))?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    const subjects = (await inbox(world)).map((m) => m.subject).sort();
    const short = execution.commitId.slice(0, 7);
    expect(subjects).toEqual(
      [
        `[${dev.name}] ${dev.stack} DEPLOYING ${short}`,
        `[${prod.name}] ${prod.stack} APPROVAL NEEDED ${short}`,
      ].sort(),
    );
  });

  test('rejects an event from another account without touching anything', async () => {
    const dev = stageOf(world, 'dev');
    const execution = newExecution(hoursAfterBase(5));
    await uploadExecutionBuild(world, execution, { stage: 'dev' });
    const event = { ...pipelineEvent(world, execution), account: '210987654321' };
    const before = await parameterHistory(world, dev.ssmParameter);

    const summary = await handler(event);

    expect(summary).toMatchObject({ verdict: 'rejected', stages: [] });
    expect(summary.reason).toContain('210987654321');
    expect(await parameterHistory(world, dev.ssmParameter)).toHaveLength(before.length);
    expect(await inbox(world)).toEqual([]);
  });

  test('ignores a pipeline that is not configured', async () => {
    const execution = newExecution(hoursAfterBase(6));
    const summary = await handler(pipelineEvent({ pipeline: `unknown-${world.id}` }, execution));
    expect(summary).toMatchObject({ verdict: 'ignored', reason: 'pipeline not configured' });
    expect(await inbox(world)).toEqual([]);
  });
});
