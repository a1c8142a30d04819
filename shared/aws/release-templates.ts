/**
 * A release is the template and the code, built together. A build may publish its stage template beside its
 * artifact (`artifact.templateKey`); the deployer gives it a content-named key of its own, as it does the
 * artifact, and the desired version pins its SHA-256. The stage's configured `template` is read once, for the
 * stage's first release, and only through the same pin.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { PipelineExecution } from '../edge/events';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { ArtifactError } from '../errors';
import { logger } from '../logger';
import { templateReleaseKey } from '../names';
import { type BuildArtifact, copyToRelease, hashObject, locateObject } from './artifacts';

export interface ReleasedTemplate {
  key: string;
  sha256: string;
}

/**
 * Release the template this execution published, or undefined when it published none (the stage then keeps
 * the template it has). A fixed template key whose object another execution uploaded is not this build's.
 */
export const releaseBuildTemplate = async (
  s3: S3Client,
  stage: Stage,
  execution: PipelineExecution,
  /** The copy waits for this (found at once, copied once the deploy goes on: see releaseOnce). */
  copyAfter: Promise<unknown> = Promise.resolve(),
): Promise<ReleasedTemplate | undefined> => {
  const keyTemplate = stage.artifact.templateKey;
  if (!keyTemplate) return undefined;
  let build: BuildArtifact;
  try {
    build = await locateObject(s3, stage, execution, keyTemplate, 'build template');
  } catch (error) {
    if (!(error instanceof ArtifactError)) throw error;
    logger.info('this build published no template of its own; the stage keeps its template', {
      stage: stage.name,
      reason: error.message,
    });
    return undefined;
  }
  await copyAfter;
  return releaseTemplate(s3, stage, build, { 'pipeline-execution-id': execution.executionId });
};

/** Release the stage's configured template, for its first release; undefined when none is configured. */
export const pinConfiguredTemplate = async (s3: S3Client, stage: Stage): Promise<string | undefined> => {
  if (!stage.template) return undefined;
  const source = { bucket: stage.template.bucket, key: stage.template.key };
  const released = await releaseTemplate(s3, stage, source, { configured: 'true' });
  logger.info("pinned the stage's configured template for its first release", {
    stage: stage.name,
    template: released.key,
  });
  return released.sha256;
};

const releaseTemplate = async (
  s3: S3Client,
  stage: Stage,
  build: BuildArtifact,
  metadata: Record<string, string>,
): Promise<ReleasedTemplate> => {
  const sha256 = build.sha256 ?? (await hashObject(s3, build));
  const key = templateReleaseKey(stage.releasePrefix, sha256);
  await copyToRelease(s3, build, { bucket: releaseBucketOf(stage), key, sha256 }, { sha256, ...metadata });
  return { key, sha256 };
};
