/**
 * Releases as the deployer makes them: objects named after the SHA-256 of their bytes (the artifact, and the
 * stage template released with it), put into an S3 store with the full-object checksum the deployer's
 * verified copy leaves on them. Nothing here talks to the network.
 */
import { templateReleaseKey } from '../../../shared/names';
import { BUILD_BYTES, BUILD_RELEASE_KEY, BUILD_SHA256_HEX, SAMPLE, sha256Hex } from './fixtures';
import type { S3Store, StoredObject } from './s3-store';

/** The repository configuration's release prefix (both stages). */
export const RELEASE_PREFIX = 'releases/orders-api/';

/** Bytes under the content-named key they hash to. */
export interface ReleaseObject {
  bytes: Buffer;
  sha256: string;
  key: string;
}

/** A release artifact: `bytes` under `<prefix><sha256>.zip`. */
export const releaseObject = (bytes: Buffer | string, prefix = RELEASE_PREFIX): ReleaseObject => {
  const buffer = Buffer.from(bytes);
  const sha256 = sha256Hex(buffer);
  return { bytes: buffer, sha256, key: `${prefix}${sha256}.zip` };
};

/** The release of the sample build. */
export const BUILD_RELEASE: ReleaseObject = {
  bytes: BUILD_BYTES,
  sha256: BUILD_SHA256_HEX,
  key: BUILD_RELEASE_KEY,
};

/** The parameters the stage templates below declare (what GetTemplateSummary answers for them). */
export const TEMPLATE_PARAMETERS = ['Stage', 'ArtifactBucket', 'ArtifactKey'];

const templateText = (resources: string) =>
  [
    'AWSTemplateFormatVersion: "2010-09-09"',
    'Parameters:',
    '  Stage: { Type: String }',
    '  ArtifactBucket: { Type: String }',
    '  ArtifactKey: { Type: String }',
    'Resources:',
    resources,
    '',
  ].join('\n');

/** A stage template released under `<prefix>templates/<sha256>.template`. */
export const templateObject = (text: string, prefix = RELEASE_PREFIX): ReleaseObject => {
  const bytes = Buffer.from(text, 'utf8');
  const sha256 = sha256Hex(bytes);
  return { bytes, sha256, key: templateReleaseKey(prefix, sha256) };
};

/** The stage template: what a build publishes and what the configured template holds. */
export const TEMPLATE = templateObject(
  templateText(
    '  OrdersFunction:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: { S3Bucket: !Ref ArtifactBucket, S3Key: !Ref ArtifactKey }',
  ),
);
/** Another version of the stage template (it adds a queue). */
export const TEMPLATE_WITH_QUEUE = templateObject(
  templateText(
    '  OrdersFunction:\n    Type: AWS::Lambda::Function\n    Properties:\n      Code: { S3Bucket: !Ref ArtifactBucket, S3Key: !Ref ArtifactKey }\n  OrdersQueue:\n    Type: AWS::SQS::Queue',
  ),
);

/** The configured stage template of the repository's configuration (template.key). */
export const CONFIGURED_TEMPLATE_KEY = 'templates/orders-api.yaml';

/** Put a release object into the store as the deployer's copy leaves it (with its SHA-256 checksum). */
export const putRelease = (
  store: S3Store,
  release: ReleaseObject,
  bucket: string = SAMPLE.bucket,
): StoredObject => store.put(bucket, release.key, release.bytes, { checksum: true });

/**
 * Replace a release object's bytes (as anyone with write access to the bucket could), keeping its key. With
 * `checksum` S3 keeps the SHA-256 of the new bytes; without, the deployer must hash them to find out.
 */
export const tamper = (
  store: S3Store,
  key: string,
  options: { checksum?: boolean; bucket?: string; bytes?: Buffer | string } = {},
): StoredObject =>
  store.put(options.bucket ?? SAMPLE.bucket, key, options.bytes ?? 'PK\u0003\u0004 bytes of an attacker', {
    checksum: options.checksum ?? true,
  });
