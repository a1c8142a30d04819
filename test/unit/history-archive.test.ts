/**
 * The history archive beyond SSM's 100 versions: every desired version written is archived once (a retry
 * finds its own record, another record is never overwritten), a settled run's outcome is archived before the
 * run is marked settled, and the whole history merges SSM's versions with the archived ones SSM no longer
 * keeps — believing an archived record no further than it says.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetParameterHistoryCommand,
  type ParameterHistory,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { writeDesired } from '../../shared/aws/desired-state';
import {
  type ArchivedOutcome,
  type ArchivedVersion,
  archivedOutcomeKey,
  archivedVersionKey,
  archiveVersion,
  readArchive,
} from '../../shared/aws/history-archive';
import type { RunRecord } from '../../shared/aws/runs';
import { settleRun } from '../../shared/aws/runs';
import { archiveKept, mergeHistory, readWholeHistory } from '../../shared/aws/whole-history';
import { releaseBucketOf } from '../../shared/edge/stages';
import { awsError, makeRuntime, rejectionOf, stageOf, thrownBy } from './helpers/fixtures';
import { S3Store } from './helpers/s3-store';

const s3Mock = mockClient(S3Client);
const ssmMock = mockClient(SSMClient);
const runtime = makeRuntime();
const stores = runtime.clients;
const dev = stageOf(runtime.config, 'dev');
const BUCKET = releaseBucketOf(dev);
const PREFIX = '.deployer/history/dev/';
let store: S3Store;

/** A content-named release key of the dev stage, and its digest. */
const release = (n: number) => {
  const digest = n.toString(16).padStart(64, '0');
  return { key: `releases/orders-api/${digest}.zip`, digest };
};

/** What ListObjectsV2 answers from the store: its keys under the prefix, after StartAfter, in pages of 3. */
const serveListings = () => {
  s3Mock.on(ListObjectsV2Command).callsFake(async (input: ListObjectsV2CommandInput) => {
    const all = store
      .keys(input.Bucket ?? '', input.Prefix ?? '')
      .filter((key) => !input.StartAfter || key > input.StartAfter);
    const from = Number(input.ContinuationToken ?? 0);
    const page = all.slice(from, from + 3);
    return {
      Contents: page.map((Key) => ({ Key, LastModified: store.get(input.Bucket ?? '', Key)?.lastModified })),
      IsTruncated: from + 3 < all.length,
      ...(from + 3 < all.length ? { NextContinuationToken: String(from + 3) } : {}),
    };
  });
};

beforeEach(() => {
  s3Mock.reset();
  ssmMock.reset();
  store = new S3Store().serve(s3Mock);
  serveListings();
});

const archived = (version: number, fields: Partial<ArchivedVersion> = {}): ArchivedVersion => ({
  stage: 'dev',
  version,
  key: release(version).key,
  provenance: { pipeline: 'orders-api', execution: `exec-${version}`, artifact: release(version).digest },
  recordedAt: `2026-11-0${(version % 9) + 1}T10:00:00.000Z`,
  ...fields,
});

const putArchived = (record: ArchivedVersion) =>
  store.put(BUCKET, archivedVersionKey(dev, record.version), JSON.stringify(record));

const outcome = (
  version: number,
  status: string,
  settledAt: string,
  token = `t${version}`,
): ArchivedOutcome => ({
  stage: 'dev',
  version,
  token,
  status,
  settledAt,
  failed: status.includes('ROLLBACK') || status.endsWith('FAILED'),
});

const putOutcome = (record: ArchivedOutcome) =>
  store.put(BUCKET, archivedOutcomeKey(dev, record.version, record.token), JSON.stringify(record));

/** SSM's history of the dev parameter: versions `from`..`to`, each naming its own release. */
const givenSsmVersions = (from: number, to: number, change: (v: ParameterHistory) => void = () => {}) => {
  const versions = Array.from({ length: to - from + 1 }, (_, i) => {
    const version = from + i;
    const v: ParameterHistory = {
      Name: dev.ssmParameter,
      Version: version,
      Value: release(version).key,
      Labels: [`exec-e${version}`],
      LastModifiedDate: new Date(Date.UTC(2026, 10, 20, 10, 0, version)),
      Description: JSON.stringify({ execution: `e${version}`, artifact: release(version).digest }),
    };
    change(v);
    return v;
  });
  ssmMock.on(GetParameterHistoryCommand).callsFake(async (input: { NextToken?: string }) => {
    const start = Number(input.NextToken ?? 0);
    const next = start + 50 < versions.length ? { NextToken: String(start + 50) } : {};
    return { Parameters: versions.slice(start, start + 50), ...next };
  });
};

describe('the archive keys', () => {
  it('sort by version: zero-padded to 16 digits, outcomes after their version', () => {
    expect(archivedVersionKey(dev, 7)).toBe(`${PREFIX}0000000000000007.json`);
    expect(archivedOutcomeKey(dev, 7, 'deploy-dev-v7-abc')).toBe(
      `${PREFIX}0000000000000007.outcome.deploy-dev-v7-abc.json`,
    );
    const keys = [archivedVersionKey(dev, 10), archivedOutcomeKey(dev, 9, 'x'), archivedVersionKey(dev, 9)];
    expect([...keys].sort()).toEqual([keys[2], keys[1], keys[0]]);
  });

  it.each([0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1])('refuse version %p', (version) => {
    expect(thrownBy(() => archivedVersionKey(dev, version)).message).toMatch(/invalid version/);
  });

  it('refuse a token or stage name that could leave the prefix', () => {
    expect(thrownBy(() => archivedOutcomeKey(dev, 1, '../../runs/x')).message).toMatch(/invalid run token/);
    expect(thrownBy(() => archivedVersionKey({ name: '../prod' }, 1)).message).toMatch(/invalid stage name/);
  });
});

describe('writeDesired archives the version it wrote', () => {
  it('once SSM recorded it: in the release bucket, under the history prefix, only if not there yet', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 12 });
    const { key, digest } = release(12);
    const written = await writeDesired(stores, dev, key, { artifact: digest, execution: 'e12' }, true);

    const put = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({ Bucket: BUCKET, Key: `${PREFIX}0000000000000012.json`, IfNoneMatch: '*' });
    expect(store.json(BUCKET, `${PREFIX}0000000000000012.json`)).toEqual({
      stage: 'dev',
      version: 12,
      key,
      provenance: written.provenance,
      recordedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(written.provenance.write).toMatch(/^[0-9a-f]{24}$/);
  });

  it('a failing archive write does not fail the write: the version is desired, the schedule archives it', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 3 });
    s3Mock.on(PutObjectCommand).rejects(awsError('AccessDenied', 'Access Denied', 403));
    await expect(writeDesired(stores, dev, release(3).key, {}, true)).resolves.toMatchObject({ version: 3 });
  });

  it('SSM refusing the write archives nothing', async () => {
    ssmMock.on(PutParameterCommand).rejects(awsError('AccessDeniedException', 'no', 400));
    await rejectionOf(writeDesired(stores, dev, release(3).key, {}, true));
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand);
  });
});

describe('archiveVersion', () => {
  const entry = (write: string, key = release(5).key) => ({
    version: 5,
    key,
    provenance: { artifact: release(5).digest, write },
    recordedAt: '2026-11-20T10:00:00.000Z',
  });

  it('finds its own record when a retry is refused (the first write landed): no overwrite', async () => {
    expect(await archiveVersion(stores.s3, dev, entry('a'.repeat(24)))).toBe(true);
    const first = store.text(BUCKET, archivedVersionKey(dev, 5));
    expect(await archiveVersion(stores.s3, dev, { ...entry('a'.repeat(24)), recordedAt: 'later' })).toBe(
      true,
    );
    expect(store.text(BUCKET, archivedVersionKey(dev, 5))).toBe(first);
  });

  it('keeps the first record of a version when another write claims it (a parameter made again)', async () => {
    await archiveVersion(stores.s3, dev, entry('a'.repeat(24)));
    const first = store.text(BUCKET, archivedVersionKey(dev, 5));
    expect(await archiveVersion(stores.s3, dev, entry('b'.repeat(24), release(6).key))).toBe(false);
    expect(store.text(BUCKET, archivedVersionKey(dev, 5))).toBe(first);
  });

  it('rethrows what is not a refusal', async () => {
    s3Mock.on(PutObjectCommand).rejects(awsError('SlowDown', 'Please reduce your request rate', 503));
    expect((await rejectionOf(archiveVersion(stores.s3, dev, entry('a'.repeat(24))))).name).toBe('SlowDown');
  });
});

describe('settleRun', () => {
  const run: RunRecord = {
    token: 'deploy-dev-v7-0123456789abcdef01234567',
    stage: 'dev',
    stack: dev.stack,
    version: 7,
    artifactKey: release(7).key,
    changeSet: 'deploy-dev-v7',
    state: 'executing',
    createdAt: '2026-11-20T10:00:00.000Z',
    startedAt: '2026-11-20T09:00:00.000Z',
  };

  it('archives how the run ended, then marks the run settled with the time of the event', async () => {
    const settled = {
      eventId: 'event-1',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      settledAt: '2026-11-20T10:05:00Z',
    };
    await settleRun(stores.s3, dev, run, settled);

    const keys = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual([archivedOutcomeKey(dev, 7, run.token), `.deployer/runs/dev/${run.token}.json`]);
    expect(store.json(BUCKET, archivedOutcomeKey(dev, 7, run.token))).toEqual({
      stage: 'dev',
      version: 7,
      token: run.token,
      status: 'UPDATE_ROLLBACK_COMPLETE',
      settledAt: '2026-11-20T10:05:00Z',
      failed: true,
    });
    expect(store.json(BUCKET, `.deployer/runs/dev/${run.token}.json`)).toMatchObject({
      state: 'settled',
      settledBy: 'event-1',
      settledStatus: 'UPDATE_ROLLBACK_COMPLETE',
      settledAt: '2026-11-20T10:05:00Z',
    });
  });

  it('does not mark the run settled when its outcome could not be archived (the event is retried)', async () => {
    s3Mock.on(PutObjectCommand).rejects(awsError('InternalError', 'We encountered an internal error', 500));
    await rejectionOf(
      settleRun(stores.s3, dev, run, {
        eventId: 'e',
        status: 'UPDATE_COMPLETE',
        settledAt: '2026-11-20T10:05:00Z',
      }),
    );
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).not.toContain(
      `.deployer/runs/dev/${run.token}.json`,
    );
  });
});

describe('readWholeHistory', () => {
  it('puts the archived versions SSM no longer keeps before SSM’s, oldest first, each version once', async () => {
    givenSsmVersions(101, 200);
    for (let v = 1; v <= 200; v++) putArchived(archived(v));
    // SSM wins where both keep a version: the archive's record of 150 is not what SSM says.
    putArchived(archived(150, { key: release(999).key }));

    const history = await readWholeHistory(stores, dev);

    expect(history.map((v) => v.version)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(history[0]).toEqual({
      version: 1,
      key: release(1).key,
      labels: [],
      provenance: archived(1).provenance,
      handWritten: false,
      modifiedAt: archived(1).recordedAt,
      failed: false,
      archived: true,
    });
    expect(history[149]).toMatchObject({ version: 150, key: release(150).key, labels: ['exec-e150'] });
    expect(history[149]?.archived).toBeUndefined();
    // Only the versions below SSM's oldest were read from the archive.
    const read = s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key ?? '');
    expect(read).toHaveLength(100);
    expect(read.every((key) => key < archivedVersionKey(dev, 101))).toBe(true);
  });

  it('believes an archived record no further than it says: a provenance not naming its release is nobody’s', async () => {
    givenSsmVersions(3, 4);
    putArchived(archived(1, { provenance: { execution: 'e1', artifact: release(42).digest } }));
    putArchived(archived(2, { handWritten: true, provenance: {} }));

    const [one, two] = await readWholeHistory(stores, dev);

    expect(one).toMatchObject({ version: 1, provenance: {}, handWritten: true, archived: true });
    expect(two).toMatchObject({ version: 2, provenance: {}, handWritten: true, archived: true });
  });

  it('ignores a record lying under another version’s key, another stage’s, or one that is no record', async () => {
    givenSsmVersions(5, 5);
    store.put(BUCKET, archivedVersionKey(dev, 1), JSON.stringify(archived(2)));
    store.put(BUCKET, archivedVersionKey(dev, 2), JSON.stringify({ ...archived(2), stage: 'prod' }));
    store.put(BUCKET, archivedVersionKey(dev, 3), 'not json');
    store.put(BUCKET, archivedVersionKey(dev, 4), JSON.stringify({ version: 4 }));
    store.put(BUCKET, `${PREFIX}notes.txt`, 'hello');

    expect((await readWholeHistory(stores, dev)).map((v) => v.version)).toEqual([5]);
  });

  it('marks an archived version failed when the archive says its run failed, and gives the runs', async () => {
    givenSsmVersions(3, 3);
    putArchived(archived(1));
    putArchived(archived(2));
    putOutcome(outcome(2, 'UPDATE_ROLLBACK_COMPLETE', '2026-11-20T10:00:00Z'));

    const [one, two] = await readWholeHistory(stores, dev);

    expect(one).toMatchObject({ version: 1, failed: false });
    expect(two).toMatchObject({
      version: 2,
      failed: true,
      runs: [
        { token: 't2', status: 'UPDATE_ROLLBACK_COMPLETE', settledAt: '2026-11-20T10:00:00Z', failed: true },
      ],
    });
  });

  it('is SSM’s history alone when nothing was archived', async () => {
    givenSsmVersions(1, 3);
    const history = await readWholeHistory(stores, dev);
    expect(history.map((v) => [v.version, v.archived])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
  });
});

describe('readArchive with settledSince (metrics over a window)', () => {
  it('reads the outcomes written since, and of the older versions only those with such an outcome', async () => {
    for (let v = 1; v <= 4; v++) putArchived(archived(v));
    putOutcome(outcome(1, 'UPDATE_COMPLETE', '2026-11-20T12:00:01Z')); // written first: before the window
    const since = new Date(Date.UTC(2026, 10, 20, 12, 0, store.keys(BUCKET).length + 1));
    putOutcome(outcome(2, 'UPDATE_COMPLETE', '2026-11-20T12:00:09Z'));
    putOutcome(outcome(9, 'UPDATE_COMPLETE', '2026-11-20T12:00:10Z'));

    const read = await readArchive(stores.s3, dev, { below: 4, settledSince: since });

    expect(read.outcomes.map((o) => o.version)).toEqual([2, 9]);
    expect(read.versions.map((v) => v.version)).toEqual([2]);
  });
});

describe('mergeHistory', () => {
  it('keeps the first record of a version and the runs of each once, in the order they settled', () => {
    const merged = mergeHistory(
      [],
      [archived(1), archived(1, { key: release(7).key })],
      [
        outcome(1, 'UPDATE_COMPLETE', '2026-11-20T11:00:00Z', 'b'),
        outcome(1, 'UPDATE_ROLLBACK_COMPLETE', '2026-11-20T10:00:00Z', 'a'),
        outcome(1, 'UPDATE_COMPLETE', '2026-11-20T11:00:00Z', 'b'),
      ],
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]?.key).toBe(release(1).key);
    expect(merged[0]?.runs?.map((r) => r.token)).toEqual(['a', 'b']);
  });
});

describe('archiveKept (the reconcile schedule’s sweep)', () => {
  it('archives every version SSM keeps that the archive lacks, hand-written ones as such, and only those', async () => {
    givenSsmVersions(3, 6, (v) => {
      // Version 5 was written by hand: it copied version 4's description.
      if (v.Version === 5) v.Description = JSON.stringify({ execution: 'e4', artifact: release(4).digest });
    });
    putArchived(archived(3));
    putArchived(archived(6));
    putArchived(archived(1));

    expect(await archiveKept(stores, dev)).toBe(2);

    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(puts).toEqual([archivedVersionKey(dev, 4), archivedVersionKey(dev, 5)]);
    expect(store.json(BUCKET, archivedVersionKey(dev, 5))).toMatchObject({
      version: 5,
      key: release(5).key,
      provenance: {},
      handWritten: true,
      recordedAt: '2026-11-20T10:00:05.000Z',
    });
    // The listing started at SSM's oldest kept version.
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0]?.args[0].input.StartAfter).toBe(
      `${PREFIX}0000000000000002.zz`,
    );
    expect(await archiveKept(stores, dev)).toBe(0);
  });

  it('does nothing for a stage with no parameter', async () => {
    ssmMock.on(GetParameterHistoryCommand).rejects(awsError('ParameterNotFound', 'not found'));
    expect(await archiveKept(stores, dev)).toBe(0);
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectsV2Command);
  });
});
