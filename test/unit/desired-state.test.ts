import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  ParameterNotFound,
  PutParameterCommand,
  type PutParameterCommandInput,
  SSMClient,
  UnlabelParameterVersionCommand,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { Release } from '../../shared/aws/artifacts';
import { labelRecorded, recordDesired, writeDesired } from '../../shared/aws/desired-state';
import { parseProvenance, trustProvenance } from '../../shared/aws/provenance';
import { readDesired } from '../../shared/aws/release-history';
import { AmbiguousWriteError } from '../../shared/aws/single-writes';
import { parseConfig } from '../../shared/edge/config';
import {
  awsError,
  BUILD_RELEASE_KEY,
  BUILD_SHA256_HEX,
  executionOf,
  makeRuntime,
  repoConfigText,
  SAMPLE,
  stageOf,
} from './helpers/fixtures';
import { TEMPLATE, TEMPLATE_WITH_QUEUE } from './helpers/releases';
import { NEWER_RELEASE } from './helpers/stack-builders';

const ssmMock = mockClient(SSMClient);
// Every written version is archived too (history-archive.test.ts tests that): here S3 only answers.
const s3Mock = mockClient(S3Client);
const stores = makeRuntime().clients;
const { ssm } = stores;
const stage = stageOf(parseConfig(repoConfigText()), 'dev');
const PARAMETER = '/deployer/orders-api/dev/artifact';
const execution = executionOf();
const release: Release = {
  bucket: SAMPLE.bucket,
  key: BUILD_RELEASE_KEY,
  sha256: BUILD_SHA256_HEX,
  commitId: SAMPLE.commitId,
};

const provenance = (fields: Record<string, string>) =>
  JSON.stringify({ pipeline: SAMPLE.pipeline, ...fields });

/** The write token every version the deployer writes carries in its provenance. */
const WRITE_TOKEN = expect.stringMatching(/^[0-9a-f]{24}$/);

/**
 * The newest version as recordDesired reads it: its number, description and time (DescribeParameters) and
 * its value (GetParameter), read together.
 */
const givenLatest = (latest: {
  version: number;
  value: string;
  description?: string;
  modifiedAt?: Date;
}): void => {
  ssmMock.on(DescribeParametersCommand).resolves({
    Parameters: [
      {
        Name: PARAMETER,
        Version: latest.version,
        ...(latest.description !== undefined ? { Description: latest.description } : {}),
        ...(latest.modifiedAt ? { LastModifiedDate: latest.modifiedAt } : {}),
      },
    ],
  });
  ssmMock
    .on(GetParameterCommand, { Name: PARAMETER })
    .resolves({ Parameter: { Name: PARAMETER, Value: latest.value, Version: latest.version } });
};

/** The description of the one PutParameter sent, parsed. */
const writtenProvenance = () =>
  JSON.parse(ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input.Description ?? '{}') as Record<
    string,
    string
  >;

beforeEach(() => {
  ssmMock.reset();
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
  ssmMock.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 1 });
  // No parameter yet, unless a test gives one.
  ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
  ssmMock
    .on(GetParameterCommand, { Name: PARAMETER })
    .rejects(new ParameterNotFound({ message: 'Parameter not found', $metadata: { httpStatusCode: 400 } }));
});

describe('recordDesired', () => {
  it('past version 100, frees the oldest version of its labels before writing: no write is refused', async () => {
    givenLatest({
      version: 100,
      value: `${stage.releasePrefix}${'1'.repeat(64)}.zip`,
      description: provenance({ execution: 'older', startedAt: '2020-01-01T00:00:00.000Z' }),
    });
    ssmMock.on(GetParameterHistoryCommand, { Name: PARAMETER, MaxResults: 1 }).resolves({
      Parameters: [{ Name: PARAMETER, Version: 1, Value: 'x', Labels: ['exec-old', 'commit-old'] }],
    });
    ssmMock.on(UnlabelParameterVersionCommand).resolves({});
    ssmMock.on(PutParameterCommand).resolves({ Version: 101 });
    const result = await recordDesired(stores, stage, release, execution);
    expect(result).toMatchObject({ outcome: 'recorded', version: 101 });
    expect(ssmMock).toHaveReceivedCommandWith(UnlabelParameterVersionCommand, {
      Name: PARAMETER,
      ParameterVersion: 1,
      Labels: ['exec-old', 'commit-old'],
    });
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    const order = ssmMock.calls().map((c) => c.args[0].constructor.name);
    expect(order.indexOf('UnlabelParameterVersionCommand')).toBeLessThan(
      order.indexOf('PutParameterCommand'),
    );
  });

  it('below version 100, writes without looking at the oldest version', async () => {
    givenLatest({
      version: 99,
      value: `${stage.releasePrefix}${'1'.repeat(64)}.zip`,
      description: provenance({ execution: 'older', startedAt: '2020-01-01T00:00:00.000Z' }),
    });
    ssmMock.on(PutParameterCommand).resolves({ Version: 100 });
    await recordDesired(stores, stage, release, execution);
    expect(ssmMock).not.toHaveReceivedCommand(GetParameterHistoryCommand);
    expect(ssmMock).not.toHaveReceivedCommand(UnlabelParameterVersionCommand);
  });

  it('records the first release without Overwrite and labels it with the execution and the commit', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const result = await recordDesired(stores, stage, release, execution);
    // The deploy path labels the version last, once the ops team was told.
    await labelRecorded(ssm, stage, result.version, execution.executionId, release.commitId);
    const recorded = {
      pipeline: SAMPLE.pipeline,
      execution: SAMPLE.executionId,
      commit: SAMPLE.commitId,
      startedAt: SAMPLE.startTime,
      // The provenance names its own value: the SHA-256 of the artifact the version's key names.
      artifact: BUILD_SHA256_HEX,
      write: WRITE_TOKEN,
    };
    expect(result).toEqual({
      outcome: 'recorded',
      version: 1,
      provenance: recorded,
      archived: expect.any(Promise),
    });
    expect(ssmMock).toHaveReceivedCommandWith(DescribeParametersCommand, {
      ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [PARAMETER] }],
    });
    // The newest value is read together with its description.
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: PARAMETER });
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: PARAMETER,
      Value: BUILD_RELEASE_KEY,
      Type: 'String',
      Overwrite: false,
    });
    const put = ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Description ?? '')).toEqual(recorded);
    expect(put?.Description?.length).toBeLessThanOrEqual(1024);
    expect(ssmMock).toHaveReceivedCommandTimes(LabelParameterVersionCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETER,
      ParameterVersion: 1,
      Labels: [`exec-${SAMPLE.executionId}`, `commit-${SAMPLE.commitId}`],
    });
  });

  it('writes a new version with Overwrite over an older execution, labelling the version it got', async () => {
    givenLatest({
      version: 4,
      value: NEWER_RELEASE.key,
      description: provenance({
        execution: 'older-run',
        startedAt: '2026-11-20T08:00:00.000Z',
        artifact: NEWER_RELEASE.sha256,
      }),
    });
    ssmMock.on(PutParameterCommand).resolves({ Version: 5 });
    const result = await recordDesired(stores, stage, release, execution);
    // The deploy path labels the version last, once the ops team was told.
    await labelRecorded(ssm, stage, result.version, execution.executionId, release.commitId);
    expect(result).toMatchObject({ outcome: 'recorded', version: 5 });
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Overwrite: true,
      Value: BUILD_RELEASE_KEY,
    });
    expect(ssmMock).toHaveReceivedCommandWith(LabelParameterVersionCommand, { ParameterVersion: 5 });
  });

  it('labels only the execution when no commit is known', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const { commitId: _, ...withoutCommit } = release;
    const legacy = executionOf('pipeline-succeeded-legacy');
    const recorded = await recordDesired(stores, stage, withoutCommit, legacy);
    await labelRecorded(ssm, stage, recorded.version, legacy.executionId, undefined);
    expect(ssmMock).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Labels: ['exec-7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f'],
    });
    const put = ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Description ?? '')).not.toHaveProperty('commit');
  });

  it.each([
    [true, 7],
    [false, undefined],
  ])(
    'on a duplicate delivery writes nothing new, and says whether the first delivery finished (labelled: %s)',
    async (finished, labelledVersion) => {
      const first = {
        execution: SAMPLE.executionId,
        commit: SAMPLE.commitId,
        startedAt: SAMPLE.startTime,
        artifact: BUILD_SHA256_HEX,
        template: TEMPLATE.sha256,
      };
      givenLatest({ version: 7, value: BUILD_RELEASE_KEY, description: provenance(first) });
      const label = ssmMock.on(GetParameterCommand, { Name: `${PARAMETER}:exec-${SAMPLE.executionId}` });
      if (labelledVersion === undefined)
        label.rejects(awsError('ParameterVersionLabelNotFound', 'no version carries that label'));
      else
        label.resolves({
          Parameter: { Name: PARAMETER, Version: labelledVersion, Value: BUILD_RELEASE_KEY },
        });
      const result = await recordDesired(stores, stage, release, execution);
      expect(result).toEqual({
        outcome: 'duplicate',
        version: 7,
        announced: finished,
        provenance: { pipeline: SAMPLE.pipeline, ...first },
      });
      expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
      expect(ssmMock).not.toHaveReceivedCommand(LabelParameterVersionCommand);
    },
  );

  it("a newest version that copied this execution's description while its label sits on an older one is a hand write: not a duplicate", async () => {
    // Provenance written before digests were pinned (no artifact field): only the label tells the copy apart.
    const legacy = { execution: SAMPLE.executionId, commit: SAMPLE.commitId, startedAt: SAMPLE.startTime };
    givenLatest({
      version: 8,
      value: BUILD_RELEASE_KEY,
      description: provenance(legacy),
      modifiedAt: new Date('2026-11-21T09:00:00Z'),
    });
    ssmMock
      .on(GetParameterCommand, { Name: `${PARAMETER}:exec-${SAMPLE.executionId}` })
      .resolves({ Parameter: { Name: PARAMETER, Version: 6, Value: BUILD_RELEASE_KEY } });
    const result = await recordDesired(stores, stage, release, execution);
    // Written by hand after this execution started: the late delivery does not undo it.
    expect(result).toMatchObject({ outcome: 'superseded', version: 8 });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('does not record an older execution arriving after a newer one', async () => {
    const newer = {
      execution: 'newer-run',
      commit: 'b'.repeat(40),
      startedAt: '2026-11-20T11:00:00.000Z',
      artifact: NEWER_RELEASE.sha256,
    };
    givenLatest({ version: 9, value: NEWER_RELEASE.key, description: provenance(newer) });
    const result = await recordDesired(stores, stage, release, execution);
    expect(result).toEqual({
      outcome: 'superseded',
      version: 9,
      by: expect.objectContaining(newer),
    });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ssmMock).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('orders a hand-written version (no JSON description) by its LastModifiedDate: written later wins', async () => {
    givenLatest({
      version: 3,
      value: NEWER_RELEASE.key,
      description: 'manual rollback by dana',
      modifiedAt: new Date('2026-11-20T10:30:00Z'),
    });
    const result = await recordDesired(stores, stage, release, execution);
    expect(result).toMatchObject({
      outcome: 'superseded',
      version: 3,
      by: { startedAt: '2026-11-20T10:30:00.000Z' },
    });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('orders a hand-written version by its LastModifiedDate: written earlier is replaced', async () => {
    givenLatest({ version: 3, value: NEWER_RELEASE.key, modifiedAt: new Date('2026-11-20T10:00:00Z') });
    ssmMock.on(PutParameterCommand).resolves({ Version: 4 });
    const result = await recordDesired(stores, stage, release, execution);
    expect(result).toMatchObject({ outcome: 'recorded', version: 4 });
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Overwrite: true });
  });

  it("a hand-written version that inherited the execution's description is not taken for this delivery", async () => {
    // `aws ssm put-parameter --overwrite` without a description keeps the previous version's: the version
    // holds another release but claims this execution. Its provenance does not name its own value.
    const inherited = provenance({
      execution: SAMPLE.executionId,
      commit: SAMPLE.commitId,
      startedAt: SAMPLE.startTime,
      artifact: BUILD_SHA256_HEX,
    });
    givenLatest({
      version: 8,
      value: NEWER_RELEASE.key,
      description: inherited,
      modifiedAt: new Date('2026-11-20T10:30:00Z'),
    });
    const result = await recordDesired(stores, stage, release, execution);
    // Not a duplicate: credited to nobody, it counts from when it was written (after this execution began).
    expect(result).toEqual({
      outcome: 'superseded',
      version: 8,
      by: { startedAt: '2026-11-20T10:30:00.000Z' },
    });
    expect(ssmMock).not.toHaveReceivedCommandWith(GetParameterCommand, {
      Name: `${PARAMETER}:exec-${SAMPLE.executionId}`,
    });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('reads again when a write lands between reading the description and the value', async () => {
    const older = provenance({
      execution: 'older-run',
      startedAt: '2026-11-20T08:00:00.000Z',
      artifact: NEWER_RELEASE.sha256,
    });
    const described = (Version: number) => ({
      Parameters: [{ Name: PARAMETER, Version, Description: older }],
    });
    ssmMock.on(DescribeParametersCommand).resolvesOnce(described(4)).resolves(described(5));
    ssmMock
      .on(GetParameterCommand, { Name: PARAMETER })
      .resolves({ Parameter: { Name: PARAMETER, Value: NEWER_RELEASE.key, Version: 5 } });
    ssmMock.on(PutParameterCommand).resolves({ Version: 6 });
    await expect(recordDesired(stores, stage, release, execution)).resolves.toMatchObject({
      outcome: 'recorded',
      version: 6,
    });
    expect(ssmMock).toHaveReceivedCommandTimes(DescribeParametersCommand, 2);
  });

  describe('the template a version pins', () => {
    const firstTemplate = jest.fn(async (_first: boolean): Promise<string | undefined> => TEMPLATE.sha256);
    beforeEach(() => {
      firstTemplate.mockClear();
      ssmMock.on(PutParameterCommand).resolves({ Version: 2 });
    });

    it('pins the template built with the release', async () => {
      givenLatest({
        version: 1,
        value: NEWER_RELEASE.key,
        description: provenance({
          execution: 'older-run',
          startedAt: '2026-11-20T08:00:00.000Z',
          artifact: NEWER_RELEASE.sha256,
          template: TEMPLATE.sha256,
        }),
      });
      const withTemplate = {
        ...release,
        template: { key: TEMPLATE_WITH_QUEUE.key, sha256: TEMPLATE_WITH_QUEUE.sha256 },
      };
      const result = await recordDesired(stores, stage, withTemplate, execution, firstTemplate);
      expect(result).toMatchObject({
        outcome: 'recorded',
        provenance: { template: TEMPLATE_WITH_QUEUE.sha256 },
      });
      expect(writtenProvenance()).toMatchObject({
        artifact: BUILD_SHA256_HEX,
        template: TEMPLATE_WITH_QUEUE.sha256,
      });
      expect(firstTemplate).not.toHaveBeenCalled();
    });

    it('keeps the template the stage deploys when the build published none', async () => {
      givenLatest({
        version: 1,
        value: NEWER_RELEASE.key,
        description: provenance({
          execution: 'older-run',
          startedAt: '2026-11-20T08:00:00.000Z',
          artifact: NEWER_RELEASE.sha256,
          template: TEMPLATE.sha256,
        }),
      });
      await recordDesired(stores, stage, release, execution, firstTemplate);
      expect(writtenProvenance().template).toBe(TEMPLATE.sha256);
      expect(firstTemplate).not.toHaveBeenCalled();
    });

    it("asks for the configured template's pin for the stage's very first version", async () => {
      await recordDesired(stores, stage, release, execution, firstTemplate);
      expect(firstTemplate).toHaveBeenCalledWith(true);
      expect(writtenProvenance().template).toBe(TEMPLATE.sha256);
    });

    it('pins no template when nothing names one (the stack keeps its own)', async () => {
      givenLatest({
        version: 1,
        value: NEWER_RELEASE.key,
        description: provenance({
          execution: 'older-run',
          startedAt: '2026-11-20T08:00:00.000Z',
          artifact: NEWER_RELEASE.sha256,
        }),
      });
      firstTemplate.mockResolvedValueOnce(undefined);
      await recordDesired(stores, stage, release, execution, firstTemplate);
      expect(firstTemplate).toHaveBeenCalledWith(false);
      expect(writtenProvenance()).not.toHaveProperty('template');
    });
  });

  it('fails when PutParameter returns no version', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssmMock.on(PutParameterCommand).resolves({});
    await expect(recordDesired(stores, stage, release, execution)).rejects.toThrow(/returned no version/);
    expect(ssmMock).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('still succeeds when SSM refuses a label (logged, not fatal)', async () => {
    ssmMock.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [`commit-${SAMPLE.commitId}`] });
    await expect(
      labelRecorded(ssm, stage, 1, execution.executionId, release.commitId),
    ).resolves.toBeUndefined();
    expect(ssmMock).toHaveReceivedCommandTimes(LabelParameterVersionCommand, 1);
  });
});

describe('writeDesired', () => {
  it('a write whose answer was lost is found by its token, not written twice', async () => {
    let landed: PutParameterCommandInput | undefined;
    ssmMock.on(PutParameterCommand).callsFake(async (input: PutParameterCommandInput) => {
      landed = input;
      throw new AmbiguousWriteError(awsError('InternalServerError', 'connection reset', 500));
    });
    ssmMock.on(DescribeParametersCommand).callsFake(async () => ({
      Parameters: [{ Name: PARAMETER, Version: 12, Description: landed?.Description }],
    }));
    const written = await writeDesired(
      stores,
      stage,
      BUILD_RELEASE_KEY,
      { artifact: BUILD_SHA256_HEX },
      true,
    );
    expect(written).toEqual({
      version: 12,
      provenance: { artifact: BUILD_SHA256_HEX, write: WRITE_TOKEN },
      archived: expect.any(Promise),
    });
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
  });

  it('returns once SSM has the version; the archive write goes on beside, and `archived` ends with it', async () => {
    let finishArchive: (() => void) | undefined;
    s3Mock.on(PutObjectCommand).callsFake(
      () =>
        new Promise((resolve) => {
          finishArchive = () => resolve({});
        }),
    );
    ssmMock.on(PutParameterCommand).resolves({ Version: 3 });
    const written = await writeDesired(
      stores,
      stage,
      BUILD_RELEASE_KEY,
      { artifact: BUILD_SHA256_HEX },
      true,
    );
    expect(written.version).toBe(3);
    let archived = false;
    void written.archived.then(() => {
      archived = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    // The archive's PutObject is in flight, not waited for: the deploy goes on to reconcile meanwhile.
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Key: expect.stringContaining(`.deployer/history/${stage.name}/`),
    });
    expect(archived).toBe(false);
    finishArchive?.();
    await written.archived;
    expect(archived).toBe(true);
  });

  it("a lost write is written again when the newest version is not its own (another write's token)", async () => {
    ssmMock
      .on(PutParameterCommand)
      .rejectsOnce(new AmbiguousWriteError(awsError('InternalServerError', 'connection reset', 500)))
      .resolves({ Version: 13 });
    ssmMock.on(DescribeParametersCommand).resolves({
      Parameters: [{ Name: PARAMETER, Version: 12, Description: JSON.stringify({ write: 'f'.repeat(24) }) }],
    });
    const written = await writeDesired(
      stores,
      stage,
      BUILD_RELEASE_KEY,
      { artifact: BUILD_SHA256_HEX },
      true,
    );
    expect(written.version).toBe(13);
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 2);
    const [first, second] = ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input.Description);
    expect(second).toBe(first);
  });
});

describe('trustProvenance', () => {
  const own = provenance({ execution: 'e1', artifact: BUILD_SHA256_HEX });

  it('credits provenance that names its own value', () => {
    expect(trustProvenance(own, BUILD_RELEASE_KEY)).toEqual({
      provenance: { pipeline: SAMPLE.pipeline, execution: 'e1', artifact: BUILD_SHA256_HEX },
      handWritten: false,
    });
  });

  it.each<[string, string | undefined, string, string | undefined]>([
    ['a description copied from the previous version', own, BUILD_RELEASE_KEY, own],
    ['provenance naming another artifact than the value', own, NEWER_RELEASE.key, undefined],
    ['a description that is not JSON', 'set by hand', BUILD_RELEASE_KEY, undefined],
    ['no description', undefined, BUILD_RELEASE_KEY, undefined],
  ])('counts %s as hand-written, credited to nobody', (_what, description, value, previous) => {
    expect(trustProvenance(description, value, previous)).toEqual({ provenance: {}, handWritten: true });
  });
});

describe('readDesired (the newest version of the history)', () => {
  it('reads the release key, version, provenance and failed mark of the newest version', async () => {
    const description = provenance({ execution: 'e6', artifact: BUILD_SHA256_HEX });
    ssmMock.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        {
          Name: PARAMETER,
          Value: NEWER_RELEASE.key,
          Version: 5,
          Description: provenance({ execution: 'e5' }),
        },
        {
          Name: PARAMETER,
          Value: BUILD_RELEASE_KEY,
          Version: 6,
          Description: description,
          Labels: ['failed-v6'],
        },
      ],
    });
    await expect(readDesired(ssm, stage)).resolves.toEqual({
      parameter: PARAMETER,
      key: BUILD_RELEASE_KEY,
      version: 6,
      provenance: { pipeline: SAMPLE.pipeline, execution: 'e6', artifact: BUILD_SHA256_HEX },
      failed: true,
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterHistoryCommand, { Name: PARAMETER });
  });

  it('credits a hand-written newest version to nobody', async () => {
    const description = provenance({
      execution: 'e5',
      commit: SAMPLE.commitId,
      artifact: NEWER_RELEASE.sha256,
    });
    ssmMock.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Name: PARAMETER, Value: NEWER_RELEASE.key, Version: 5, Description: description },
        // put-parameter --overwrite without a description: the previous description stays.
        { Name: PARAMETER, Value: BUILD_RELEASE_KEY, Version: 6, Description: description },
      ],
    });
    await expect(readDesired(ssm, stage)).resolves.toMatchObject({ version: 6, provenance: {} });
  });

  it('returns undefined on ParameterNotFound', async () => {
    ssmMock
      .on(GetParameterHistoryCommand)
      .rejects(new ParameterNotFound({ message: 'Parameter not found', $metadata: { httpStatusCode: 400 } }));
    await expect(readDesired(ssm, stage)).resolves.toBeUndefined();
  });

  it('lets other errors through', async () => {
    ssmMock
      .on(GetParameterHistoryCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(readDesired(ssm, stage)).rejects.toThrow('Rate exceeded');
  });
});

describe('parseProvenance', () => {
  it('reads the JSON the deployer writes', () => {
    expect(
      parseProvenance('{"pipeline":"p","execution":"e","startedAt":"2026-01-01T00:00:00.000Z"}'),
    ).toEqual({
      pipeline: 'p',
      execution: 'e',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
  });

  it.each([undefined, '', 'set by hand', '{not json', '{"execution": 42}'])(
    'yields nothing for %p',
    (text) => {
      expect(parseProvenance(text)).toEqual({});
    },
  );
});
