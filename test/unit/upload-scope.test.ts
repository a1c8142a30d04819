/**
 * The upload trigger in the deployed template and in the scope check: with UploadPrefix set, one rule sends
 * S3's "Object Created" events of that prefix of the artifact bucket to the deploy function (and with it
 * empty, no rule exists); `npm run build` refuses an upload pipeline whose build key the rule would never see,
 * and an UploadPrefix the deployer's own writes fall under.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTemplate } from '../../bin/support/sam-template';
import { checkScope, environments, scopeProblems, templateDefaults } from '../../bin/support/scope-check';
import { parseConfig } from '../../shared/edge/config';
import { ROOT } from './helpers/fixtures';

const EXAMPLE_CONFIG = readFileSync(join(ROOT, 'examples', 'ci', 'deployer.config.yaml'), 'utf8');

const scope = {
  ArtifactBucketName: 'orders-api-artifacts',
  StackNamePrefix: 'orders-api-',
  ParameterPath: '/deployer/',
  CloudFormationRoleArns: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
  ReleasePrefix: 'releases/',
  AllowRecreate: 'false',
  UploadPrefix: 'ci-builds/',
};

describe('scopeProblems: upload pipelines', () => {
  it('accepts the example upload configuration under UploadPrefix ci-builds/', () => {
    expect(scopeProblems(parseConfig(EXAMPLE_CONFIG), 'default', scope)).toEqual([]);
  });

  it('accepts a longer prefix the build keys start with', () => {
    expect(
      scopeProblems(parseConfig(EXAMPLE_CONFIG), 'default', {
        ...scope,
        UploadPrefix: 'ci-builds/orders-api-ci/',
      }),
    ).toEqual([]);
  });

  it.each([
    [
      'an empty UploadPrefix',
      '',
      'the pipeline takes uploaded builds, but UploadPrefix is empty: no rule delivers them',
    ],
    [
      'another prefix',
      'uploads/',
      'ci-builds/{pipeline}/{executionId}/app.zip is outside UploadPrefix uploads/',
    ],
    [
      'a prefix longer than the fixed start of the key',
      'ci-builds/orders-api-ci/8',
      'ci-builds/{pipeline}/{executionId}/app.zip is outside UploadPrefix ci-builds/orders-api-ci/8',
    ],
  ])('names a build key the rule would not see: %s', (_, prefix, problem) => {
    const problems = scopeProblems(parseConfig(EXAMPLE_CONFIG), 'prod', { ...scope, UploadPrefix: prefix });
    expect(problems).toEqual([
      `samconfig.toml [prod]: pipelines.orders-api-ci.stages.ci-dev.artifact.key: ${problem}`,
    ]);
  });

  it.each([
    ['releases/', 'releases/'],
    ['releases/orders/', 'releases/'],
    ['rel', 'releases/'],
    ['.deploy', '.deployer/'],
  ])('refuses UploadPrefix %s, under which the deployer writes (%s)', (prefix, overlapped) => {
    const problems = scopeProblems(parseConfig(EXAMPLE_CONFIG), 'default', {
      ...scope,
      UploadPrefix: prefix,
    });
    expect(problems).toContain(
      `samconfig.toml [default]: UploadPrefix ${prefix} overlaps ${overlapped}: the deployer's own writes there would trigger the deploy function`,
    );
  });

  it('asks nothing of a configuration without upload pipelines', () => {
    const repo = parseConfig(readFileSync(join(ROOT, 'deployer.config.yaml'), 'utf8'));
    const roles = `${scope.CloudFormationRoleArns},arn:aws:iam::123456789012:role/orders-api-prod-cloudformation`;
    expect(
      scopeProblems(repo, 'default', { ...scope, CloudFormationRoleArns: roles, UploadPrefix: '' }),
    ).toEqual([]);
  });

  it("reads UploadPrefix from samconfig.toml: the repository's environments set it, and its configuration fits", () => {
    const envs = environments(
      readFileSync(join(ROOT, 'samconfig.toml'), 'utf8'),
      templateDefaults(join(ROOT, 'template.yaml')),
    );
    for (const parameters of Object.values(envs)) expect(parameters.UploadPrefix).toBe('ci-builds/');
    expect(templateDefaults(join(ROOT, 'template.yaml')).UploadPrefix).toBe('');
    expect(checkScope()).toEqual([]);
  });
});

type Resources = Record<string, { Type: string; Condition?: string; Properties?: Record<string, unknown> }>;

describe('template.yaml: the upload rule', () => {
  const resources = (
    JSON.parse(
      execFileSync(
        'python3',
        [join(ROOT, 'test', 'support', 'sam-transform.py'), join(ROOT, 'template.yaml')],
        {
          encoding: 'utf8',
        },
      ),
    ) as { Resources: Resources }
  ).Resources;
  const template = readTemplate(join(ROOT, 'template.yaml')) as {
    Conditions: Record<string, unknown>;
    Outputs: Record<string, { Condition?: string }>;
  };

  it('exists only when UploadPrefix is set', () => {
    expect(template.Conditions.HasUploadTrigger).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'UploadPrefix' }, ''] }],
    });
    expect(resources.UploadedBuildRule?.Condition).toBe('HasUploadTrigger');
    expect(resources.UploadedBuildPermission?.Condition).toBe('HasUploadTrigger');
    expect(template.Outputs.UploadedBuildRuleName?.Condition).toBe('HasUploadTrigger');
  });

  it('matches Object Created events of the artifact bucket under UploadPrefix, and invokes the deploy function', () => {
    const rule = resources.UploadedBuildRule?.Properties;
    expect(rule?.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: 'ArtifactBucketName' }] },
        object: { key: [{ prefix: { Ref: 'UploadPrefix' } }] },
      },
    });
    expect(rule?.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': ['DeployFunction', 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      }),
    ]);
    expect(resources.UploadedBuildPermission?.Properties).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': ['DeployFunction', 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['UploadedBuildRule', 'Arn'] },
    });
  });

  it('lets the deploy function read an upload: HeadObject (s3:GetObject) and a pinned version (s3:GetObjectVersion)', () => {
    // Every object of the artifact bucket: arn:…:s3:::<ArtifactBucketName>/*
    const onBucketObjects = (resource: unknown) =>
      /:s3:::\$\{ArtifactBucketName\}\/\*"\}$/.test(JSON.stringify(resource));
    const policies = [
      ...(
        (resources.DeployFunctionRole?.Properties?.Policies as {
          PolicyDocument: { Statement: unknown[] };
        }[]) ?? []
      ).map((p) => p.PolicyDocument),
      resources.StageDeployPolicy?.Properties?.PolicyDocument as { Statement: unknown[] },
    ];
    const allowed = policies
      .flatMap((d) => d.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((s) => onBucketObjects(s.Resource))
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(allowed).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectVersion']));
  });
});
