/**
 * The S3 "Object Created" event that EventBridge delivers when anything writes an object to a bucket with
 * EventBridge notifications on: how a build uploaded by any CI (Jenkins, CircleCI, GitHub Actions, CodeBuild)
 * reaches the deploy path. The event names the bucket, the key, the version (versioned buckets) and the ETag;
 * it does NOT carry the object's metadata, which names the build (upload-identity.ts reads it).
 *
 * Shape, from the S3 user guide's "EventBridge event message structure": detail.version, detail.bucket.name,
 * detail.object.{key, size, etag, version-id, sequencer}, detail.request-id, detail.requester,
 * detail.source-ip-address, detail.reason (PutObject, POST Object, CopyObject, CompleteMultipartUpload).
 */
import * as z from 'zod/mini';
import { EventValidationError } from '../errors';
import type { PinnedUpload } from './events';
import { describeIssues, envelope, shaped, shortText } from './events';
import { built } from './schema';

export const UPLOAD_SOURCE = 'aws.s3';
export const OBJECT_CREATED = 'Object Created';

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Up to S3's 1,024 characters, with no control or format characters (nothing that can fake a log line). */
const OBJECT_KEY = /^[^\p{Cc}\p{Cf}]{1,1024}$/u;
/** An MD5 (single part) or an MD5 of MD5s and the part count (multipart), as S3 events give it: unquoted. */
const ETAG = /^[0-9a-f]{32}(-[1-9][0-9]{0,4})?$/;
const VERSION_ID = /^[A-Za-z0-9._+-]{1,1024}$/;

export const uploadEventSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(OBJECT_CREATED),
    source: z.literal(UPLOAD_SOURCE),
    detail: z.looseObject({
      version: z.optional(shortText(16)),
      bucket: z.looseObject({ name: shaped(S3_BUCKET, 'must be an S3 bucket name') }),
      object: z.looseObject({
        key: shaped(OBJECT_KEY, 'must be an S3 key (1 to 1,024 characters, no control characters)'),
        size: z.optional(z.number().check(z.int(), z.gte(0))),
        etag: shaped(
          ETAG,
          'must be an S3 ETag (32 hex digits, and "-" and a part count for a multipart upload)',
        ),
        'version-id': z.optional(shaped(VERSION_ID, 'must be an S3 version id')),
        sequencer: z.optional(shaped(/^[0-9A-Fa-f]{1,64}$/, 'must be an S3 sequencer (hex digits)')),
      }),
      'request-id': z.optional(shortText(256)),
      requester: z.optional(shortText(256)),
      'source-ip-address': z.optional(shortText(64)),
      reason: z.optional(shortText(64)),
    }),
  }),
);

/** What the deployer needs from an "Object Created" event, in its own words. */
export interface UploadedObject extends PinnedUpload {
  size?: number;
  /** Who wrote the object (an account id, or an AWS service's principal): outside text. */
  requester?: string;
  /** PutObject, CopyObject, CompleteMultipartUpload, …: outside text. */
  reason?: string;
  account: string;
  region: string;
  eventId: string;
  /** When S3 sent the event: the object's creation. */
  sentAt: string;
}

/** Validate a raw event; a malformed one throws an EventValidationError that names the fields. */
export const parseUploadEvent = (raw: unknown): UploadedObject => {
  const result = uploadEventSchema().safeParse(raw);
  if (!result.success) {
    throw new EventValidationError(`malformed S3 Object Created event: ${describeIssues(result.error)}`, {
      cause: result.error,
    });
  }
  const { detail, account, region, time, id } = result.data;
  const { object } = detail;
  const versionId = object['version-id'];
  return {
    bucket: detail.bucket.name,
    key: object.key,
    // An unversioned bucket's objects have no version; "null" is how S3 names that in some answers.
    ...(versionId && versionId !== 'null' ? { versionId } : {}),
    etag: object.etag,
    ...(object.size !== undefined ? { size: object.size } : {}),
    ...(detail.requester ? { requester: detail.requester } : {}),
    ...(detail.reason ? { reason: detail.reason } : {}),
    account,
    region,
    eventId: id,
    sentAt: new Date(time).toISOString(),
  };
};
