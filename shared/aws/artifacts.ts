/**
 * Build artifacts in S3: find the object that this execution built, and give it an immutable release key
 * derived from its bytes. CloudFormation only deploys new code when the key changes, so the key must change
 * exactly when the bytes do.
 */
import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { PipelineExecution } from '../edge/events';
import type { Stage } from '../edge/stages';
import { releaseBucketOf } from '../edge/stages';
import { ArtifactError, isMissingObject, ReleaseIntegrityError } from '../errors';
import { logger } from '../logger';
import { COMMIT_ID, encodeKeyPath, releaseKey } from '../names';

/** The object a pipeline execution built. */
export interface BuildArtifact {
  bucket: string;
  key: string;
  /** Set when the bucket is versioned: the copy then reads exactly this version, whatever overwrote it since. */
  versionId?: string;
  /** The commit the build recorded in its metadata, when it did. */
  commitId?: string;
  /** SHA-256 of the bytes, hex, when S3 holds a full-object checksum for them. */
  sha256?: string;
  contentType?: string;
  /** The ETag seen when the object was found: reads and the copy are made on exactly these bytes. */
  etag?: string;
}

/** An artifact under its immutable release key. */
export interface Release {
  bucket: string;
  key: string;
  sha256: string;
  commitId?: string;
  /** The stage template built with the artifact, released beside it (when the build published one). */
  template?: { key: string; sha256: string };
}

/** How many older versions of a fixed build key are searched for this execution's object. */
const VERSIONS_SEARCHED = 25;
/** CopyObject copies at most 5 GB in one call; Lambda packages are far smaller. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** The build key for an execution: the stage's key template with its placeholders filled in. */
export const buildKeyFor = (stage: Stage, execution: PipelineExecution): string =>
  fillKey(stage.artifact.key, execution);

/** A configured key with its placeholders filled in for one execution. */
export const fillKey = (template: string, execution: PipelineExecution): string =>
  template.replaceAll('{executionId}', execution.executionId).replaceAll('{pipeline}', execution.pipeline);

/** HeadObject with the full-object checksum, of the current object or of one version. */
export const head = (s3: S3Client, bucket: string, key: string, versionId?: string) =>
  s3.send(
    new HeadObjectCommand({
      Bucket: bucket,
      Key: key,
      ChecksumMode: 'ENABLED',
      ...(versionId ? { VersionId: versionId } : {}),
    }),
  );

/**
 * Find the object that this execution built. With `{executionId}` in the key template the key itself names
 * the execution; with a fixed key, the object's metadata must name it, and in a versioned bucket an object
 * overwritten by a later build is still found among the older versions.
 */
export const locateBuild = (
  s3: S3Client,
  stage: Stage,
  execution: PipelineExecution,
): Promise<BuildArtifact> => locateObject(s3, stage, execution, stage.artifact.key, 'build artifact');

/**
 * Find the object this execution uploaded under a configured key: the key itself names the execution when
 * it holds `{executionId}`; otherwise the object's metadata must (older versions of a versioned bucket are
 * searched too).
 */
export const locateObject = async (
  s3: S3Client,
  stage: Stage,
  execution: PipelineExecution,
  keyTemplate: string,
  what: string,
): Promise<BuildArtifact> => {
  const bucket = stage.artifact.bucket;
  const key = fillKey(keyTemplate, execution);
  const where = `s3://${bucket}/${key}`;
  let current: HeadObjectCommandOutput;
  try {
    current = await head(s3, bucket, key);
  } catch (error) {
    if (isMissingObject(error)) throw new ArtifactError(`${what} ${where} does not exist`, { cause: error });
    throw error;
  }
  if (keyTemplate.includes('{executionId}') || ownedBy(stage, current, execution))
    return describeBuild(stage, bucket, key, current);

  const older = await findOlderVersion(s3, stage, bucket, key, execution);
  if (older) return describeBuild(stage, bucket, key, older);
  const owner = current.Metadata?.[stage.artifact.executionMetadataKey];
  throw new ArtifactError(
    owner
      ? `${what} ${where} was uploaded by execution ${owner.slice(0, 100)}, not ${execution.executionId}: a later build overwrote it (enable versioning on the bucket, or put {executionId} in the key)`
      : `${what} ${where} has no x-amz-meta-${stage.artifact.executionMetadataKey} metadata naming the execution that built it`,
  );
};

const ownedBy = (stage: Stage, object: HeadObjectCommandOutput, execution: PipelineExecution): boolean =>
  object.Metadata?.[stage.artifact.executionMetadataKey] === execution.executionId;

const findOlderVersion = async (
  s3: S3Client,
  stage: Stage,
  bucket: string,
  key: string,
  execution: PipelineExecution,
): Promise<HeadObjectCommandOutput | undefined> => {
  const listing = await s3.send(
    new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, MaxKeys: VERSIONS_SEARCHED }),
  );
  const versions = (listing.Versions ?? [])
    .filter((v) => v.Key === key && v.VersionId && v.VersionId !== 'null' && !v.IsLatest)
    .sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0));
  for (const version of versions) {
    const candidate = await head(s3, bucket, key, version.VersionId);
    if (ownedBy(stage, candidate, execution)) return candidate;
  }
  return undefined;
};

/** The build as the deployer releases it: exactly the version and ETag this HeadObject answer describes. */
export const describeBuild = (
  stage: Stage,
  bucket: string,
  key: string,
  object: HeadObjectCommandOutput,
): BuildArtifact => {
  if ((object.ContentLength ?? 0) > MAX_COPY_BYTES) {
    throw new ArtifactError(`build artifact s3://${bucket}/${key} is larger than 5 GB`);
  }
  const recorded = object.Metadata?.[stage.artifact.commitMetadataKey];
  if (recorded !== undefined && !COMMIT_ID.test(recorded)) {
    logger.warn('ignoring commit metadata that is not a git commit id', { bucket, key });
  }
  const sha256 = fullObjectSha256(object);
  return {
    bucket,
    key,
    ...(object.VersionId && object.VersionId !== 'null' ? { versionId: object.VersionId } : {}),
    ...(recorded !== undefined && COMMIT_ID.test(recorded) ? { commitId: recorded.toLowerCase() } : {}),
    ...(sha256 ? { sha256 } : {}),
    ...(object.ContentType ? { contentType: object.ContentType } : {}),
    ...(object.ETag ? { etag: object.ETag } : {}),
  };
};

/** The SHA-256 S3 keeps for the whole object, hex; undefined for composite (multipart) checksums. */
export const fullObjectSha256 = (object: {
  ChecksumSHA256?: string | undefined;
  ChecksumType?: string | undefined;
}): string | undefined =>
  object.ChecksumType === 'COMPOSITE' ? undefined : sha256HexOf(object.ChecksumSHA256);

/** A base64 SHA-256 checksum as hex; undefined for none or a composite ("…-3") one. */
const sha256HexOf = (checksum: string | undefined): string | undefined => {
  if (!checksum || checksum.includes('-')) return undefined;
  const bytes = Buffer.from(checksum, 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : undefined;
};

/** Hash the object's bytes as they stream by: constant memory whatever the artifact's size. */
export const hashObject = async (
  s3: S3Client,
  build: Pick<BuildArtifact, 'bucket' | 'key' | 'versionId' | 'etag'>,
): Promise<string> => {
  const response = await s3.send(
    new GetObjectCommand({
      Bucket: build.bucket,
      Key: build.key,
      ...(build.versionId ? { VersionId: build.versionId } : {}),
      ...(build.etag ? { IfMatch: build.etag } : {}),
    }),
  );
  const hash = createHash('sha256');
  for await (const chunk of response.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  return hash.digest('hex');
};

/** CopyObject's CopySource: the bucket, the URL-encoded key, and a version when one is pinned. */
export const copySourceOf = (bucket: string, key: string, versionId?: string): string =>
  `${bucket}/${encodeKeyPath(key)}${versionId ? `?versionId=${encodeURIComponent(versionId)}` : ''}`;

/**
 * Copy the build to its release key under the stage's release prefix, unless those bytes are released
 * already. The release object keeps the SHA-256, the execution and the commit in its metadata.
 */
export const releaseBuild = async (
  s3: S3Client,
  stage: Stage,
  build: BuildArtifact,
  execution: PipelineExecution,
): Promise<Release> => {
  const sha256 = build.sha256 ?? (await hashObject(s3, build));
  const commitId = build.commitId ?? execution.commitId;
  const bucket = releaseBucketOf(stage);
  const key = releaseKey(stage.releasePrefix, sha256, build.key);
  await copyToRelease(
    s3,
    build,
    { bucket, key, sha256 },
    {
      sha256,
      pipeline: execution.pipeline,
      'pipeline-execution-id': execution.executionId,
      ...(commitId ? { 'commit-id': commitId } : {}),
    },
  );
  return { bucket, key, sha256, ...(commitId ? { commitId } : {}) };
};

/**
 * Put a build object's bytes under its content-named release key, verified: the copy's own checksum must be
 * the digest the key names. The copy is made whether or not the key holds an object already: the same bytes
 * again cost S3 nothing to check and the deployer a call (looking first was one more call, and a round trip,
 * on every deploy); and other bytes there (anyone who can write the bucket could have put them) are
 * replaced with the build's.
 */
export const copyToRelease = async (
  s3: S3Client,
  build: BuildArtifact,
  target: { bucket: string; key: string; sha256: string },
  metadata: Record<string, string>,
): Promise<void> => {
  const location = `s3://${target.bucket}/${target.key}`;
  const { CopyObjectResult } = await s3.send(
    new CopyObjectCommand({
      Bucket: target.bucket,
      Key: target.key,
      CopySource: copySourceOf(build.bucket, build.key, build.versionId),
      // A build that overwrote the key since we looked fails the copy instead of being released under our hash.
      ...(build.etag ? { CopySourceIfMatch: build.etag } : {}),
      MetadataDirective: 'REPLACE',
      ChecksumAlgorithm: 'SHA256',
      ...(build.contentType ? { ContentType: build.contentType } : {}),
      Metadata: { ...metadata, source: `s3://${build.bucket}/${build.key}`.slice(0, 1024) },
    }),
  );
  const copiedSha = sha256HexOf(CopyObjectResult?.ChecksumSHA256);
  if (copiedSha !== target.sha256) {
    throw new ReleaseIntegrityError(location, target.sha256, copiedSha ?? 'no SHA-256 checksum');
  }
};
