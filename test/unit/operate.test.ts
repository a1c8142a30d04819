/**
 * Operating a stage with the SDK mocked: how findRollbackTarget chooses a release, and every refusal of
 * rollback, approve, reject and promote — each throws RefusedError and writes nothing (no PutParameter, no
 * label, no change set created, executed or deleted, no copy, no message). Each refusal has a positive
 * control beside it, so that "nothing was written" is not true merely because the mocks could not write.
 *
 * The configuration is the repository's: dev deploys on its own, prod requires approval.
 */
import {
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  ExecuteChangeSetCommand,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import {
  LabelParameterVersionCommand,
  type ParameterHistory,
  PutParameterCommand,
  type PutParameterCommandInput,
  UnlabelParameterVersionCommand,
} from '@aws-sdk/client-ssm';
import { PermanentError } from '../../shared/errors';
import {
  approve,
  findRollbackTarget,
  promote,
  RefusedError,
  reject,
  rollback,
  stageStatus,
} from '../../shared/operate';
import type { ReleaseVersion } from '../../shared/release-history';
import type { Runtime } from '../../shared/runtime';
import { awsError, makeRuntime, rejectionOf, stageOf, thrownBy } from './helpers/fixtures';
import {
  givenStackWorld,
  liveStack,
  NEW_KEY,
  NEWER_KEY,
  PARAMETERS,
  publishedMessages,
  type StackWorld,
  version,
} from './helpers/stack-world';
import { expectNoAwsCall, type Mocks, mockAll, notFound, OLD_KEY, resetAll } from './helpers/world';

const mocks = mockAll();

const key = (n: number): string => `releases/orders-api/${n.toString(16).padStart(64, 'c')}.zip`;
const commit = (n: number): string => `${n.toString(16).padStart(7, 'e')}${'f'.repeat(33)}`;

// ---------------------------------------------------------------------------------------------------------
// findRollbackTarget: a pure choice over the history (oldest first)
// ---------------------------------------------------------------------------------------------------------

const release = (
  n: number,
  releaseKey: string,
  options: { commit?: string; failed?: boolean; labels?: string[] } = {},
): ReleaseVersion => ({
  version: n,
  key: releaseKey,
  labels: [...(options.labels ?? []), ...(options.failed ? [`failed-v${n}`] : [])],
  provenance: { execution: `exec-${n}`, ...(options.commit ? { commit: options.commit } : {}) },
  failed: options.failed ?? false,
});

const refusalOf = (run: () => unknown): string => {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(RefusedError);
  expect(error).toBeInstanceOf(PermanentError);
  return error.message;
};

describe('findRollbackTarget', () => {
  describe("'previous'", () => {
    it('is the newest earlier release', () => {
      const history = [release(1, key(1)), release(2, key(2)), release(3, key(3))];
      expect(findRollbackTarget(history, 'previous').version).toBe(2);
    });

    it('skips releases whose deploy failed', () => {
      const history = [
        release(1, key(1)),
        release(2, key(2), { failed: true }),
        release(3, key(3), { failed: true }),
        release(4, key(4)),
      ];
      expect(findRollbackTarget(history, 'previous')).toMatchObject({ version: 1, key: key(1) });
    });

    it('skips versions holding the current release (a reject or a rollback wrote it again)', () => {
      const history = [release(1, key(1)), release(2, key(2)), release(3, key(3)), release(4, key(2))];
      expect(findRollbackTarget(history, 'previous')).toMatchObject({ version: 3, key: key(3) });
      const repeated = [release(1, key(1)), release(2, key(2)), release(3, key(2))];
      expect(findRollbackTarget(repeated, 'previous')).toMatchObject({ version: 1, key: key(1) });
    });

    it('may choose a release that was desired before under another version', () => {
      // v2 and v4 hold the same release; the newest one is chosen, with its own provenance.
      const history = [
        release(1, key(1)),
        release(2, key(2), { commit: commit(2) }),
        release(3, key(3)),
        release(4, key(2), { commit: commit(2), labels: ['rollback'] }),
        release(5, key(5)),
      ];
      expect(findRollbackTarget(history, 'previous').version).toBe(4);
    });

    it('still chooses an earlier good release when the current one failed', () => {
      const history = [release(1, key(1)), release(2, key(2), { failed: true })];
      expect(findRollbackTarget(history, 'previous').version).toBe(1);
    });

    it.each<[string, ReleaseVersion[]]>([
      ['one version only', [release(1, key(1))]],
      ['every earlier release failed', [release(1, key(1), { failed: true }), release(2, key(2))]],
      ['every earlier version holds the current release', [release(1, key(2)), release(2, key(2))]],
    ])('refuses when there is none: %s', (_what, history) => {
      expect(refusalOf(() => findRollbackTarget(history, 'previous'))).toBe(
        'no earlier release that differs from the current one and did not fail',
      );
    });
  });

  it('refuses an empty history, whatever the selector', () => {
    for (const to of ['previous', '1', commit(1)]) {
      expect(refusalOf(() => findRollbackTarget([], to))).toBe(
        'the stage has no deployment history to roll back to',
      );
    }
  });

  describe('an SSM version number', () => {
    it('chooses exactly that version, even one that failed (a person chose it)', () => {
      const history = [release(1, key(1)), release(2, key(2), { failed: true }), release(3, key(3))];
      expect(findRollbackTarget(history, '2')).toMatchObject({ version: 2, failed: true });
      expect(findRollbackTarget(history, '1').version).toBe(1);
    });

    it('refuses a version the history does not keep, naming the versions it keeps', () => {
      const history = [6, 7, 8].map((n) => release(n, key(n)));
      expect(refusalOf(() => findRollbackTarget(history, '5'))).toBe(
        'no version 5 in the history (it keeps versions 6..8)',
      );
      expect(refusalOf(() => findRollbackTarget(history, '9'))).toBe(
        'no version 9 in the history (it keeps versions 6..8)',
      );
    });

    it('refuses the version that is current, and an earlier version of the same release', () => {
      const history = [release(1, key(1)), release(2, key(2)), release(3, key(2))];
      expect(refusalOf(() => findRollbackTarget(history, '3'))).toBe(
        `version 3 holds the release already desired (${key(2)})`,
      );
      expect(refusalOf(() => findRollbackTarget(history, '2'))).toBe(
        `version 2 holds the release already desired (${key(2)})`,
      );
    });
  });

  describe('a commit id', () => {
    const history = [
      release(1, key(1), { commit: commit(1) }),
      release(2, key(2), { commit: commit(2) }),
      release(3, key(3), { commit: commit(3) }),
    ];

    it('chooses the release of a 7-character prefix, of the full id, in either case', () => {
      expect(findRollbackTarget(history, commit(1).slice(0, 7)).version).toBe(1);
      expect(findRollbackTarget(history, commit(2)).version).toBe(2);
      expect(findRollbackTarget(history, commit(1).slice(0, 12).toUpperCase()).version).toBe(1);
    });

    it('chooses the newest version of that commit', () => {
      const again = [...history, release(4, key(1), { commit: commit(1) }), release(5, key(5))];
      expect(findRollbackTarget(again, commit(1).slice(0, 7)).version).toBe(4);
    });

    it('refuses a commit that is not in the history, and the commit already desired', () => {
      expect(refusalOf(() => findRollbackTarget(history, 'abcdef0'))).toBe(
        'no release of commit abcdef0 in the history',
      );
      expect(refusalOf(() => findRollbackTarget(history, commit(3).slice(0, 7)))).toBe(
        `version 3 holds the release already desired (${key(3)})`,
      );
    });

    // PRODUCT BUG (shared/operate.ts, findRollbackTarget): a selector of digits only is always read as an
    // SSM version, so a commit whose short id is all digits (about 1 commit in 27 has such a 7-character
    // prefix) cannot be named by it: `--to 1234567` is refused as "no version 1234567". Fix: when no
    // version has that number and the selector is 7 to 64 characters long, look it up as a commit.
    it('finds a commit whose 7-character prefix is all digits', () => {
      const digits = `1234567${'a'.repeat(33)}`;
      const withDigits = [release(1, key(1), { commit: digits }), release(2, key(2), { commit: commit(2) })];
      expect(findRollbackTarget(withDigits, '1234567').version).toBe(1);
    });
  });

  it.each([
    '',
    '0',
    '007',
    '-1',
    '1.5',
    '1e3',
    'abc123',
    'g123456',
    'HEAD~1',
    'latest',
    '../../etc',
    '1a2b3c4 ',
    'a'.repeat(65),
  ])('refuses the selector %j, saying what --to takes', (to) => {
    expect(refusalOf(() => findRollbackTarget([release(1, key(1)), release(2, key(2))], to))).toMatch(
      /^--to takes "previous", a commit id \(7 to 64 hex digits\) or an SSM version number, not /,
    );
  });

  it('does not reorder the history it is given', () => {
    const history = [release(1, key(1)), release(2, key(2)), release(3, key(3))];
    const copy = structuredClone(history);
    findRollbackTarget(history, 'previous');
    expect(history).toEqual(copy);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The moves, on a mocked AWS
// ---------------------------------------------------------------------------------------------------------

/** Nothing was written: no desired version, no label, no change set made, run or deleted, no copy, no message. */
const expectNoWrites = (m: Mocks): void => {
  expect(m.ssm).not.toHaveReceivedCommand(PutParameterCommand);
  expect(m.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  expect(m.ssm).not.toHaveReceivedCommand(UnlabelParameterVersionCommand);
  expect(m.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  expect(m.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  expect(m.cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
  expect(m.s3).not.toHaveReceivedCommand(CopyObjectCommand);
  expect(m.sns).not.toHaveReceivedCommand(PublishCommand);
  // The only S3 objects written are the stage's lock, taken and released again.
  const locks = m.s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key);
  expect(locks.every((k) => k?.startsWith('.deployer/locks/'))).toBe(true);
  expect(m.s3.commandCalls(DeleteObjectCommand).map((call) => call.args[0].input.Key)).toEqual(locks);
};

const refused = async (promise: Promise<unknown>): Promise<string> => {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(RefusedError);
  expect(error.name).toBe('RefusedError');
  return error.message;
};

const CHANGE_SET_ARN = (name: string) =>
  `arn:aws:cloudformation:us-east-1:123456789012:changeSet/${name}/11111111-2222-4333-8444-555555555555`;
const MADE_AT = new Date('2026-11-20T11:00:00Z');

let runtime: Runtime;
let world: StackWorld;
/** The objects HeadObject finds; any other key is NotFound. */
let objects: Set<string>;

beforeEach(() => {
  resetAll(mocks);
  world = givenStackWorld(mocks);
  runtime = makeRuntime();
  objects = new Set([OLD_KEY, NEW_KEY, NEWER_KEY, key(1), key(2), key(3)]);
  mocks.s3.on(HeadObjectCommand).callsFake(async (input: { Key?: string }) => {
    if (!objects.has(input.Key ?? '')) throw notFound();
    return { ContentLength: 10 };
  });
  // PutParameter appends a version to the history, as SSM does.
  mocks.ssm.on(PutParameterCommand).callsFake(async (input: PutParameterCommandInput) => {
    const versions = world.history[input.Name ?? ''] ?? [];
    world.history[input.Name ?? ''] = versions;
    const next = (versions.at(-1)?.Version ?? 0) + 1;
    versions.push({
      Name: input.Name,
      Value: input.Value,
      Version: next,
      Labels: [],
      Description: input.Description,
    } satisfies ParameterHistory);
    return { Version: next, Tier: 'Standard' };
  });
});

/** dev: v1 OLD_KEY, v2 NEW_KEY, v3 NEWER_KEY (desired and running). */
const devHistory = (): void => {
  world.stacks['orders-api-dev'] = liveStack('dev', NEWER_KEY);
  world.history[PARAMETERS.dev] = [
    version('dev', 1, OLD_KEY, { commit: commit(1) }),
    version('dev', 2, NEW_KEY, { commit: commit(2) }),
    version('dev', 3, NEWER_KEY, { commit: commit(3) }),
  ];
};

describe('rollback', () => {
  it('refuses an unknown stage before any AWS call', async () => {
    expect(await refused(rollback(runtime, 'staging', 'previous', 'kim'))).toBe(
      'no stage named "staging" (configured: dev, prod)',
    );
    expectNoAwsCall(mocks);
  });

  it('refuses a version or a commit that is not in the history', async () => {
    devHistory();
    expect(await refused(rollback(runtime, 'dev', '42', 'kim'))).toBe(
      'no version 42 in the history (it keeps versions 1..3)',
    );
    expect(await refused(rollback(runtime, 'dev', 'abcdef1', 'kim'))).toBe(
      'no release of commit abcdef1 in the history',
    );
    expectNoWrites(mocks);
    expect(mocks.s3).not.toHaveReceivedCommand(HeadObjectCommand);
  });

  it('refuses a stage with no history at all', async () => {
    world.stacks['orders-api-dev'] = liveStack('dev', OLD_KEY);
    expect(await refused(rollback(runtime, 'dev', 'previous', 'kim'))).toBe(
      'the stage has no deployment history to roll back to',
    );
    expectNoWrites(mocks);
  });

  it.each([
    ['NotFound', notFound()],
    ['NoSuchKey', awsError('NoSuchKey', 'The specified key does not exist.', 404)],
  ])('refuses a release whose object is gone from S3 (HeadObject %s)', async (_name, error) => {
    devHistory();
    mocks.s3.on(HeadObjectCommand).rejects(error);
    expect(await refused(rollback(runtime, 'dev', 'previous', 'kim'))).toBe(
      `the release object s3://orders-api-artifacts/${NEW_KEY} is gone: it cannot be deployed again`,
    );
    expect(mocks.s3).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: 'orders-api-artifacts',
      Key: NEW_KEY,
    });
    expectNoWrites(mocks);
  });

  it('does not call every S3 error a missing release: AccessDenied fails the command, still writing nothing', async () => {
    devHistory();
    mocks.s3.on(HeadObjectCommand).rejects(awsError('AccessDenied', 'Access Denied', 403));
    const error = await rejectionOf(rollback(runtime, 'dev', 'previous', 'kim'));
    expect(error).not.toBeInstanceOf(RefusedError);
    expect(error.name).toBe('AccessDenied');
    expectNoWrites(mocks);
  });

  it('positive control: an existing release is recorded with provenance, deployed and announced', async () => {
    devHistory();
    const result = await rollback(runtime, 'dev', commit(2).slice(0, 7), 'kim');

    expect(result).toMatchObject({
      stage: 'dev',
      action: 'rollback',
      version: 4,
      key: NEW_KEY,
      notified: true,
    });
    expect(result.reconcile.outcome).toBe('deploying');
    const put = mocks.ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: PARAMETERS.dev, Value: NEW_KEY, Overwrite: true });
    expect(JSON.parse(put?.Description ?? '{}')).toEqual({
      action: 'rollback',
      by: 'kim',
      from: '2',
      commit: commit(2),
      startedAt: expect.any(String),
    });
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      ClientRequestToken: 'deploy-dev-v4',
    });
    expect(publishedMessages(mocks).map((m) => m.subject)).toEqual([
      `[dev] orders-api-dev DEPLOYING ${commit(2).slice(0, 7)}`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// approve / reject
// ---------------------------------------------------------------------------------------------------------

interface PendingOptions {
  /** The version the pending change set was made for (default: the desired one, 5). */
  version?: number;
  status?: string;
  executionStatus?: string;
  /** When the change set was made. */
  createdAt?: Date;
  /** When the stack last changed; undefined for a stack never updated. */
  stackUpdatedAt?: Date;
}

/** prod desires v5 (NEW_KEY) and runs OLD_KEY; a change set made for `version` waits. */
const prodPending = (options: PendingOptions = {}): string => {
  const pendingVersion = options.version ?? 5;
  const name = `deploy-prod-v${pendingVersion}`;
  const stack: Stack = {
    ...liveStack('prod', OLD_KEY),
    ...(options.stackUpdatedAt ? { LastUpdatedTime: options.stackUpdatedAt } : {}),
  };
  world.stacks['orders-api-prod'] = stack;
  world.history[PARAMETERS.prod] = [
    version('prod', 4, OLD_KEY, { commit: commit(4) }),
    version('prod', 5, NEW_KEY, { commit: commit(5) }),
  ];
  mocks.cfn.on(ListChangeSetsCommand).resolves({
    Summaries: [
      {
        StackName: 'orders-api-prod',
        ChangeSetName: name,
        ChangeSetId: CHANGE_SET_ARN(name),
        Status: (options.status ?? 'CREATE_COMPLETE') as 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
      },
    ],
  });
  mocks.cfn.on(DescribeChangeSetCommand).resolves({
    ChangeSetName: name,
    ChangeSetId: CHANGE_SET_ARN(name),
    StackName: 'orders-api-prod',
    Status: 'CREATE_COMPLETE',
    ExecutionStatus: (options.executionStatus ??
      'AVAILABLE') as DescribeChangeSetCommandOutput['ExecutionStatus'],
    CreationTime: options.createdAt ?? MADE_AT,
  });
  return name;
};

const minutes = (n: number) => new Date(MADE_AT.getTime() + n * 60_000);

describe('approve and reject', () => {
  const moves = [
    ['approve', approve],
    ['reject', reject],
  ] as const;

  it.each(moves)('%s refuses an unknown stage before any AWS call', async (_name, move) => {
    expect(await refused(move(runtime, 'staging', 'kim'))).toContain('no stage named "staging"');
    expectNoAwsCall(mocks);
  });

  it.each(moves)('%s refuses a stage that does not require approval', async (_name, move) => {
    devHistory();
    expect(await refused(move(runtime, 'dev', 'kim'))).toBe(
      'stage dev does not require approval: its deploys run on their own',
    );
    expectNoWrites(mocks);
    expect(mocks.cfn).not.toHaveReceivedCommand(ListChangeSetsCommand);
  });

  it.each(moves)('%s refuses a stage with no desired release', async (_name, move) => {
    world.stacks['orders-api-prod'] = liveStack('prod', OLD_KEY);
    expect(await refused(move(runtime, 'prod', 'kim'))).toBe('stage prod has no desired release');
    expectNoWrites(mocks);
  });

  it.each(moves)('%s refuses when no change set waits', async (_name, move) => {
    prodPending();
    mocks.cfn.on(ListChangeSetsCommand).resolves({ Summaries: [] });
    expect(await refused(move(runtime, 'prod', 'kim'))).toBe(
      'no pending change set for the current desired release (version 5, deploy-prod-v5)',
    );
    expectNoWrites(mocks);
  });

  it.each(moves)('%s refuses a change set made for an older desired version', async (_name, move) => {
    prodPending({ version: 4 });
    expect(await refused(move(runtime, 'prod', 'kim'))).toBe(
      'no pending change set for the current desired release (version 5, deploy-prod-v5); deploy-prod-v4 is for an older release and will not be executed',
    );
    expectNoWrites(mocks);
    expect(mocks.cfn).not.toHaveReceivedCommand(DescribeChangeSetCommand);
  });

  it.each(moves)('%s refuses a change set CloudFormation has not finished computing', async (_name, move) => {
    prodPending({ status: 'CREATE_IN_PROGRESS' });
    expect(await refused(move(runtime, 'prod', 'kim'))).toContain('no pending change set for the current');
    expectNoWrites(mocks);
  });

  it.each(moves)(
    '%s refuses a change set made before the stack last changed (stale)',
    async (_name, move) => {
      prodPending({ createdAt: MADE_AT, stackUpdatedAt: minutes(1) });
      expect(await refused(move(runtime, 'prod', 'kim'))).toBe(
        'stack orders-api-prod changed after change set deploy-prod-v5 was made; it is stale (the next reconcile makes a new one)',
      );
      expectNoWrites(mocks);
    },
  );

  it.each(
    moves.flatMap(([name, move]) =>
      ['UNAVAILABLE', 'EXECUTE_IN_PROGRESS', 'EXECUTE_COMPLETE', 'EXECUTE_FAILED', 'OBSOLETE'].map(
        (status) => [name, status, move] as const,
      ),
    ),
  )('%s refuses a change set whose execution status is %s', async (_name, status, move) => {
    prodPending({ executionStatus: status });
    expect(await refused(move(runtime, 'prod', 'kim'))).toBe(
      `change set deploy-prod-v5 cannot be executed: it is ${status}`,
    );
    expectNoWrites(mocks);
  });

  it('positive control: approve executes the change set (by its ARN) when the stack has not changed since', async () => {
    const name = prodPending({ createdAt: MADE_AT, stackUpdatedAt: minutes(-1) });

    const result = await approve(runtime, 'prod', 'kim');

    expect(result).toEqual({ stage: 'prod', action: 'approve', version: 5, key: NEW_KEY, changeSet: name });
    expect(mocks.cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-prod',
      ChangeSetName: CHANGE_SET_ARN(name),
      ClientRequestToken: name,
    });
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  it('positive control: a stack never updated since its creation has no LastUpdatedTime; approve goes ahead', async () => {
    prodPending({ stackUpdatedAt: undefined });
    await approve(runtime, 'prod', 'kim');
    expect(mocks.cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);
  });

  it('positive control: reject deletes the change set, labels the version, makes the running release desired', async () => {
    const name = prodPending({ createdAt: MADE_AT, stackUpdatedAt: minutes(-1) });

    const result = await reject(runtime, 'prod', 'kim');

    expect(result).toMatchObject({
      stage: 'prod',
      action: 'reject',
      version: 6,
      key: OLD_KEY,
      changeSet: name,
    });
    expect(mocks.cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, {
      StackName: 'orders-api-prod',
      ChangeSetName: CHANGE_SET_ARN(name),
    });
    expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETERS.prod,
      ParameterVersion: 5,
      Labels: ['rejected-v5'],
    });
    const put = mocks.ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: PARAMETERS.prod, Value: OLD_KEY });
    expect(JSON.parse(put?.Description ?? '{}')).toMatchObject({ action: 'reject', by: 'kim', from: '5' });
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['in-sync']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// promote
// ---------------------------------------------------------------------------------------------------------

/** dev runs NEW_KEY (v2), desires NEWER_KEY (v3); prod desires and runs OLD_KEY. */
const promotable = (): void => {
  world.stacks['orders-api-dev'] = liveStack('dev', NEW_KEY);
  world.history[PARAMETERS.dev] = [
    version('dev', 2, NEW_KEY, { commit: commit(2) }),
    version('dev', 3, NEWER_KEY, { commit: commit(3) }),
  ];
  world.stacks['orders-api-prod'] = liveStack('prod', OLD_KEY);
  world.history[PARAMETERS.prod] = [version('prod', 1, OLD_KEY, { commit: commit(1) })];
};

describe('promote', () => {
  it.each([
    ['staging', 'prod'],
    ['dev', 'staging'],
  ])('refuses an unknown stage (%s → %s) before any AWS call', async (from, to) => {
    expect(await refused(promote(runtime, from, to, 'kim'))).toContain('no stage named "staging"');
    expectNoAwsCall(mocks);
  });

  it('refuses to promote a stage to itself', async () => {
    expect(await refused(promote(runtime, 'dev', 'dev', 'kim'))).toBe('promote needs two different stages');
    expectNoAwsCall(mocks);
  });

  it('refuses when the source stack does not exist, or runs no release', async () => {
    promotable();
    delete world.stacks['orders-api-dev'];
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      'stage dev runs no release to promote (stack orders-api-dev does not exist)',
    );
    const running = liveStack('dev', NEW_KEY);
    world.stacks['orders-api-dev'] = {
      ...running,
      Parameters: running.Parameters?.filter((p) => p.ParameterKey !== 'ArtifactKey'),
    };
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      'stage dev runs no release to promote (stack orders-api-dev has no artifact parameter)',
    );
    expectNoWrites(mocks);
  });

  it('refuses while the source stack is busy', async () => {
    promotable();
    world.stacks['orders-api-dev'] = liveStack('dev', NEW_KEY, 'UPDATE_IN_PROGRESS');
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      'stack orders-api-dev is UPDATE_IN_PROGRESS; promote once it settles',
    );
    expectNoWrites(mocks);
  });

  it("refuses when the source's release object is gone", async () => {
    promotable();
    objects.delete(NEW_KEY);
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      `the release object s3://orders-api-artifacts/${NEW_KEY} is gone: it cannot be deployed again`,
    );
    expectNoWrites(mocks);
  });

  it('refuses when the target already desires that release', async () => {
    promotable();
    world.history[PARAMETERS.prod]?.push(version('prod', 2, NEW_KEY));
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      `stage prod already has ${NEW_KEY} as its desired release`,
    );
    expectNoWrites(mocks);
  });

  it('positive control: the release dev runs (not the one it desires) becomes desired in prod', async () => {
    promotable();
    const result = await promote(runtime, 'dev', 'prod', 'kim');

    expect(result).toMatchObject({ stage: 'prod', action: 'promote', version: 2, key: NEW_KEY });
    // prod requires approval: the change set waits.
    expect(result.reconcile.outcome).toBe('pending-approval');
    const put = mocks.ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Name: PARAMETERS.prod, Value: NEW_KEY });
    expect(JSON.parse(put?.Description ?? '{}')).toEqual({
      action: 'promote',
      by: 'kim',
      from: 'dev',
      commit: commit(2),
      startedAt: expect.any(String),
    });
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['pending-approval']);
  });
});

// ---------------------------------------------------------------------------------------------------------
// stageStatus
// ---------------------------------------------------------------------------------------------------------

describe('stageStatus', () => {
  /** dev desires v2 (NEW_KEY, labelled failed when `failed`); its stack has `status` and runs `live`. */
  const devStatus = (status: string, live: string, failed = false) => {
    world.stacks['orders-api-dev'] = liveStack('dev', live, status);
    world.history[PARAMETERS.dev] = [
      version('dev', 1, OLD_KEY, { commit: commit(1) }),
      version('dev', 2, NEW_KEY, { commit: commit(2), labels: failed ? ['failed-v2'] : [] }),
    ];
    return stageStatus(runtime, stageOf(runtime.config, 'dev'));
  };

  it('in sync: the stack runs the desired release; live names the version that holds it', async () => {
    const status = await devStatus('UPDATE_COMPLETE', NEW_KEY);
    expect(status).toMatchObject({
      stage: 'dev',
      stack: 'orders-api-dev',
      stackStatus: 'UPDATE_COMPLETE',
      inSync: true,
      desired: { version: 2, key: NEW_KEY, provenance: { commit: commit(2) } },
      live: { key: NEW_KEY, release: { version: 2 } },
    });
    expect(status.pendingChangeSet).toBeUndefined();
    expectNoWrites(mocks);
  });

  it('not in sync: the stack runs an older release, or is still busy deploying the desired one', async () => {
    expect(await devStatus('UPDATE_COMPLETE', OLD_KEY)).toMatchObject({
      inSync: false,
      live: { key: OLD_KEY, release: { version: 1 } },
    });
    expect((await devStatus('UPDATE_IN_PROGRESS', NEW_KEY)).inSync).toBe(false);
  });

  it('a release the history does not know runs live without a version', async () => {
    const status = await devStatus('UPDATE_COMPLETE', NEWER_KEY);
    expect(status.live).toEqual({ key: NEWER_KEY });
    expect(status.inSync).toBe(false);
  });

  it('names the change set waiting for approval, not one still being computed', async () => {
    prodPending();
    const prod = stageOf(runtime.config, 'prod');
    expect((await stageStatus(runtime, prod)).pendingChangeSet).toEqual({
      name: 'deploy-prod-v5',
      version: 5,
    });
    prodPending({ status: 'CREATE_IN_PROGRESS' });
    expect((await stageStatus(runtime, prod)).pendingChangeSet).toBeUndefined();
  });

  // PRODUCT BUG (shared/operate.ts, stageStatus, inSync): a stack that needs a person but whose parameter
  // holds the desired key — a creation that rolled back (ROLLBACK_COMPLETE: the stack has no resources, and
  // the version is labelled failed), a rollback that failed — is reported in sync, so `deployer status`
  // exits 0 although the README promises exit 3 when "a stage … is not in sync (or its stack needs a
  // person)". Fix: inSync also requires classifyStatus(stackStatus) === 'stable' and !desired.failed.
  it.each(['ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED'])(
    'a stack in %s is not in sync, though its parameter holds the desired key',
    async (stackStatus) => {
      const status = await devStatus(stackStatus, NEW_KEY, stackStatus === 'ROLLBACK_COMPLETE');
      expect(status.inSync).toBe(false);
    },
  );
});
