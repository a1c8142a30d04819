/**
 * The configuration, checked against the scope the deployer's IAM grants (template.yaml's parameters, as each
 * samconfig.toml environment sets them). A stack outside StackNamePrefix, a parameter outside ParameterPath,
 * a role not in CloudFormationRoleArns, a bucket other than ArtifactBucketName, a release prefix outside
 * ReleasePrefix or a `recreate` stage without AllowRecreate would be an IAM denial in production (and an upload
 * pipeline's build key outside UploadPrefix would never trigger a deploy); here it fails
 * `npm run build` (and so `npm test`) with a message that names the environment, the stage and the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { parseConfig } from '../../shared/edge/config';
import { allStages, type DeployerConfig, releaseBucketOf } from '../../shared/edge/stages';
import { keyShape } from '../../shared/edge/upload-keys';
import { readTemplate } from './sam-template';
import { inOtherRegion, placeProblems, REGION_PARAMETER } from './scope-places';

type Parameters = Record<string, string>;

/** The template's parameter defaults. */
export const templateDefaults = (templatePath: string): Parameters => {
  const template = readTemplate(templatePath) as { Parameters?: Record<string, { Default?: unknown }> };
  return Object.fromEntries(
    Object.entries(template.Parameters ?? {}).flatMap(([name, p]) =>
      p.Default === undefined ? [] : [[name, String(p.Default)]],
    ),
  );
};

/** "Key=Value" overrides, as SAM CLI reads them (a list, or one space-separated string). */
const overridesOf = (value: unknown): Parameters => {
  const items = Array.isArray(value)
    ? value.map(String)
    : typeof value === 'string'
      ? value.split(/\s+/)
      : [];
  return Object.fromEntries(
    items.flatMap((item) => {
      const at = item.indexOf('=');
      return at > 0 ? [[item.slice(0, at), item.slice(at + 1).replace(/^"|"$/g, '')]] : [];
    }),
  );
};

/** Each samconfig environment that deploys, with the template parameters it deploys with. */
export const environments = (samconfigText: string, defaults: Parameters): Record<string, Parameters> => {
  const config = parseToml(samconfigText) as Record<
    string,
    { deploy?: { parameters?: Record<string, unknown> }; global?: { parameters?: Record<string, unknown> } }
  >;
  return Object.fromEntries(
    Object.entries(config).flatMap(([env, sections]) => {
      const deploy = typeof sections === 'object' ? sections.deploy?.parameters : undefined;
      // The region the environment deploys to, as the pseudo parameter AWS::Region (scope-places.ts).
      const region = deploy?.region ?? sections.global?.parameters?.region;
      const where: Parameters = typeof region === 'string' ? { [REGION_PARAMETER]: region } : {};
      return deploy ? [[env, { ...defaults, ...overridesOf(deploy.parameter_overrides), ...where }]] : [];
    }),
  );
};

/** Every way the configuration reaches outside what one environment's deployer may touch. */
export const scopeProblems = (config: DeployerConfig, env: string, p: Parameters): string[] => {
  const problems: string[] = [];
  const say = (stage: string, field: string, text: string) =>
    problems.push(`samconfig.toml [${env}]: pipelines.*.stages.${stage}.${field}: ${text}`);
  const prefix = p.StackNamePrefix ?? '';
  if (prefix === '')
    problems.push(
      `samconfig.toml [${env}]: StackNamePrefix must not be empty (the deployer would be allowed to change every stack)`,
    );
  const roles = (p.CloudFormationRoleArns ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const bucket = p.ArtifactBucketName;
  const releasePrefix = p.ReleasePrefix ?? '';
  for (const stage of allStages(config)) {
    if (prefix && !stage.stack.startsWith(prefix))
      say(stage.name, 'stack', `${stage.stack} is outside StackNamePrefix ${prefix}`);
    if (!stage.ssmParameter.startsWith(p.ParameterPath ?? '/'))
      say(stage.name, 'ssmParameter', `${stage.ssmParameter} is outside ParameterPath ${p.ParameterPath}`);
    if (!stage.roleArn)
      say(
        stage.name,
        'roleArn',
        'is required: change sets are allowed only with the configured service roles',
      );
    // A stage in another account passes its role with the role it assumes there (targets/template.yaml).
    else if (stage.account === undefined && !roles.includes(stage.roleArn))
      say(stage.name, 'roleArn', `${stage.roleArn} is not in CloudFormationRoleArns`);
    for (const [field, name] of [
      ['artifact.bucket', stage.artifact.bucket],
      // A stage in another region releases to a bucket there (scope-places.ts).
      ['releaseBucket', inOtherRegion(stage, p) ? undefined : releaseBucketOf(stage)],
      ['template.bucket', stage.template?.bucket],
    ] as const) {
      if (name !== undefined && name !== bucket)
        say(stage.name, field, `${name} is not ArtifactBucketName ${bucket}`);
    }
    if (!stage.releasePrefix.startsWith(releasePrefix))
      say(stage.name, 'releasePrefix', `${stage.releasePrefix} is outside ReleasePrefix ${releasePrefix}`);
    if (stage.onFailedCreate === 'recreate' && p.AllowRecreate !== 'true')
      say(
        stage.name,
        'onFailedCreate',
        'recreate needs AllowRecreate=true (the only grant of cloudformation:DeleteStack)',
      );
  }
  problems.push(...uploadProblems(config, env, p));
  problems.push(...placeProblems(config, env, p));
  return problems;
};

/**
 * Upload pipelines are triggered by the rule on UploadPrefix (template.yaml UploadedBuildRule): each build
 * key must lie under it (the bucket is checked above), and the deployer's own writes must not.
 */
const uploadProblems = (config: DeployerConfig, env: string, p: Parameters): string[] => {
  const prefix = p.UploadPrefix ?? '';
  const problems: string[] = [];
  const releasePrefix = p.ReleasePrefix ?? '';
  for (const other of [releasePrefix, '.deployer/'].filter(Boolean)) {
    if (prefix && (other.startsWith(prefix) || prefix.startsWith(other)))
      problems.push(
        `samconfig.toml [${env}]: UploadPrefix ${prefix} overlaps ${other}: the deployer's own writes there would trigger the deploy function`,
      );
  }
  for (const stage of allStages(config)) {
    if (config.pipelines[stage.pipeline]?.source !== 'upload') continue;
    const where = `samconfig.toml [${env}]: pipelines.${stage.pipeline}.stages.${stage.name}.artifact.key`;
    const { prefix: fixed } = keyShape(stage.artifact.key, stage.pipeline);
    if (prefix === '')
      problems.push(
        `${where}: the pipeline takes uploaded builds, but UploadPrefix is empty: no rule delivers them`,
      );
    else if (!fixed.startsWith(prefix))
      problems.push(`${where}: ${stage.artifact.key} is outside UploadPrefix ${prefix}`);
  }
  return problems;
};

/** Check the repository's configuration against every samconfig environment; the problems, one per line. */
export const checkScope = (
  paths = { config: 'deployer.config.yaml', samconfig: 'samconfig.toml', template: 'template.yaml' },
): string[] => {
  const config = parseConfig(readFileSync(paths.config, 'utf8'), paths.config);
  const envs = environments(readFileSync(paths.samconfig, 'utf8'), templateDefaults(paths.template));
  return Object.entries(envs).flatMap(([env, parameters]) => scopeProblems(config, env, parameters));
};

/** deployer.config.yaml, validated: what the build bundles into the functions (shared/edge/bundled-config.ts). */
export const validatedConfig = (path = 'deployer.config.yaml'): DeployerConfig =>
  parseConfig(readFileSync(path, 'utf8'), path);
