/**
 * The configuration, checked against the scope the deployer's IAM grants (template.yaml's parameters, as each
 * samconfig.toml environment sets them). A stack outside StackNamePrefix, a parameter outside ParameterPath,
 * a role not in CloudFormationRoleArns, a bucket other than ArtifactBucketName, a release prefix outside
 * ReleasePrefix or a `recreate` stage without AllowRecreate would be an IAM denial in production; here it fails
 * `npm run build` (and so `npm test`) with a message that names the environment, the stage and the field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { allStages, type DeployerConfig, parseConfig, releaseBucketOf } from '../../shared/edge/config';
import { readTemplate } from './sam-template';

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
    { deploy?: { parameters?: Record<string, unknown> } }
  >;
  return Object.fromEntries(
    Object.entries(config).flatMap(([env, sections]) => {
      const deploy = typeof sections === 'object' ? sections.deploy?.parameters : undefined;
      return deploy ? [[env, { ...defaults, ...overridesOf(deploy.parameter_overrides) }]] : [];
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
    else if (!roles.includes(stage.roleArn))
      say(stage.name, 'roleArn', `${stage.roleArn} is not in CloudFormationRoleArns`);
    for (const [field, name] of [
      ['artifact.bucket', stage.artifact.bucket],
      ['releaseBucket', releaseBucketOf(stage)],
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
