/**
 * The real Lambda handler modules handlers/notify.ts and handlers/reconcile.ts, loaded the way Lambda
 * loads them: settings from the environment at module load, the configuration from DEPLOYER_CONFIG_FILE.
 * Each is invoked once with an event AWS would send; the state is read back from moto.
 */

import type * as NotifyHandlerModule from '../../handlers/notify';
import type * as ReconcileHandlerModule from '../../handlers/reconcile';
import { loadAsLambda, worldsOfFile } from './helpers/file-setup';
import { runTokenOf } from './helpers/runs';
import { recordRelease, scheduleEvent, stackStatusEvent, targetOf } from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  type Execution,
  hoursAfterBase,
  inbox,
  newExecution,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();
let world: World;
let notify: (typeof NotifyHandlerModule)['handler'];
let reconcile: (typeof ReconcileHandlerModule)['handler'];
/** The execution whose release the dev stack runs (desired version 2). */
let first: Execution;
let firstKey: string;
let restore = () => {};

beforeAll(async () => {
  ({ world, execution: first, releaseKey: firstKey } = await worlds.deployed());
  const lambda = loadAsLambda(world, () => ({
    notify: (require('../../handlers/notify') as typeof NotifyHandlerModule).handler,
    reconcile: (require('../../handlers/reconcile') as typeof ReconcileHandlerModule).handler,
  }));
  ({ notify, reconcile } = lambda.loaded);
  restore = lambda.restore;
});

afterAll(() => restore());

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
