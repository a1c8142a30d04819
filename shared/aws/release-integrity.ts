/**
 * Bytes, not names: before a release is used (deployed, rolled back to, promoted, approved, used to create a
 * stack) its objects are checked against the SHA-256 the deployer recorded when it released them. S3 keeps a
 * full-object SHA-256 for every object the deployer copies (and validates any checksum an uploader sends), so
 * one HeadObject tells; an object without one is hashed as it streams by.
 *
 * Templates are read whole (they are small) and handed to CloudFormation as the verified text itself, so no
 * one can swap them between the check and their use.
 */

import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isMissingObject, ReleaseIntegrityError } from '../errors';
import { fullObjectSha256, hashObject } from './artifacts';

/** CloudFormation's TemplateBody limit; larger templates go by TemplateURL. */
export const TEMPLATE_BODY_LIMIT = 51_200;
/** CloudFormation's TemplateURL limit. */
const TEMPLATE_LIMIT = 1_048_576;

const locationOf = (bucket: string, key: string) => `s3://${bucket}/${key}`;

/** Check that the object's bytes hash to `sha256`; throws ReleaseIntegrityError otherwise. */
export const verifyObject = async (
  s3: S3Client,
  bucket: string,
  key: string,
  sha256: string,
): Promise<void> => {
  let found: string | undefined;
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    found =
      fullObjectSha256(head) ??
      (await hashObject(s3, { bucket, key, ...(head.ETag ? { etag: head.ETag } : {}) }));
  } catch (error) {
    if (isMissingObject(error)) throw new ReleaseIntegrityError(locationOf(bucket, key), sha256, 'missing');
    throw error;
  }
  if (found !== sha256) throw new ReleaseIntegrityError(locationOf(bucket, key), sha256, found);
};

/** A template's verified text, and the version of the object it was read from (versioned buckets). */
export interface VerifiedTemplate {
  body: string;
  bucket: string;
  key: string;
  versionId?: string;
}

/** Read a released template whole and check its bytes against `sha256`. */
export const readVerifiedTemplate = async (
  s3: S3Client,
  bucket: string,
  key: string,
  sha256: string,
): Promise<VerifiedTemplate> => {
  let bytes: Uint8Array;
  let versionId: string | undefined;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((response.ContentLength ?? 0) > TEMPLATE_LIMIT)
      throw new ReleaseIntegrityError(
        locationOf(bucket, key),
        sha256,
        'an object larger than a template can be',
      );
    bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
    versionId = response.VersionId && response.VersionId !== 'null' ? response.VersionId : undefined;
  } catch (error) {
    if (isMissingObject(error)) throw new ReleaseIntegrityError(locationOf(bucket, key), sha256, 'missing');
    throw error;
  }
  const found = createHash('sha256').update(bytes).digest('hex');
  if (found !== sha256) throw new ReleaseIntegrityError(locationOf(bucket, key), sha256, found);
  return { body: Buffer.from(bytes).toString('utf8'), bucket, key, ...(versionId ? { versionId } : {}) };
};
