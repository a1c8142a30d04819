/**
 * The upload trigger (shared/triggers/upload.ts) on mocked AWS: an uploaded build of the example upload
 * configuration (examples/ci/deployer.config.yaml) is deployed from exactly the object its event named; the
 * template uploaded before it and any other object are ignored without a call; a build whose metadata does
 * not say who it is is refused with nothing written and one message. And the deploy function's dispatch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateChangeSetCommand } from '@aws-sdk/client-cloudformation';
import * as s3Sdk from '@aws-sdk/client-s3';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { parseUploadEvent } from '../../shared/edge/upload-events';
import type { Runtime } from '../../shared/runtime';
import { handleDeployEvent } from '../../shared/triggers/deploy-event';
import { executionOfUpload, handleUploadEvent } from '../../shared/triggers/upload';
import { BUILD_BYTES, BUILD_SHA256_HEX, makeRuntime, ROOT, readEventSample } from './helpers/fixtures';
import { fieldOf, onlyMessage, publishedMessages } from './helpers/published';
import { CONFIGURED_TEMPLATE_KEY, TEMPLATE, TEMPLATE_WITH_QUEUE } from './helpers/releases';
import { givenS3Store, type S3Store } from './helpers/s3-store';
import { expectNoAwsCall, givenLatestVersion, givenWorld, mockAll, resetAll } from './helpers/world';

const mocks = mockAll();
const EXAMPLE_CONFIG = readFileSync(join(ROOT, 'examples', 'ci', 'deployer.config.yaml'), 'utf8');
const BUCKET = 'orders-api-artifacts';
const BUILD_ID = '8412345678-1';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const KEY = `ci-builds/orders-api-ci/${BUILD_ID}/app.zip`;
const TEMPLATE_KEY = `ci-builds/orders-api-ci/${BUILD_ID}/template.yaml`;
const IDENTITY = { 'build-id': BUILD_ID, 'commit-id': COMMIT, 'build-started-at': '2026-11-20T10:09:03Z' };

type UploadEvent = ReturnType<typeof sampleEvent>;
const sampleEvent = () =>
  readEventSample<{
    id: string;
    account: string;
    time: string;
    detail: { object: { key: string; etag: string; 'version-id'?: string } };
  }>('s3-object-created');

let runtime: Runtime;
let store: S3Store;

/** An empty artifact bucket (versioned or not) beside the default mocked world. */
const givenBucket = (versioned: boolean): void => {
  givenWorld(mocks, { objects: {} });
  store = givenS3Store(mocks.s3, s3Sdk, { versioned });
  store.put(BUCKET, CONFIGURED_TEMPLATE_KEY, TEMPLATE.bytes);
};

/** A CI's upload: the object put with its metadata, and the event S3 would send for it. */
const upload = (
  key: string,
  bytes: Buffer | string,
  metadata: Record<string, string> = IDENTITY,
): UploadEvent => {
  const object = store.put(BUCKET, key, bytes, { checksum: true, metadata });
  const event = sampleEvent();
  event.detail.object.key = key;
  event.detail.object.etag = object.etag.replaceAll('"', '');
  if (object.versionId) event.detail.object['version-id'] = object.versionId;
  else delete event.detail.object['version-id'];
  return event;
};

const writes = () => ({
  parameters: mocks.ssm.commandCalls(PutParameterCommand).length,
  copies: mocks.s3.commandCalls(CopyObjectCommand).length,
  puts: mocks.s3.commandCalls(PutObjectCommand).length,
  changeSets: mocks.cfn.commandCalls(CreateChangeSetCommand).length,
});
const NO_WRITES = { parameters: 0, copies: 0, puts: 0, changeSets: 0 };

beforeEach(() => {
  resetAll(mocks);
  runtime = makeRuntime(EXAMPLE_CONFIG);
  givenBucket(true);
});

describe('handleUploadEvent: a build upload', () => {
  it('deploys the build and the template uploaded with it, recorded under the build id, commit and start', async () => {
    upload(TEMPLATE_KEY, TEMPLATE_WITH_QUEUE.bytes);
    const event = upload(KEY, BUILD_BYTES);

    const summary = await handleUploadEvent(runtime, event);

    expect(summary).toMatchObject({ verdict: 'deployed', pipeline: 'orders-api-ci', executionId: BUILD_ID });
    expect(summary.stages).toEqual([
      expect.objectContaining({
        stage: 'ci-dev',
        outcome: 'deploying',
        recorded: 'recorded',
        releaseKey: `releases/orders-api/${BUILD_SHA256_HEX}.zip`,
      }),
    ]);
    const [put] = mocks.ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input);
    expect(put?.Name).toBe('/deployer/orders-api/ci-dev/artifact');
    expect(JSON.parse(put?.Description ?? '{}')).toMatchObject({
      pipeline: 'orders-api-ci',
      execution: BUILD_ID,
      commit: COMMIT,
      startedAt: '2026-11-20T10:09:03.000Z',
      artifact: BUILD_SHA256_HEX,
      template: TEMPLATE_WITH_QUEUE.sha256,
    });
    const message = onlyMessage(mocks);
    expect(message.subject).toBe(`[ci-dev] orders-api-ci-dev DEPLOYING ${COMMIT.slice(0, 7)}`);
    expect(fieldOf(message.body, 'Pipeline')).toBe(`orders-api-ci, uploaded build ${BUILD_ID}`);
  });

  it("copies exactly the event's version, even after the key was overwritten by a later upload", async () => {
    const first = upload(KEY, BUILD_BYTES);
    upload(KEY, 'PK later bytes under the same key', { ...IDENTITY, 'build-id': 'other-build' });

    const summary = await handleUploadEvent(runtime, first);

    expect(summary.verdict).toBe('deployed');
    const copy = mocks.s3
      .commandCalls(CopyObjectCommand)
      .map((c) => c.args[0].input)
      .find((input) => input.Key?.endsWith('.zip'));
    expect(copy?.CopySource).toBe(`${BUCKET}/${KEY}?versionId=${first.detail.object['version-id']}`);
    expect(copy?.Key).toBe(`releases/orders-api/${BUILD_SHA256_HEX}.zip`);
  });

  it("in an unversioned bucket, copies the object only while its ETag is the event's", async () => {
    givenBucket(false);
    const event = upload(KEY, BUILD_BYTES);

    expect((await handleUploadEvent(runtime, event)).verdict).toBe('deployed');
    const copy = mocks.s3.commandCalls(CopyObjectCommand).find((c) => c.args[0].input.Key?.endsWith('.zip'));
    expect(copy?.args[0].input).toMatchObject({
      CopySource: `${BUCKET}/${KEY}`,
      CopySourceIfMatch: `"${event.detail.object.etag}"`,
    });
  });

  it('ignores an upload overwritten before it was read (an unversioned bucket): the later upload has its own event', async () => {
    givenBucket(false);
    const event = upload(KEY, BUILD_BYTES);
    upload(KEY, 'PK the next build');

    const summary = await handleUploadEvent(runtime, event);

    expect(summary).toEqual({
      verdict: 'ignored',
      reason: 'upload overwritten',
      pipeline: 'orders-api-ci',
      stages: [],
    });
    expect(writes()).toEqual(NO_WRITES);
    expect(publishedMessages(mocks)).toEqual([]);
  });

  it('leaves desired the bytes a build id was recorded with when it is uploaded again rebuilt: nothing deployed, nothing said', async () => {
    const recorded = 'c'.repeat(64);
    givenLatestVersion(mocks, '/deployer/orders-api/ci-dev/artifact', {
      version: 2,
      value: `releases/orders-api/${recorded}.zip`,
      description: JSON.stringify({
        pipeline: 'orders-api-ci',
        execution: BUILD_ID,
        commit: COMMIT,
        startedAt: '2026-11-20T10:09:03.000Z',
        artifact: recorded,
        write: 'a1'.repeat(12),
      }),
    });
    const event = upload(KEY, BUILD_BYTES);

    const summary = await handleUploadEvent(runtime, event);

    expect(summary.stages).toEqual([
      expect.objectContaining({
        outcome: 'superseded',
        recorded: 'duplicate',
        desiredVersion: 2,
        notified: false,
      }),
    ]);
    const { parameters, changeSets } = writes();
    expect({ parameters, changeSets }).toEqual({ parameters: 0, changeSets: 0 });
    expect(publishedMessages(mocks)).toEqual([]);
  });

  it('ignores an upload deleted before it was read', async () => {
    const event = upload(KEY, BUILD_BYTES);
    store.delete(BUCKET, KEY);
    expect(await handleUploadEvent(runtime, event)).toMatchObject({
      verdict: 'ignored',
      reason: 'upload deleted',
    });
    expect(writes()).toEqual(NO_WRITES);
  });
});

describe('handleUploadEvent: objects that are no build', () => {
  it('ignores the template upload without any AWS call', async () => {
    const event = upload(TEMPLATE_KEY, TEMPLATE.bytes);
    resetAll(mocks);
    expect(await handleUploadEvent(runtime, event)).toEqual({
      verdict: 'ignored',
      reason: 'not a build key of an upload pipeline',
      stages: [],
    });
    expectNoAwsCall(mocks);
  });

  it.each([
    ['another key', (e: UploadEvent) => (e.detail.object.key = 'ci-builds/orders-api-ci/1/app.jar')],
    ['another pipeline', (e: UploadEvent) => (e.detail.object.key = 'ci-builds/billing/1/app.zip')],
    [
      'a release the deployer made',
      (e: UploadEvent) => (e.detail.object.key = `releases/orders-api/${BUILD_SHA256_HEX}.zip`),
    ],
  ])('ignores %s without any AWS call', async (_, change) => {
    const event = sampleEvent();
    change(event);
    expect((await handleUploadEvent(runtime, event)).verdict).toBe('ignored');
    expectNoAwsCall(mocks);
  });

  it('ignores an object of a CodePipeline pipeline: only upload pipelines are triggered by uploads', async () => {
    runtime = makeRuntime(EXAMPLE_CONFIG.replace('source: upload', 'source: codepipeline'));
    expect((await handleUploadEvent(runtime, sampleEvent())).verdict).toBe('ignored');
    expectNoAwsCall(mocks);
  });

  it('rejects an event from another account without any AWS call', async () => {
    const event = sampleEvent();
    event.account = '210987654321';
    const summary = await handleUploadEvent(runtime, event);
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain('event from account 210987654321');
    expectNoAwsCall(mocks);
  });
});

describe('handleUploadEvent: a build that does not say who it is is refused, nothing written, the ops team told', () => {
  it.each<[string, string, Record<string, string>, string]>([
    [
      'no build id',
      KEY,
      { 'commit-id': COMMIT, 'build-started-at': IDENTITY['build-started-at'] },
      'metadata build-id (x-amz-meta-build-id) is missing',
    ],
    [
      'a build id that is no build id',
      'ci-builds/orders-api-ci/a_b/app.zip',
      { ...IDENTITY, 'build-id': 'a_b' },
      'metadata build-id (x-amz-meta-build-id) "a_b" is not a build id',
    ],
    [
      'a key naming another build',
      KEY,
      { ...IDENTITY, 'build-id': '8412345678-2' },
      "differs from the build id the object's key names",
    ],
    [
      'no commit',
      KEY,
      { 'build-id': BUILD_ID, 'build-started-at': IDENTITY['build-started-at'] },
      'metadata commit-id (x-amz-meta-commit-id) is missing',
    ],
    [
      'a commit that is no commit',
      KEY,
      { ...IDENTITY, 'commit-id': 'HEAD' },
      'metadata commit-id (x-amz-meta-commit-id) "HEAD" is not a git commit id',
    ],
    [
      'no start',
      KEY,
      { 'build-id': BUILD_ID, 'commit-id': COMMIT },
      'metadata build-started-at (x-amz-meta-build-started-at) is missing',
    ],
    [
      'a start that is no time',
      KEY,
      { ...IDENTITY, 'build-started-at': 'yesterday' },
      '"yesterday" is not a time in ISO 8601 UTC',
    ],
    [
      'a start in the future',
      KEY,
      { ...IDENTITY, 'build-started-at': '2099-01-01T00:00:00Z' },
      'lies after the upload',
    ],
  ])('%s', async (_, key, metadata, problem) => {
    const event = upload(key, BUILD_BYTES, metadata);

    const summary = await handleUploadEvent(runtime, event);

    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain(problem);
    expect(summary.stages).toEqual([
      expect.objectContaining({ stage: 'ci-dev', outcome: 'failed', notified: true, error: summary.reason }),
    ]);
    expect(writes()).toEqual(NO_WRITES);
    const message = onlyMessage(mocks);
    expect(message.subject).toBe('[ci-dev] orders-api-ci-dev FAILED');
    expect(message.attributes).toMatchObject({ stage: 'ci-dev', outcome: 'failed', severity: 'error' });
    expect(fieldOf(message.body, 'Reason')).toContain(problem);
    expect(fieldOf(message.body, 'Triggered by')).toContain(`s3://${BUCKET}/${key}`);
  });
});

describe('executionOfUpload', () => {
  it("is the execution the deploy path works with, pinned to the event's object", () => {
    const upload = parseUploadEvent(sampleEvent());
    expect(
      executionOfUpload(upload, 'orders-api-ci', {
        buildId: BUILD_ID,
        commitId: COMMIT,
        startedAt: '2026-11-20T10:09:03.000Z',
      }),
    ).toEqual({
      pipeline: 'orders-api-ci',
      executionId: BUILD_ID,
      state: 'SUCCEEDED',
      startedAt: '2026-11-20T10:09:03.000Z',
      commitId: COMMIT,
      account: '123456789012',
      region: 'us-east-1',
      eventId: '5b3f2c1d-8e4a-4b6c-9d2e-7f1a0b3c5d6e',
      sentAt: '2026-11-20T10:14:27.000Z',
      source: 'upload',
      upload: {
        bucket: BUCKET,
        key: KEY,
        versionId: 'b7JzBQq8oQ1bZ2t3x.4sVd5KcN6rM7pA',
        etag: '9b2cf535f27731c974343645a3985328',
      },
    });
  });
});

describe('handleDeployEvent: the deploy function takes pipeline events and uploads', () => {
  it('sends an S3 event to the upload path', async () => {
    const event = upload(TEMPLATE_KEY, TEMPLATE.bytes);
    expect(await handleDeployEvent(runtime, event)).toMatchObject({
      verdict: 'ignored',
      reason: 'not a build key of an upload pipeline',
    });
  });

  it('sends a pipeline event to the pipeline path, which ignores a pipeline that takes uploads', async () => {
    const event = readEventSample<{ detail: { pipeline: string } }>('pipeline-succeeded');
    event.detail.pipeline = 'orders-api-ci';
    resetAll(mocks);
    expect(await handleDeployEvent(runtime, event)).toMatchObject({
      verdict: 'ignored',
      reason: 'pipeline takes uploaded builds',
    });
    expectNoAwsCall(mocks);
  });

  it.each<[string, unknown, string]>([
    [
      'a stack status change',
      readEventSample('stack-update-complete'),
      'source aws.cloudformation, detail-type "CloudFormation Stack Status Change"',
    ],
    ['no source', { 'detail-type': 'Object Created' }, 'source none, detail-type "Object Created"'],
    ['a source that is no string', { source: 7 }, 'source a number, detail-type none'],
    ['a source with a line break', { source: 'aws.s3\nNext: x' }, 'source "aws.s3 Next: x"'],
    ['an inherited source', JSON.parse('{"__proto__": {"source": "aws.s3"}}'), 'source none'],
    ['a string', 'aws.s3', 'source none'],
  ])('rejects %s, saying what it takes, without any AWS call', async (_, event, said) => {
    resetAll(mocks);
    const summary = await handleDeployEvent(runtime, event);
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain(`not an event the deploy function takes (${said}`);
    expect(summary.reason).toContain('S3 "Object Created" (aws.s3)');
    expectNoAwsCall(mocks);
  });
});
