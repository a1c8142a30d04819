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
  PutParameterCommand,
  UnlabelParameterVersionCommand,
} from '@aws-sdk/client-ssm';
import type { ReleaseVersion } from '../../shared/aws/release-history';
import { PermanentError } from '../../shared/errors';
import {
  approve,
  findRollbackTarget,
  promote,
  RefusedError,
  reject,
  rollback,
  stageStatus,
} from '../../shared/operations/index';
import type { Runtime } from '../../shared/runtime';
import {
  awsError,
  makeRuntime,
  rejectionOf,
  repoConfigText,
  SAMPLE,
  stageOf,
  thrownBy,
} from './helpers/fixtures';
import { publishedMessages } from './helpers/published';
import { TEMPLATE, TEMPLATE_WITH_QUEUE, tamper } from './helpers/releases';
import { givenRun, runRecordOf, runToken, runTokenPattern } from './helpers/runs';
import { liveStack, NEW_KEY, NEW_RELEASE, NEWER_KEY, NEWER_RELEASE, version } from './helpers/stack-builders';
import { PARAMETERS } from './helpers/stack-samples';
import { givenStackWorld, type StackWorld } from './helpers/stack-world';
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
  handWritten: false,
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

    // A selector of digits only that no version number matches, 7 to 64 characters long, names a commit:
    // a commit whose short id is all digits can still be the target.
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
/**
 * The stack world: its S3 holds the releases OLD_KEY, NEW_KEY, NEWER_KEY and the released templates (with
 * their checksums), and its PutParameter appends a version to the history, as SSM does.
 */
let world: StackWorld;

beforeEach(() => {
  resetAll(mocks);
  world = givenStackWorld(mocks);
  runtime = makeRuntime();
});

/** The provenance of the one PutParameter sent, parsed. */
const writtenProvenance = () =>
  JSON.parse(mocks.ssm.commandCalls(PutParameterCommand)[0]?.args[0].input.Description ?? '{}') as Record<
    string,
    string
  >;

/** The write token every version the deployer writes carries. */
const WRITE_TOKEN = expect.stringMatching(/^[0-9a-f]{24}$/);

/** A release refused because its bytes were changed: nothing recorded or deployed, the ops team told once. */
const expectTamperedRefusal = (message: string, key: string, recorded: string): void => {
  expect(message).toContain(
    `release object s3://${SAMPLE.bucket}/${key} does not match its recorded SHA-256`,
  );
  expect(message).toContain(`recorded ${recorded}`);
  expect(message).toContain('nothing was recorded or deployed');
  expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
  expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  const messages = publishedMessages(mocks);
  expect(messages.map((m) => m.attributes.outcome)).toEqual(['tampered']);
  expect(messages[0]?.body).toContain(key);
};

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
      // A deploy's lead time counts from the start of the release's build (version 2's), not from the move.
      builtAt: '2026-11-20T10:02:00.000Z',
      // The provenance names the bytes it deploys: the digest of the release the key names.
      artifact: NEW_RELEASE.sha256,
      write: WRITE_TOKEN,
    });
    // The release was verified before it was recorded.
    expect(mocks.s3).toHaveReceivedCommandWith(HeadObjectCommand, { Key: NEW_KEY, ChecksumMode: 'ENABLED' });
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      ClientRequestToken: expect.stringMatching(runTokenPattern('dev', 4)),
    });
    expect(publishedMessages(mocks).map((m) => m.subject)).toEqual([
      `[dev] orders-api-dev DEPLOYING ${commit(2).slice(0, 7)}`,
    ]);
  });
  it('refuses a release whose bytes were changed: the refusal names the object and both digests, ops are told', async () => {
    devHistory();
    const found = tamper(world.s3, NEW_KEY, { bytes: 'PK tampered' });
    expect(found.sha256).toBeDefined();
    const message = await refused(rollback(runtime, 'dev', 'previous', 'kim'));
    expectTamperedRefusal(message, NEW_KEY, NEW_RELEASE.sha256);
    expect(message).toContain(`found ${Buffer.from(found.sha256 ?? '', 'base64').toString('hex')}`);
    expect(world.history[PARAMETERS.dev]?.map((v) => v.Version)).toEqual([1, 2, 3]);
  });

  it('refuses a release whose pinned template was changed', async () => {
    devHistory();
    const v2 = world.history[PARAMETERS.dev]?.[1];
    if (v2)
      v2.Description = JSON.stringify({
        commit: commit(2),
        artifact: NEW_RELEASE.sha256,
        template: TEMPLATE.sha256,
      });
    world.s3.put(SAMPLE.bucket, TEMPLATE.key, TEMPLATE_WITH_QUEUE.bytes, { checksum: true });
    const message = await refused(rollback(runtime, 'dev', 'previous', 'kim'));
    expectTamperedRefusal(message, TEMPLATE.key, TEMPLATE.sha256);
  });

  it('restores the template of the chosen release together with its artifact', async () => {
    world.stacks['orders-api-dev'] = liveStack('dev', NEWER_KEY);
    world.history[PARAMETERS.dev] = [
      version('dev', 2, NEW_KEY, {
        commit: commit(2),
        provenance: { artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 },
      }),
      version('dev', 3, NEWER_KEY, {
        commit: commit(3),
        provenance: { artifact: NEWER_RELEASE.sha256, template: TEMPLATE_WITH_QUEUE.sha256 },
      }),
    ];
    const result = await rollback(runtime, 'dev', 'previous', 'kim');
    expect(result).toMatchObject({ version: 4, key: NEW_KEY });
    expect(writtenProvenance()).toMatchObject({ artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 });
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetName: 'deploy-dev-v4',
      TemplateBody: TEMPLATE.bytes.toString('utf8'),
    });
  });

  it('--to <commit> deploys the release that commit really produced, not a hand-written version claiming it', async () => {
    devHistory();
    // `aws ssm put-parameter --overwrite` without a description: v4 holds OLD_KEY but keeps v3's description,
    // which names commit 3.
    const v3 = world.history[PARAMETERS.dev]?.[2];
    world.history[PARAMETERS.dev]?.push({ ...version('dev', 4, OLD_KEY), Description: v3?.Description });
    world.stacks['orders-api-dev'] = liveStack('dev', OLD_KEY);
    const result = await rollback(runtime, 'dev', commit(3).slice(0, 7), 'kim');
    expect(result).toMatchObject({ version: 5, key: NEWER_KEY });
    expect(writtenProvenance()).toMatchObject({
      from: '3',
      commit: commit(3),
      artifact: NEWER_RELEASE.sha256,
    });
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
  /** Whether the deployer recorded the run that made it (default: it did). */
  recorded?: boolean;
  /** The change set's ARN now (default: the one the run recorded; another means it was replaced). */
  arn?: string;
  /** The release key the change set sets the artifact parameter to (default: the desired NEW_KEY). */
  artifact?: string;
  /** The template the run made it from (default: none, the stack's own). */
  runTemplate?: string;
  /** More provenance of the desired version 5 (e.g. the template it pins). */
  desired?: Record<string, string>;
}

/** The token of the deployer's run that made the pending change set for a version. */
const pendingToken = (pendingVersion = 5): string => runToken('prod', pendingVersion);

/**
 * prod desires v5 (NEW_KEY) and runs OLD_KEY; a change set made for `version` waits, made (and recorded, with
 * its ARN) by the deployer's run unless told otherwise.
 */
const prodPending = (options: PendingOptions = {}): string => {
  const pendingVersion = options.version ?? 5;
  const name = `deploy-prod-v${pendingVersion}`;
  const token = pendingToken(pendingVersion);
  const stack: Stack = {
    ...liveStack('prod', OLD_KEY),
    ...(options.stackUpdatedAt ? { LastUpdatedTime: options.stackUpdatedAt } : {}),
  };
  world.stacks['orders-api-prod'] = stack;
  world.history[PARAMETERS.prod] = [
    version('prod', 4, OLD_KEY, { commit: commit(4) }),
    version('prod', 5, NEW_KEY, {
      commit: commit(5),
      ...(options.desired ? { provenance: options.desired } : {}),
    }),
  ];
  const runKey = pendingVersion === 5 ? NEW_KEY : OLD_KEY;
  if (options.recorded ?? true)
    givenRun(world.s3, {
      token,
      stage: 'prod',
      version: pendingVersion,
      artifactKey: runKey,
      changeSetId: CHANGE_SET_ARN(name),
      state: 'created',
      ...(options.runTemplate ? { template: options.runTemplate } : {}),
    });
  const arn = options.arn ?? CHANGE_SET_ARN(name);
  mocks.cfn.on(ListChangeSetsCommand).resolves({
    Summaries: [
      {
        StackName: 'orders-api-prod',
        ChangeSetName: name,
        ChangeSetId: arn,
        Status: (options.status ?? 'CREATE_COMPLETE') as 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
      },
    ],
  });
  mocks.cfn.on(DescribeChangeSetCommand).resolves({
    ChangeSetName: name,
    ChangeSetId: arn,
    StackName: 'orders-api-prod',
    Status: 'CREATE_COMPLETE',
    ExecutionStatus: (options.executionStatus ??
      'AVAILABLE') as DescribeChangeSetCommandOutput['ExecutionStatus'],
    CreationTime: options.createdAt ?? MADE_AT,
    // The deployer's description names its run; a replacement may copy it word for word.
    Description: `deployer: stage prod, ArtifactKey=${runKey}, run ${token}`,
    Parameters: [
      { ParameterKey: 'ArtifactKey', ParameterValue: options.artifact ?? runKey },
      { ParameterKey: 'Stage', ParameterValue: 'prod' },
    ],
    Changes: [
      {
        Type: 'Resource',
        ResourceChange: {
          Action: 'Modify',
          LogicalResourceId: 'OrdersFunction',
          ResourceType: 'AWS::Lambda::Function',
          Replacement: 'False',
        },
      },
    ],
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
    // Executed with the token of the deployer's run that made it (never its predictable name).
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-prod',
      ChangeSetName: CHANGE_SET_ARN(name),
      ClientRequestToken: pendingToken(),
    });
    expect(runRecordOf(world.s3, 'prod', pendingToken())?.state).toBe('executing');
    // The release was verified again before it was executed.
    expect(mocks.s3).toHaveReceivedCommandWith(HeadObjectCommand, { Key: NEW_KEY, ChecksumMode: 'ENABLED' });
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });

  it.each(
    moves.flatMap(([name, move]) =>
      (
        [
          [
            'replaced: same name, another ARN, its description (and run token) copied',
            { arn: CHANGE_SET_ARN('deploy-prod-v5').replace('11111111', '99999999') },
          ],
          ['made by someone else: the deployer has no record of its run', { recorded: false }],
        ] as const
      ).map(([what, options]) => [name, what, options, move] as const),
    ),
  )(
    "%s refuses a change set of the right name that is not the deployer's (%s)",
    async (_name, _what, options, move) => {
      prodPending(options);
      expect(await refused(move(runtime, 'prod', 'kim'))).toContain(
        'is not the one the deployer made for version 5: it was replaced or made by someone else, and is not executed',
      );
      expectNoWrites(mocks);
    },
  );

  it('approve refuses a change set whose artifact parameter is not the desired release', async () => {
    prodPending({ artifact: NEWER_KEY });
    expect(await refused(approve(runtime, 'prod', 'kim'))).toBe(
      `change set deploy-prod-v5 sets ArtifactKey to ${NEWER_KEY}, not the desired release ${NEW_KEY} (version 5): it is not executed`,
    );
    expectNoWrites(mocks);
  });

  it('approve refuses a change set made from another template than the one the release pins', async () => {
    prodPending({
      desired: { artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 },
      runTemplate: TEMPLATE_WITH_QUEUE.sha256,
    });
    expect(await refused(approve(runtime, 'prod', 'kim'))).toBe(
      `change set deploy-prod-v5 was made from template ${TEMPLATE_WITH_QUEUE.sha256}, not the pinned ${TEMPLATE.sha256}: it is not executed`,
    );
    expectNoWrites(mocks);
  });

  it("approve refuses when the release's bytes were changed since the change set was made: ops are told", async () => {
    prodPending();
    tamper(world.s3, NEW_KEY);
    const message = await refused(approve(runtime, 'prod', 'kim'));
    expect(message).toContain(
      `release object s3://${SAMPLE.bucket}/${NEW_KEY} does not match its recorded SHA-256`,
    );
    expect(message).toContain('the change set was not executed');
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(runRecordOf(world.s3, 'prod', pendingToken())?.state).toBe('created');
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['tampered']);
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
    world.s3.delete(SAMPLE.bucket, NEW_KEY);
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
      // A deploy's lead time counts from the start of the release's build (version 2's), not from the move.
      builtAt: '2026-11-20T10:02:00.000Z',
      // The provenance names the bytes it deploys.
      artifact: NEW_RELEASE.sha256,
      write: WRITE_TOKEN,
    });
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(publishedMessages(mocks).map((m) => m.attributes.outcome)).toEqual(['pending-approval']);
  });

  it('carries the template with the artifact', async () => {
    promotable();
    const v2 = world.history[PARAMETERS.dev]?.[0];
    if (v2)
      v2.Description = JSON.stringify({
        commit: commit(2),
        artifact: NEW_RELEASE.sha256,
        template: TEMPLATE.sha256,
      });
    await promote(runtime, 'dev', 'prod', 'kim');
    expect(writtenProvenance()).toMatchObject({ artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 });
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetName: 'deploy-prod-v2',
      TemplateBody: TEMPLATE.bytes.toString('utf8'),
    });
  });

  it('refuses a release the source stage runs but never recorded', async () => {
    promotable();
    world.stacks['orders-api-dev'] = liveStack('dev', OLD_KEY);
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      `stage dev runs ${OLD_KEY}, which is not in its history: only recorded releases are promoted`,
    );
    expectNoWrites(mocks);
  });

  it('refuses a release whose deploy failed, whether it runs or is named by version', async () => {
    promotable();
    const v2 = world.history[PARAMETERS.dev]?.[0];
    if (v2) v2.Labels = ['failed-v2'];
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim'))).toBe(
      'version 2 of stage dev failed to deploy; it is not promoted',
    );
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim', { version: 2 }))).toBe(
      'version 2 of stage dev failed to deploy; it is not promoted',
    );
    expect(await refused(promote(runtime, 'dev', 'prod', 'kim', { version: 9 }))).toBe(
      "version 9 is not in stage dev's history",
    );
    expectNoWrites(mocks);
  });

  it('refuses a release whose bytes were changed: nothing recorded in the target, ops are told', async () => {
    promotable();
    tamper(world.s3, NEW_KEY);
    const message = await refused(promote(runtime, 'dev', 'prod', 'kim'));
    expectTamperedRefusal(message, NEW_KEY, NEW_RELEASE.sha256);
    expect(world.history[PARAMETERS.prod]?.map((v) => v.Version)).toEqual([1]);
  });

  it('into a stage that keeps releases elsewhere: verified copies of the artifact and the template', async () => {
    runtime = makeRuntime(
      repoConfigText().replace(
        '        releasePrefix: releases/orders-api/\n        template:\n          bucket: orders-api-artifacts\n          key: templates/orders-api.yaml\n        parameterOverrides:\n          Stage: prod',
        '        releasePrefix: releases/orders-api-prod/\n        template:\n          bucket: orders-api-artifacts\n          key: templates/orders-api.yaml\n        parameterOverrides:\n          Stage: prod',
      ),
    );
    expect(stageOf(runtime.config, 'prod').releasePrefix).toBe('releases/orders-api-prod/');
    promotable();
    const v2 = world.history[PARAMETERS.dev]?.[0];
    if (v2)
      v2.Description = JSON.stringify({
        commit: commit(2),
        artifact: NEW_RELEASE.sha256,
        template: TEMPLATE.sha256,
      });
    const prodKey = `releases/orders-api-prod/${NEW_RELEASE.sha256}.zip`;
    const prodTemplate = `releases/orders-api-prod/templates/${TEMPLATE.sha256}.template`;
    const result = await promote(runtime, 'dev', 'prod', 'kim');
    expect(result).toMatchObject({ key: prodKey });
    expect(world.s3.get(SAMPLE.bucket, prodKey)?.body).toEqual(NEW_RELEASE.bytes);
    expect(world.s3.get(SAMPLE.bucket, prodTemplate)?.body).toEqual(TEMPLATE.bytes);
    expect(mocks.s3).toHaveReceivedCommandWith(CopyObjectCommand, {
      Key: prodKey,
      ChecksumAlgorithm: 'SHA256',
    });
    expect(writtenProvenance()).toMatchObject({ artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 });
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

  // A stage is in sync only when its stack is stable and its desired version is not marked failed: a stack
  // that needs a person (a creation rolled back, a rollback failed) is not in sync even though its
  // parameter holds the desired key, so `deployer status` exits 3.
  it.each(['ROLLBACK_COMPLETE', 'UPDATE_ROLLBACK_FAILED'])(
    'a stack in %s is not in sync, though its parameter holds the desired key',
    async (stackStatus) => {
      const status = await devStatus(stackStatus, NEW_KEY, stackStatus === 'ROLLBACK_COMPLETE');
      expect(status.inSync).toBe(false);
    },
  );
});
