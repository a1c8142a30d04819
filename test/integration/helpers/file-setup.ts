/**
 * One setup for the integration test files: the worlds a file makes (a stage's stack on an initial release,
 * or a build already deployed to it), destroyed after the file's tests; the build of a new execution with
 * the key it is released under; the one message a step sent; and handler modules loaded as Lambda loads
 * them. Every helper that registers a hook says so: call it at the top level of the test file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReceivedNotification } from '../../../bin/support/example-world';
import type { DeploySummary } from '../../../shared/triggers/deploy';
import {
  ACCOUNT,
  createStackFor,
  createWorld,
  deploy,
  destroyWorld,
  type Execution,
  hoursAfterBase,
  inbox,
  newExecution,
  RELEASE_PREFIX,
  type StageNames,
  type StageOptions,
  sha256Hex,
  stageOf,
  uploadExecutionBuild,
  type World,
} from './world';

/** The release key the worlds' configuration gives these build bytes (content-named). */
export const releaseKeyOf = (bytes: Uint8Array): string => `${RELEASE_PREFIX}${sha256Hex(bytes)}.zip`;

/** The one message that arrived since the last read, or a failing test. */
export const onlyMessage = async (world: World): Promise<ReceivedNotification> => {
  const messages = await inbox(world);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  if (!message) throw new Error('no message arrived');
  return message;
};

export interface Build {
  execution: Execution;
  /** The build's key and bytes in the artifact bucket. */
  key: string;
  bytes: Buffer;
  /** The key the deployer releases the build under. */
  releaseKey: string;
}

/** A new execution that started `hours` after the base time, its build uploaded at the stage's build key. */
export const uploadedBuild = async (world: World, hours = 0, stage?: string): Promise<Build> => {
  const execution = newExecution(hoursAfterBase(hours));
  const { key, bytes } = await uploadExecutionBuild(world, execution, stage === undefined ? {} : { stage });
  return { execution, key, bytes, releaseKey: releaseKeyOf(bytes) };
};

/** A new execution's build uploaded (see uploadedBuild), and its pipeline event delivered to the deploy path. */
export const deployBuild = async (
  world: World,
  hours = 0,
  stage?: string,
): Promise<Build & { summary: DeploySummary }> => {
  const build = await uploadedBuild(world, hours, stage);
  return { ...build, summary: await deploy(world, build.execution) };
};

export interface StageWorld {
  world: World;
  /** The stage whose stack was created (dev unless said otherwise). */
  stage: StageNames;
  /** The release its stack runs, recorded as version 1 of its parameter. */
  initialKey: string;
}

export interface DeployedWorld extends StageWorld, Build {}

export interface Worlds {
  /** A new world (see createWorld). */
  create(stages?: StageOptions[]): Promise<World>;
  /** A new world whose stage `role` (default dev) has a stack running an initial release (createStackFor). */
  withStack(stages?: StageOptions[], role?: string): Promise<StageWorld>;
  /**
   * A new dev world whose stack the deployer updated to a new build (desired version 2, change set executed);
   * the deploy's one message is read, so that each test reads only its own.
   */
  deployed(): Promise<DeployedWorld>;
}

/**
 * The worlds of one test file, destroyed after its tests: call it at the top level of the file, where it
 * registers the afterAll that destroys them.
 */
export const worldsOfFile = (): Worlds => {
  const made: World[] = [];
  afterAll(() => {
    for (const world of made) destroyWorld(world);
  });
  const create = async (stages?: StageOptions[]): Promise<World> => {
    const world = await createWorld(stages);
    made.push(world);
    return world;
  };
  const withStack = async (stages?: StageOptions[], role = 'dev'): Promise<StageWorld> => {
    const world = await create(stages);
    const initialKey = await createStackFor(world, role);
    return { world, stage: stageOf(world, role), initialKey };
  };
  const deployed = async (): Promise<DeployedWorld> => {
    const base = await withStack();
    const { summary, ...build } = await deployBuild(base.world);
    expect(summary.verdict).toBe('deployed');
    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      releaseKey: build.releaseKey,
      desiredVersion: 2,
    });
    expect(await inbox(base.world)).toHaveLength(1); // the deploy message
    return { ...base, ...build };
  };
  return { create, withStack, deployed };
};

/** What the handlers read from the environment at module load. */
const HANDLER_ENV = [
  'DEPLOYER_ACCOUNT_ID',
  'DEPLOYER_TOPIC_ARN',
  'DEPLOYER_LEDGER_TABLE',
  'DEPLOYER_CONFIG_FILE',
] as const;

/**
 * Load handler modules as Lambda loads them, for a world: its settings in the environment and its
 * configuration in the file DEPLOYER_CONFIG_FILE names, both read at module load, and `load` (which
 * requires the modules) run in an isolated module registry. `restore` puts the environment back and
 * removes the file.
 */
export const loadAsLambda = <T>(world: World, load: () => T): { loaded: T; restore: () => void } => {
  const configDir = mkdtempSync(join(tmpdir(), 'deployer-it-'));
  const configFile = join(configDir, 'deployer.config.yaml');
  writeFileSync(configFile, world.configText);
  const saved = Object.fromEntries(HANDLER_ENV.map((name) => [name, process.env[name]]));
  Object.assign(process.env, {
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: world.topicArn,
    DEPLOYER_LEDGER_TABLE: world.ledgerTable,
    DEPLOYER_CONFIG_FILE: configFile,
  });
  let loaded: T | undefined;
  jest.isolateModules(() => {
    loaded = load();
  });
  const restore = () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(configDir, { recursive: true, force: true });
  };
  return { loaded: loaded as T, restore };
};
