/**
 * Helpers for the "operating a stage" tests: the real command line (dist/bin/deployer.js, built once by
 * scripts/build.mjs) run against a world on moto, the world's configuration as a file, configuration
 * variants (promoteTo) with their YAML, versions recorded quickly without deploys, and provenance read back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { LabelParameterVersionCommand, type ParameterHistory } from '@aws-sdk/client-ssm';
import { parse, stringify } from 'yaml';
import { exampleBuild, uploadBuild } from '../../../bin/support/example-world';
import { parseConfig } from '../../../shared/config';
import { type Provenance, parseProvenance, writeDesired } from '../../../shared/desired-state';
import type { Runtime } from '../../../shared/runtime';
import { configuredStage } from './stack-events';
import { artifactKeyOf, changeSetsOf, parameterHistory, REGION, stackOf, stageOf, type World } from './world';

const ROOT = join(__dirname, '..', '..', '..');

// ---- the command line ----

/** What the bundle is built from: a change to any of these is a different command line. */
const SOURCE_DIRS = ['bin', 'shared', 'handlers', 'bench', 'scripts'];
const SOURCE_FILES = ['package.json', 'package-lock.json', 'tsconfig.json'];

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });

const sourceDigest = (): string => {
  const hash = createHash('sha256');
  const files = [
    ...SOURCE_DIRS.flatMap((dir) => filesUnder(join(ROOT, dir))),
    ...SOURCE_FILES.map((file) => join(ROOT, file)).filter((file) => existsSync(file)),
  ].sort();
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const runProcess = (
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

/** The environment of the repository's processes, without any AWS or deployer setting of this one. */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('AWS_') && !name.startsWith('DEPLOYER_') && name !== 'LOG_LEVEL',
    ),
  );

/** A finished bundle ends with its source map comment: a copy taken while esbuild writes does not. */
const isComplete = (file: string): boolean =>
  readFileSync(file, 'utf8').trimEnd().endsWith('//# sourceMappingURL=deployer.js.map');

/**
 * Build the command line with `node scripts/build.mjs` and return a private copy of dist/bin/deployer.js.
 * Test files running in parallel build one at a time (a lock directory), and each source state is built
 * once: the copy is named after a digest of the sources, so a later run of the same sources reuses it and
 * a changed source is built again. The copy keeps other builds (npm start's test) from changing the file
 * under a running command.
 */
export const buildCli = async (): Promise<string> => {
  const digest = sourceDigest();
  const cacheDir = join(tmpdir(), 'deployer-cli-tests');
  mkdirSync(cacheDir, { recursive: true });
  const cli = join(cacheDir, `deployer-${digest}.js`);
  if (existsSync(cli)) return cli;
  const lock = join(cacheDir, 'build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run is older than any build takes.
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`the CLI build lock ${lock} stayed taken`);
      await sleep(250);
    }
  }
  try {
    if (existsSync(cli)) return cli;
    for (let attempt = 1; ; attempt++) {
      const build = await runProcess(process.execPath, ['scripts/build.mjs'], cleanEnv(), 120_000);
      if (build.code !== 0) throw new Error(`node scripts/build.mjs failed (${build.code}): ${build.stderr}`);
      const partial = `${cli}.${process.pid}.tmp`;
      copyFileSync(join(ROOT, 'dist', 'bin', 'deployer.js'), partial);
      if (isComplete(partial)) {
        renameSync(partial, cli);
        // Builds of earlier source states are of no further use.
        for (const file of readdirSync(cacheDir)) {
          if (/^deployer-[0-9a-f]{16}\.js$/.test(file) && join(cacheDir, file) !== cli)
            rmSync(join(cacheDir, file), { force: true });
        }
        return cli;
      }
      rmSync(partial, { force: true });
      if (attempt >= 3) throw new Error('dist/bin/deployer.js kept changing while it was copied');
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
};

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliWorld {
  cli: string;
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

/** Run `node <cli> <args…>` as a person would; `env` replaces the default environment's entries. */
export const runCli = (
  { cli, world, configFile }: CliWorld,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> => runProcess(process.execPath, [cli, ...args], cliEnv(world, configFile, env), 60_000);

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

/** A content-named release key of the stage for a made-up digest (no object behind it). */
export const fakeReleaseKey = (world: World, seed: string): string =>
  `${stageOf(world).releasePrefix}${createHash('sha256').update(`${world.id}:${seed}`).digest('hex')}.zip`;

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
    const version = await writeDesired(world.clients.ssm, stage, spec.key, spec.provenance, true);
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
export const uploadRelease = async (world: World, key: string, variant = key): Promise<void> => {
  await uploadBuild(world.clients.s3, { bucket: world.bucket, key, bytes: exampleBuild(variant) });
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
