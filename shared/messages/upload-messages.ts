/**
 * What the ops team hears of an uploaded build that the deployer refuses: its metadata does not say which
 * build it is, with which commit, started when. Nothing was recorded; the message goes out once per stage and
 * upload, however often S3's event is delivered.
 */
import type { Stage } from '../edge/stages';
import { shown } from '../edge/untrusted';
import type { UploadedObject } from '../edge/upload-events';
import type { Runtime } from '../runtime';
import { announceDeployOnce } from './ledger';
import { ledgerKeys } from './ledger-keys';

/** The upload in the words of a message: where it is and who wrote it (the requester is outside text). */
export const uploadTrigger = (upload: UploadedObject): string =>
  [
    `upload of ${shown(`s3://${upload.bucket}/${upload.key}`)}`,
    upload.versionId ? `version ${shown(upload.versionId)}` : undefined,
    upload.requester ? `by ${shown(upload.requester)}` : undefined,
  ]
    .filter(Boolean)
    .join(' ');

/** Tell the ops team, once, that this upload is not deployed to this stage and why; true when sent now. */
export const announceRefusedUpload = (
  runtime: Runtime,
  stage: Stage,
  upload: UploadedObject,
  problem: string,
): Promise<boolean> =>
  announceDeployOnce(
    runtime,
    ledgerKeys.refusedUpload(stage.name, upload.bucket, upload.key, upload.versionId ?? upload.etag),
    {
      outcome: 'failed',
      stage: stage.name,
      stack: stage.stack,
      trigger: uploadTrigger(upload),
      error: `the uploaded build was refused, and nothing was recorded: ${problem}`,
    },
  );
