/**
 * How one stage is deployed: the schema of a stage in deployer.config.yaml (config.ts puts stages together
 * into pipelines and checks what spans stages). Each field's pattern is the one its value must match before
 * it may reach an ARN, an SSM path, an S3 key or a change set.
 */
import * as z from 'zod/mini';
import { STACK_NAME, STAGE_NAME } from '../names';
import { alarmFields } from './alarm-config';
import { ACCOUNT_ID, REGION } from './places';
import './schema';
import { deployWindowsSchema } from './window-config';

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** SSM parameter names: a path, not under the reserved aws/ssm prefixes. */
const SSM_PARAMETER = /^\/[a-zA-Z0-9_.\-/]{1,1010}$/;
const STACK_PARAMETER = /^[a-zA-Z0-9]{1,255}$/;
const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** S3 key text we accept in configuration: printable, no "..", no leading "/". */
const S3_KEY_TEXT = /^(?!\/)(?!.*\.\.)[\w!\-.*'()/{}=+@,]{1,900}$/;
const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const KEY_PLACEHOLDERS = /\{([^}]*)\}/g;
const KNOWN_PLACEHOLDERS = new Set(['executionId', 'pipeline']);

// zod/mini: the same validation as zod, tree-shaken to what is used (a smaller, faster cold start).
export const text = (pattern: RegExp, what: string) =>
  z.string({ error: `must be a string: ${what}` }).check(z.regex(pattern, what));
export const flag = (value: boolean) => z._default(z.boolean(), value);

/** A build's key in the artifact bucket: a fixed key, or a template with {executionId} and {pipeline}. */
const buildKey = text(S3_KEY_TEXT, 'an S3 key (no leading "/", no "..")').check(
  z.refine(
    (key) => [...key.matchAll(KEY_PLACEHOLDERS)].every((m) => KNOWN_PLACEHOLDERS.has(m[1] ?? '')),
    'may use only the placeholders {executionId} and {pipeline}',
  ),
);

const metadataKey = text(/^[a-z0-9-]{1,64}$/, 'an S3 metadata key (lowercase letters, digits, "-")');

const artifactSource = z.strictObject({
  bucket: text(S3_BUCKET, 'an S3 bucket name'),
  key: buildKey,
  /** Where the build publishes the stage template it was built with; released and deployed with the code. */
  templateKey: z.optional(buildKey),
  /** Default by the pipeline's source: pipeline-execution-id, or build-id for uploads (upload-config.ts). */
  executionMetadataKey: z.optional(metadataKey),
  commitMetadataKey: z._default(metadataKey, 'commit-id'),
  /** Upload pipelines: when the build started (ISO 8601 UTC), which orders its builds. */
  startedAtMetadataKey: z._default(metadataKey, 'build-started-at'),
});

export const stageSchema = z.strictObject({
  stack: text(STACK_NAME, 'a CloudFormation stack name ([a-zA-Z][-a-zA-Z0-9]*, at most 128 characters)'),
  ssmParameter: text(SSM_PARAMETER, 'an SSM parameter name starting with "/"').check(
    z.refine((name) => !/^\/(aws|ssm)/i.test(name), 'must not start with /aws or /ssm (reserved by AWS)'),
  ),
  stackParameter: z._default(
    text(STACK_PARAMETER, 'a CloudFormation parameter name (letters and digits)'),
    'ArtifactKey',
  ),
  artifact: artifactSource,
  releaseBucket: z.optional(text(S3_BUCKET, 'an S3 bucket name')),
  releasePrefix: text(S3_KEY_TEXT, 'an S3 key prefix').check(
    z.refine(
      (prefix) => prefix.endsWith('/') && !prefix.includes('{'),
      'must end with "/" and contain no placeholders',
    ),
  ),
  template: z.optional(
    z.strictObject({ bucket: text(S3_BUCKET, 'an S3 bucket name'), key: text(S3_KEY_TEXT, 'an S3 key') }),
  ),
  parameterOverrides: z._default(
    z.record(text(STACK_PARAMETER, 'a parameter name'), z.string().check(z.maxLength(4096))),
    {},
  ),
  capabilities: z._default(
    z.array(z.enum(['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'])),
    [],
  ),
  tags: z._default(
    z
      .record(text(TAG_KEY, 'a tag key'), text(TAG_VALUE, 'a tag value'))
      .check(z.refine((tags) => Object.keys(tags).length <= 50, 'at most 50 tags')),
    {},
  ),
  roleArn: z.optional(text(IAM_ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)')),
  /** Where the stack lives, if not the deployer's account and region, and the role assumed there (places.ts). */
  account: z.optional(text(ACCOUNT_ID, 'a 12-digit AWS account id')),
  region: z.optional(text(REGION, 'an AWS region such as eu-west-1')),
  assumeRoleArn: z.optional(text(IAM_ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)')),
  requiresApproval: flag(false),
  /**
   * A stack whose creation failed (ROLLBACK_COMPLETE) cannot be updated: "notify" says so and waits for a
   * person; "recreate" deletes it and creates it again from the desired release (never from a release
   * that already failed).
   */
  onFailedCreate: z._default(z.enum(['notify', 'recreate']), 'notify'),
  /** Stages that receive this stage's release when its deploy completes (build once, deploy many). */
  promoteTo: z._default(z.array(text(STAGE_NAME, 'a stage name')), []),
  /** No stack notifications for this stage (deploy outcomes are still reported). */
  mute: flag(false),
  /** When it may be deployed, replacing settings.deployWindows (window-config.ts). */
  deployWindows: z.optional(deployWindowsSchema),
  /** Alarm-gated deploys: alarms, bakeMinutes, monitoringMinutes (alarm-config.ts). */
  ...alarmFields(),
});
