/**
 * The real Lambda handler modules handlers/notify.ts and handlers/reconcile.ts, loaded the way Lambda
 * loads them: settings from the environment at module load, the configuration from DEPLOYER_CONFIG_FILE.
 * Each is invoked once with an event AWS would send; the state is read back from moto.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NotifyHandlerModule from '../../handlers/notify';
import type * as ReconcileHandlerModule from '../../handlers/reconcile';
import { runTokenOf } from './helpers/runs';
import { recordRelease, scheduleEvent, stackStatusEvent, targetOf } from './helpers/stack-events';
import {
  ACCOUNT,
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  createWorld,
  deploy,
  destroyWorld,
  type Execution,
  hoursAfterBase,
  inbox,
  newExecution,
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
let notify: (typeof NotifyHandlerModule)['handler'];
let reconcile: (typeof ReconcileHandlerModule)['handler'];
/** The execution whose release the dev stack runs (desired version 2). */
let first: Execution;
let firstKey: string;
const savedEnv: Partial<Record<(typeof HANDLER_ENV)[number], string>> = {};

beforeAll(async () => {
  world = await createWorld();
  await createStackFor(world);
  first = newExecution(hoursAfterBase(0));
  await uploadExecutionBuild(world, first);
  const summary = await deploy(world, first);
  firstKey = summary.stages[0]?.releaseKey ?? '';
  expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 2 });
  await inbox(world);

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
    ({ handler: notify } = require('../../handlers/notify') as typeof NotifyHandlerModule);
    ({ handler: reconcile } = require('../../handlers/reconcile') as typeof ReconcileHandlerModule);
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

describe('handlers/notify.ts handler', () => {
  test("reports the UPDATE_COMPLETE of the deployer's change set on the configured topic", async () => {
    const stage = stageOf(world);
    const token = await runTokenOf(world, 'dev', 2);

    const summary = await notify(
      stackStatusEvent('stack-update-complete.json', await targetOf(world), { token }),
    );

    const subject = `[${stage.name}] ${stage.stack} UPDATE_COMPLETE ${first.commitId.slice(0, 7)}`;
    expect(summary).toEqual({ verdict: 'notified', stack: stage.stack, subject });
    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([subject]);
    expect(messages[0]?.attributes).toMatchObject({ kind: 'stack-status', stage: stage.name });
    expect(bodyField(messages[0]?.body ?? '', 'Release')).toBe(`${firstKey} (desired version 2)`);
    expect(bodyField(messages[0]?.body ?? '', 'Started by')).toBe(`the deployer (run ${token})`);
  });
});

describe('handlers/reconcile.ts handler', () => {
  test('the schedule deploys the release recorded as desired for the configured stage', async () => {
    const stage = stageOf(world);
    const second = newExecution(hoursAfterBase(1));
    const { release, recorded } = await recordRelease(world, second);
    expect(recorded).toMatchObject({ outcome: 'recorded', version: 3 });

    const summaries = await reconcile(scheduleEvent());

    expect(summaries).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'deploying', notified: true },
    ]);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(release.key);
    expect((await changeSetsOf(world, stage.stack)).map((c) => c.ChangeSetName)).toEqual([
      `deploy-${stage.name}-v2`,
      `deploy-${stage.name}-v3`,
    ]);
    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} DEPLOYING ${second.commitId.slice(0, 7)}`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe('the scheduled reconcile');
    expect(bodyField(messages[0]?.body ?? '', 'Running')).toBe(firstKey);
  });
});
