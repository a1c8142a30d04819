/**
 * An in-memory S3 for aws-sdk-client-mock: HeadObject, GetObject, PutObject, CopyObject and DeleteObject on
 * objects kept by bucket and key, with the behaviour the deployer relies on:
 * - S3 keeps a full-object SHA-256 only for objects written with one (ChecksumAlgorithm SHA256, or a copy
 *   asked for one); HeadObject shows it only with ChecksumMode ENABLED;
 * - conditional writes: If-None-Match '*' and If-Match an ETag (412 PreconditionFailed otherwise), also on
 *   DeleteObject, and CopySourceIfMatch / GetObject IfMatch;
 * - a missing object is NotFound for HeadObject and NoSuchKey for the others;
 * - CopyObject answers with the copy's ChecksumSHA256 when it made one.
 *
 * Anyone may replace an object (`put` or a PutObject of the code under test): that is how a test tampers with
 * a release. The SDK modules are passed in for tests that load the code in an isolated module registry.
 */
import { createHash } from 'node:crypto';
import * as s3Sdk from '@aws-sdk/client-s3';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { awsError, streamBody } from './fixtures';

export interface StoredObject {
  body: Buffer;
  /** The quoted MD5 of the bytes, as S3 gives for a single-part object. */
  etag: string;
  versionId?: string;
  lastModified: Date;
  contentType?: string;
  metadata: Record<string, string>;
  /** The full-object SHA-256 S3 keeps (base64), when the object was written with one. */
  sha256?: string;
}

export interface PutOptions {
  /** Keep a full-object SHA-256 (as a write with ChecksumAlgorithm SHA256 or the deployer's copy does). */
  checksum?: boolean;
  metadata?: Record<string, string>;
  contentType?: string;
}

/** The base64 SHA-256 of some bytes: what S3 reports as ChecksumSHA256. */
export const checksumOf = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64');
/** A hex digest as S3 reports it (base64 of the 32 bytes). */
export const checksumOfHex = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

const md5Etag = (bytes: Buffer): string => `"${createHash('md5').update(bytes).digest('hex')}"`;

const bytesOf = (body: unknown): Buffer => {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new Error(`test setup: the S3 store takes string or byte bodies, not ${typeof body}`);
};

const preconditionFailed = () =>
  awsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412);
const noSuchKey = () => awsError('NoSuchKey', 'The specified key does not exist.', 404);
const headNotFound = () => awsError('NotFound', 'Not Found', 404);
const noSuchVersion = () => awsError('NoSuchVersion', 'The specified version does not exist.', 404);

export class S3Store {
  /** Every version of every object, oldest first, by "bucket/key". */
  private readonly versions = new Map<string, StoredObject[]>();
  private sequence = 0;

  /** Versioned buckets keep every version and give each a VersionId. */
  constructor(private readonly options: { versioned?: boolean } = {}) {}

  /** Put an object (as anyone with write access to the bucket could). */
  put(bucket: string, key: string, body: Buffer | string, options: PutOptions = {}): StoredObject {
    const bytes = bytesOf(body);
    this.sequence += 1;
    const object: StoredObject = {
      body: bytes,
      etag: md5Etag(bytes),
      lastModified: new Date(Date.UTC(2026, 10, 20, 12, 0, this.sequence)),
      metadata: options.metadata ?? {},
      ...(this.options.versioned ? { versionId: `version-${this.sequence}` } : {}),
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.checksum ? { sha256: checksumOf(bytes) } : {}),
    };
    const id = `${bucket}/${key}`;
    this.versions.set(id, this.options.versioned ? [...(this.versions.get(id) ?? []), object] : [object]);
    return object;
  }

  /** The current object, or a given version of it. */
  get(bucket: string, key: string, versionId?: string): StoredObject | undefined {
    const versions = this.versions.get(`${bucket}/${key}`);
    if (versionId === undefined || versionId === 'null') return versions?.at(-1);
    return versions?.find((v) => v.versionId === versionId);
  }

  text(bucket: string, key: string): string | undefined {
    return this.get(bucket, key)?.body.toString('utf8');
  }

  json<T = unknown>(bucket: string, key: string): T | undefined {
    const text = this.text(bucket, key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  delete(bucket: string, key: string): void {
    this.versions.delete(`${bucket}/${key}`);
  }

  /** The keys of a bucket under a prefix, sorted. */
  keys(bucket: string, prefix = ''): string[] {
    return [...this.versions.keys()]
      .filter((id) => id.startsWith(`${bucket}/${prefix}`))
      .map((id) => id.slice(bucket.length + 1))
      .sort();
  }

  /** Wire this store to a mocked S3 client. */
  serve(mock: AwsClientStub<s3Sdk.S3Client>, sdk: typeof s3Sdk = s3Sdk): this {
    mock.on(sdk.HeadObjectCommand).callsFake(async (input: s3Sdk.HeadObjectCommandInput) => {
      const object = this.find(input.Bucket, input.Key, input.VersionId, headNotFound);
      return {
        $metadata: { httpStatusCode: 200 },
        ...this.describe(object),
        ...(input.ChecksumMode === 'ENABLED' && object.sha256
          ? { ChecksumSHA256: object.sha256, ChecksumType: 'FULL_OBJECT' as const }
          : {}),
      };
    });
    mock.on(sdk.GetObjectCommand).callsFake(async (input: s3Sdk.GetObjectCommandInput) => {
      const object = this.find(input.Bucket, input.Key, input.VersionId, noSuchKey);
      if (input.IfMatch !== undefined && input.IfMatch !== object.etag) throw preconditionFailed();
      return { $metadata: { httpStatusCode: 200 }, ...this.describe(object), Body: streamBody(object.body) };
    });
    mock.on(sdk.PutObjectCommand).callsFake(async (input: s3Sdk.PutObjectCommandInput) => {
      const bucket = input.Bucket ?? '';
      const key = input.Key ?? '';
      this.checkWrite(this.get(bucket, key), input.IfNoneMatch, input.IfMatch);
      const bytes = bytesOf(input.Body);
      if (input.ChecksumSHA256 !== undefined && input.ChecksumSHA256 !== checksumOf(bytes))
        throw awsError('BadDigest', 'The SHA256 you specified did not match the calculated checksum.', 400);
      const written = this.put(bucket, key, bytes, {
        checksum: input.ChecksumAlgorithm === 'SHA256' || input.ChecksumSHA256 !== undefined,
        ...(input.Metadata ? { metadata: input.Metadata } : {}),
        ...(input.ContentType ? { contentType: input.ContentType } : {}),
      });
      return {
        $metadata: { httpStatusCode: 200 },
        ETag: written.etag,
        ...(written.versionId ? { VersionId: written.versionId } : {}),
        ...(written.sha256 ? { ChecksumSHA256: written.sha256 } : {}),
      };
    });
    mock.on(sdk.CopyObjectCommand).callsFake(async (input: s3Sdk.CopyObjectCommandInput) => {
      const [path = '', query = ''] = (input.CopySource ?? '').split('?');
      const [sourceBucket = '', ...segments] = path.split('/');
      const sourceKey = segments.map(decodeURIComponent).join('/');
      const versionId = new URLSearchParams(query).get('versionId') ?? undefined;
      const source = this.find(sourceBucket, sourceKey, versionId, noSuchKey);
      if (input.CopySourceIfMatch !== undefined && input.CopySourceIfMatch !== source.etag)
        throw preconditionFailed();
      const replace = input.MetadataDirective === 'REPLACE';
      const contentType = replace ? input.ContentType : source.contentType;
      const written = this.put(input.Bucket ?? '', input.Key ?? '', source.body, {
        checksum: input.ChecksumAlgorithm === 'SHA256' || source.sha256 !== undefined,
        metadata: replace ? (input.Metadata ?? {}) : source.metadata,
        ...(contentType ? { contentType } : {}),
      });
      return {
        $metadata: { httpStatusCode: 200 },
        CopyObjectResult: {
          ETag: written.etag,
          LastModified: written.lastModified,
          ...(written.sha256 ? { ChecksumSHA256: written.sha256 } : {}),
        },
        ...(written.versionId ? { VersionId: written.versionId } : {}),
      };
    });
    mock.on(sdk.DeleteObjectCommand).callsFake(async (input: s3Sdk.DeleteObjectCommandInput) => {
      const bucket = input.Bucket ?? '';
      const key = input.Key ?? '';
      const current = this.get(bucket, key);
      if (input.IfMatch !== undefined) {
        if (!current) throw noSuchKey();
        if (current.etag !== input.IfMatch) throw preconditionFailed();
      }
      this.delete(bucket, key);
      return { $metadata: { httpStatusCode: 204 } };
    });
    return this;
  }

  private find(
    bucket: string | undefined,
    key: string | undefined,
    versionId: string | undefined,
    missing: () => Error,
  ): StoredObject {
    const object = this.get(bucket ?? '', key ?? '', versionId);
    if (object) return object;
    if (versionId !== undefined && this.get(bucket ?? '', key ?? '')) throw noSuchVersion();
    throw missing();
  }

  private checkWrite(current: StoredObject | undefined, ifNoneMatch?: string, ifMatch?: string): void {
    if (ifNoneMatch === '*' && current) throw preconditionFailed();
    if (ifMatch !== undefined) {
      if (!current) throw noSuchKey();
      if (current.etag !== ifMatch) throw preconditionFailed();
    }
  }

  private describe(object: StoredObject) {
    return {
      ContentLength: object.body.length,
      ETag: object.etag,
      LastModified: object.lastModified,
      Metadata: object.metadata,
      ...(object.contentType ? { ContentType: object.contentType } : {}),
      ...(object.versionId ? { VersionId: object.versionId } : {}),
    };
  }
}

/** A new store wired to a (reset) mocked S3 client. */
export const givenS3Store = (
  mock: AwsClientStub<s3Sdk.S3Client>,
  sdk: typeof s3Sdk = s3Sdk,
  options: { versioned?: boolean } = {},
): S3Store => new S3Store(options).serve(mock, sdk);

/**
 * CopyObject as S3 answers a copy that holds the bytes its content-named target key promises: for tests that
 * mock HeadObject themselves and only need an honest copy.
 */
export const honestCopy = async (input: s3Sdk.CopyObjectCommandInput) => {
  const digest = /([0-9a-f]{64})(?:\.[a-z0-9]{1,8})?$/.exec(input.Key ?? '')?.[1];
  if (!digest) throw new Error(`test setup: ${input.Key} is not a content-named key`);
  return { CopyObjectResult: { ETag: '"copy"', ChecksumSHA256: checksumOfHex(digest) } };
};
