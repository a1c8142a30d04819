import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandInput,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  NotFound,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { type BuildArtifact, buildKeyFor, locateBuild, releaseBuild } from '../../shared/aws/artifacts';
import { parseConfig } from '../../shared/edge/config';
import type { DeployerConfig, Stage } from '../../shared/edge/stages';
import { ArtifactError, PermanentError, ReleaseIntegrityError } from '../../shared/errors';
import {
  BUILD_BYTES,
  BUILD_RELEASE_KEY,
  BUILD_SHA256_B64,
  BUILD_SHA256_HEX,
  executionOf,
  makeRuntime,
  rejectionOf,
  repoConfigText,
  SAMPLE,
  sha256Hex,
  stageOf,
  streamBody,
} from './helpers/fixtures';
import { checksumOf, honestCopy } from './helpers/s3-store';

const s3Mock = mockClient(S3Client);
const s3 = makeRuntime().clients.s3;
const execution = executionOf();
const OTHER_EXECUTION = '9d9d9d9d-0000-4000-8000-000000000001';

const notFound = () => new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } });

/** The repository's dev stage, with a fixed build key (no {executionId}) when asked. */
const devStage = (fixedKey?: string): Stage => {
  if (!fixedKey) return stageOf(parseConfig(repoConfigText()), 'dev');
  const config: DeployerConfig = parseConfig(
    repoConfigText().replaceAll('key: builds/{executionId}/app.zip', `key: ${fixedKey}`),
  );
  const stage = stageOf(config, 'dev');
  expect(stage.artifact.key).toBe(fixedKey);
  return stage;
};

/** HeadObject answers by key and version: `objects[key][versionId ?? 'latest']`; anything else is NotFound. */
const headObjects = (objects: Record<string, Record<string, HeadObjectCommandOutput>>) => {
  s3Mock.on(HeadObjectCommand).callsFake(async (input: HeadObjectCommandInput) => {
    const found = objects[input.Key ?? '']?.[input.VersionId ?? 'latest'];
    if (!found) throw notFound();
    return found;
  });
};

const head = (fields: Partial<HeadObjectCommandOutput>): HeadObjectCommandOutput => ({
  $metadata: { httpStatusCode: 200 },
  ContentLength: BUILD_BYTES.length,
  ContentType: 'application/zip',
  ETag: '"etag-current"',
  ...fields,
});

beforeEach(() => {
  s3Mock.reset();
});

describe('buildKeyFor', () => {
  it('fills {executionId} and {pipeline}', () => {
    const stage = devStage('builds/{pipeline}/{executionId}/app.zip');
    expect(buildKeyFor(stage, execution)).toBe(`builds/${SAMPLE.pipeline}/${SAMPLE.executionId}/app.zip`);
  });
});

describe('locateBuild', () => {
  it('with {executionId} in the key template, heads the expanded key and describes the object', async () => {
    headObjects({
      [SAMPLE.buildKey]: {
        latest: head({
          ChecksumSHA256: BUILD_SHA256_B64,
          Metadata: { 'commit-id': 'ABCDEF1234567' },
          VersionId: 'null',
        }),
      },
    });
    const build = await locateBuild(s3, devStage(), execution);
    expect(s3Mock).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
    expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: SAMPLE.bucket,
      Key: SAMPLE.buildKey,
      ChecksumMode: 'ENABLED',
    });
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectVersionsCommand);
    expect(build).toEqual<BuildArtifact>({
      bucket: SAMPLE.bucket,
      key: SAMPLE.buildKey,
      commitId: 'abcdef1234567',
      sha256: BUILD_SHA256_HEX,
      contentType: 'application/zip',
      etag: '"etag-current"',
    });
  });

  it('throws an ArtifactError naming the object when it does not exist', async () => {
    headObjects({});
    const error = await rejectionOf(locateBuild(s3, devStage(), execution));
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe(`build artifact s3://${SAMPLE.bucket}/${SAMPLE.buildKey} does not exist`);
  });

  it('treats NoSuchKey like NotFound', async () => {
    s3Mock.on(HeadObjectCommand).rejects(Object.assign(new Error('no such key'), { name: 'NoSuchKey' }));
    await expect(locateBuild(s3, devStage(), execution)).rejects.toBeInstanceOf(ArtifactError);
  });

  it('lets other S3 errors through as they are (they are retried)', async () => {
    const denied = new S3ServiceException({
      name: 'InternalError',
      $fault: 'server',
      $metadata: { httpStatusCode: 500 },
      message: 'We encountered an internal error',
    });
    s3Mock.on(HeadObjectCommand).rejects(denied);
    const error = await rejectionOf(locateBuild(s3, devStage(), execution));
    expect(error).toBe(denied);
    expect(error).not.toBeInstanceOf(PermanentError);
  });

  it('refuses an object larger than 5 GB', async () => {
    headObjects({ [SAMPLE.buildKey]: { latest: head({ ContentLength: 5 * 1024 ** 3 + 1 }) } });
    const error = await rejectionOf(locateBuild(s3, devStage(), execution));
    expect(error).toBeInstanceOf(ArtifactError);
    expect(error.message).toContain('larger than 5 GB');
  });

  it('ignores commit metadata that is not a git commit id', async () => {
    headObjects({ [SAMPLE.buildKey]: { latest: head({ Metadata: { 'commit-id': 'main; rm -rf /' } }) } });
    const build = await locateBuild(s3, devStage(), execution);
    expect(build.commitId).toBeUndefined();
  });

  it.each([
    ['a composite checksum', { ChecksumSHA256: `${BUILD_SHA256_B64}-3` }],
    ['a COMPOSITE checksum type', { ChecksumSHA256: BUILD_SHA256_B64, ChecksumType: 'COMPOSITE' as const }],
    ['no checksum', {}],
    ['a checksum of the wrong length', { ChecksumSHA256: Buffer.from('short').toString('base64') }],
  ])('has no sha256 for %s', async (_what, fields) => {
    headObjects({ [SAMPLE.buildKey]: { latest: head(fields) } });
    const build = await locateBuild(s3, devStage(), execution);
    expect(build.sha256).toBeUndefined();
  });

  describe('with a fixed build key', () => {
    const KEY = 'builds/app.zip';

    it('finds the object whose metadata names this execution', async () => {
      headObjects({
        [KEY]: {
          latest: head({ Metadata: { 'pipeline-execution-id': SAMPLE.executionId }, VersionId: 'v9' }),
        },
      });
      const build = await locateBuild(s3, devStage(KEY), execution);
      expect(build.key).toBe(KEY);
      expect(build.versionId).toBe('v9');
      expect(s3Mock).not.toHaveReceivedCommand(ListObjectVersionsCommand);
    });

    it('reads the execution from the configured metadata key', async () => {
      const stage = devStage(KEY);
      stage.artifact.executionMetadataKey = 'built-by';
      headObjects({ [KEY]: { latest: head({ Metadata: { 'built-by': SAMPLE.executionId } }) } });
      await expect(locateBuild(s3, stage, execution)).resolves.toMatchObject({ key: KEY });
    });

    it('in an unversioned bucket, refuses an object a later execution overwrote, naming both executions', async () => {
      headObjects({ [KEY]: { latest: head({ Metadata: { 'pipeline-execution-id': OTHER_EXECUTION } }) } });
      s3Mock.on(ListObjectVersionsCommand).resolves({
        Versions: [{ Key: KEY, VersionId: 'null', IsLatest: true, LastModified: new Date() }],
      });
      const error = await rejectionOf(locateBuild(s3, devStage(KEY), execution));
      expect(error).toBeInstanceOf(ArtifactError);
      expect(error.message).toContain(`s3://${SAMPLE.bucket}/${KEY}`);
      expect(error.message).toContain(
        `was uploaded by execution ${OTHER_EXECUTION}, not ${SAMPLE.executionId}`,
      );
      // Only the current object was looked at: there is no older version to try.
      expect(s3Mock).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
      expect(s3Mock).not.toHaveReceivedCommand(CopyObjectCommand);
    });

    it('refuses an object without execution metadata, naming the metadata key', async () => {
      headObjects({ [KEY]: { latest: head({ Metadata: {} }) } });
      s3Mock.on(ListObjectVersionsCommand).resolves({});
      const error = await rejectionOf(locateBuild(s3, devStage(KEY), execution));
      expect(error).toBeInstanceOf(ArtifactError);
      expect(error.message).toContain('no x-amz-meta-pipeline-execution-id metadata');
    });

    it('in a versioned bucket, finds the older version this execution uploaded', async () => {
      const newer = new Date('2026-11-20T10:20:00Z');
      headObjects({
        [KEY]: {
          latest: head({ Metadata: { 'pipeline-execution-id': OTHER_EXECUTION }, VersionId: 'v3' }),
          v3: head({ Metadata: { 'pipeline-execution-id': OTHER_EXECUTION }, VersionId: 'v3' }),
          v2: head({
            Metadata: { 'pipeline-execution-id': SAMPLE.executionId, 'commit-id': SAMPLE.commitId },
            VersionId: 'v2',
            ETag: '"etag-v2"',
            ChecksumSHA256: BUILD_SHA256_B64,
          }),
          v1: head({ Metadata: { 'pipeline-execution-id': 'older-execution' }, VersionId: 'v1' }),
        },
      });
      s3Mock.on(ListObjectVersionsCommand).resolves({
        Versions: [
          { Key: KEY, VersionId: 'v1', IsLatest: false, LastModified: new Date('2026-11-20T09:00:00Z') },
          { Key: KEY, VersionId: 'v3', IsLatest: true, LastModified: newer },
          { Key: `${KEY}.bak`, VersionId: 'b1', IsLatest: false, LastModified: newer },
          { Key: KEY, VersionId: 'v2', IsLatest: false, LastModified: new Date('2026-11-20T10:10:00Z') },
        ],
      });
      const build = await locateBuild(s3, devStage(KEY), execution);
      expect(build).toMatchObject({ key: KEY, versionId: 'v2', etag: '"etag-v2"', sha256: BUILD_SHA256_HEX });
      expect(s3Mock).toHaveReceivedCommandWith(ListObjectVersionsCommand, {
        Bucket: SAMPLE.bucket,
        Prefix: KEY,
      });
      // Newest older version first: v2 is found before v1 is ever read; the latest and other keys are skipped.
      expect(s3Mock).toHaveReceivedCommandTimes(HeadObjectCommand, 2);
      expect(s3Mock).toHaveReceivedNthSpecificCommandWith(2, HeadObjectCommand, {
        Bucket: SAMPLE.bucket,
        Key: KEY,
        VersionId: 'v2',
      });

      s3Mock.on(CopyObjectCommand).callsFake(honestCopy);
      await releaseBuild(s3, devStage(KEY), build, execution);
      expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
        CopySource: `${SAMPLE.bucket}/builds/app.zip?versionId=v2`,
        CopySourceIfMatch: '"etag-v2"',
      });
    });

    it('in a versioned bucket, still fails when no older version is this execution', async () => {
      headObjects({
        [KEY]: {
          latest: head({ Metadata: { 'pipeline-execution-id': OTHER_EXECUTION }, VersionId: 'v3' }),
          v2: head({ Metadata: { 'pipeline-execution-id': 'older-execution' }, VersionId: 'v2' }),
        },
      });
      s3Mock.on(ListObjectVersionsCommand).resolves({
        Versions: [
          { Key: KEY, VersionId: 'v3', IsLatest: true },
          { Key: KEY, VersionId: 'v2', IsLatest: false },
        ],
      });
      const error = await rejectionOf(locateBuild(s3, devStage(KEY), execution));
      expect(error).toBeInstanceOf(ArtifactError);
      expect(error.message).toContain(OTHER_EXECUTION);
    });
  });
});

describe('releaseBuild', () => {
  const build = (fields: Partial<BuildArtifact> = {}): BuildArtifact => ({
    bucket: SAMPLE.bucket,
    key: SAMPLE.buildKey,
    sha256: BUILD_SHA256_HEX,
    contentType: 'application/zip',
    etag: '"etag-current"',
    ...fields,
  });

  beforeEach(() => {
    headObjects({});
    // S3 answers a copy made with ChecksumAlgorithm SHA256 with the copy's checksum.
    s3Mock.on(CopyObjectCommand).callsFake(honestCopy);
  });

  it('derives the release key from the S3 checksum without reading the object', async () => {
    const release = await releaseBuild(s3, devStage(), build(), execution);
    expect(release).toEqual({
      bucket: SAMPLE.bucket,
      key: BUILD_RELEASE_KEY,
      sha256: BUILD_SHA256_HEX,
      commitId: SAMPLE.commitId,
    });
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('copies with the ETag as a precondition and provenance in the metadata', async () => {
    await releaseBuild(s3, devStage(), build({ commitId: 'abcdef1234567' }), execution);
    expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 1);
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: SAMPLE.bucket,
      Key: BUILD_RELEASE_KEY,
      CopySource: `${SAMPLE.bucket}/${SAMPLE.buildKey}`,
      CopySourceIfMatch: '"etag-current"',
      MetadataDirective: 'REPLACE',
      ChecksumAlgorithm: 'SHA256',
      ContentType: 'application/zip',
      Metadata: {
        sha256: BUILD_SHA256_HEX,
        pipeline: SAMPLE.pipeline,
        'pipeline-execution-id': SAMPLE.executionId,
        'commit-id': 'abcdef1234567',
        source: `s3://${SAMPLE.bucket}/${SAMPLE.buildKey}`,
      },
    });
  });

  it("falls back to the event's commit id when the object records none", async () => {
    const release = await releaseBuild(s3, devStage(), build(), execution);
    expect(release.commitId).toBe(SAMPLE.commitId);
    const copy = s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input;
    expect(copy?.Metadata?.['commit-id']).toBe(SAMPLE.commitId);
  });

  it('records no commit when neither the object nor the event names one', async () => {
    const legacy = executionOf('pipeline-succeeded-legacy');
    const release = await releaseBuild(s3, devStage(), build(), legacy);
    expect(release.commitId).toBeUndefined();
    const copy = s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input;
    expect(copy?.Metadata).not.toHaveProperty('commit-id');
  });

  it('copies again over bytes that are released already, without looking first (one call, no failed HEAD)', async () => {
    headObjects({ [BUILD_RELEASE_KEY]: { latest: head({ ChecksumSHA256: BUILD_SHA256_B64 }) } });
    const release = await releaseBuild(s3, devStage(), build(), execution);
    expect(release.key).toBe(BUILD_RELEASE_KEY);
    expect(s3Mock).not.toHaveReceivedCommandWith(HeadObjectCommand, { Key: BUILD_RELEASE_KEY });
    expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 1);
  });

  it.each<[string, Partial<HeadObjectCommandOutput>]>([
    ['other bytes (someone replaced it)', { ChecksumSHA256: checksumOf(Buffer.from('tampered')) }],
    ['no SHA-256 checksum', {}],
    ['only a composite checksum', { ChecksumSHA256: `${BUILD_SHA256_B64}-2` }],
  ])(
    'replaces an object under the release key that holds %s with a verified copy of the build',
    async (_what, fields) => {
      headObjects({ [BUILD_RELEASE_KEY]: { latest: head(fields) } });
      await releaseBuild(s3, devStage(), build(), execution);
      expect(s3Mock).toHaveReceivedCommandTimes(CopyObjectCommand, 1);
      expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
        Key: BUILD_RELEASE_KEY,
        CopySource: `${SAMPLE.bucket}/${SAMPLE.buildKey}`,
        ChecksumAlgorithm: 'SHA256',
      });
    },
  );

  it.each<[string, { ChecksumSHA256?: string }, string]>([
    [
      'other bytes',
      { ChecksumSHA256: checksumOf(Buffer.from('swapped')) },
      sha256Hex(Buffer.from('swapped')),
    ],
    ['no checksum', {}, 'no SHA-256 checksum'],
  ])(
    'fails with a ReleaseIntegrityError naming the object and both digests when the copy holds %s',
    async (_what, result, found) => {
      s3Mock.on(CopyObjectCommand).resolves({ CopyObjectResult: result });
      const error = await rejectionOf(releaseBuild(s3, devStage(), build(), execution));
      expect(error).toBeInstanceOf(ReleaseIntegrityError);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toBe(
        `release object s3://${SAMPLE.bucket}/${BUILD_RELEASE_KEY} does not match its recorded SHA-256: recorded ${BUILD_SHA256_HEX}, found ${found}`,
      );
    },
  );

  it('fails (to be retried) when the copy fails for another reason', async () => {
    s3Mock.on(CopyObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    await expect(releaseBuild(s3, devStage(), build(), execution)).rejects.toThrow('slow down');
  });

  it('without a full-object checksum, streams the object through SHA-256 and releases it under that digest', async () => {
    const chunks = [Buffer.from('ab'), Buffer.from('c'), Buffer.from('def')];
    s3Mock.on(GetObjectCommand).resolves({ Body: streamBody(...chunks) });
    const release = await releaseBuild(s3, devStage(), build({ sha256: undefined }), execution);
    const expected = sha256Hex(Buffer.from('abcdef'));
    expect(release.sha256).toBe(expected);
    expect(release.key).toBe(`releases/orders-api/${expected}.zip`);
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: SAMPLE.bucket,
      Key: SAMPLE.buildKey,
      IfMatch: '"etag-current"',
    });
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Key: `releases/orders-api/${expected}.zip`,
      Metadata: expect.objectContaining({ sha256: expected }),
    });
  });

  it('hashes exactly the located version of a versioned object', async () => {
    s3Mock.on(GetObjectCommand).resolves({ Body: streamBody(BUILD_BYTES) });
    const release = await releaseBuild(
      s3,
      devStage(),
      build({ sha256: undefined, versionId: 'v2' }),
      execution,
    );
    expect(release.sha256).toBe(BUILD_SHA256_HEX);
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { VersionId: 'v2' });
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      CopySource: `${SAMPLE.bucket}/${SAMPLE.buildKey}?versionId=v2`,
    });
  });

  it('locates a composite-checksum build and then hashes its bytes (end to end)', async () => {
    headObjects({ [SAMPLE.buildKey]: { latest: head({ ChecksumSHA256: `${BUILD_SHA256_B64}-2` }) } });
    s3Mock.on(GetObjectCommand).resolves({ Body: streamBody(BUILD_BYTES) });
    const stage = devStage();
    const located = await locateBuild(s3, stage, execution);
    const release = await releaseBuild(s3, stage, located, execution);
    expect(release.key).toBe(BUILD_RELEASE_KEY);
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
  });

  it('url-encodes the copy source key and version', async () => {
    await releaseBuild(s3, devStage(), build({ key: 'builds/a b+c/app.zip', versionId: 'v/1+2' }), execution);
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      CopySource: `${SAMPLE.bucket}/builds/a%20b%2Bc/app.zip?versionId=v%2F1%2B2`,
    });
  });

  it('puts the release into the releaseBucket when one is configured', async () => {
    const stage = devStage();
    stage.releaseBucket = 'orders-api-releases';
    const release = await releaseBuild(s3, stage, build(), execution);
    expect(release.bucket).toBe('orders-api-releases');
    expect(s3Mock).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: 'orders-api-releases',
      CopySource: `${SAMPLE.bucket}/${SAMPLE.buildKey}`,
    });
  });
});
