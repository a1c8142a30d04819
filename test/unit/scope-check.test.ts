/**
 * The configuration checked against the scope the deployer's IAM grants (bin/support/scope-check.ts), as
 * `npm run build` does: every way out of the scope is named, and the repository's own files pass.
 */
import { join } from 'node:path';
import { checkScope, environments, scopeProblems, templateDefaults } from '../../bin/support/scope-check';
import { parseConfig } from '../../shared/edge/config';

const ROOT = join(__dirname, '..', '..');

const config = (stage: Record<string, unknown> = {}) =>
  parseConfig(
    JSON.stringify({
      pipelines: {
        p: {
          stages: {
            dev: {
              stack: 'orders-api-dev',
              ssmParameter: '/deployer/orders-api/dev/artifact',
              artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
              releasePrefix: 'releases/orders-api/',
              roleArn: 'arn:aws:iam::123456789012:role/dev-cfn',
              ...stage,
            },
          },
        },
      },
    }),
  );

const scope = {
  ArtifactBucketName: 'orders-api-artifacts',
  StackNamePrefix: 'orders-api-',
  ParameterPath: '/deployer/',
  CloudFormationRoleArns: 'arn:aws:iam::123456789012:role/dev-cfn',
  ReleasePrefix: 'releases/',
  AllowRecreate: 'false',
};

describe('scopeProblems', () => {
  it('accepts a stage inside every bound', () => {
    expect(scopeProblems(config(), 'default', scope)).toEqual([]);
  });

  it.each([
    [{ stack: 'payments-dev' }, 'stages.dev.stack: payments-dev is outside StackNamePrefix orders-api-'],
    [
      { ssmParameter: '/other/dev' },
      'stages.dev.ssmParameter: /other/dev is outside ParameterPath /deployer/',
    ],
    [
      { roleArn: 'arn:aws:iam::123456789012:role/admin' },
      'stages.dev.roleArn: arn:aws:iam::123456789012:role/admin is not in CloudFormationRoleArns',
    ],
    [{ roleArn: undefined }, 'stages.dev.roleArn: is required'],
    [
      { releaseBucket: 'elsewhere-bucket' },
      'stages.dev.releaseBucket: elsewhere-bucket is not ArtifactBucketName',
    ],
    [{ releasePrefix: 'other/' }, 'stages.dev.releasePrefix: other/ is outside ReleasePrefix releases/'],
    [{ onFailedCreate: 'recreate' }, 'stages.dev.onFailedCreate: recreate needs AllowRecreate=true'],
  ])('names a stage outside its scope: %j', (change, problem) => {
    const problems = scopeProblems(config(change), 'prod', scope);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('samconfig.toml [prod]: pipelines.*.');
    expect(problems[0]).toContain(problem);
  });

  it('refuses an empty stack prefix (the deployer could change every stack)', () => {
    expect(scopeProblems(config(), 'default', { ...scope, StackNamePrefix: '' })[0]).toContain(
      'StackNamePrefix must not be empty',
    );
  });
});

describe('environments', () => {
  it("reads each environment's parameter overrides over the template's defaults", () => {
    const envs = environments(
      '[default.deploy.parameters]\nparameter_overrides = ["StackNamePrefix=a-", "ParameterPath=/x/"]\n' +
        '[prod.deploy.parameters]\nparameter_overrides = "StackNamePrefix=b- ReleasePrefix=r/"\n' +
        '[default.build.parameters]\ncached = true\n',
      { ParameterPath: '/deployer/', ReleasePrefix: 'releases/' },
    );
    expect(envs).toEqual({
      default: { StackNamePrefix: 'a-', ParameterPath: '/x/', ReleasePrefix: 'releases/' },
      prod: { StackNamePrefix: 'b-', ParameterPath: '/deployer/', ReleasePrefix: 'r/' },
    });
  });

  it("takes the template's own defaults", () => {
    expect(templateDefaults(join(ROOT, 'template.yaml'))).toMatchObject({
      ParameterPath: '/deployer/',
      ReleasePrefix: 'releases/',
      AllowRecreate: 'false',
    });
  });
});

it("the repository's deployer.config.yaml fits every samconfig.toml environment", () => {
  expect(
    checkScope({
      config: join(ROOT, 'deployer.config.yaml'),
      samconfig: join(ROOT, 'samconfig.toml'),
      template: join(ROOT, 'template.yaml'),
    }),
  ).toEqual([]);
});
