/**
 * Helpers for the reliability tests: a runtime whose clients talk to moto through the fault-injecting proxy
 * of bin/support/aws-proxy.ts (while the world is set up and read back straight from moto), what reached
 * moto through that proxy, seeded chance for repeatable shuffles and faults, a configuration with one
 * pipeline per stage, redelivery as Lambda's asynchronous retries would do it, and reading the release
 * objects and the SSM history's provenance back.
 */
import * as cloudformation from '@aws-sdk/client-cloudformation';
import * as s3 from '@aws-sdk/client-s3';
import * as sns from '@aws-sdk/client-sns';
import type { ParameterHistory } from '@aws-sdk/client-ssm';
import * as ssm from '@aws-sdk/client-ssm';
import { parse, stringify } from 'yaml';
import { type AwsProxy, type ForwardedCall, startAwsProxy } from '../../../bin/support/aws-proxy';
import { type Clients, createClients } from '../../../shared/aws/clients';
import { type Provenance, parseProvenance } from '../../../shared/aws/provenance';
import { parseConfig } from '../../../shared/edge/config';
import type { Runtime } from '../../../shared/runtime';
import { type Build, type StageWorld, uploadedBuild, type Worlds, worldsOfFile } from './file-setup';
import {
  type ConfigInput,
  createStackFor,
  type PipelineEventInput,
  pipelineEvent,
  REGION,
  RELEASE_PREFIX,
  stageOf,
  type World,
} from './world';

// ---- the proxy ----

/** SDK clients that reach moto through the proxy. */
export const proxiedClients = (proxy: AwsProxy): Clients =>
  createClients(REGION, { AWS_ENDPOINT_URL: proxy.endpoint });

/** The world's runtime (or another runtime of the world) with its clients going through the proxy. */
export const proxiedRuntime = (proxy: AwsProxy, runtime: Runtime): Runtime => ({
  ...runtime,
  clients: proxiedClients(proxy),
});

export const destroyClients = (clients: Clients): void => {
  for (const client of Object.values(clients)) client.destroy();
};

/** The fault proxy of one test file, and what the file makes with it: all gone after its tests. */
export interface ProxiedWorld extends StageWorld {
  /** The world's runtime, its clients going through the proxy. */
  runtime: Runtime;
}

export interface ProxyOfFile {
  /** The proxy (started before the file's tests). */
  readonly proxy: AwsProxy;
  /** The file's worlds (see worldsOfFile). */
  worlds: Worlds;
  /** SDK clients through the proxy (see proxiedClients). */
  clients(): Clients;
  /** Other clients the file made, destroyed with the rest after its tests. */
  adopt(clients: Clients): Clients;
  /** A runtime of the world (or another runtime of it) whose clients go through the proxy. */
  runtime(runtime: Runtime): Runtime;
  /** A new world whose dev stack runs an initial release, and its runtime through the proxy. */
  stageWorld(): Promise<ProxiedWorld>;
  /** A stageWorld with a new build uploaded, and the pipeline event of its execution. */
  withBuild(): Promise<ProxiedWorld & Build & { event: PipelineEventInput }>;
}

/**
 * Start the fault proxy for one test file: call it at the top level of the file. The proxy starts before
 * the file's tests, its faults are cleared after each test, and it is closed, with the clients and worlds
 * made through it, after them.
 */
export const proxyOfFile = (): ProxyOfFile => {
  let started: AwsProxy | undefined;
  const made: Clients[] = [];
  const worlds = worldsOfFile();
  beforeAll(async () => {
    started = await startAwsProxy(process.env.AWS_ENDPOINT_URL ?? '');
  });
  afterEach(() => {
    started?.setFaults({});
  });
  afterAll(async () => {
    for (const clients of made) destroyClients(clients);
    await started?.close();
  });
  const of: ProxyOfFile = {
    get proxy(): AwsProxy {
      if (!started) throw new Error('the proxy starts in beforeAll: use it inside tests and hooks');
      return started;
    },
    worlds,
    clients: () => of.adopt(proxiedClients(of.proxy)),
    adopt: (clients) => {
      made.push(clients);
      return clients;
    },
    runtime: (runtime) => ({ ...runtime, clients: of.clients() }),
    stageWorld: async () => {
      const base = await worlds.withStack();
      return { ...base, runtime: of.runtime(base.world.runtime) };
    },
    withBuild: async () => {
      const base = await of.stageWorld();
      const build = await uploadedBuild(base.world);
      return { ...base, ...build, event: pipelineEvent(base.world, build.execution) };
    },
  };
  return of;
};

/** The change set's name from an ExecuteChangeSet call, whether it named the change set or gave its ARN. */
export const changeSetNameOf = (call: ForwardedCall): string => {
  const named = String(call.params.ChangeSetName ?? '');
  return /:changeSet\/([^/]+)\//.exec(named)?.[1] ?? named;
};

/** Calls of one operation ("cloudformation.ExecuteChangeSet") about one stack that reached moto. */
export const forwardedFor = (proxy: AwsProxy, operation: string, stack: string): ForwardedCall[] =>
  proxy.forwarded().filter((c) => c.operation === operation && c.params.StackName === stack);

/** ExecuteChangeSet calls for the stack that moto accepted (HTTP 200). */
export const executedChangeSets = (proxy: AwsProxy, stack: string): ForwardedCall[] =>
  forwardedFor(proxy, 'cloudformation.ExecuteChangeSet', stack).filter((c) => c.status === 200);

/** How many times moto accepted an ExecuteChangeSet, per change set name, for the given stacks. */
export const executionsPerChangeSet = (proxy: AwsProxy, stacks: string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const call of proxy.forwarded()) {
    if (call.operation !== 'cloudformation.ExecuteChangeSet' || call.status !== 200) continue;
    if (!stacks.includes(String(call.params.StackName))) continue;
    const name = changeSetNameOf(call);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
};

/** The names the proxy gives S3 requests (bin/support/aws-proxy.ts names them by method and path). */
const PROXY_S3_NAMES = [
  'HeadBucket',
  'HeadObject',
  'ListObjectVersions',
  'ListObjects',
  'GetObject',
  'CreateBucket',
  'CopyObject',
  'PutObject',
  'DeleteBucket',
  'DeleteObject',
  'DeleteObjects',
  'PostObject',
];

const operationsOf = (service: string, module: Record<string, unknown>): string[] =>
  Object.keys(module)
    .filter((name) => name.endsWith('Command') && name !== 'Command' && name !== '$Command')
    .map((name) => `${service}.${name.slice(0, -'Command'.length)}`);

/**
 * Every operation of the four services the deployer uses, as the proxy names them ("ssm.PutParameter"),
 * except the given ones: the `spare` list that leaves only those faulted.
 */
export const everyOperationExcept = (...faulted: string[]): string[] =>
  [
    ...operationsOf('cloudformation', cloudformation),
    ...operationsOf('s3', s3),
    ...PROXY_S3_NAMES.map((name) => `s3.${name}`),
    ...operationsOf('sns', sns),
    ...operationsOf('ssm', ssm),
  ].filter((operation) => !faulted.includes(operation));

// ---- chance ----

/** A deterministic source of chance in [0, 1) (mulberry32), for repeatable shuffles and faults. */
export const seededRandom = (seed: number): (() => number) => {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

/** A shuffled copy (Fisher–Yates) of the items. */
export const shuffled = <T>(items: readonly T[], random: () => number): T[] => {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
};

// ---- configuration ----

/** The pipeline that feeds one stage of a world built with `runtimeWithPipelinePerStage`. */
export const pipelineOfStage = (world: World, role: string): string => `${world.pipeline}-${role}`;

/**
 * The world's runtime with every stage fed by its own pipeline (`pipelineOfStage`), so that one event
 * deploys to one stage, through the YAML and the schema as a deployed configuration would be.
 */
export const runtimeWithPipelinePerStage = (world: World, clients: Clients): Runtime => {
  const document = parse(world.configText) as ConfigInput;
  const stages = document.pipelines[world.pipeline]?.stages ?? {};
  const pipelines: ConfigInput['pipelines'] = {};
  for (const role of Object.keys(world.stages)) {
    const name = stageOf(world, role).name;
    const settings = stages[name];
    if (!settings) throw new Error(`stage ${name} is missing from the world's configuration`);
    pipelines[pipelineOfStage(world, role)] = { stages: { [name]: settings } };
  }
  return {
    settings: world.runtime.settings,
    config: parseConfig(stringify({ ...document, pipelines }), `world ${world.id} (a pipeline per stage)`),
    clients,
  };
};

// ---- a burst ----

/** A build of a burst, and the stage it is for. */
export interface StageBuild extends Build {
  role: string;
}

export interface Burst {
  world: World;
  /** Every stage's builds, oldest first within a stage. */
  builds: StageBuild[];
  /** The newest build of a stage. */
  newestOf(role: string): StageBuild;
  /**
   * The builds' pipeline events in an order shuffled by `random`, each from the pipeline of its own stage
   * (see runtimeWithPipelinePerStage).
   */
  shuffledEvents(random: () => number): { build: StageBuild; event: PipelineEventInput }[];
}

/**
 * A world of these stages, each with a stack on an initial release and `perStage` builds uploaded with
 * distinct bytes and increasing start times.
 */
export const burstWorld = async (worlds: Worlds, stages: string[], perStage: number): Promise<Burst> => {
  const world = await worlds.create(stages.map((name) => ({ name })));
  await Promise.all(stages.map((role) => createStackFor(world, role)));
  const builds = await Promise.all(
    stages.flatMap((role) =>
      Array.from(
        { length: perStage },
        async (_, k): Promise<StageBuild> => ({
          role,
          ...(await uploadedBuild(world, k, role)),
        }),
      ),
    ),
  );
  return {
    world,
    builds,
    newestOf: (role) => builds.filter((b) => b.role === role).at(-1) as StageBuild,
    shuffledEvents: (random) =>
      shuffled(builds, random).map((build) => ({
        build,
        event: pipelineEvent({ pipeline: pipelineOfStage(world, build.role) }, build.execution),
      })),
  };
};

// ---- delivery ----

export interface Delivery<T> {
  /** The result of each item's last delivery, in the items' order. */
  results: PromiseSettledResult<T>[];
  /** How many deliveries were made, retries included. */
  deliveries: number;
  /** Rounds of redelivery that were needed (0 when every first delivery succeeded). */
  retryRounds: number;
}

/**
 * Deliver every item at once; deliver the ones whose invocation threw again, all at once, for at most
 * `retries` more rounds, as Lambda's asynchronous invocation retries a failed event.
 */
export const deliverWithRetries = async <E, T>(
  items: readonly E[],
  invoke: (item: E) => Promise<T>,
  retries: number,
): Promise<Delivery<T>> => {
  const results: PromiseSettledResult<T>[] = new Array(items.length);
  let pending = items.map((_, i) => i);
  let deliveries = 0;
  let retryRounds = 0;
  for (let round = 0; round <= retries && pending.length > 0; round++) {
    if (round > 0) retryRounds = round;
    deliveries += pending.length;
    const settled = await Promise.allSettled(pending.map((i) => invoke(items[i] as E)));
    settled.forEach((outcome, n) => {
      results[pending[n] as number] = outcome;
    });
    pending = pending.filter((_, n) => settled[n]?.status === 'rejected');
  }
  return { results, deliveries, retryRounds };
};

/** Call `work` until it resolves, at most 1 + `retries` times; the last error is thrown. */
export const withRetries = async <T>(work: () => Promise<T>, retries: number): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= retries) throw error;
    }
  }
};

// ---- reading back ----

/** Every key under the world's release prefix. */
export const releaseKeys = async (world: World): Promise<string[]> => {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await world.clients.s3.send(
      new s3.ListObjectsV2Command({ Bucket: world.bucket, Prefix: RELEASE_PREFIX, ContinuationToken }),
    );
    keys.push(...(page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return keys.sort();
};

/** The provenance a version's description records (which execution wrote it, when it started). */
export const provenanceOf = (version: ParameterHistory): Provenance => parseProvenance(version.Description);

/** Whether the list of ISO times never goes back in time. */
export const isNonDecreasing = (times: (string | undefined)[]): boolean =>
  times.every((t, i) => i === 0 || Date.parse(t ?? '') >= Date.parse(times[i - 1] ?? ''));
