/**
 * The deployer's configuration: which pipelines deploy to which stages, and how each stage is deployed.
 * It lives in `deployer.config.yaml` in the repository and is validated here when loaded; an invalid file
 * fails at load with a message that names the field and the problem.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';
import { PIPELINE_NAME, STACK_NAME, STAGE_NAME } from './names';

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

const text = (pattern: RegExp, what: string) =>
  z.string({ error: `must be a string: ${what}` }).regex(pattern, what);

const artifactSource = z.strictObject({
  bucket: text(S3_BUCKET, 'an S3 bucket name'),
  key: text(S3_KEY_TEXT, 'an S3 key (no leading "/", no "..")').refine(
    (key) => [...key.matchAll(KEY_PLACEHOLDERS)].every((m) => KNOWN_PLACEHOLDERS.has(m[1] ?? '')),
    'may use only the placeholders {executionId} and {pipeline}',
  ),
  executionMetadataKey: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'an S3 metadata key (lowercase letters, digits, "-")')
    .default('pipeline-execution-id'),
  commitMetadataKey: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'an S3 metadata key (lowercase letters, digits, "-")')
    .default('commit-id'),
});

const stageSchema = z.strictObject({
  stack: text(STACK_NAME, 'a CloudFormation stack name ([a-zA-Z][-a-zA-Z0-9]*, at most 128 characters)'),
  ssmParameter: text(SSM_PARAMETER, 'an SSM parameter name starting with "/"').refine(
    (name) => !/^\/(aws|ssm)/i.test(name),
    'must not start with /aws or /ssm (reserved by AWS)',
  ),
  stackParameter: text(STACK_PARAMETER, 'a CloudFormation parameter name (letters and digits)').default(
    'ArtifactKey',
  ),
  artifact: artifactSource,
  releaseBucket: text(S3_BUCKET, 'an S3 bucket name').optional(),
  releasePrefix: text(S3_KEY_TEXT, 'an S3 key prefix').refine(
    (prefix) => prefix.endsWith('/') && !prefix.includes('{'),
    'must end with "/" and contain no placeholders',
  ),
  template: z
    .strictObject({ bucket: text(S3_BUCKET, 'an S3 bucket name'), key: text(S3_KEY_TEXT, 'an S3 key') })
    .optional(),
  parameterOverrides: z.record(text(STACK_PARAMETER, 'a parameter name'), z.string().max(4096)).default({}),
  capabilities: z
    .array(z.enum(['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND']))
    .default([]),
  tags: z
    .record(text(TAG_KEY, 'a tag key'), text(TAG_VALUE, 'a tag value'))
    .refine((tags) => Object.keys(tags).length <= 50, 'at most 50 tags')
    .default({}),
  roleArn: text(IAM_ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)').optional(),
  requiresApproval: z.boolean().default(false),
  /** No stack notifications for this stage (deploy outcomes are still reported). */
  mute: z.boolean().default(false),
});

const pipelineSchema = z.strictObject({
  stages: z
    .record(text(STAGE_NAME, 'a stage name (lowercase letters, digits, "-", at most 32)'), stageSchema)
    .refine((stages) => Object.keys(stages).length > 0, 'a pipeline needs at least one stage'),
});

const configSchema = z
  .strictObject({
    settings: z
      .strictObject({
        /** How long to wait for CloudFormation to compute a change set. */
        // Bounded well inside the functions' 300-second Lambda timeout.
        changeSetTimeoutSeconds: z.number().int().min(10).max(240).default(120),
      })
      .default({ changeSetTimeoutSeconds: 120 }),
    notifications: z
      .strictObject({
        /** Report every stack of the account and region, not only the configured stages' stacks. */
        allStacks: z.boolean().default(false),
        /** Also report *_IN_PROGRESS statuses, not only the outcomes. */
        inProgress: z.boolean().default(false),
        /** Report the CloudTrail API calls that start stack operations (who started what). */
        apiCalls: z.boolean().default(true),
      })
      .default({ allStacks: false, inProgress: false, apiCalls: true }),
    pipelines: z.record(text(PIPELINE_NAME, 'a CodePipeline name'), pipelineSchema),
  })
  .superRefine((config, ctx) => {
    const owners = new Map<string, string>();
    const stacks = new Map<string, string>();
    const parameters = new Map<string, string>();
    for (const [pipeline, { stages }] of Object.entries(config.pipelines)) {
      for (const [stage, settings] of Object.entries(stages)) {
        const path = ['pipelines', pipeline, 'stages', stage];
        const unique = (
          seen: Map<string, string>,
          value: string,
          field: string,
          what: string,
          owner = stage,
        ) => {
          const other = seen.get(value);
          if (other !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: field ? [...path, field] : path,
              message: `${what} ${other}`,
            });
          }
          seen.set(value, owner);
        };
        unique(
          owners,
          stage,
          '',
          'stage names must be unique across pipelines; also defined in pipeline',
          pipeline,
        );
        unique(stacks, settings.stack, 'stack', 'the same stack is already the stack of stage');
        unique(
          parameters,
          settings.ssmParameter,
          'ssmParameter',
          'the same parameter already belongs to stage',
        );
      }
    }
  });

export type DeployerConfig = z.output<typeof configSchema>;
export type StageSettings = z.output<typeof stageSchema>;
/** A stage with the names it is known by. */
export interface Stage extends StageSettings {
  name: string;
  pipeline: string;
}

const formatIssues = (source: string, error: z.ZodError): string =>
  error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.') || '(top level)';
      // A bad record key (a stage name, a tag key) carries its own message one level down.
      const message =
        issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message).join('; ') : issue.message;
      return `${source}: ${path}: ${message}`;
    })
    .join('\n');

/** Parse and validate configuration text (YAML or JSON). */
export const parseConfig = (text: string, source = 'configuration'): DeployerConfig => {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(`${source}: not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(formatIssues(source, result.error), { cause: result.error });
  return result.data;
};

/** Read and validate a configuration file. */
export const loadConfigFile = (path: string): DeployerConfig => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseConfig(text, path);
};

/** Every stage of every pipeline, in file order. */
export const allStages = (config: DeployerConfig): Stage[] =>
  Object.entries(config.pipelines).flatMap(([pipeline, { stages }]) =>
    Object.entries(stages).map(([name, settings]) => ({ ...settings, name, pipeline })),
  );

/** The stage with this name, or undefined. Stage names are unique across pipelines. */
export const stageNamed = (config: DeployerConfig, name: string): Stage | undefined =>
  allStages(config).find((stage) => stage.name === name);

/** The stages a pipeline deploys to, or undefined for a pipeline that is not configured. */
export const stagesOfPipeline = (config: DeployerConfig, pipeline: string): Stage[] | undefined =>
  Object.hasOwn(config.pipelines, pipeline)
    ? allStages(config).filter((s) => s.pipeline === pipeline)
    : undefined;

/** The stage whose stack this is, or undefined. */
export const stageOfStack = (config: DeployerConfig, stack: string): Stage | undefined =>
  allStages(config).find((stage) => stage.stack === stack);

/** The bucket that holds a stage's release objects. */
export const releaseBucketOf = (stage: StageSettings): string => stage.releaseBucket ?? stage.artifact.bucket;
