/**
 * Reliability when AWS's answer is lost after AWS acted (issue 10, "Tests that prove it"). The fault proxy
 * forwards the request to moto, moto acts, and the caller gets a 500 or a reset connection instead of the
 * answer: the SDK (or the deployer) cannot tell whether the write happened.
 *
 * 1. One pipeline event through the deploy path, with the answer of exactly one write lost (`next: 1`), for
 *    every write the deployer makes: the stage lock (taken, renewed before the execute, released), the
 *    release copy, the SSM version and its labels, the change set's create and execute, and the message.
 *    The end state is read back straight from moto: one SSM version, one created and one executed change
 *    set, the lock gone, the stack on the release, one message.
 *    Then a lost answer whose read-back fails too (a second fault): the lock taken, and the change set
 *    executed, each by an invocation that then fails; its redelivery must neither wait for a lease of its
 *    own nor leave the deploy unreported.
 * 2. Lost answers on all of those writes at once, mixed with the 20 % of faults of reliability-faults.test.ts
 *    (throttling, 503s, dropped connections), 30 events over 5 stages delivered at once and redelivered when
 *    an invocation fails: every stage converges, with 0 self-locks, 0 duplicate SSM versions, 0 double
 *    executions and 1 message per outcome.
 *
 * No assertion depends on timing; the timeouts are generous (a loaded machine, two checkouts at once).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ParameterHistory } from '@aws-sdk/client-ssm';
import {
  type AwsProxy,
  type Faults,
  type ForwardedCall,
  type LostAs,
  startAwsProxy,
} from '../../bin/support/aws-proxy';
import { lockKey, readStageLock } from '../../shared/aws/stage-lock';
import { changeSetName, desiredVersionOfChangeSet, executionLabel } from '../../shared/names';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { type Build, uploadedBuild } from './helpers/file-setup';
import {
  burstWorld,
  changeSetNameOf,
  deliverWithRetries,
  destroyClients,
  everyOperationExcept,
  executedChangeSets,
  executionsPerChangeSet,
  forwardedFor,
  type ProxiedWorld,
  provenanceOf,
  proxiedClients,
  proxyOfFile,
  runtimeWithPipelinePerStage,
  type StageBuild,
  seededRandom,
} from './helpers/reliability';
import { configuredStage } from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  inbox,
  objectExists,
  objectMetadata,
  oneLedgerRequestAtATime,
  type PipelineEventInput,
  parameterHistory,
  pipelineEvent,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

/**
 * A deploy takes seconds. The bound leaves room for a loaded machine and for the failure this file guards
 * against: a writer waiting for its own lease gives up only after the lock's 150 s wait.
 */
jest.setTimeout(300_000);

/** Faults are cleared after each test (see proxyOfFile). */
const aws = proxyOfFile();

const LOSSES: LostAs[] = ['serverError', 'reset'];

/** S3 calls name their object by path: "/bucket/key". */
const s3Path = (world: World, key: string): string => `/${world.bucket}/${key}`;

/** One deploy, its world (the deployer's runtime through the proxy) and what it should end on. */
interface Deploy extends ProxiedWorld, Build {
  event: PipelineEventInput;
  /** The change set the deploy makes: the stage's desired version 2. */
  changeSet: string;
  lockPath: string;
}

/** A world whose dev stack runs an initial release (SSM version 1), with one new build uploaded. */
const setUp = async (): Promise<Deploy> => {
  const deploy = await aws.withBuild();
  return {
    ...deploy,
    changeSet: changeSetName(deploy.stage.name, 2),
    lockPath: s3Path(deploy.world, lockKey(configuredStage(deploy.world))),
  };
};

type Next = (args: { input: object }) => Promise<unknown>;
interface Stacked {
  middlewareStack: {
    add(
      middleware: (next: Next, context: { commandName?: string }) => Next,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/**
 * Set the proxy's faults as the first call that `matches` leaves the client: the proxy names calls by
 * operation only, so a fault meant for one particular call is armed when that call is sent. `initialize`
 * runs once per call, not per retry.
 */
const armWhen = (
  client: object,
  matches: (command: string, input: Record<string, unknown>) => boolean,
  faults: Faults,
): void => {
  let armed = false;
  (client as Stacked).middlewareStack.add(
    (next, context) => async (args) => {
      if (!armed && matches(context.commandName ?? '', args.input as Record<string, unknown>)) {
        armed = true;
        aws.proxy.setFaults(faults);
      }
      return next(args);
    },
    { step: 'initialize', name: 'armFaultsForOneCall' },
  );
};

/**
 * Lose the answer of the lock's renewal, the fencing write right before ExecuteChangeSet: a PutObject on the
 * lock key under If-Match (taking the lock uses If-None-Match).
 */
const loseRenewal = (s3: S3Client, key: string, as: LostAs): void =>
  armWhen(
    s3,
    (command, input) => command === 'PutObjectCommand' && input.Key === key && Boolean(input.IfMatch),
    { lost: { 's3.PutObject': { next: 1, as } } },
  );

interface LostWrite {
  /** What the write does, for the test's name. */
  write: string;
  operation: string;
  /** Whether a call that reached moto is the write meant. */
  meant: (call: ForwardedCall, deploy: Deploy) => boolean;
  /** Arm the fault only as this write leaves the client (otherwise: the operation's next call). */
  renewal?: boolean;
}

const LOST_WRITES: LostWrite[] = [
  {
    write: 'taking the stage lock',
    operation: 's3.PutObject',
    meant: (call, d) => call.params.path === d.lockPath,
  },
  {
    write: 'renewing the stage lock right before the execute (fencing)',
    operation: 's3.PutObject',
    meant: (call, d) => call.params.path === d.lockPath,
    renewal: true,
  },
  {
    write: 'releasing the stage lock',
    operation: 's3.DeleteObject',
    meant: (call, d) => call.params.path === d.lockPath,
  },
  {
    write: 'copying the build to its release key',
    operation: 's3.CopyObject',
    meant: (call, d) => call.params.path === s3Path(d.world, d.releaseKey),
  },
  {
    write: 'recording the desired version',
    operation: 'ssm.PutParameter',
    meant: (call, d) => call.params.Name === d.stage.ssmParameter,
  },
  {
    write: 'labelling the recorded version',
    operation: 'ssm.LabelParameterVersion',
    meant: (call, d) => call.params.Name === d.stage.ssmParameter && call.params.ParameterVersion === 2,
  },
  {
    write: 'creating the change set',
    operation: 'cloudformation.CreateChangeSet',
    meant: (call, d) => call.params.StackName === d.stage.stack && call.params.ChangeSetName === d.changeSet,
  },
  {
    write: 'executing the change set',
    operation: 'cloudformation.ExecuteChangeSet',
    meant: (call, d) => call.params.StackName === d.stage.stack && changeSetNameOf(call) === d.changeSet,
  },
  {
    write: 'publishing the message',
    operation: 'sns.Publish',
    meant: (call, d) => call.params.TopicArn === d.world.topicArn,
  },
];

const CASES = LOST_WRITES.flatMap((lost) =>
  LOSSES.map((as) => ({ ...lost, as, name: `${lost.write} (${lost.operation})` })),
);

/** The operations that write, as the proxy names them: the sequence a failure report quotes. */
const WRITES = new Set([
  's3.PutObject',
  's3.DeleteObject',
  's3.CopyObject',
  'ssm.PutParameter',
  'ssm.LabelParameterVersion',
  'cloudformation.CreateChangeSet',
  'cloudformation.ExecuteChangeSet',
  'sns.Publish',
]);

/** "ssm.PutParameter 200 (lost: reset)": the writes that reached moto, in order. */
const writeSequence = (calls: ForwardedCall[]): string[] =>
  calls
    .filter((c) => WRITES.has(c.operation))
    .map((c) => `${c.operation} ${c.status}${c.lost ? ` (lost: ${c.lost})` : ''}`);

describe('one write, its answer lost once after AWS acted: the deploy still happens exactly once', () => {
  test.each(CASES)('$name, lost as $as', async ({ operation, as, meant, renewal }) => {
    const deploy = await setUp();
    const { world, stage, initialKey, execution, releaseKey, changeSet, runtime } = deploy;
    aws.proxy.reset();
    if (renewal) loseRenewal(runtime.clients.s3, lockKey(configuredStage(world)), as);
    else aws.proxy.setFaults({ lost: { [operation]: { next: 1, as } } });

    const summary = await handlePipelineEvent(runtime, structuredClone(deploy.event));
    const calls = aws.proxy.forwarded();
    const injected = aws.proxy.injected();
    aws.proxy.setFaults({});
    console.log(`${operation} lost as ${as}: ${writeSequence(calls).join(', ')}`);

    // The fault fired, once, on the write meant, after moto acted (moto's own answer was a success).
    expect(injected).toEqual({ throttle: 0, serverError: 0, drop: 0, lost: 1 });
    const lost = calls.filter((c) => c.lost);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ operation, lost: as });
    expect(meant(lost[0] as ForwardedCall, deploy)).toBe(true);
    expect(lost[0]?.status).toBeGreaterThanOrEqual(200);
    expect(lost[0]?.status).toBeLessThan(300);

    // The deploy went through, and said so.
    expect(summary.stages).toEqual([
      expect.objectContaining({
        outcome: 'deploying',
        recorded: 'recorded',
        releaseKey,
        desiredVersion: 2,
        changeSet,
        notified: true,
      }),
    ]);
    // The release object, once, under its content-named key, naming its execution.
    expect((await objectMetadata(world, releaseKey))['pipeline-execution-id']).toBe(execution.executionId);
    // Exactly one SSM version for the execution: no second version with the same content.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value, provenanceOf(v).execution])).toEqual([
      [1, initialKey, 'initial-release'],
      [2, releaseKey, execution.executionId],
    ]);
    expect(history[1]?.Labels).toContain(executionLabel(execution.executionId));
    // One change set of that name made (moto would accept the same name twice), one executed.
    const created = forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack).filter(
      (c) => c.status === 200 && c.params.ChangeSetName === changeSet,
    );
    expect(created).toHaveLength(1);
    expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([changeSet]);
    // The stack runs the release; the stage is free.
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect(await objectExists(world, lockKey(configuredStage(world)))).toBe(false);
    // One message for the outcome.
    const messages = await inbox(world);
    expect(messages.map((m) => m.attributes.outcome)).toEqual(['deploying']);
    expect(bodyField(messages[0]?.body ?? '', 'Pipeline')).toBe(
      `${world.pipeline}, execution ${execution.executionId}`,
    );
  });
});

describe('a lost answer whose read-back fails too (a second fault)', () => {
  /** How a deploy invocation fails when its stage could not be deployed: thrown, so Lambda retries it. */
  const STAGE_FAILED = /failed for 1 of 1 stage/;

  // The lease lands, its answer is lost, and the read-back that would recognise it (GetObject) fails after
  // the SDK's retries. The failing attempt deletes its own lease on the way out (If-Match the MD5 of its own
  // bytes), so its redelivery is not locked out by it for LEASE_MS (as it was: "locked by <its own execution>").
  test.each(LOSSES)(
    'taking the stage lock, lost as %s, every GetObject throttled: the failed invocation leaves no lease; its redelivery deploys',
    async (as) => {
      const deploy = await setUp();
      const { world, stage, execution, releaseKey, lockPath, runtime } = deploy;
      aws.proxy.reset();
      aws.proxy.setFaults({
        lost: { 's3.PutObject': { next: 1, as } },
        throttle: 1,
        spare: everyOperationExcept('s3.GetObject'),
      });

      await expect(handlePipelineEvent(runtime, structuredClone(deploy.event))).rejects.toThrow(STAGE_FAILED);
      const calls = aws.proxy.forwarded();
      aws.proxy.setFaults({});
      console.log(`lock acquire lost as ${as}, read-back throttled: ${writeSequence(calls).join(', ')}`);

      // The lease landed (moto answered 200) and its answer was lost; nothing was recorded or deployed.
      expect(calls.filter((c) => c.lost)).toEqual([
        expect.objectContaining({
          operation: 's3.PutObject',
          status: 200,
          lost: as,
          params: { path: lockPath },
        }),
      ]);
      expect(aws.proxy.injected().throttle).toBeGreaterThan(0);
      expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toEqual([]);
      // The stage is not held by the invocation that failed.
      const left = await readStageLock(world.clients.s3, configuredStage(world));
      expect(left && !left.expired ? left : undefined).toBeUndefined();

      // Delivered again (as Lambda retries it), the event deploys at once.
      const summary = await handlePipelineEvent(runtime, structuredClone(deploy.event));
      expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey, notified: true });
      expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([deploy.changeSet]);
      expect((await parameterHistory(world, stage.ssmParameter)).filter(isDeployerVersion)).toHaveLength(1);
      expect(await objectExists(world, lockKey(configuredStage(world)))).toBe(false);
      const messages = await inbox(world);
      expect(messages.map((m) => m.attributes.outcome)).toEqual(['deploying']);
      expect(messages[0]?.body).toContain(execution.executionId);
    },
  );

  // The change set is executed, its answer lost, and the read-back (DescribeChangeSet) fails after the SDK's
  // retries, so the invocation fails before its message goes out. A newer build is recorded and deployed
  // before Lambda delivers the event again; the redelivery, 'superseded', still reports its own unlabelled
  // version once (SUPERSEDED) and labels it — before, the ops team never heard of a deploy that happened.
  test.each(LOSSES)(
    'executing the change set, lost as %s, every DescribeChangeSet after it throttled, a newer build deployed before the redelivery: the executed deploy is still reported, once',
    async (as) => {
      const deploy = await setUp();
      const { world, stage, execution, releaseKey, runtime } = deploy;
      aws.proxy.reset();
      armWhen(runtime.clients.cfn, (command) => command === 'ExecuteChangeSetCommand', {
        lost: { 'cloudformation.ExecuteChangeSet': { next: 1, as } },
        throttle: 1,
        spare: everyOperationExcept('cloudformation.DescribeChangeSet'),
      });

      await expect(handlePipelineEvent(runtime, structuredClone(deploy.event))).rejects.toThrow(STAGE_FAILED);
      aws.proxy.setFaults({});
      console.log(
        `execute lost as ${as}, read-back throttled: ${writeSequence(aws.proxy.forwarded()).join(', ')}`,
      );

      // The change set was executed (its answer lost): the stack runs the release, nobody was told.
      expect(aws.proxy.forwarded().filter((c) => c.lost)).toEqual([
        expect.objectContaining({ operation: 'cloudformation.ExecuteChangeSet', status: 200, lost: as }),
      ]);
      expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([deploy.changeSet]);
      expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(releaseKey);

      // A newer build arrives and deploys; then the failed event is delivered again.
      const { execution: newer, releaseKey: newerKey } = await uploadedBuild(world, 1);
      const second = await handlePipelineEvent(runtime, pipelineEvent(world, newer));
      expect(second.stages[0]).toMatchObject({
        outcome: 'deploying',
        desiredVersion: 3,
        releaseKey: newerKey,
      });
      await handlePipelineEvent(runtime, structuredClone(deploy.event));

      const messages = await inbox(world);
      const about = (id: string) =>
        messages.filter((m) => bodyField(m.body, 'Pipeline')?.endsWith(`execution ${id}`));
      expect(about(newer.executionId).map((m) => m.attributes.outcome)).toEqual(['deploying']);
      expect(about(execution.executionId)).toHaveLength(1);
    },
  );
});

// ---- lost answers mixed with the 20 % of faults, 30 events over 5 stages at once ----

const STAGES = ['s1', 's2', 's3', 's4', 's5'];
const BUILDS_PER_STAGE = 6;
/** About a fifth of the requests faulted, as in reliability-faults.test.ts (drop, then throttle, then 5xx). */
const FAULTS = { throttle: 0.08, serverError: 0.06, drop: 0.06 };
/**
 * The share of each write's answers lost after moto acted (of the calls the faults above let through), as a
 * 500 or a reset drawn per call; the first call of each write loses its answer whatever the draw, so that
 * every kind of write is proven to have lost one.
 */
const LOST_RATE = 0.15;
const LOST_ANSWERS = Object.fromEntries(
  [...WRITES].map((operation) => [operation, { next: 1, rate: LOST_RATE, as: 'either' as const }]),
);
const SEED = 20_261_201;
/**
 * The publishes are few (one per deploy, ~12) and only they draw from this seed: its first draws lose three
 * answers (as a 500 and as a reset), and throttle or 503 four publishes, whatever order the stages go in.
 */
const SNS_SEED = SEED + 8;
/** Lambda retries a failed asynchronous invocation; the test allows more rounds than Lambda's two. */
const REDELIVERY_ROUNDS = 4;

/** A failed invocation: the build it carried and why it failed. */
interface Failure {
  build: StageBuild;
  message: string;
}

const isDeployerVersion = (version: ParameterHistory): boolean =>
  provenanceOf(version).execution !== 'initial-release';

/** The items that occur more than once, with their counts. */
const repeated = (items: string[]): [string, number][] => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].filter(([, count]) => count > 1);
};

const tally = (items: string[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
};

describe(`${STAGES.length * BUILDS_PER_STAGE} pipeline events over ${STAGES.length} stages, ${LOST_RATE * 100}% of every write's answers lost, 20% of all calls faulted`, () => {
  let snsProxy: AwsProxy | undefined;
  afterAll(async () => {
    await snsProxy?.close();
  });

  test('every stage converges: 0 self-locks, 0 duplicate SSM versions, 0 double executions, 1 message per outcome', async () => {
    const burst = await burstWorld(aws.worlds, STAGES, BUILDS_PER_STAGE);
    const { world: w, builds, newestOf } = burst;
    const buildOf = new Map(builds.map((b) => [b.execution.executionId, b]));

    // SNS gets a proxy of its own, faulted like the other but without dropped connections. A dropped
    // connection never reached SNS, yet the deployer cannot tell it from an answer lost after SNS acted, and
    // it counts an ambiguous publish as sent (SNS cannot be asked whether a message went out; a second copy
    // would be a duplicate email). A dropped Publish would therefore be a message lost by the test's own
    // doing. Publish keeps its throttles, 503s (both prove nothing was sent: retried) and lost answers.
    snsProxy = await startAwsProxy(process.env.AWS_ENDPOINT_URL ?? '');
    const viaSns = snsProxy;
    // Each delivery runs with SDK clients of its own, as each concurrent Lambda invocation has its own
    // process. The SDK's standard retries draw on a retry quota per client (500 tokens, 5 or 10 per retry);
    // 30 invocations sharing one client set would drain it within the burst, and then fail every call on
    // its first fault: a starvation Lambda does not have. The notification ledger's client (DynamoDB: the
    // LOCKED reports) is shared and sends one request at a time, as the world's own does: moto does not make
    // concurrent conditional writes on one item atomic, DynamoDB does (see oneLedgerRequestAtATime).
    const ledgerClients = aws.clients();
    oneLedgerRequestAtATime(ledgerClients.ddb);
    const invocationRuntime = () => {
      const viaProxy = proxiedClients(aws.proxy);
      const viaSnsProxy = proxiedClients(viaSns);
      const runtime = runtimeWithPipelinePerStage(w, {
        cfn: viaProxy.cfn,
        ssm: viaProxy.ssm,
        s3: viaProxy.s3,
        ddb: ledgerClients.ddb,
        sns: viaSnsProxy.sns,
        cw: viaProxy.cw,
        codedeploy: viaProxy.codedeploy,
        remote: viaProxy.remote,
      });
      return {
        runtime,
        done: () => {
          destroyClients(viaProxy);
          destroyClients(viaSnsProxy);
        },
      };
    };
    const random = seededRandom(SEED);
    const events = burst.shuffledEvents(random);

    aws.proxy.reset();
    snsProxy.reset();
    const { 'sns.Publish': publishLost, ...otherLost } = LOST_ANSWERS;
    aws.proxy.setFaults({ ...FAULTS, random, lost: otherLost });
    snsProxy.setFaults({
      throttle: FAULTS.throttle,
      serverError: FAULTS.serverError,
      random: seededRandom(SNS_SEED),
      ...(publishLost ? { lost: { 'sns.Publish': publishLost } } : {}),
    });
    const failures: Failure[] = [];
    const delivery = await deliverWithRetries(
      events,
      async ({ build, event }) => {
        const { runtime, done } = invocationRuntime();
        try {
          return await handlePipelineEvent(runtime, structuredClone(event));
        } catch (error) {
          failures.push({ build, message: error instanceof Error ? error.message : String(error) });
          throw error;
        } finally {
          done();
        }
      },
      REDELIVERY_ROUNDS,
    );
    const calls = [...aws.proxy.forwarded(), ...snsProxy.forwarded()];
    const injected = aws.proxy.injected();
    const injectedSns = snsProxy.injected();
    const total = aws.proxy.total() + snsProxy.total();
    aws.proxy.setFaults({});
    snsProxy.setFaults({});

    // ---- read back from moto ----
    const divergent: string[] = [];
    for (const role of STAGES) {
      const stage = stageOf(w, role);
      const newest = newestOf(role);
      const live = artifactKeyOf(await stackOf(w, stage.stack));
      const owner = live ? (await objectMetadata(w, live))['pipeline-execution-id'] : undefined;
      if (live !== newest.releaseKey || owner !== newest.execution.executionId)
        divergent.push(`${role}: runs ${live} (execution ${owner}), newest ${newest.releaseKey}`);
    }
    const histories = new Map<string, ParameterHistory[]>();
    for (const role of STAGES) histories.set(role, await parameterHistory(w, stageOf(w, role).ssmParameter));
    const locked = await Promise.all(
      STAGES.map(async (role) => ((await objectExists(w, lockKey(configuredStage(w, role)))) ? role : '')),
    );

    // Self-locks: an invocation that gave up on a lease held by its own execution ("locked by "deploy
    // <its execution id>""): its own write whose answer was lost, not recognised as its own. Lock failures
    // naming another holder are a slow machine, not a fault of the lock; they are counted and shown.
    const selfLocks = failures.filter((f) =>
      f.message.includes(`locked by "deploy ${f.build.execution.executionId}"`),
    );
    const lockFailures = failures.filter((f) => /is locked by|stayed locked|no longer ours/.test(f.message));

    // Duplicate SSM versions: two versions of one stage written for the same execution, or by the same write
    // (its token, which only one PutParameter carries).
    const duplicateVersions = STAGES.flatMap((role) => {
      const written = (histories.get(role) ?? []).filter(isDeployerVersion);
      return [
        ...repeated(written.map((v) => `${role} execution ${provenanceOf(v).execution}`)),
        ...repeated(written.map((v) => `${role} write ${provenanceOf(v).write}`)),
      ];
    });

    // Double executions: a change set (named after its stage and desired version) that moto accepted an
    // ExecuteChangeSet for more than once. A lost answer is still an accepted execution.
    const stacks = STAGES.map((role) => stageOf(w, role).stack);
    const executions = executionsPerChangeSet(aws.proxy, stacks);
    const doubleExecutions = [...executions].filter(([, count]) => count > 1);
    const creates = calls.filter(
      (c) =>
        c.operation === 'cloudformation.CreateChangeSet' &&
        c.status === 200 &&
        stacks.includes(String(c.params.StackName)),
    );

    // 1 message per outcome. The outcome of a deploy is what one build (one pipeline execution) did in one
    // stage; each message of the deploy path names its stage (attribute), its outcome (attribute and subject
    // word), its commit (subject) and its execution (the "Pipeline" line). So:
    //  (a) no two messages share a subject ("[stage] stack OUTCOME commit"), nor a stage, an outcome and an
    //      execution: no outcome was reported twice;
    //  (b) every build whose change set moto executed was reported: a message names its execution. Its
    //      delivery reports DEPLOYING; when that delivery failed after the execute and before its report,
    //      the redelivery reports what it then finds (IN SYNC here; on AWS, WAITING while the stack
    //      updates), as the README's "SNS down after a deploy" row says: a deploy is never left unreported;
    //  (c) every message names a build its stage recorded in SSM: a build that arrived after a newer one
    //      (superseded, never recorded) is not announced.
    // A stage whose lock did not come free in time (a slow machine, or a lease left behind) is reported as
    // LOCKED once per lease, whichever writers gave up on it: its outcome is the lease (stage and "since"),
    // and no two LOCKED messages may name the same one.
    const messages = await inbox(w);
    const described = messages.map((m) => {
      const role = STAGES.find((r) => stageOf(w, r).name === m.attributes.stage) ?? '?';
      const outcome = m.attributes.outcome ?? '?';
      if (outcome === 'locked') {
        const since = / since (\S+) until /.exec(bodyField(m.body, 'Locked by') ?? '')?.[1] ?? '?';
        return { role, outcome, execution: undefined, subject: `${m.subject} (lease since ${since})` };
      }
      const execution = /execution (\S+)$/.exec(bodyField(m.body, 'Pipeline') ?? '')?.[1] ?? '?';
      return { role, outcome, execution, subject: m.subject };
    });
    const deployReports = described.filter((m) => m.execution !== undefined);
    const repeatedSubjects = repeated(described.map((m) => m.subject));
    const repeatedOutcomes = repeated(deployReports.map((m) => `${m.role} ${m.outcome} ${m.execution}`));
    const unreported: string[] = [];
    for (const role of STAGES) {
      const stage = stageOf(w, role);
      for (const [name] of executions) {
        const version = desiredVersionOfChangeSet(stage.name, name);
        if (version === undefined) continue;
        const recorded = (histories.get(role) ?? []).find((v) => v.Version === version);
        const execution = recorded ? provenanceOf(recorded).execution : undefined;
        if (!execution || !deployReports.some((m) => m.role === role && m.execution === execution))
          unreported.push(`${name} (execution ${execution}): executed, never reported`);
      }
    }
    const unrecorded = deployReports.filter(
      (m) =>
        !(histories.get(m.role) ?? []).some(
          (v) => isDeployerVersion(v) && provenanceOf(v).execution === m.execution,
        ),
    );
    const buildsWithSeveralMessages = repeated(deployReports.map((m) => `${m.role} ${m.execution}`));

    // For a stage that broke a rule: its writes that reached moto, in order (the evidence a report quotes).
    const writesOf = (role: string): string => {
      const stage = stageOf(w, role);
      const ours = (c: ForwardedCall) =>
        c.params.StackName === stage.stack ||
        c.params.Name === stage.ssmParameter ||
        String(c.params.path).includes(`/${stage.name}`) ||
        String(c.params.Subject ?? '').startsWith(`[${stage.name}]`);
      return calls
        .filter((c) => WRITES.has(c.operation) && ours(c))
        .map((c) => {
          const what =
            c.params.ChangeSetName !== undefined
              ? ` ${changeSetNameOf(c)}`
              : c.params.ParameterVersion !== undefined
                ? ` v${c.params.ParameterVersion}`
                : c.params.Subject !== undefined
                  ? ` "${c.params.Subject}"`
                  : c.params.path !== undefined
                    ? ` ${String(c.params.path).split('/').slice(2).join('/')}`
                    : '';
          return `${c.operation}${what} ${c.status}${c.lost ? ` (lost: ${c.lost})` : ''}`;
        })
        .join('\n      ');
    };
    const brokenStages = new Set([
      ...unreported.map((u) => STAGES.find((r) => u.startsWith(`deploy-${stageOf(w, r).name}-v`)) ?? ''),
      ...selfLocks.map((f) => f.build.role),
      ...duplicateVersions.map(([key]) => key.split(' ')[0] ?? ''),
      ...repeatedOutcomes.map(([key]) => key.split(' ')[0] ?? ''),
    ]);
    brokenStages.delete('');

    const lockWrites = calls.filter(
      (c) => c.operation === 's3.PutObject' && String(c.params.path).includes('/.deployer/locks/'),
    );
    const lostAnswers = tally(calls.filter((c) => c.lost).map((c) => `${c.operation}/${c.lost}`));
    console.log(
      [
        `lost responses: ${events.length} events, ${total} calls, injected ${JSON.stringify({
          throttle: injected.throttle + injectedSns.throttle,
          serverError: injected.serverError + injectedSns.serverError,
          drop: injected.drop + injectedSns.drop,
          lost: injected.lost + injectedSns.lost,
        })}`,
        `lost answers by write: ${JSON.stringify(lostAnswers)}`,
        `lock writes ${lockWrites.length} (moto answered ${JSON.stringify(tally(lockWrites.map((c) => String(c.status))))}, answers lost ${lockWrites.filter((c) => c.lost).length})`,
        `deliveries ${delivery.deliveries} (redelivered ${delivery.deliveries - events.length}, rounds ${delivery.retryRounds}), failed invocations ${failures.length}, lock failures ${lockFailures.length}, self-locks ${selfLocks.length}`,
        `converged ${STAGES.length - divergent.length}/${STAGES.length}, SSM versions ${STAGES.map((r) => (histories.get(r) ?? []).filter(isDeployerVersion).length).join('+')}, duplicate versions ${duplicateVersions.length}`,
        `change sets created ${creates.length} (names created twice: ${repeated(creates.map((c) => String(c.params.ChangeSetName))).length}), executed ${[...executions.values()].reduce((a, b) => a + b, 0)}, double executions ${doubleExecutions.length}`,
        `messages ${JSON.stringify(tally(described.map((m) => m.outcome)))}, repeated subjects ${repeatedSubjects.length}, builds with several messages ${buildsWithSeveralMessages.length}`,
        ...failures.map((f) => `  failure (${f.build.role}, ${f.build.execution.executionId}): ${f.message}`),
        ...unreported.map((u) => `  unreported: ${u}`),
        ...[...brokenStages].map((role) => `  writes of stage ${role}:\n      ${writesOf(role)}`),
      ].join('\n'),
    );

    // The faults fired, and every kind of write lost answers.
    expect(injected.throttle + injected.serverError + injected.drop).toBeGreaterThan(0);
    expect(
      [...WRITES].filter((operation) => !calls.some((c) => c.operation === operation && c.lost)),
    ).toEqual([]);
    // Every event was handled in the end.
    expect(delivery.results.filter((r) => r.status === 'rejected')).toEqual([]);
    // Every stage converged on its newest build, and is free.
    expect(divergent).toEqual([]);
    expect(locked.filter(Boolean)).toEqual([]);
    expect(selfLocks.map((f) => f.message)).toEqual([]);
    expect(duplicateVersions).toEqual([]);
    expect(doubleExecutions).toEqual([]);
    expect(repeatedSubjects).toEqual([]);
    expect(repeatedOutcomes).toEqual([]);
    expect(unreported).toEqual([]);
    expect(unrecorded).toEqual([]);
    // Each stage's history ends with its newest build, recorded once.
    for (const role of STAGES) {
      const recorded = (histories.get(role) ?? []).filter(isDeployerVersion);
      expect(recorded.at(-1) && provenanceOf(recorded.at(-1) as ParameterHistory).execution).toBe(
        newestOf(role).execution.executionId,
      );
      for (const version of recorded) expect(buildOf.has(provenanceOf(version).execution ?? '')).toBe(true);
    }
  }, 900_000);
});
