/**
 * The S3 "Object Created" event (shared/edge/upload-events.ts) as the sample events show it, and the identity
 * an uploaded build's metadata gives it (shared/edge/upload-identity.ts): every way to get it wrong is
 * refused with a sentence that names the metadata key.
 */
import { parseUploadEvent } from '../../shared/edge/upload-events';
import { type IdentityKeys, readBuildIdentity } from '../../shared/edge/upload-identity';
import { EventValidationError } from '../../shared/errors';
import { readEventSample, thrownBy } from './helpers/fixtures';

type UploadEvent = {
  id: string;
  account: string;
  region: string;
  time: string;
  detail: { bucket: { name: unknown }; object: Record<string, unknown>; [field: string]: unknown };
  [field: string]: unknown;
};

const sample = (name = 's3-object-created'): UploadEvent => readEventSample<UploadEvent>(name);

const rejection = (event: unknown): string => {
  const error = thrownBy(() => parseUploadEvent(event));
  expect(error).toBeInstanceOf(EventValidationError);
  return error.message;
};

describe('parseUploadEvent: the sample events', () => {
  it('reads a build upload in a versioned bucket, pinned to its version and ETag', () => {
    expect(parseUploadEvent(sample())).toEqual({
      bucket: 'orders-api-artifacts',
      key: 'ci-builds/orders-api-ci/8412345678-1/app.zip',
      versionId: 'b7JzBQq8oQ1bZ2t3x.4sVd5KcN6rM7pA',
      etag: '9b2cf535f27731c974343645a3985328',
      size: 1843,
      requester: '123456789012',
      reason: 'PutObject',
      account: '123456789012',
      region: 'us-east-1',
      eventId: '5b3f2c1d-8e4a-4b6c-9d2e-7f1a0b3c5d6e',
      sentAt: '2026-11-20T10:14:27.000Z',
    });
  });

  it('reads the template upload and an unversioned upload (no version: pinned by its ETag)', () => {
    expect(parseUploadEvent(sample('s3-object-created-template')).key).toBe(
      'ci-builds/orders-api-ci/8412345678-1/template.yaml',
    );
    const unversioned = parseUploadEvent(sample('s3-object-created-unversioned'));
    expect(unversioned.versionId).toBeUndefined();
    expect(unversioned.etag).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('takes a "null" version id as none, and accepts a multipart ETag and unknown fields', () => {
    const event = sample();
    event.detail.object['version-id'] = 'null';
    event.detail.object.etag = '4af981f98d22a0b9979da24b259e5e42-12';
    event.detail['destination-storage-class'] = 'STANDARD';
    const upload = parseUploadEvent(event);
    expect(upload.versionId).toBeUndefined();
    expect(upload.etag).toBe('4af981f98d22a0b9979da24b259e5e42-12');
  });
});

describe('parseUploadEvent: what is refused, naming the field', () => {
  it.each<[string, (e: UploadEvent) => void, string]>([
    ['another detail-type', (e) => (e['detail-type'] = 'Object Deleted'), 'detail-type'],
    ['another source', (e) => (e.source = 'aws.codepipeline'), 'source'],
    ['no bucket', (e) => delete (e.detail as Record<string, unknown>).bucket, 'detail.bucket'],
    ['a bucket that is no bucket name', (e) => (e.detail.bucket.name = 'Orders_API'), 'detail.bucket.name'],
    ['no key', (e) => delete e.detail.object.key, 'detail.object.key'],
    ['an empty key', (e) => (e.detail.object.key = ''), 'detail.object.key'],
    ['a key with a line break', (e) => (e.detail.object.key = 'ci/1/app.zip\nNext: rm'), 'detail.object.key'],
    ['a key longer than S3 allows', (e) => (e.detail.object.key = 'k'.repeat(1025)), 'detail.object.key'],
    ['no ETag', (e) => delete e.detail.object.etag, 'detail.object.etag'],
    [
      'a quoted ETag',
      (e) => (e.detail.object.etag = '"9b2cf535f27731c974343645a3985328"'),
      'detail.object.etag',
    ],
    ['a version id with a slash', (e) => (e.detail.object['version-id'] = 'a/b'), 'detail.object.version-id'],
    ['a negative size', (e) => (e.detail.object.size = -1), 'detail.object.size'],
    ['an account that is no account', (e) => (e.account = 'me'), 'account'],
    ['no time', (e) => delete (e as Record<string, unknown>).time, 'time'],
  ])('%s', (_, change, field) => {
    const event = sample();
    change(event);
    const message = rejection(event);
    expect(message).toMatch(/^malformed S3 Object Created event: /);
    expect(message).toContain(`${field}: `);
  });

  it.each([null, 'text', 42, [], {}])('refuses %p', (event) => {
    expect(rejection(event)).toMatch(/^malformed S3 Object Created event: /);
  });
});

const KEYS: IdentityKeys = {
  executionMetadataKey: 'build-id',
  commitMetadataKey: 'commit-id',
  startedAtMetadataKey: 'build-started-at',
};
const UPLOADED_AT = '2026-11-20T10:14:27.000Z';
const GOOD = {
  'build-id': '8412345678-1',
  'commit-id': '1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D',
  'build-started-at': '2026-11-20T10:09:03Z',
};

const read = (metadata: Record<string, string> | undefined, segment?: string) =>
  readBuildIdentity(metadata, KEYS, {
    ...(segment !== undefined ? { segment } : {}),
    uploadedAt: UPLOADED_AT,
  });

const problemOf = (metadata: Record<string, string> | undefined, segment?: string): string => {
  const reading = read(metadata, segment);
  if (!('problem' in reading)) throw new Error(`expected a refusal, got ${JSON.stringify(reading)}`);
  return reading.problem;
};

describe('readBuildIdentity', () => {
  it('reads the build id, the commit (lower-cased) and the start (to the millisecond, UTC)', () => {
    expect(read(GOOD, '8412345678-1')).toEqual({
      identity: {
        buildId: '8412345678-1',
        commitId: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
        startedAt: '2026-11-20T10:09:03.000Z',
      },
    });
    expect(read({ ...GOOD, 'build-started-at': '2026-11-20T10:09:03.512345Z' })).toMatchObject({
      identity: { startedAt: '2026-11-20T10:09:03.512Z' },
    });
  });

  it('reads the keys a stage names', () => {
    const reading = readBuildIdentity(
      { job: 'j-1', sha: 'abcdef0', started: '2026-11-20T10:00:00Z' },
      { executionMetadataKey: 'job', commitMetadataKey: 'sha', startedAtMetadataKey: 'started' },
      { uploadedAt: UPLOADED_AT },
    );
    expect(reading).toEqual({
      identity: { buildId: 'j-1', commitId: 'abcdef0', startedAt: '2026-11-20T10:00:00.000Z' },
    });
  });

  it.each<[string, Record<string, string> | undefined, string | undefined, RegExp]>([
    [
      'no metadata at all',
      undefined,
      undefined,
      /^metadata build-id \(x-amz-meta-build-id\) is missing: upload the build with --metadata build-id=/,
    ],
    [
      'no build id',
      { ...GOOD, 'build-id': '' },
      undefined,
      /^metadata build-id \(x-amz-meta-build-id\) is missing/,
    ],
    [
      'a build id with a slash',
      { ...GOOD, 'build-id': 'jenkins/main#42' },
      undefined,
      /^metadata build-id \(x-amz-meta-build-id\) "jenkins\/main#42" is not a build id/,
    ],
    [
      'a build id of 96 characters',
      { ...GOOD, 'build-id': 'b'.repeat(96) },
      undefined,
      /^metadata build-id .* is not a build id/,
    ],
    [
      'a build id with a line break',
      { ...GOOD, 'build-id': 'a\nNext: x' },
      undefined,
      /^metadata build-id \(x-amz-meta-build-id\) "a Next: x" is not a build id/,
    ],
    [
      'a key naming another build',
      GOOD,
      '8412345678-2',
      /^metadata build-id \(x-amz-meta-build-id\) 8412345678-1 differs from the build id the object's key names, "8412345678-2"/,
    ],
    [
      'no commit',
      { ...GOOD, 'commit-id': '' },
      undefined,
      /^metadata commit-id \(x-amz-meta-commit-id\) is missing: upload the build with --metadata commit-id=/,
    ],
    [
      'a commit that is a branch',
      { ...GOOD, 'commit-id': 'main' },
      undefined,
      /^metadata commit-id \(x-amz-meta-commit-id\) "main" is not a git commit id/,
    ],
    [
      'no start',
      { 'build-id': GOOD['build-id'], 'commit-id': GOOD['commit-id'] },
      undefined,
      /^metadata build-started-at \(x-amz-meta-build-started-at\) is missing/,
    ],
    [
      'a start in epoch milliseconds',
      { ...GOOD, 'build-started-at': '1763633343512' },
      undefined,
      /^metadata build-started-at \(x-amz-meta-build-started-at\) "1763633343512" is not a time in ISO 8601 UTC/,
    ],
    [
      'a start with an offset',
      { ...GOOD, 'build-started-at': '2026-11-20T12:09:03+02:00' },
      undefined,
      /is not a time in ISO 8601 UTC/,
    ],
    [
      'the 30th of February',
      { ...GOOD, 'build-started-at': '2026-02-30T10:00:00Z' },
      undefined,
      /is not a time in ISO 8601 UTC/,
    ],
    [
      'a start in the far future',
      { ...GOOD, 'build-started-at': '2099-01-01T00:00:00Z' },
      undefined,
      /^metadata build-started-at \(x-amz-meta-build-started-at\) 2099-01-01T00:00:00Z lies after the upload/,
    ],
  ])('refuses %s', (_, metadata, segment, problem) => {
    expect(problemOf(metadata, segment)).toMatch(problem);
  });

  it('takes a start a little after the upload (a CI clock a few minutes fast), not more than ten minutes', () => {
    expect(read({ ...GOOD, 'build-started-at': '2026-11-20T10:24:27Z' })).toHaveProperty('identity');
    expect(read({ ...GOOD, 'build-started-at': '2026-11-20T10:24:28Z' })).toHaveProperty('problem');
  });

  it('does not take a metadata key from the prototype', () => {
    const metadata = Object.create({ 'build-id': 'inherited-1' }) as Record<string, string>;
    expect(problemOf(metadata)).toMatch(/^metadata build-id .* is missing/);
  });
});
