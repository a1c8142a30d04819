/**
 * Helpers for the "operating a stage" tests: the command line (bin/deployer.ts's `run`, in this process; the
 * built dist/bin/deployer.js is spawned only by cli-smoke.test.ts) run against a world on moto, the world's
 * configuration as a file, configuration variants (promoteTo) with their YAML, versions recorded quickly
 * without deploys, and provenance read back.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { LabelParameterVersionCommand, type ParameterHistory } from '@aws-sdk/client-ssm';
import { parse, stringify } from 'yaml';
import { run } from '../../../bin/deployer';
import { exampleBuild, uploadBuild } from '../../../bin/support/example-world';
import { writeDesired } from '../../../shared/aws/desired-state';
import { type Provenance, parseProvenance } from '../../../shared/aws/provenance';
import { parseConfig } from '../../../shared/edge/config';
import { logger } from '../../../shared/logger';
import type { Runtime } from '../../../shared/runtime';
import { CLI_RUN_TIMEOUT_MS, cleanEnv, runProcess } from '../../support/checkout-build';
import { configuredStage } from './stack-events';
import {
  artifactKeyOf,
  changeSetsOf,
  createWorld,
  destroyWorld,
  parameterHistory,
  REGION,
  type StageOptions,
  stackOf,
  stageOf,
  type World,
} from './world';

// ---- the command line ----

export { buildCli, CLI_TEST_TIMEOUT_MS } from '../../support/checkout-build';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliWorld {
  world: World;
  /** The configuration file the commands read (DEPLOYER_CONFIG_FILE). */
  configFile: string;
}

/** Write a configuration text to a temporary file; returns its path. */
export const writeConfigFile = (configText: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'deployer-operate-'));
  const file = join(dir, 'deployer.config.yaml');
  writeFileSync(file, configText);
  return file;
};

export const removeConfigFile = (file: string | undefined): void => {
  if (file) rmSync(join(file, '..'), { recursive: true, force: true });
};

/** The environment a person at a terminal would have: the emulator, the world's topic, their name. */
export const cliEnv = (world: World, configFile: string, extra: Record<string, string> = {}) => {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL is not set: the integration setup did not start moto');
  return {
    ...cleanEnv(),
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    DEPLOYER_CONFIG_FILE: configFile,
    DEPLOYER_TOPIC_ARN: world.topicArn,
    DEPLOYER_USER: 'tester',
    ...extra,
  };
};

/**
 * The worlds of one test file, each with its configuration file, all removed after the file's tests. Call it
 * at the top of the file; the function it returns makes a world of `stages`, with `settings` added to them
 * (configWith: the configuration file and the runtime both carry them).
 */
export const cliWorlds = () => {
  const cleanups: (() => void)[] = [];
  afterAll(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });
  return async (
    stages?: StageOptions[],
    settings?: (world: World) => Record<string, Record<string, unknown>>,
  ): Promise<CliWorld & { runtime: Runtime }> => {
    const world = await createWorld(stages);
    cleanups.push(() => destroyWorld(world));
    const { configText, runtime } = settings
      ? configWith(world, settings(world))
      : { configText: world.configText, runtime: world.runtime };
    const configFile = writeConfigFile(configText);
    cleanups.push(() => removeConfigFile(configFile));
    return { world, configFile, runtime };
  };
};

/** What one run writes: writes to process.stdout and process.stderr in its async context land here. */
const capture = new AsyncLocalStorage<{ stdout: string; stderr: string }>();
/** The runs under way, and how to put back what the first of them replaced. */
let running = 0;
let restore = (): void => {};

/**
 * Send the writes made inside a run to its capture and every other write (jest's, another test code's) to
 * the terminal as before; the log level `run` sets is put back when the last run ends.
 */
const captureStart = (): void => {
  if (running++ > 0) return;
  const level = logger.getLevelName();
  const spies = (['stdout', 'stderr'] as const).map((name) => {
    const stream = process[name];
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const into = capture.getStore();
      if (!into) return original(chunk, ...rest);
      into[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      // write(chunk, [encoding], [callback]): the callback is called once the chunk is written.
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (done) process.nextTick(done);
      return true;
    };
    return jest.spyOn(stream, 'write').mockImplementation(write as typeof stream.write);
  });
  restore = () => {
    for (const spy of spies) spy.mockRestore();
    logger.setLogLevel(level);
  };
};

const captureEnd = (): void => {
  if (--running === 0) restore();
};

/**
 * Run `deployer <args…>` in this process (bin/deployer.ts's `run`) in the environment a person at a terminal
 * would have (cliEnv; `env` replaces its entries), with what it writes captured.
 */
export const runCli = async (
  { world, configFile }: CliWorld,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> => {
  const output = { stdout: '', stderr: '' };
  captureStart();
  try {
    const code = await capture.run(output, () => run(args, cliEnv(world, configFile, env)));
    return { code, signal: null, ...output };
  } finally {
    captureEnd();
  }
};

/** Run the built command line (`cli`, from buildCli) as its own process, as a person would: cli-smoke.test.ts. */
export const spawnCli = (
  cli: string,
  { world, configFile }: CliWorld,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> =>
  runProcess(process.execPath, [cli, ...args], cliEnv(world, configFile, env), CLI_RUN_TIMEOUT_MS);

/** The command's stdout as JSON (the commands print their result with JSON.stringify). */
export const jsonOf = <T>(result: CliResult): T => {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    throw new Error(
      `stdout is not JSON (${(error as Error).message}); exit ${result.code}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(0, 2000)}`,
    );
  }
};

/** The lines of a command's table output, without the trailing empty line. */
export const linesOf = (result: CliResult): string[] => result.stdout.replace(/\n$/, '').split('\n');

// ---- configuration variants ----

interface ConfigDocument {
  pipelines: Record<string, { stages: Record<string, Record<string, unknown>> }>;
  [field: string]: unknown;
}

/**
 * The world's configuration with settings added to stages (by role, e.g. { dev: { promoteTo: [...] } }):
 * the YAML for the command line and the runtime for the shared functions, parsed by the schema.
 */
export const configWith = (
  world: World,
  stages: Record<string, Record<string, unknown>>,
): { configText: string; runtime: Runtime } => {
  const document = parse(world.configText) as ConfigDocument;
  const configured = document.pipelines[world.pipeline]?.stages ?? {};
  for (const [role, extra] of Object.entries(stages)) {
    const name = stageOf(world, role).name;
    configured[name] = { ...configured[name], ...extra };
  }
  const configText = stringify(document);
  return {
    configText,
    runtime: {
      settings: world.runtime.settings,
      config: parseConfig(configText, `world ${world.id} (operate)`),
      clients: world.clients,
    },
  };
};

// ---- desired versions without deploys ----

/** The bytes behind each content-named key fakeReleaseKey made: uploadRelease puts exactly these there. */
const releaseBytes = new Map<string, Buffer>();

/** A content-named release key (the SHA-256 of bytes made from the seed), as the deploy path names them. */
export const fakeReleaseKey = (world: World, seed: string): string => {
  const bytes = Buffer.from(`${world.id}:${seed}`);
  const key = `${stageOf(world).releasePrefix}${createHash('sha256').update(bytes).digest('hex')}.zip`;
  releaseBytes.set(key, bytes);
  return key;
};

export interface VersionSpec {
  key: string;
  provenance: Provenance;
  labels?: string[];
}

/**
 * Write desired versions straight to the stage's parameter (writeDesired, as every writer does, then the
 * labels), with no change set: a history made in seconds. Returns the versions written.
 */
export const writeVersions = async (
  world: World,
  stageRole: string,
  specs: VersionSpec[],
): Promise<number[]> => {
  const stage = configuredStage(world, stageRole);
  const versions: number[] = [];
  for (const spec of specs) {
    const { version } = await writeDesired(world.clients, stage, spec.key, spec.provenance, true);
    if (spec.labels?.length) await labelVersion(world, stageRole, version, spec.labels);
    versions.push(version);
  }
  return versions;
};

export const labelVersion = async (
  world: World,
  stageRole: string,
  version: number,
  labels: string[],
): Promise<void> => {
  await world.clients.ssm.send(
    new LabelParameterVersionCommand({
      Name: stageOf(world, stageRole).ssmParameter,
      ParameterVersion: version,
      Labels: labels,
    }),
  );
};

/** Upload the bytes of a release at its key, so that it can be rolled back to or deployed. */
/** Upload a release object: the bytes its key names when fakeReleaseKey made it, else a build of `variant`. */
export const uploadRelease = async (world: World, key: string, variant = key): Promise<void> => {
  const bytes = releaseBytes.get(key) ?? exampleBuild(variant);
  await uploadBuild(world.clients.s3, { bucket: world.bucket, key, bytes });
};

export const deleteObject = async (world: World, key: string): Promise<void> => {
  await world.clients.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
};

// ---- reading back ----

/** Who made a version, from its description (the JSON the deployer writes). */
export const provenanceOf = (version: ParameterHistory | undefined): Provenance => {
  const description = version?.Description;
  if (!description) throw new Error(`version ${version?.Version} has no description`);
  // The raw JSON, not the deployer's own parser: the test reads what is stored.
  const raw = JSON.parse(description) as Provenance;
  expect(parseProvenance(description)).toEqual(raw);
  return raw;
};

/** What can change on a stage: its history, its stack's release and status, its change sets. */
export interface StageSnapshot {
  versions: { version: number | undefined; value: string | undefined; labels: string[] }[];
  stackStatus: string | undefined;
  artifactKey: string | undefined;
  changeSets: { name: string | undefined; status: string | undefined; execution: string | undefined }[];
}

export const snapshotStage = async (world: World, stageRole: string): Promise<StageSnapshot> => {
  const stage = stageOf(world, stageRole);
  const [history, stack] = await Promise.all([
    parameterHistory(world, stage.ssmParameter),
    stackOf(world, stage.stack),
  ]);
  const changeSets = stack ? await changeSetsOf(world, stage.stack) : [];
  return {
    versions: history.map((v) => ({
      version: v.Version,
      value: v.Value,
      labels: [...(v.Labels ?? [])].sort(),
    })),
    stackStatus: stack?.StackStatus,
    artifactKey: artifactKeyOf(stack),
    changeSets: changeSets.map((c) => ({
      name: c.ChangeSetName,
      status: c.Status,
      execution: c.ExecutionStatus,
    })),
  };
};
