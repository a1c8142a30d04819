import {
  CreateChangeSetCommand,
  DescribeStacksCommand,
  type DescribeStacksCommandInput,
  ExecuteChangeSetCommand,
  GetTemplateSummaryCommand,
} from '@aws-sdk/client-cloudformation';
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand, type PublishCommandInput } from '@aws-sdk/client-sns';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  InternalServerError,
  LabelParameterVersionCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import type { Runtime } from '../../shared/runtime';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import {
  BUILD_BYTES,
  BUILD_RELEASE_KEY,
  BUILD_SHA256_HEX,
  loadEvent,
  makeRuntime,
  rejectionOf,
  repoConfigText,
  SAMPLE,
  type SampleEvent,
  TOPIC_ARN,
} from './helpers/fixtures';
import {
  BUILD_RELEASE,
  CONFIGURED_TEMPLATE_KEY,
  putRelease,
  TEMPLATE,
  TEMPLATE_WITH_QUEUE,
} from './helpers/releases';
import { appliedOf, givenApplied, runRecordOf, runTokenPattern } from './helpers/runs';
import {
  defaultObjects,
  expectNoAwsCall,
  givenLatestVersion,
  givenWorld,
  mockAll,
  OLD_RELEASE,
  resetAll,
  stackNamed,
} from './helpers/world';

const mocks = mockAll();
let runtime: Runtime;

beforeEach(() => {
  resetAll(mocks);
  runtime = makeRuntime();
});

/** The repository configuration without its prod stage: one pipeline, one stage. */
const devOnlyConfig = (): string => {
  const [devOnly] = repoConfigText().split('      prod:\n');
  if (!devOnly || devOnly === repoConfigText()) throw new Error('test setup: no prod stage to cut');
  return devOnly;
};

const succeeded = (change: (event: SampleEvent) => void = () => {}): SampleEvent => {
  const event = loadEvent('pipeline-succeeded');
  change(event);
  return event;
};

const published = (): PublishCommandInput[] =>
  mocks.sns.commandCalls(PublishCommand).map((call) => call.args[0].input);

const publishedFor = (stage: string): PublishCommandInput => {
  const found = published().filter((p) => p.MessageAttributes?.stage?.StringValue === stage);
  expect(found).toHaveLength(1);
  const [only] = found;
  if (!only) throw new Error(`no message for ${stage}`);
  return only;
};

/**
 * The provenance the deployer writes for the sample execution (a duplicate delivery finds it): it names the
 * artifact's digest and the template the version pins.
 */
const sampleProvenance = JSON.stringify({
  pipeline: SAMPLE.pipeline,
  execution: SAMPLE.executionId,
  commit: SAMPLE.commitId,
  startedAt: SAMPLE.startTime,
  artifact: BUILD_SHA256_HEX,
  template: TEMPLATE.sha256,
  write: 'a1'.repeat(12),
});

const PARAMETER = {
  dev: '/deployer/orders-api/dev/artifact',
  prod: '/deployer/orders-api/prod/artifact',
} as const;

/** Both stages' newest version is the sample execution's (the first delivery recorded it as version 3). */
const firstDeliveryRecorded = (stages: ('dev' | 'prod')[] = ['dev', 'prod']): void => {
  for (const stage of stages)
    givenLatestVersion(mocks, PARAMETER[stage], {
      version: 3,
      value: BUILD_RELEASE_KEY,
      description: sampleProvenance,
    });
};

/** The repository configuration with the build's own template published for prod too (dev publishes it). */
const bothPublishTemplates = (): string => {
  const [dev, prod] = repoConfigText().split('      prod:\n');
  const line = '          key: builds/{executionId}/app.zip\n';
  if (!dev || !prod?.includes(line)) throw new Error('test setup: no prod artifact to give a templateKey');
  return `${dev}      prod:\n${prod.replace(line, `${line}          templateKey: builds/{executionId}/template.yaml\n`)}`;
};
const BUILD_TEMPLATE_KEY = `builds/${SAMPLE.executionId}/template.yaml`;

const putDescriptions = () =>
  mocks.ssm
    .commandCalls(PutParameterCommand)
    .map((c) => JSON.parse(c.args[0].input.Description ?? '{}') as Record<string, string>);
const copiesTo = (key: string) =>
  mocks.s3.commandCalls(CopyObjectCommand).filter((c) => c.args[0].input.Key === key);

describe('handlePipelineEvent: events that deploy nothing', () => {
  it.each(['STARTED', 'FAILED', 'CANCELED', 'SUPERSEDED', 'STOPPED', 'RESUMED', 'STOPPING'])(
    'ignores a %s execution without any AWS call',
    async (state) => {
      const summary = await handlePipelineEvent(
        runtime,
        succeeded((e) => {
          e.detail.state = state;
        }),
      );
      expect(summary).toEqual({
        verdict: 'ignored',
        reason: `state ${state}`,
        pipeline: SAMPLE.pipeline,
        executionId: SAMPLE.executionId,
        stages: [],
      });
      expectNoAwsCall(mocks);
    },
  );

  it.each(['pipeline-started', 'pipeline-failed'] as const)('ignores the %s sample', async (name) => {
    const summary = await handlePipelineEvent(runtime, loadEvent(name));
    expect(summary.verdict).toBe('ignored');
    expectNoAwsCall(mocks);
  });

  it('ignores a pipeline that is not configured, without any AWS call', async () => {
    const summary = await handlePipelineEvent(
      runtime,
      succeeded((e) => {
        e.detail.pipeline = 'billing-pipeline';
      }),
    );
    expect(summary).toMatchObject({ verdict: 'ignored', reason: 'pipeline not configured', stages: [] });
    expectNoAwsCall(mocks);
  });

  it.each<[string, (e: SampleEvent) => void, string]>([
    [
      'another account',
      (e) => {
        e.account = '210987654321';
      },
      'event from account 210987654321 in us-east-1; this deployer serves 123456789012 in us-east-1',
    ],
    [
      'another region',
      (e) => {
        e.region = 'eu-west-1';
      },
      'event from account 123456789012 in eu-west-1; this deployer serves 123456789012 in us-east-1',
    ],
  ])('rejects an event from %s without any AWS call', async (_what, change, reason) => {
    const summary = await handlePipelineEvent(runtime, succeeded(change));
    expect(summary).toEqual({ verdict: 'rejected', reason, stages: [] });
    expectNoAwsCall(mocks);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['a string body', JSON.stringify(loadEvent('pipeline-succeeded'))],
    ['an event without detail', { ...loadEvent('pipeline-succeeded'), detail: undefined }],
    [
      'an execution id with a path in it',
      succeeded((e) => {
        e.detail['execution-id'] = '../../other/build';
      }),
    ],
  ])('rejects %s without throwing (no Lambda retry) and without any AWS call', async (_what, raw) => {
    const summary = await handlePipelineEvent(runtime, raw);
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toMatch(/^malformed pipeline event: /);
    expect(summary.stages).toEqual([]);
    expectNoAwsCall(mocks);
  });
});

describe('handlePipelineEvent: a successful execution', () => {
  it('releases, records, deploys dev, leaves prod for approval, and tells ops once per stage', async () => {
    const store = givenWorld(mocks);
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary).toEqual({
      verdict: 'deployed',
      pipeline: SAMPLE.pipeline,
      executionId: SAMPLE.executionId,
      stages: [
        {
          stage: 'dev',
          stack: 'orders-api-dev',
          outcome: 'deploying',
          recorded: 'recorded',
          releaseKey: BUILD_RELEASE_KEY,
          desiredVersion: 1,
          changeSet: 'deploy-dev-v1',
          token: expect.stringMatching(runTokenPattern('dev', 1)),
          notified: true,
        },
        {
          stage: 'prod',
          stack: 'orders-api-prod',
          outcome: 'pending-approval',
          recorded: 'recorded',
          releaseKey: BUILD_RELEASE_KEY,
          desiredVersion: 1,
          changeSet: 'deploy-prod-v1',
          token: expect.stringMatching(runTokenPattern('prod', 1)),
          notified: true,
        },
      ],
    });
    expect(mocks.ssm).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: '/deployer/orders-api/dev/artifact',
      Value: BUILD_RELEASE_KEY,
    });
    expect(mocks.ssm).toHaveReceivedCommandWith(PutParameterCommand, {
      Name: '/deployer/orders-api/prod/artifact',
      Value: BUILD_RELEASE_KEY,
    });
    // Each version pins the artifact's digest and, for a stage's first release, the configured template.
    for (const provenance of putDescriptions())
      expect(provenance).toMatchObject({ artifact: BUILD_SHA256_HEX, template: TEMPLATE.sha256 });
    expect(mocks.cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ClientRequestToken: summary.stages[0]?.token,
    });
    // The change sets deploy the pinned template's verified text, never the configured object itself.
    for (const call of mocks.cfn.commandCalls(CreateChangeSetCommand)) {
      expect(call.args[0].input.TemplateBody).toBe(TEMPLATE.bytes.toString('utf8'));
      expect(call.args[0].input.TemplateURL).toBeUndefined();
    }
    expect(store.get(SAMPLE.bucket, TEMPLATE.key)?.body).toEqual(TEMPLATE.bytes);
    expect(runRecordOf(store, 'dev', summary.stages[0]?.token ?? '')?.state).toBe('executing');
    expect(runRecordOf(store, 'prod', summary.stages[1]?.token ?? '')?.state).toBe('created');

    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 2);
    const dev = publishedFor('dev');
    expect(dev.TopicArn).toBe(TOPIC_ARN);
    expect(dev.Subject).toBe('[dev] orders-api-dev DEPLOYING 1a2b3c4');
    expect(dev.MessageAttributes).toMatchObject({
      stage: { DataType: 'String', StringValue: 'dev' },
      stack: { DataType: 'String', StringValue: 'orders-api-dev' },
      outcome: { DataType: 'String', StringValue: 'deploying' },
      severity: { DataType: 'String', StringValue: 'info' },
    });
    expect(dev.Message).toContain('Stage:');
    expect(dev.Message).toContain('orders-api-dev');
    expect(dev.Message).toContain(SAMPLE.commitId);
    expect(dev.Message).toContain(BUILD_RELEASE_KEY);
    expect(dev.Message).toContain(SAMPLE.executionId);

    const prod = publishedFor('prod');
    expect(prod.Subject).toBe('[prod] orders-api-prod APPROVAL NEEDED 1a2b3c4');
    expect(prod.MessageAttributes).toMatchObject({
      stack: { DataType: 'String', StringValue: 'orders-api-prod' },
      outcome: { DataType: 'String', StringValue: 'pending-approval' },
      severity: { DataType: 'String', StringValue: 'warning' },
    });
    expect(prod.Message).toContain(BUILD_RELEASE_KEY);
    expect(prod.Message).toContain(SAMPLE.commitId);
    expect(prod.Message).toContain('npx deployer approve prod');
  });

  it('locates and copies a build shared by two stages only once', async () => {
    // Both stages take the same build and the template published with it.
    runtime = makeRuntime(bothPublishTemplates());
    givenWorld(mocks, { objects: { ...defaultObjects(), [BUILD_TEMPLATE_KEY]: TEMPLATE_WITH_QUEUE.bytes } });
    await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(copiesTo(BUILD_RELEASE_KEY)).toHaveLength(1);
    expect(copiesTo(TEMPLATE_WITH_QUEUE.key)).toHaveLength(1);
    expect(mocks.s3).toHaveReceivedCommandTimes(CopyObjectCommand, 2);
    const heads = mocks.s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key);
    expect(heads.filter((key) => key === SAMPLE.buildKey)).toHaveLength(1);
    // The release key is not looked at first: the copy is made, and its own checksum verified.
    expect(heads.filter((key) => key === BUILD_RELEASE_KEY)).toHaveLength(0);
    // The build's bytes are never read: S3's checksum names them.
    const reads = mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key);
    expect(reads).not.toContain(SAMPLE.buildKey);
    expect(reads).not.toContain(BUILD_RELEASE_KEY);
    // Each stage records the one release in its own parameter.
    expect(mocks.ssm).toHaveReceivedCommandTimes(PutParameterCommand, 2);
  });

  // Stages that share a build but not a template (dev publishes one, prod does not) share the artifact's release.
  it('locates and copies the build once when the stages differ only in the template they publish', async () => {
    givenWorld(mocks);
    await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(copiesTo(BUILD_RELEASE_KEY)).toHaveLength(1);
    const heads = mocks.s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key);
    expect(heads.filter((key) => key === SAMPLE.buildKey)).toHaveLength(1);
  });

  it('releases the template built with the code and deploys it together with the artifact', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const store = givenWorld(mocks, {
      objects: { ...defaultObjects(), [BUILD_TEMPLATE_KEY]: TEMPLATE_WITH_QUEUE.bytes },
      unchecked: [CONFIGURED_TEMPLATE_KEY, BUILD_TEMPLATE_KEY],
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying' });
    // Released under the content-named key of its own bytes, checked by the copy's checksum.
    expect(store.get(SAMPLE.bucket, TEMPLATE_WITH_QUEUE.key)?.body).toEqual(TEMPLATE_WITH_QUEUE.bytes);
    expect(putDescriptions()[0]).toMatchObject({
      artifact: BUILD_SHA256_HEX,
      template: TEMPLATE_WITH_QUEUE.sha256,
    });
    // The configured template is not read: the build brought its own.
    expect(mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).not.toContain(
      CONFIGURED_TEMPLATE_KEY,
    );
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'UPDATE',
      TemplateBody: TEMPLATE_WITH_QUEUE.bytes.toString('utf8'),
    });
    expect(mocks.cfn).toHaveReceivedCommandWith(GetTemplateSummaryCommand, {
      TemplateBody: TEMPLATE_WITH_QUEUE.bytes.toString('utf8'),
    });
    expect(appliedOf(store, 'dev')).toMatchObject({
      key: BUILD_RELEASE_KEY,
      template: TEMPLATE_WITH_QUEUE.sha256,
    });
  });

  it("pins the configured template only for a stage's first release: a later build keeps the stack's template", async () => {
    runtime = makeRuntime(devOnlyConfig());
    givenWorld(mocks);
    givenLatestVersion(mocks, PARAMETER.dev, {
      version: 4,
      value: OLD_RELEASE.key,
      description: JSON.stringify({
        execution: 'older-run',
        startedAt: '2026-11-20T08:00:00.000Z',
        artifact: OLD_RELEASE.sha256,
      }),
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 1 });
    expect(putDescriptions()[0]).not.toHaveProperty('template');
    expect(mocks.s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).not.toContain(
      CONFIGURED_TEMPLATE_KEY,
    );
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, { UsePreviousTemplate: true });
  });

  it('replaces a release object whose bytes were changed with a verified copy of the build, then deploys', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const store = givenWorld(mocks, {
      objects: { ...defaultObjects(), [BUILD_RELEASE_KEY]: 'PK\u0003\u0004 bytes of an attacker' },
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: BUILD_RELEASE_KEY });
    expect(copiesTo(BUILD_RELEASE_KEY)).toHaveLength(1);
    expect(store.get(SAMPLE.bucket, BUILD_RELEASE_KEY)?.body).toEqual(BUILD_BYTES);
  });

  it('deploys a legacy event (no commit, no start-time), ordering it by the envelope time', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const legacyKey = 'builds/7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f/app.zip';
    givenWorld(mocks, {
      objects: { [legacyKey]: BUILD_BYTES, [CONFIGURED_TEMPLATE_KEY]: TEMPLATE.bytes },
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded-legacy'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: BUILD_RELEASE_KEY });
    const put = mocks.ssm.commandCalls(PutParameterCommand)[0]?.args[0].input;
    expect(JSON.parse(put?.Description ?? '{}')).toEqual({
      pipeline: SAMPLE.pipeline,
      execution: '7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f',
      startedAt: '2026-11-20T09:30:11.000Z',
      artifact: BUILD_SHA256_HEX,
      template: TEMPLATE.sha256,
      write: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
    expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Labels: ['exec-7c1d9e2f-3a4b-4c5d-8e6f-0a1b2c3d4e5f'],
    });
    expect(publishedFor('dev').Subject).toBe('[dev] orders-api-dev DEPLOYING');
  });
});

describe('handlePipelineEvent: failures', () => {
  it('reports a missing build once, as failed, without writing desired state or touching stacks', async () => {
    runtime = makeRuntime(devOnlyConfig());
    givenWorld(mocks, { objects: {} });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.verdict).toBe('deployed');
    expect(summary.stages).toEqual([
      {
        stage: 'dev',
        stack: 'orders-api-dev',
        outcome: 'failed',
        notified: true,
        error: `build artifact s3://${SAMPLE.bucket}/${SAMPLE.buildKey} does not exist`,
      },
    ]);
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    const message = publishedFor('dev');
    expect(message.Subject).toBe('[dev] orders-api-dev FAILED 1a2b3c4');
    expect(message.MessageAttributes).toMatchObject({
      outcome: { DataType: 'String', StringValue: 'failed' },
      severity: { DataType: 'String', StringValue: 'error' },
    });
    expect(message.Message).toContain('does not exist');
    expect(mocks.ssm).not.toHaveReceivedAnyCommand();
    expect(mocks.cfn).not.toHaveReceivedAnyCommand();
    expect(mocks.s3).not.toHaveReceivedCommand(CopyObjectCommand);
  });

  it('with two stages on the missing build, looks once and tells ops about each stage', async () => {
    runtime = makeRuntime(bothPublishTemplates());
    givenWorld(mocks, { objects: {} });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages.map((s) => [s.stage, s.outcome])).toEqual([
      ['dev', 'failed'],
      ['prod', 'failed'],
    ]);
    const heads = mocks.s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key);
    expect(heads.filter((key) => key === SAMPLE.buildKey)).toHaveLength(1);
    expect(heads.filter((key) => key !== BUILD_TEMPLATE_KEY)).toHaveLength(1);
    expect(
      published()
        .map((p) => p.MessageAttributes?.stage?.StringValue)
        .sort(),
    ).toEqual(['dev', 'prod']);
    expect(mocks.ssm).not.toHaveReceivedAnyCommand();
    expect(mocks.cfn).not.toHaveReceivedAnyCommand();
  });

  it('fails the invocation (so Lambda retries) on a transient SSM error', async () => {
    givenWorld(mocks);
    const fault = new InternalServerError({
      message: 'We encountered an internal error',
      $metadata: { httpStatusCode: 500 },
    });
    mocks.ssm.on(PutParameterCommand).rejects(fault);
    const error = await rejectionOf(handlePipelineEvent(runtime, loadEvent('pipeline-succeeded')));
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([fault, fault]);
    expect(error.message).toContain(SAMPLE.executionId);
    expect(error.message).toContain('We encountered an internal error');
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('fails the invocation on a transient S3 error instead of reporting the build as missing', async () => {
    givenWorld(mocks);
    mocks.s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('Service Unavailable'), {
        name: 'ServiceUnavailable',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    await expect(handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'))).rejects.toThrow(
      'Service Unavailable',
    );
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
    expect(mocks.ssm).not.toHaveReceivedAnyCommand();
  });

  it('lets the stage that succeeded report, and still fails the invocation for the other', async () => {
    givenWorld(mocks);
    mocks.cfn.on(DescribeStacksCommand).callsFake(async (input: DescribeStacksCommandInput) => {
      if (input.StackName === 'orders-api-prod')
        throw Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
      return { Stacks: [stackNamed(input.StackName ?? '?')] };
    });
    const error = await rejectionOf(handlePipelineEvent(runtime, loadEvent('pipeline-succeeded')));
    expect(error.message).toContain('failed for 1 of 2 stage(s): Rate exceeded');
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(publishedFor('dev').Subject).toContain('DEPLOYING');
  });
});

/** The first delivery finished: its version carries the execution label. */
const firstDeliveryFinished = (version = 3): void => {
  for (const stage of ['dev', 'prod']) {
    mocks.ssm
      .on(GetParameterCommand, { Name: `/deployer/orders-api/${stage}/artifact:exec-${SAMPLE.executionId}` })
      .resolves({
        Parameter: {
          Name: `/deployer/orders-api/${stage}/artifact`,
          Version: version,
          Value: BUILD_RELEASE_KEY,
        },
      });
  }
};

/** The stage's lock held by a later build's deploy: a live lease (written just now) ranked an hour later. */
const heldByLaterBuild = (store: ReturnType<typeof givenWorld>, stage: string): void => {
  const later = new Date(Date.parse(SAMPLE.startTime) + 3_600_000).toISOString();
  const lease = store.put(
    SAMPLE.bucket,
    `.deployer/locks/${stage}.json`,
    JSON.stringify({ holder: 'deploy later-build', token: 'f'.repeat(32), rank: later }),
  );
  lease.lastModified = new Date();
};

/** The sample event sent seconds ago: a first delivery, no retry of an earlier one. */
const firstDelivery = (): SampleEvent =>
  succeeded((e) => {
    e.time = new Date().toISOString();
  });

describe('handlePipelineEvent: repeated and late deliveries', () => {
  it('says nothing for a duplicate delivery whose stacks are already in sync', async () => {
    const store = givenWorld(mocks, {
      // The first delivery released the build (a verified copy, with its checksum) and its template.
      objects: { ...defaultObjects(), [BUILD_RELEASE_KEY]: BUILD_BYTES },
      liveKey: BUILD_RELEASE_KEY,
    });
    putRelease(store, TEMPLATE);
    // ... and deployed both (the stacks run the artifact; the template is on record as applied).
    for (const stage of ['dev', 'prod'])
      givenApplied(store, stage, { version: 3, key: BUILD_RELEASE_KEY, template: TEMPLATE.sha256 });
    firstDeliveryRecorded();
    firstDeliveryFinished();
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages.map((s) => [s.stage, s.recorded, s.outcome, s.notified])).toEqual([
      ['dev', 'duplicate', 'in-sync', false],
      ['prod', 'duplicate', 'in-sync', false],
    ]);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
    // The same bytes are copied again under their release key (one call; nothing changes).
    expect(copiesTo(BUILD_RELEASE_KEY)).toHaveLength(1);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(mocks.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('says nothing for a duplicate delivery while the first deploy is still running', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const store = givenWorld(mocks);
    putRelease(store, BUILD_RELEASE);
    firstDeliveryRecorded(['dev']);
    mocks.cfn
      .on(DescribeStacksCommand)
      .resolves({ Stacks: [stackNamed('orders-api-dev', BUILD_RELEASE_KEY, 'UPDATE_IN_PROGRESS')] });
    firstDeliveryFinished();
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'waiting', recorded: 'duplicate', notified: false });
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('reports a duplicate delivery that did what the first one did not get to', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const store = givenWorld(mocks);
    putRelease(store, TEMPLATE);
    firstDeliveryRecorded(['dev']);
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({
      outcome: 'deploying',
      recorded: 'duplicate',
      desiredVersion: 3,
      changeSet: 'deploy-dev-v3',
      notified: true,
    });
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    // It deploys the template the version pins, verified.
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      TemplateBody: TEMPLATE.bytes.toString('utf8'),
    });
  });

  const newerVersion = {
    version: 8,
    value: OLD_RELEASE.key,
    description: JSON.stringify({
      execution: 'newer-run',
      startedAt: '2026-11-20T11:00:00.000Z',
      artifact: OLD_RELEASE.sha256,
    }),
  };

  it('neither records nor deploys nor reports an older execution arriving after a newer one', async () => {
    runtime = makeRuntime(devOnlyConfig());
    givenWorld(mocks);
    givenLatestVersion(mocks, PARAMETER.dev, newerVersion);
    mocks.ssm.on(GetParameterHistoryCommand, { Name: PARAMETER.dev }).resolves({
      Parameters: [
        { Name: PARAMETER.dev, Version: 8, Value: OLD_RELEASE.key, Description: newerVersion.description },
      ],
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages).toEqual([
      {
        stage: 'dev',
        stack: 'orders-api-dev',
        outcome: 'superseded',
        recorded: 'superseded',
        releaseKey: BUILD_RELEASE_KEY,
        desiredVersion: 8,
        notified: false,
      },
    ]);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    // The stack is read alongside the desired state, and left alone.
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('a first delivery that finds a later build deploying to the stage stops waiting: superseded, nothing recorded', async () => {
    runtime = makeRuntime(devOnlyConfig());
    const store = givenWorld(mocks);
    heldByLaterBuild(store, 'dev');
    const summary = await handlePipelineEvent(runtime, firstDelivery());
    expect(summary.stages).toEqual([
      { stage: 'dev', stack: 'orders-api-dev', outcome: 'superseded', notified: false },
    ]);
    // It stopped before copying its build: nothing released for a build that will never deploy.
    expect(mocks.s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(mocks.ssm).not.toHaveReceivedCommand(DescribeParametersCommand);
    expect(mocks.cfn).not.toHaveReceivedAnyCommand();
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
    // The later build's lease is left as it was.
    expect(
      JSON.parse(store.get(SAMPLE.bucket, '.deployer/locks/dev.json')?.body.toString() ?? '{}'),
    ).toMatchObject({
      holder: 'deploy later-build',
    });
  });

  it('a stage stopped by a later holder does not keep its sibling from deploying: the shared release is copied once', async () => {
    heldByLaterBuild(givenWorld(mocks), 'prod');
    const summary = await handlePipelineEvent(runtime, firstDelivery());
    expect(summary.stages).toEqual([
      expect.objectContaining({ stage: 'dev', outcome: 'deploying', releaseKey: BUILD_RELEASE_KEY }),
      { stage: 'prod', stack: 'orders-api-prod', outcome: 'superseded', notified: false },
    ]);
    expect(copiesTo(BUILD_RELEASE_KEY)).toHaveLength(1);
  });

  it('reports, once, a version of its own that an earlier delivery recorded but never reported before a newer one took its place', async () => {
    runtime = makeRuntime(devOnlyConfig());
    givenWorld(mocks);
    givenLatestVersion(mocks, PARAMETER.dev, newerVersion);
    const mine = JSON.stringify({
      pipeline: SAMPLE.pipeline,
      execution: SAMPLE.executionId,
      startedAt: SAMPLE.startTime,
      artifact: BUILD_SHA256_HEX,
    });
    mocks.ssm.on(GetParameterHistoryCommand, { Name: PARAMETER.dev }).resolves({
      Parameters: [
        { Name: PARAMETER.dev, Version: 7, Value: BUILD_RELEASE_KEY, Description: mine, Labels: [] },
        { Name: PARAMETER.dev, Version: 8, Value: OLD_RELEASE.key, Description: newerVersion.description },
      ],
    });
    const summary = await handlePipelineEvent(runtime, loadEvent('pipeline-succeeded'));
    expect(summary.stages[0]).toMatchObject({ outcome: 'superseded', notified: true });
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(mocks.sns.commandCalls(PublishCommand)[0]?.args[0].input.Subject).toMatch(/ SUPERSEDED /);
    // Labelled, so that a further delivery says nothing.
    expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETER.dev,
      ParameterVersion: 7,
      Labels: expect.arrayContaining([`exec-${SAMPLE.executionId}`]),
    });
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    // The stack is read alongside the desired state, and left alone.
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });
});
