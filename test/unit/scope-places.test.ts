/**
 * Stages in other accounts and regions checked at build time against a samconfig environment (as
 * `npm run build` does): a target account and its role must be granted (TargetAccountIds, TargetRoleArns),
 * another region of the deployer's account listed (StageRegions), a far region's release bucket named and
 * covered (StageReleaseObjectArns).
 */
import { environments, scopeProblems } from '../../bin/support/scope-check';
import { parseConfig } from '../../shared/edge/config';

const TARGET = '222222222222';
const ROLE = `arn:aws:iam::${TARGET}:role/deployer-target`;

const config = (stage: Record<string, unknown>) =>
  parseConfig(
    JSON.stringify({
      pipelines: {
        p: {
          stages: {
            prod: {
              stack: 'orders-api-prod',
              ssmParameter: '/deployer/orders-api/prod/artifact',
              artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
              releasePrefix: 'releases/orders-api/',
              roleArn: 'arn:aws:iam::111111111111:role/dev-cfn',
              ...stage,
            },
          },
        },
      },
    }),
  );

const scope = {
  'AWS::Region': 'us-east-1',
  ArtifactBucketName: 'orders-api-artifacts',
  StackNamePrefix: 'orders-api-',
  ParameterPath: '/deployer/',
  CloudFormationRoleArns: 'arn:aws:iam::111111111111:role/dev-cfn',
  ReleasePrefix: 'releases/',
  AllowRecreate: 'false',
  TargetAccountIds: TARGET,
  TargetRoleArns: ROLE,
  StageRegions: 'eu-west-1',
  StageReleaseObjectArns: 'arn:aws:s3:::orders-api-eu-releases/releases/*',
};

const far = { account: TARGET, assumeRoleArn: ROLE, roleArn: `arn:aws:iam::${TARGET}:role/prod-cfn` };
const eu = { region: 'eu-west-1', releaseBucket: 'orders-api-eu-releases' };

describe('scopeProblems: stages elsewhere', () => {
  it.each([
    ['in another account (its service role is of that account: not in CloudFormationRoleArns)', far],
    ['in another region of the account, its release bucket there', eu],
    ['in another account and region', { ...far, ...eu }],
    ['naming the home region', { region: 'us-east-1' }],
  ])('accepts a stage %s', (_what, stage) => {
    expect(scopeProblems(config(stage), 'prod', scope)).toEqual([]);
  });

  it.each([
    [far, { TargetAccountIds: '' }, `stages.prod.account: ${TARGET} is not in TargetAccountIds`],
    [far, { TargetRoleArns: '' }, `stages.prod.assumeRoleArn: ${ROLE} is not in TargetRoleArns`],
    [eu, { StageRegions: '' }, 'stages.prod.region: eu-west-1 is not in StageRegions'],
    [
      { region: 'eu-west-1' },
      {},
      'stages.prod.releaseBucket: is required in eu-west-1 (the deployer runs in us-east-1)',
    ],
    [
      eu,
      { StageReleaseObjectArns: 'arn:aws:s3:::orders-api-eu-releases/other/*' },
      'stages.prod.releaseBucket: s3://orders-api-eu-releases/releases/orders-api/ is not covered by StageReleaseObjectArns',
    ],
    [eu, { 'AWS::Region': undefined }, 'stages.prod.region: the environment names no region'],
  ])('names a stage elsewhere outside its scope: %j %j', (stage, change, problem) => {
    const parameters = Object.fromEntries(
      Object.entries({ ...scope, ...change }).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    );
    const problems = scopeProblems(config(stage), 'prod', parameters);
    expect(problems).toEqual([expect.stringContaining(`samconfig.toml [prod]: pipelines.*.${problem}`)]);
  });

  it('still holds a stage at home to CloudFormationRoleArns', () => {
    expect(scopeProblems(config({ roleArn: far.roleArn }), 'prod', scope)).toEqual([
      expect.stringContaining(
        'stages.prod.roleArn: arn:aws:iam::222222222222:role/prod-cfn is not in CloudFormationRoleArns',
      ),
    ]);
  });
});

describe('environments: the region each deploys to', () => {
  it('reads it from the deploy section, or the global one, as the pseudo parameter AWS::Region', () => {
    const envs = environments(
      '[default.global.parameters]\nregion = "us-east-1"\n[default.deploy.parameters]\nparameter_overrides = ["A=1"]\n' +
        '[prod.deploy.parameters]\nregion = "eu-west-1"\nparameter_overrides = ["A=2"]\n',
      {},
    );
    expect(envs).toEqual({
      default: { A: '1', 'AWS::Region': 'us-east-1' },
      prod: { A: '2', 'AWS::Region': 'eu-west-1' },
    });
  });
});
