import {
  DescribeParametersCommand,
  GetParameterCommand,
  LabelParameterVersionCommand,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { Release } from '../../shared/artifacts';
import { parseConfig } from '../../shared/config';
import { labelRecorded, parseProvenance, readDesired, recordDesired } from '../../shared/desired-state';
import {
  BUILD_RELEASE_KEY,
  BUILD_SHA256_HEX,
  executionOf,
  makeRuntime,
  repoConfigText,
  SAMPLE,
  stageOf,
} from './helpers/fixtures';

const ssmMock = mockClient(SSMClient);
const ssm = makeRuntime().clients.ssm;
const stage = stageOf(parseConfig(repoConfigText()), 'dev');
const PARAMETER = '/deployer/orders-api/dev/artifact';
const execution = executionOf();
const release: Release = {
  bucket: SAMPLE.bucket,
  key: BUILD_RELEASE_KEY,
  sha256: BUILD_SHA256_HEX,
  commitId: SAMPLE.commitId,
  copied: true,
};

const provenance = (fields: Record<string, string>) =>
  JSON.stringify({ pipeline: SAMPLE.pipeline, ...fields });

beforeEach(() => {
  ssmMock.reset();
  ssmMock.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 1 });
});

describe('recordDesired', () => {
  it('records the first release without Overwrite and labels it with the execution and the commit', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const result = await recordDesired(ssm, stage, release, execution);
    // The deploy path labels the version last, once the ops team was told.
    await labelRecorded(ssm, stage, result.version, execution.executionId, release.commitId);
    expect(result).toEqual({ outcome: 'recorded', version: 1 });
    expect(ssmMock).toHaveReceivedCommandWith(DescribeParametersCommand, {
      ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [PARAMETER] }],
    });
    expect(ssmMock).toHaveReceivedCommandTimes(PutParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: PARAMETER,
      Value: BUILD_RELEASE_KEY,
      Type: 'String',
      Overwrite: false,
    });
    const put = ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Description ?? '')).toEqual({
      pipeline: SAMPLE.pipeline,
      execution: SAMPLE.executionId,
      commit: SAMPLE.commitId,
      startedAt: SAMPLE.startTime,
    });
    expect(put?.Description?.length).toBeLessThanOrEqual(1024);
    expect(ssmMock).toHaveReceivedCommandTimes(LabelParameterVersionCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETER,
      ParameterVersion: 1,
      Labels: [`exec-${SAMPLE.executionId}`, `commit-${SAMPLE.commitId}`],
    });
  });

  it('writes a new version with Overwrite over an older execution, labelling the version it got', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({
      Parameters: [
        {
          Name: PARAMETER,
          Version: 4,
          Description: provenance({ execution: 'older-run', startedAt: '2026-11-20T08:00:00.000Z' }),
        },
      ],
    });
    ssmMock.on(PutParameterCommand).resolves({ Version: 5 });
    const result = await recordDesired(ssm, stage, release, execution);
    // The deploy path labels the version last, once the ops team was told.
    await labelRecorded(ssm, stage, result.version, execution.executionId, release.commitId);
    expect(result).toEqual({ outcome: 'recorded', version: 5 });
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
    const recorded = await recordDesired(ssm, stage, withoutCommit, legacy);
    await labelRecorded(ssm, stage, recorded.version, legacy.executionId, undefined);
    expect(ssmMock).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Labels: ['exec-7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f'],
    });
    const put = ssmMock.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Description ?? '')).not.toHaveProperty('commit');
  });

  it.each([
    [true, 7],
    [false, 6],
  ])(
    'on a duplicate delivery writes nothing new, and says whether the first delivery finished (labelled: %s)',
    async (finished, labelledVersion) => {
      ssmMock.on(DescribeParametersCommand).resolves({
        Parameters: [
          {
            Name: PARAMETER,
            Version: 7,
            Description: provenance({
              execution: SAMPLE.executionId,
              commit: SAMPLE.commitId,
              startedAt: SAMPLE.startTime,
            }),
          },
        ],
      });
      ssmMock
        .on(GetParameterCommand, { Name: `${PARAMETER}:exec-${SAMPLE.executionId}` })
        .resolves({ Parameter: { Name: PARAMETER, Version: labelledVersion, Value: BUILD_RELEASE_KEY } });
      const result = await recordDesired(ssm, stage, release, execution);
      expect(result).toEqual({ outcome: 'duplicate', version: 7, announced: finished });
      expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
      expect(ssmMock).not.toHaveReceivedCommand(LabelParameterVersionCommand);
    },
  );

  it('does not record an older execution arriving after a newer one', async () => {
    const newer = { execution: 'newer-run', commit: 'b'.repeat(40), startedAt: '2026-11-20T11:00:00.000Z' };
    ssmMock.on(DescribeParametersCommand).resolves({
      Parameters: [{ Name: PARAMETER, Version: 9, Description: provenance(newer) }],
    });
    const result = await recordDesired(ssm, stage, release, execution);
    expect(result).toEqual({
      outcome: 'superseded',
      version: 9,
      by: expect.objectContaining(newer),
    });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
    expect(ssmMock).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('orders a hand-written version (no JSON description) by its LastModifiedDate: written later wins', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({
      Parameters: [
        {
          Name: PARAMETER,
          Version: 3,
          Description: 'manual rollback by dana',
          LastModifiedDate: new Date('2026-11-20T10:30:00Z'),
        },
      ],
    });
    const result = await recordDesired(ssm, stage, release, execution);
    expect(result).toMatchObject({
      outcome: 'superseded',
      version: 3,
      by: { startedAt: '2026-11-20T10:30:00.000Z' },
    });
    expect(ssmMock).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('orders a hand-written version by its LastModifiedDate: written earlier is replaced', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({
      Parameters: [{ Name: PARAMETER, Version: 3, LastModifiedDate: new Date('2026-11-20T10:00:00Z') }],
    });
    ssmMock.on(PutParameterCommand).resolves({ Version: 4 });
    const result = await recordDesired(ssm, stage, release, execution);
    expect(result).toEqual({ outcome: 'recorded', version: 4 });
    expect(ssmMock).toHaveReceivedCommandWith(PutParameterCommand, { Overwrite: true });
  });

  it('fails when PutParameter returns no version', async () => {
    ssmMock.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssmMock.on(PutParameterCommand).resolves({});
    await expect(recordDesired(ssm, stage, release, execution)).rejects.toThrow(/returned no version/);
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

describe('readDesired', () => {
  it('reads the release key and version', async () => {
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: { Name: PARAMETER, Value: BUILD_RELEASE_KEY, Version: 6 },
    });
    await expect(readDesired(ssm, stage)).resolves.toEqual({
      parameter: PARAMETER,
      key: BUILD_RELEASE_KEY,
      version: 6,
    });
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: PARAMETER });
  });

  it('returns undefined on ParameterNotFound', async () => {
    ssmMock
      .on(GetParameterCommand)
      .rejects(new ParameterNotFound({ message: 'Parameter not found', $metadata: { httpStatusCode: 400 } }));
    await expect(readDesired(ssm, stage)).resolves.toBeUndefined();
  });

  it('lets other errors through', async () => {
    ssmMock
      .on(GetParameterCommand)
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
