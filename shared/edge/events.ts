/**
 * Schemas for the EventBridge events the deployer accepts. Types come from the schemas, so they cannot
 * drift from what is checked. Every string that later reaches AWS is bounded and shaped here.
 */

import * as z from 'zod/mini';
import { EventValidationError } from '../errors';
import { COMMIT_ID, EXECUTION_ID, PIPELINE_NAME } from '../names';
import { built } from './schema';

const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const isoTime = () => z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time' });
/** A string of at most `max` characters. */
export const shortText = (max: number) => z.string().check(z.maxLength(max));
/**
 * Free text that only reaches messages (reasons, error messages, commit messages, caller names): accepted up
 * to the size of a whole EventBridge event (256 KB), and shortened for display with a visible marker
 * (untrusted.ts). Rejecting it for its length would lose the event, and with it the email.
 */
export const EVENT_TEXT_LIMIT = 256 * 1024;
export const freeText = () => shortText(EVENT_TEXT_LIMIT);
/** A string matching `pattern`, with a message saying what it must be. */
export const shaped = (pattern: RegExp, what: string) => z.string().check(z.regex(pattern, what));

/** The EventBridge envelope shared by every AWS event. */
export const envelope = built(() =>
  z.looseObject({
    version: shortText(16),
    id: z.string().check(z.minLength(1), z.maxLength(128)),
    'detail-type': shortText(128),
    source: shortText(128),
    account: shaped(ACCOUNT, 'must be a 12-digit account id'),
    time: isoTime(),
    region: shaped(REGION, 'must be an AWS region'),
    resources: z._default(z.array(shortText(2048)).check(z.maxLength(100)), []),
  }),
);

const executionTrigger = () =>
  z.looseObject({
    'trigger-type': z.optional(freeText()),
    'trigger-detail': z.optional(freeText()),
    'commit-id': z.optional(shaped(COMMIT_ID, 'must be a git commit id (7 to 64 hex digits)')),
    'branch-name': z.optional(freeText()),
    'full-repository-name': z.optional(freeText()),
    'author-display-name': z.optional(freeText()),
    'commit-message': z.optional(freeText()),
  });

export const PIPELINE_DETAIL_TYPE = 'CodePipeline Pipeline Execution State Change';

export const pipelineEventSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(PIPELINE_DETAIL_TYPE),
    source: z.literal('aws.codepipeline'),
    detail: z.looseObject({
      pipeline: shaped(PIPELINE_NAME, 'must be a CodePipeline name'),
      'execution-id': shaped(EXECUTION_ID, 'must be a pipeline execution id'),
      state: shaped(/^[A-Z_]{1,32}$/, 'must be a pipeline state such as SUCCEEDED'),
      // A string ("1") in old documents, a number (3.0) in new ones.
      version: z.union([shortText(16), z.number()]),
      'start-time': z.optional(isoTime()),
      'pipeline-execution-attempt': z.optional(z.number().check(z.int(), z.gte(0))),
      'execution-trigger': z.optional(executionTrigger()),
    }),
  }),
);

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
  /** When EventBridge sent the event (its envelope's time). */
  sentAt?: string;
  /** Where the build came from: a CodePipeline execution (the default), or an upload by a CI. */
  source?: 'codepipeline' | 'upload';
  /** An uploaded build: exactly the object its event named (shared/triggers/upload.ts). */
  upload?: PinnedUpload;
}

/** The object an S3 "Object Created" event named: its version in a versioned bucket, else its ETag. */
export interface PinnedUpload {
  bucket: string;
  key: string;
  versionId?: string;
  /** As the event gives it, without quotes. */
  etag: string;
}

/** The first few schema problems, each naming its field. */
export const describeIssues = (error: z.core.$ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || '(event)'}: ${issue.message}`)
    .join('; ');

/** Validate a raw event; a malformed one throws an EventValidationError that names the fields. */
export const parsePipelineEvent = (raw: unknown): PipelineExecution => {
  const result = pipelineEventSchema().safeParse(raw);
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
    sentAt: new Date(time).toISOString(),
  };
};
