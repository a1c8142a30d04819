/**
 * The deployer's configuration: which pipelines deploy to which stages, and how each stage is deployed.
 * It lives in `deployer.config.yaml` in the repository and is validated here when loaded; an invalid file
 * fails at load with a message that names the field and the problem.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { ConfigError } from '../errors';
import { PIPELINE_NAME, STAGE_NAME } from '../names';
import { alarmIssues } from './alarm-config';
import { placeIssues } from './places';
import './schema';
import { flag, stageSchema, text } from './stage-schema';
import { PIPELINE_SOURCES, uploadConfigIssues, withMetadataDefaults } from './upload-config';
import { deployWindowsSchema } from './window-config';

export { stageSchema };

const pipelineSchema = z.pipe(
  z.strictObject({
    /** Where its builds come from: a CodePipeline execution, or an upload by any CI (upload-config.ts). */
    source: z._default(z.enum(PIPELINE_SOURCES), 'codepipeline'),
    stages: z
      .record(text(STAGE_NAME, 'a stage name (lowercase letters, digits, "-", at most 32)'), stageSchema)
      .check(z.refine((stages) => Object.keys(stages).length > 0, 'a pipeline needs at least one stage')),
  }),
  z.transform(withMetadataDefaults),
);

export const configSchema = z
  .strictObject({
    settings: z._default(
      z.strictObject({
        /** How long to wait for CloudFormation to compute a change set; well inside the 300-second Lambda timeout. */
        changeSetTimeoutSeconds: z._default(z.number().check(z.int(), z.gte(10), z.lte(240)), 120),
        /** When stages may be deployed, unless a stage names its own (window-config.ts). */
        deployWindows: z.optional(deployWindowsSchema),
      }),
      { changeSetTimeoutSeconds: 120 },
    ),
    notifications: z._default(
      z.strictObject({
        /** Report every stack of the account and region, not only the configured stages' stacks. */
        allStacks: flag(false),
        /** Also report *_IN_PROGRESS statuses, not only the outcomes. */
        inProgress: flag(false),
        /** Report the CloudTrail API calls that start stack operations (who started what). */
        apiCalls: flag(true),
      }),
      { allStacks: false, inProgress: false, apiCalls: true },
    ),
    pipelines: z.record(text(PIPELINE_NAME, 'a CodePipeline name'), pipelineSchema),
  })
  .check(
    z.superRefine((config, ctx) => {
      for (const issue of uploadConfigIssues(config.pipelines)) ctx.addIssue({ code: 'custom', ...issue });
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
          // One stack per account and region: the same name elsewhere is another stack.
          const place = [settings.account, settings.region, settings.stack].join('/');
          unique(stacks, place, 'stack', 'the same stack (same account and region) is the stack of stage');
          for (const issue of placeIssues(settings))
            ctx.addIssue({ code: 'custom', ...issue, path: [...path, issue.field] });
          for (const issue of alarmIssues(settings))
            ctx.addIssue({ code: 'custom', ...issue, path: [...path, issue.field] });
          settings.promoteTo.forEach((target, i) => {
            const known = Object.values(config.pipelines).some((p) => Object.hasOwn(p.stages, target));
            if (!known || target === stage) {
              ctx.addIssue({
                code: 'custom',
                path: [...path, 'promoteTo', i],
                message: target === stage ? 'a stage cannot promote to itself' : `no stage named ${target}`,
              });
            }
          });
          unique(
            parameters,
            settings.ssmParameter,
            'ssmParameter',
            'the same parameter already belongs to stage',
          );
        }
      }
    }),
  );

export type DeployerConfig = z.output<typeof configSchema>;

const formatIssues = (source: string, error: z.core.$ZodError): string =>
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
  // Loaded on first use: the functions receive their configuration already compiled to JSON (see
  // bundled-config.ts) and never pay for a YAML parser at cold start.
  let parse: typeof import('yaml').parse;
  try {
    ({ parse } = require('yaml') as typeof import('yaml'));
  } catch (error) {
    // The functions' bundles leave the YAML parser out; deployed functions use their bundled configuration.
    throw new ConfigError(
      `${source}: reading YAML needs the yaml package (npm ci); functions use the bundled configuration`,
      {
        cause: error,
      },
    );
  }
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(`${source}: not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  return validateConfig(raw, source);
};

/** Keys that would reach an object's prototype instead of naming a pipeline, stage, tag or parameter. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const prototypeKeyPath = (value: unknown, path: string[] = []): string[] | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    if (PROTOTYPE_KEYS.has(key)) return [...path, key];
    const inner = prototypeKeyPath((value as Record<string, unknown>)[key], [...path, key]);
    if (inner) return inner;
  }
  return undefined;
};

/** Validate configuration that is already parsed (the JSON compiled from deployer.config.yaml). */
export const validateConfig = (raw: unknown, source = 'configuration'): DeployerConfig => {
  const bad = prototypeKeyPath(raw);
  if (bad) throw new ConfigError(`${source}: ${bad.join('.')}: ${bad.at(-1)} cannot be used as a name`);
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
