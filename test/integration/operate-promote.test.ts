import { stageNamed } from '../../shared/edge/stages';
/**
 * `deployer promote dev prod`: the release dev's stack runs (not merely desires) becomes prod's desired
 * release and is deployed there, or waits for approval on an approval stage. And auto-promotion: a stage
 * with `promoteTo: [prod]` hands its release on when a deploy of its own completes (the stack's
 * UPDATE_COMPLETE status event with the deployer's change set token, through handleStackSettled).
 */

import { type MoveResult, promote, RefusedError } from '../../shared/operations/index';
import type { Runtime } from '../../shared/runtime';
import { reconcile } from '../../shared/stage/reconcile';
import { handleStackSettled } from '../../shared/triggers/reconcile';
import {
  CLI_TEST_TIMEOUT_MS,
  type CliWorld,
  cliWorlds,
  jsonOf,
  provenanceOf,
  runCli,
  snapshotStage,
} from './helpers/operate';
import { runTokenOf } from './helpers/runs';
import { consoleToken, recordRelease, stackStatusEvent, targetOf } from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  createStackFor,
  type Execution,
  hoursAfterBase,
  inbox,
  latestVersion,
  newExecution,
  parameterHistory,
  type StageNames,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const cliWorld = cliWorlds();

interface PromoteWorld {
  world: World;
  runtime: Runtime;
  env: CliWorld;
  dev: StageNames;
  prod: StageNames;
  prodInitialKey: string;
  /** The release dev runs (desired version 2 of dev, deployed). */
  a: Execution & { key: string };
}

/**
 * dev and prod, both stacks created on their initial releases; build A recorded for dev only and deployed
 * there. `prod` says whether prod requires approval; `stages` adds configuration (promoteTo).
 */
const promoteWorld = async (
  options: { prodApproval: boolean; stages?: (world: World) => Record<string, Record<string, unknown>> } = {
    prodApproval: false,
  },
): Promise<PromoteWorld> => {
  const { runtime, ...env } = await cliWorld(
    [{ name: 'dev' }, { name: 'prod', requiresApproval: options.prodApproval }],
    (world) => options.stages?.(world) ?? {},
  );
  const { world } = env;
  await createStackFor(world, 'dev');
  const prodInitialKey = await createStackFor(world, 'prod');
  const dev = stageOf(world, 'dev');
  const execution = newExecution(hoursAfterBase(0));
  const { release, recorded } = await recordRelease(world, execution, 'dev');
  expect(recorded).toMatchObject({ outcome: 'recorded', version: 2 });
  const devStage = stageNamed(runtime.config, dev.name);
  if (!devStage) throw new Error('dev is configured');
  expect((await reconcile(runtime, devStage)).outcome).toBe('deploying');
  expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(release.key);
  await inbox(world);
  return {
    world,
    runtime,
    env,
    dev,
    prod: stageOf(world, 'prod'),
    prodInitialKey,
    a: { ...execution, key: release.key },
  };
};

const expectPromoted = async (w: PromoteWorld, by: string) => {
  const history = await parameterHistory(w.world, w.prod.ssmParameter);
  expect(history.map((v) => [v.Version, v.Value])).toEqual([
    [1, w.prodInitialKey],
    [2, w.a.key],
  ]);
  expect(provenanceOf(history[1])).toEqual({
    action: 'promote',
    by,
    from: w.dev.name,
    commit: w.a.commitId,
    startedAt: expect.any(String),
    // The release it promotes, by the digest of its bytes (checked before it was promoted).
    artifact: /([0-9a-f]{64})\.zip$/.exec(w.a.key)?.[1],
    // When the release's build started (its pipeline execution's start): prod's lead time counts from there.
    builtAt: w.a.startTime,
    write: expect.stringMatching(/^[0-9a-f]{24}$/),
  });
};

describe('promote dev → prod', () => {
  test('prod without approval: desired becomes what dev runs (not what dev desires), and prod runs it', async () => {
    const w = await promoteWorld();
    // dev desires a newer build B it does not run yet: promote takes A, the release dev's stack runs.
    const { release: b } = await recordRelease(w.world, newExecution(hoursAfterBase(1)), 'dev');
    expect(b.key).not.toBe(w.a.key);

    const result = await promote(w.runtime, w.dev.name, w.prod.name, 'tester');

    expect(result).toMatchObject<Partial<MoveResult>>({
      stage: w.prod.name,
      action: 'promote',
      version: 2,
      key: w.a.key,
      notified: true,
    });
    expect(result.reconcile).toMatchObject({ outcome: 'deploying', changeSet: `deploy-${w.prod.name}-v2` });
    await expectPromoted(w, 'tester');
    const stack = await stackOf(w.world, w.prod.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(w.a.key);
    // dev is untouched.
    expect(artifactKeyOf(await stackOf(w.world, w.dev.stack))).toBe(w.a.key);
    expect((await latestVersion(w.world, w.dev.ssmParameter))?.Value).toBe(b.key);

    const messages = await inbox(w.world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toBe(
      `[${w.prod.name}] ${w.prod.stack} DEPLOYING ${w.a.commitId.slice(0, 7)}`,
    );
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe(
      `a promotion by tester from ${w.dev.name}`,
    );
  });

  test('refused when prod already has that release as desired: nothing changes (shared and command line)', async () => {
    const w = await promoteWorld();
    await promote(w.runtime, w.dev.name, w.prod.name, 'tester');
    await inbox(w.world);
    const before = await snapshotStage(w.world, 'prod');

    const error = await promote(w.runtime, w.dev.name, w.prod.name, 'tester').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusedError);
    expect((error as Error).message).toBe(
      `stage ${w.prod.name} already has ${w.a.key} as its desired release`,
    );

    const result = await runCli(w.env, ['promote', w.dev.name, w.prod.name]);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 4, stdout: '' });
    expect(result.stderr).toContain('already has');

    expect(await snapshotStage(w.world, 'prod')).toEqual(before);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('prod requires approval (command line): desired, change set waiting, stack unchanged; approve deploys it', async () => {
    const w = await promoteWorld({ prodApproval: true });

    const result = await runCli(w.env, ['promote', w.dev.name, w.prod.name, '--json']);

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(jsonOf<MoveResult>(result)).toMatchObject({
      stage: w.prod.name,
      action: 'promote',
      version: 2,
      key: w.a.key,
      reconcile: { outcome: 'pending-approval', changeSet: `deploy-${w.prod.name}-v2` },
    });
    await expectPromoted(w, 'tester');
    expect(
      (await changeSetsOf(w.world, w.prod.stack)).map((c) => [c.ChangeSetName, c.ExecutionStatus]),
    ).toEqual([[`deploy-${w.prod.name}-v2`, 'AVAILABLE']]);
    const stack = await stackOf(w.world, w.prod.stack);
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(w.prodInitialKey);
    const messages = await inbox(w.world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${w.prod.name}] ${w.prod.stack} APPROVAL NEEDED ${w.a.commitId.slice(0, 7)}`,
    ]);
    expect(messages[0]?.body).toContain(`npx deployer approve ${w.prod.name}`);
    expect(messages[0]?.body).toContain(`npx deployer reject ${w.prod.name}`);

    const approved = await runCli(w.env, ['approve', w.prod.name]);
    expect(approved.code).toBe(0);
    expect(artifactKeyOf(await stackOf(w.world, w.prod.stack))).toBe(w.a.key);
  });

  test('refusals: the same stage, an unknown stage, a source stage without a stack', async () => {
    const w = await promoteWorld();
    const before = await snapshotStage(w.world, 'prod');
    const refusal = (from: string, to: string) =>
      promote(w.runtime, from, to, 'tester').then(
        () => new Error('expected a refusal'),
        (e: unknown) => e as Error,
      );

    expect(await refusal(w.dev.name, w.dev.name)).toEqual(
      new RefusedError('promote needs two different stages'),
    );
    expect((await refusal('staging', w.prod.name)).message).toContain('no stage named "staging"');
    expect((await refusal(w.dev.name, 'staging')).message).toContain('no stage named "staging"');

    // A world whose dev stack was never created.
    const { world: other } = await cliWorld([{ name: 'dev' }, { name: 'prod' }]);
    const [otherDev, otherProd] = [stageOf(other, 'dev'), stageOf(other, 'prod')];
    const missing = await promote(other.runtime, otherDev.name, otherProd.name, 'tester').then(
      () => new Error('expected a refusal'),
      (e: unknown) => e as Error,
    );
    expect(missing).toBeInstanceOf(RefusedError);
    expect(missing.message).toBe(
      `stage ${otherDev.name} runs no release to promote (stack ${otherDev.stack} does not exist)`,
    );
    expect(await parameterHistory(other, otherProd.ssmParameter)).toEqual([]);

    expect(await snapshotStage(w.world, 'prod')).toEqual(before);
    expect(await inbox(w.world)).toEqual([]);
    expect(await inbox(other)).toEqual([]);
  });
});

describe('auto-promotion (promoteTo)', () => {
  const withPromoteTo = () =>
    promoteWorld({
      prodApproval: false,
      stages: (world) => ({ dev: { promoteTo: [stageOf(world, 'prod').name] } }),
    });

  test("dev's own deploy completing (UPDATE_COMPLETE with its change set token) promotes its release to prod", async () => {
    const w = await withPromoteTo();
    const target = await targetOf(w.world, 'dev');

    // Someone else's update of dev (the console's token) is not a deploy of ours: nothing is promoted.
    const foreign = await handleStackSettled(
      w.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() }),
    );
    expect(foreign).toMatchObject({ verdict: 'reconciled', stage: w.dev.name, outcome: 'in-sync' });
    expect(foreign.promoted).toBeUndefined();
    expect(await parameterHistory(w.world, w.prod.ssmParameter)).toHaveLength(1);

    // The deployer's own run: its token, as the status event of its change set carries it.
    const token = await runTokenOf(w.world, 'dev', 2);
    const summary = await handleStackSettled(
      w.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token }),
    );

    expect(summary).toEqual({
      verdict: 'reconciled',
      stage: w.dev.name,
      outcome: 'in-sync',
      promoted: [w.prod.name],
      notified: false,
    });
    await expectPromoted(w, `auto-promotion of ${w.dev.name}`);
    const stack = await stackOf(w.world, w.prod.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(w.a.key);
    const messages = await inbox(w.world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${w.prod.name}] ${w.prod.stack} DEPLOYING ${w.a.commitId.slice(0, 7)}`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe(
      `a promotion by auto-promotion of ${w.dev.name} from ${w.dev.name}`,
    );

    // The same event delivered again: prod already desires the release; nothing new, nobody told.
    const again = await handleStackSettled(
      w.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token }),
    );
    expect(again.promoted).toBeUndefined();
    expect(await parameterHistory(w.world, w.prod.ssmParameter)).toHaveLength(2);
    expect(await inbox(w.world)).toEqual([]);
  });

  test('a deploy of ours that rolled back promotes nothing', async () => {
    const w = await withPromoteTo();

    const summary = await handleStackSettled(
      w.runtime,
      stackStatusEvent('stack-update-rollback-complete.json', await targetOf(w.world, 'dev'), {
        token: await runTokenOf(w.world, 'dev', 2),
      }),
    );

    expect(summary).toMatchObject({ verdict: 'reconciled', stage: w.dev.name, markedFailed: 2 });
    expect(summary.promoted).toBeUndefined();
    expect(await parameterHistory(w.world, w.prod.ssmParameter)).toHaveLength(1);
    expect(artifactKeyOf(await stackOf(w.world, w.prod.stack))).toBe(w.prodInitialKey);
  });
});
