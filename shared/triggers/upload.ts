/**
 * The deploy path for a build that a CI uploaded itself (Jenkins, CircleCI, GitHub Actions, CodeBuild without
 * CodePipeline): S3's "Object Created" event for the build's object. The object must be the build key of a
 * stage of an upload pipeline (anything else, such as the template uploaded before the build, is ignored),
 * and its metadata must say which build it is, of which commit, started when; a build without that identity
 * is refused, with nothing recorded, and the ops team is told once. Then it is deployed as a pipeline's build
 * is (deploy.ts `deployToStages`), from exactly the object the event named: its version in a versioned
 * bucket, else the object while its ETag is the event's.
 */
import { headPinned } from '../aws/uploads';
import type { PipelineExecution } from '../edge/events';
import { assertSameAccountAndRegion } from '../edge/settings';
import { allStages, type DeployerConfig, type Stage } from '../edge/stages';
import { parseUploadEvent, type UploadedObject } from '../edge/upload-events';
import { type BuildIdentity, readBuildIdentity } from '../edge/upload-identity';
import { keyShape, matchKey } from '../edge/upload-keys';
import { EventValidationError } from '../errors';
import { logger } from '../logger';
import { announceRefusedUpload } from '../messages/upload-messages';
import type { Runtime } from '../runtime';
import { type DeploySummary, deployToStages, type StageSummary } from './deploy';

/** The stages whose build key an uploaded object is, and the build id its key names for each (if any). */
export interface Claim {
  pipeline: string;
  stages: { stage: Stage; segment?: string }[];
}

/**
 * The upload pipeline whose build this object is, or undefined. The configuration lets no two upload
 * pipelines claim one object (upload-config.ts), so there is at most one.
 */
export const claimOf = (config: DeployerConfig, bucket: string, key: string): Claim | undefined => {
  const stages = allStages(config).flatMap((stage) => {
    if (config.pipelines[stage.pipeline]?.source !== 'upload' || stage.artifact.bucket !== bucket) return [];
    const match = matchKey(keyShape(stage.artifact.key, stage.pipeline), key);
    return match ? [{ stage, ...match }] : [];
  });
  const [first] = stages;
  return first ? { pipeline: first.stage.pipeline, stages } : undefined;
};

/** The execution the deploy path works with, made of the upload and the identity its metadata gave. */
export const executionOfUpload = (
  upload: UploadedObject,
  pipeline: string,
  identity: BuildIdentity,
): PipelineExecution => ({
  pipeline,
  executionId: identity.buildId,
  state: 'SUCCEEDED',
  startedAt: identity.startedAt,
  commitId: identity.commitId,
  account: upload.account,
  region: upload.region,
  eventId: upload.eventId,
  sentAt: upload.sentAt,
  source: 'upload',
  upload: {
    bucket: upload.bucket,
    key: upload.key,
    ...(upload.versionId ? { versionId: upload.versionId } : {}),
    etag: upload.etag,
  },
});

/** Handle one S3 "Object Created" event. */
export const handleUploadEvent = async (runtime: Runtime, raw: unknown): Promise<DeploySummary> => {
  let upload: UploadedObject;
  try {
    upload = parseUploadEvent(raw);
    assertSameAccountAndRegion(runtime.settings, upload);
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    logger.error('rejected upload event', { reason: error.message });
    return { verdict: 'rejected', reason: error.message, stages: [] };
  }
  const object = { bucket: upload.bucket, key: upload.key, versionId: upload.versionId };
  const claim = claimOf(runtime.config, upload.bucket, upload.key);
  if (!claim) {
    logger.info('the uploaded object is no build key of an upload pipeline; ignored', object);
    return { verdict: 'ignored', reason: 'not a build key of an upload pipeline', stages: [] };
  }
  const read = await headPinned(runtime.clients.s3, upload);
  if ('gone' in read) {
    // Its bytes are gone: the upload that replaced them has an event of its own.
    logger.info(`the uploaded object was ${read.gone} before it was read; ignored`, object);
    return { verdict: 'ignored', reason: `upload ${read.gone}`, pipeline: claim.pipeline, stages: [] };
  }
  const refusals: Promise<StageSummary>[] = [];
  const builds = new Map<string, { identity: BuildIdentity; stages: Stage[] }>();
  for (const { stage, segment } of claim.stages) {
    const reading = readBuildIdentity(read.found.Metadata, stage.artifact, {
      ...(segment !== undefined ? { segment } : {}),
      uploadedAt: upload.sentAt,
    });
    if ('problem' in reading) {
      refusals.push(refuse(runtime, stage, upload, reading.problem));
      continue;
    }
    // Stages may read different metadata keys: each distinct identity is its own build.
    const id = JSON.stringify(reading.identity);
    const build = builds.get(id) ?? { identity: reading.identity, stages: [] };
    build.stages.push(stage);
    builds.set(id, build);
  }
  const refused = await Promise.all(refusals);
  const deployed: StageSummary[] = [];
  for (const { identity, stages } of builds.values())
    deployed.push(
      ...(await deployToStages(runtime, stages, executionOfUpload(upload, claim.pipeline, identity))),
    );
  const [first] = builds.values();
  if (!first)
    return {
      verdict: 'rejected',
      reason: [...new Set(refused.map((s) => s.error))].join('; '),
      pipeline: claim.pipeline,
      stages: refused,
    };
  return {
    verdict: 'deployed',
    pipeline: claim.pipeline,
    executionId: first.identity.buildId,
    stages: [...deployed, ...refused],
  };
};

/** A stage's build refused for its identity: nothing recorded, the ops team told once. */
const refuse = async (
  runtime: Runtime,
  stage: Stage,
  upload: UploadedObject,
  problem: string,
): Promise<StageSummary> => {
  const base = { stage: stage.name, stack: stage.stack };
  logger.error('uploaded build refused; nothing recorded', {
    ...base,
    bucket: upload.bucket,
    key: upload.key,
    reason: problem,
  });
  const notified = await announceRefusedUpload(runtime, stage, upload, problem);
  return { ...base, outcome: 'failed', notified, error: problem };
};
