/**
 * Schemas for the EventBridge events the deployer accepts. Types come from the schemas, so they cannot
 * drift from what is checked. Every string that later reaches AWS is bounded and shaped here.
 */
import { z } from 'zod';
import { EventValidationError } from './errors';
import { COMMIT_ID, EXECUTION_ID, PIPELINE_NAME } from './names';

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const isoTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time' });
const shortText = (max: number) => z.string().max(max);

/** The EventBridge envelope shared by every AWS event. */
export const envelope = z.looseObject({
  version: shortText(16),
  id: shortText(128).min(1),
  'detail-type': shortText(128),
  source: shortText(128),
  account: z.string().regex(ACCOUNT, 'must be a 12-digit account id'),
  time: isoTime,
  region: z.string().regex(REGION, 'must be an AWS region'),
  resources: z.array(shortText(2048)).max(100).default([]),
});

const executionTrigger = z.looseObject({
  'trigger-type': shortText(64).optional(),
  'trigger-detail': shortText(1024).optional(),
  'commit-id': z.string().regex(COMMIT_ID, 'must be a git commit id (7 to 64 hex digits)').optional(),
  'branch-name': shortText(256).optional(),
  'full-repository-name': shortText(256).optional(),
  'author-display-name': shortText(256).optional(),
  'commit-message': shortText(4096).optional(),
});

export const PIPELINE_DETAIL_TYPE = 'CodePipeline Pipeline Execution State Change';

export const pipelineEventSchema = envelope.extend({
  'detail-type': z.literal(PIPELINE_DETAIL_TYPE),
  source: z.literal('aws.codepipeline'),
  detail: z.looseObject({
    pipeline: z.string().regex(PIPELINE_NAME, 'must be a CodePipeline name'),
    'execution-id': z.string().regex(EXECUTION_ID, 'must be a pipeline execution id'),
    state: z.string().regex(/^[A-Z_]{1,32}$/, 'must be a pipeline state such as SUCCEEDED'),
    // A string ("1") in old documents, a number (3.0) in new ones.
    version: z.union([z.string().max(16), z.number()]),
    'start-time': isoTime.optional(),
    'pipeline-execution-attempt': z.number().int().nonnegative().optional(),
    'execution-trigger': executionTrigger.optional(),
  }),
});

export type PipelineEvent = z.output<typeof pipelineEventSchema>;

/** What the deployer needs from a pipeline event, in its own words. */
export interface PipelineExecution {
  pipeline: string;
  executionId: string;
  state: string;
  /** When the execution started (or, in old events without start-time, when the event was sent). */
  startedAt: string;
  commitId?: string;
  branch?: string;
  repository?: string;
  author?: string;
  account: string;
  region: string;
  eventId: string;
}

/** The first few schema problems, each naming its field. */
export const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(event)'}: ${issue.message}`)
    .join('; ');

/** Validate a raw event; a malformed one throws an EventValidationError that names the fields. */
export const parsePipelineEvent = (raw: unknown): PipelineExecution => {
  const result = pipelineEventSchema.safeParse(raw);
  if (!result.success) {
    throw new EventValidationError(`malformed pipeline event: ${describeIssues(result.error)}`, {
      cause: result.error,
    });
  }
  const { detail, account, region, time, id } = result.data;
  const trigger = detail['execution-trigger'];
  return {
    pipeline: detail.pipeline,
    executionId: detail['execution-id'],
    state: detail.state,
    startedAt: new Date(detail['start-time'] ?? time).toISOString(),
    ...(trigger?.['commit-id'] ? { commitId: trigger['commit-id'].toLowerCase() } : {}),
    ...(trigger?.['branch-name'] ? { branch: trigger['branch-name'] } : {}),
    ...(trigger?.['full-repository-name'] ? { repository: trigger['full-repository-name'] } : {}),
    ...(trigger?.['author-display-name'] ? { author: trigger['author-display-name'] } : {}),
    account,
    region,
    eventId: id,
  };
};
