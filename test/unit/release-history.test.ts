import {
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  type ParameterHistory,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { latestWithKey, markFailed, readHistory } from '../../shared/aws/release-history';
import { awsError, makeRuntime, rejectionOf, SAMPLE, stageOf } from './helpers/fixtures';
import { NEW_KEY, NEWER_KEY, version } from './helpers/stack-builders';
import { PARAMETERS } from './helpers/stack-samples';
import { OLD_KEY } from './helpers/world';

const ssm = mockClient(SSMClient);
const runtime = makeRuntime();
const prod = stageOf(runtime.config, 'prod');

beforeEach(() => {
  ssm.reset();
});

describe('readHistory', () => {
  it('reads every page, oldest first, with provenance, labels and the failed mark', async () => {
    const pages: ParameterHistory[][] = [
      [version('prod', 3, NEWER_KEY, { labels: ['failed-v3'] }), version('prod', 1, OLD_KEY)],
      [version('prod', 2, NEW_KEY, { commit: SAMPLE.commitId, labels: ['exec-2', 'failed-v1'] })],
    ];
    ssm
      .on(GetParameterHistoryCommand)
      .resolvesOnce({ Parameters: pages[0], NextToken: 'next' })
      .resolvesOnce({ Parameters: pages[1] });
    const history = await readHistory(runtime.clients.ssm, prod);
    expect(history.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(history.map((v) => v.failed)).toEqual([false, false, true]);
    expect(history[1]).toMatchObject({
      key: NEW_KEY,
      labels: ['exec-2', 'failed-v1'],
      provenance: { pipeline: SAMPLE.pipeline, execution: 'exec-2', commit: SAMPLE.commitId },
      modifiedAt: '2026-11-20T10:02:00.000Z',
    });
    expect(ssm).toHaveReceivedCommandTimes(GetParameterHistoryCommand, 2);
    expect(ssm).toHaveReceivedNthCommandWith(1, GetParameterHistoryCommand, {
      Name: PARAMETERS.prod,
      MaxResults: 50,
      NextToken: undefined,
    });
    expect(ssm).toHaveReceivedNthCommandWith(2, GetParameterHistoryCommand, {
      Name: PARAMETERS.prod,
      MaxResults: 50,
      NextToken: 'next',
    });
  });

  it('gives an empty history for a parameter that does not exist', async () => {
    ssm.on(GetParameterHistoryCommand).rejects(awsError('ParameterNotFound', 'not found'));
    expect(await readHistory(runtime.clients.ssm, prod)).toEqual([]);
  });

  it('passes any other error on', async () => {
    ssm.on(GetParameterHistoryCommand).rejects(awsError('AccessDeniedException', 'no', 403));
    expect((await rejectionOf(readHistory(runtime.clients.ssm, prod))).name).toBe('AccessDeniedException');
  });

  it('skips versions without a value or number, and reads a hand-written description as no provenance', async () => {
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Name: PARAMETERS.prod, Version: 1 },
        { Name: PARAMETERS.prod, Value: OLD_KEY },
        version('prod', 2, NEW_KEY, { description: 'rolled back by hand, see INC-42' }),
      ],
    });
    const history = await readHistory(runtime.clients.ssm, prod);
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ version: 2, key: NEW_KEY, provenance: {}, failed: false });
  });
});

describe('latestWithKey', () => {
  it('finds the newest version that holds the key', async () => {
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [version('prod', 1, OLD_KEY), version('prod', 2, NEW_KEY), version('prod', 3, OLD_KEY)],
    });
    const history = await readHistory(runtime.clients.ssm, prod);
    expect(latestWithKey(history, OLD_KEY)?.version).toBe(3);
    expect(latestWithKey(history, NEW_KEY)?.version).toBe(2);
    expect(latestWithKey(history, NEWER_KEY)).toBeUndefined();
  });
});

describe('markFailed', () => {
  it('labels the version failed-v<N>', async () => {
    ssm.on(LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 7 });
    await markFailed(runtime.clients.ssm, prod, 7);
    expect(ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETERS.prod,
      ParameterVersion: 7,
      Labels: ['failed-v7'],
    });
  });

  it.each([0, -1, 1.5])('refuses version %s without calling SSM', async (bad) => {
    await rejectionOf(markFailed(runtime.clients.ssm, prod, bad));
    expect(ssm).not.toHaveReceivedAnyCommand();
  });
});
