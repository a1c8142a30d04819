/**
 * Builds that a CI uploaded itself: exactly the object an S3 "Object Created" event named. In a versioned
 * bucket that is the event's version, whatever was uploaded under the key since; in an unversioned one it is
 * the object under the key for as long as its ETag is the event's (an overwrite made it another object).
 */
import type { HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import type { PinnedUpload, PipelineExecution } from '../edge/events';
import type { Stage } from '../edge/stages';
import { ArtifactError, isMissingObject } from '../errors';
import { type BuildArtifact, describeBuild, head } from './artifacts';

export type PinnedObject = { found: HeadObjectCommandOutput } | { gone: 'deleted' | 'overwritten' };

/** An ETag as S3 events give it: without the quotes HeadObject puts around it. */
const unquoted = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, '');

/** HeadObject on exactly the uploaded object, or what became of it. */
export const headPinned = async (s3: S3Client, pin: PinnedUpload): Promise<PinnedObject> => {
  let object: HeadObjectCommandOutput;
  try {
    object = await head(s3, pin.bucket, pin.key, pin.versionId);
  } catch (error) {
    if (isMissingObject(error)) return { gone: 'deleted' };
    throw error;
  }
  return unquoted(object.ETag) === pin.etag ? { found: object } : { gone: 'overwritten' };
};

/** Where an upload is, for messages. */
export const uploadLocation = (pin: PinnedUpload): string =>
  `s3://${pin.bucket}/${pin.key}${pin.versionId ? ` (version ${pin.versionId})` : ''}`;

/**
 * The uploaded build of an execution that an upload made (shared/triggers/upload.ts): the event's object,
 * still naming this build in its metadata. Released from exactly that version (or ETag).
 */
export const locateUpload = async (
  s3: S3Client,
  stage: Stage,
  execution: PipelineExecution,
): Promise<BuildArtifact> => {
  const pin = execution.upload;
  if (!pin) throw new Error(`execution ${execution.executionId} was not made by an upload`);
  const where = uploadLocation(pin);
  const read = await headPinned(s3, pin);
  if ('gone' in read) {
    throw new ArtifactError(
      read.gone === 'deleted'
        ? `uploaded build ${where} was deleted before it was released`
        : `uploaded build ${where} was overwritten by another upload before it was released (enable versioning on the bucket to keep every upload)`,
    );
  }
  if (read.found.Metadata?.[stage.artifact.executionMetadataKey] !== execution.executionId) {
    throw new ArtifactError(
      `uploaded build ${where} does not name build ${execution.executionId} in its metadata ${stage.artifact.executionMetadataKey}`,
    );
  }
  return describeBuild(stage, pin.bucket, pin.key, read.found);
};
