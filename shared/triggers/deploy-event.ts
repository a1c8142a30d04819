/**
 * The deploy function's two events: a CodePipeline execution that changed state (deploy.ts), and an object
 * a CI uploaded (S3 "Object Created", upload.ts). Chosen by the envelope's `source`; anything else is
 * rejected, once, with a reason that says what the function takes.
 */
import { shown } from '../edge/untrusted';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import { type DeploySummary, handlePipelineEvent } from './deploy';
import { handleUploadEvent } from './upload';

/** A field of the event's envelope, when the event is an object that has it as its own. */
const envelopeField = (raw: unknown, name: string): unknown =>
  typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, name)
    ? (raw as Record<string, unknown>)[name]
    : undefined;

const describe = (value: unknown): string =>
  typeof value === 'string' ? shown(value, 128) : value === undefined ? 'none' : `a ${typeof value}`;

/** Handle one event delivered to the deploy function. */
export const handleDeployEvent = (runtime: Runtime, raw: unknown): Promise<DeploySummary> => {
  const source = envelopeField(raw, 'source');
  if (source === 'aws.codepipeline') return handlePipelineEvent(runtime, raw);
  if (source === 'aws.s3') return handleUploadEvent(runtime, raw);
  const reason = `not an event the deploy function takes (source ${describe(source)}, detail-type ${describe(envelopeField(raw, 'detail-type'))}): it takes "CodePipeline Pipeline Execution State Change" (aws.codepipeline) and S3 "Object Created" (aws.s3) events`;
  logger.error('rejected deploy event', { reason });
  return Promise.resolve({ verdict: 'rejected', reason, stages: [] });
};
