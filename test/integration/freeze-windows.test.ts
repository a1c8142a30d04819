/**
 * Freeze windows on the emulator, with the runtime's clock set by the test: a build during a freeze is
 * recorded as desired and not deployed, with one message saying when the window opens (a redelivery and the
 * schedule say nothing new); the schedule after the window opens deploys it; `approve --break-glass` deploys
 * during the freeze, and the history and the message say who and why; a later build is frozen again.
 */
import { validateConfig } from '../../shared/edge/config';
import { stageNamed } from '../../shared/edge/stages';
import { breakGlass, RefusedError, stageStatus } from '../../shared/operations/index';
import { reconcileAll } from '../../shared/triggers/reconcile';
import { provenanceOf } from './helpers/operate';
import {
  artifactKeyOf,
  bodyField,
  createStackFor,
  createWorld,
  deploy,
  destroyWorld,
  hoursAfterBase,
  inbox,
  latestVersion,
  newExecution,
  stackOf,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './helpers/world';

jest.setTimeout(120_000);

/** The year-end freeze of the README, Berlin office hours Monday to Thursday. */
const WINDOWS = {
  timeZone: 'Europe/Berlin',
  allow: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '17:00' }],
  freeze: [{ from: '2026-12-18T17:00', to: '2027-01-07T09:00', reason: 'year-end freeze' }],
};
const IN_FREEZE = Date.parse('2026-12-22T10:00:00Z');
const OPENS = '2027-01-07T08:00:00.000Z';

let world: World;
let now: number;

beforeEach(async () => {
  world = await createWorld([{ name: 'dev' }]);
  const config = validateConfig({
    ...JSON.parse(JSON.stringify(world.runtime.config)),
    settings: { changeSetTimeoutSeconds: 120, deployWindows: WINDOWS },
  });
  now = IN_FREEZE;
  world.runtime = { ...world.runtime, config, now: () => now };
  await createStackFor(world, 'dev');
});
afterEach(() => destroyWorld(world));

/** A build of a new commit, uploaded and delivered by its pipeline event. */
const build = async (startTime = hoursAfterBase(1)) => {
  const execution = newExecution(startTime);
  await uploadExecutionBuild(world, execution);
  const summary = await deploy(world, execution);
  return { execution, summary };
};

describe('a build during a freeze', () => {
  it('is recorded, not deployed, announced once with the opening; the schedule deploys it when the window opens', async () => {
    const dev = stageOf(world, 'dev');
    const initial = artifactKeyOf(await stackOf(world, dev.stack));
    const { execution, summary } = await build();
    expect(summary.stages[0]).toMatchObject({ outcome: 'frozen', recorded: 'recorded', notified: true });
    const desired = await latestVersion(world, dev.ssmParameter);
    expect(desired?.Value).toBe(summary.stages[0]?.releaseKey);
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(initial);

    const [message, ...more] = await inbox(world);
    expect(more).toEqual([]);
    expect(message?.subject).toContain('FROZEN');
    expect(message?.attributes.outcome).toBe('frozen');
    expect(bodyField(message?.body ?? '', 'Reason')).toContain('"year-end freeze"');
    expect(message?.body).toContain(
      `it opens at 2027-01-07 09:00 Europe/Berlin (${OPENS.replace('.000', '')})`,
    );
    expect(message?.body).toContain('--break-glass');

    // A redelivered event and the schedule during the freeze say nothing new, and deploy nothing.
    await deploy(world, execution);
    const scheduled = await reconcileAll(world.runtime, 'schedule-during-freeze');
    expect(scheduled).toEqual([expect.objectContaining({ outcome: 'frozen', notified: false })]);
    expect(await inbox(world)).toEqual([]);
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(initial);
    const stage = stageNamed(world.runtime.config, dev.name);
    if (!stage) throw new Error('test setup: no dev stage');
    expect((await stageStatus(world.runtime, stage)).frozen).toMatchObject({
      kind: 'freeze',
      reason: 'year-end freeze',
      opensAt: OPENS,
    });

    // The window opens: the next schedule deploys the newest desired release.
    now = Date.parse(OPENS) + 5 * 60_000;
    const opened = await reconcileAll(world.runtime, 'schedule-after-opening');
    expect(opened).toEqual([expect.objectContaining({ outcome: 'deploying', notified: true })]);
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(desired?.Value);
    const [deployed] = await inbox(world);
    expect(deployed?.subject).toContain('DEPLOYING');
  });
});

describe('approve --break-glass during a freeze', () => {
  it('deploys the desired release, recording who and why; a later build is frozen again', async () => {
    const dev = stageOf(world, 'dev');
    const { summary } = await build();
    await inbox(world);
    const moved = await breakGlass(world.runtime, dev.name, 'kim', 'payment outage fix INC-4711');
    expect(moved).toMatchObject({ action: 'break-glass', reconcile: { outcome: 'deploying' } });
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(summary.stages[0]?.releaseKey);

    const version = await latestVersion(world, dev.ssmParameter);
    expect(version?.Version).toBe(moved.version);
    expect(provenanceOf(version)).toMatchObject({
      action: 'break-glass',
      by: 'kim',
      reason: 'payment outage fix INC-4711',
      from: String(summary.stages[0]?.desiredVersion),
    });
    const [message, ...more] = await inbox(world);
    expect(more).toEqual([]);
    expect(message?.subject).toContain('DEPLOYING');
    expect(bodyField(message?.body ?? '', 'Triggered by')).toBe(
      'break-glass by kim: "payment outage fix INC-4711"',
    );

    // Nothing left to break the glass for: refused, nothing changed.
    await expect(breakGlass(world.runtime, dev.name, 'kim', 'again')).rejects.toThrow(RefusedError);
    expect((await latestVersion(world, dev.ssmParameter))?.Version).toBe(moved.version);

    // The glass let exactly that version through: the next build during the freeze is frozen again.
    // (A build that started before the break-glass move would be superseded by it, as after any move.)
    const later = await build(new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, 'Z'));
    expect(later.summary.stages[0]).toMatchObject({ outcome: 'frozen' });
    expect(artifactKeyOf(await stackOf(world, dev.stack))).toBe(summary.stages[0]?.releaseKey);
  });

  it('is refused on a stage that is not frozen, changing nothing', async () => {
    const dev = stageOf(world, 'dev');
    now = Date.parse('2027-01-12T10:00:00Z'); // a Tuesday, 11:00 in Berlin
    const before = await latestVersion(world, dev.ssmParameter);
    const error = await breakGlass(world.runtime, dev.name, 'kim', 'why not').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefusedError);
    expect((error as Error).message).toContain('is not frozen');
    expect((await latestVersion(world, dev.ssmParameter))?.Version).toBe(before?.Version);
    expect(await inbox(world)).toEqual([]);
  });
});
