/**
 * The templates of stages in other accounts: targets/template.yaml (deployed in each target account: the role
 * the deployer assumes, least privilege, and the forwarding of the stage stacks' events) and what
 * template.yaml grants for them (the event bus policy, sts:AssumeRole on the target roles, the reconcile
 * rule that fires on target accounts' stage stacks).
 */
import { join } from 'node:path';
import { readTemplate } from '../../bin/support/sam-template';

const ROOT = join(__dirname, '..', '..');

type Json = Record<string, unknown>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
  Principal?: unknown;
}
interface Template {
  Parameters: Record<string, { Type: string; Default?: string }>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Json }>;
}

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const read = (path: string) => readTemplate(join(ROOT, path)) as unknown as Template;

/** A resource's properties, or a failing test when the template has no such resource. */
const propertiesOf = <T>(resources: Template['Resources'], id: string): T => {
  const resource = resources[id];
  if (!resource) throw new Error(`the template has no resource ${id}`);
  return resource.Properties as T;
};

/** A statement, or the one an Fn::If puts in, with its condition. */
const unwrap = (statement: unknown): { statement: Statement; when?: string } => {
  const branch = (statement as { 'Fn::If'?: [string, Statement] })['Fn::If'];
  return branch ? { statement: branch[1], when: branch[0] } : { statement: statement as Statement };
};

describe('targets/template.yaml: what a target account grants the deployer', () => {
  const template = read('targets/template.yaml');
  const resources = template.Resources;
  const role = resources.DeployerRole?.Properties as {
    MaxSessionDuration: number;
    AssumeRolePolicyDocument: { Statement: Statement[] };
    Policies: { PolicyDocument: { Statement: unknown[] } }[];
  };
  const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement.map(unwrap));
  const allowing = (action: string) =>
    statements.filter(({ statement }) => asList(statement.Action).includes(action));
  const STACKS = {
    'Fn::Sub':
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackNamePrefix}*/*',
  };

  it('takes the parameters the README names', () => {
    expect(Object.keys(template.Parameters)).toEqual(
      expect.arrayContaining([
        'DeployerAccountId',
        'DeployerRoleArns',
        'DeployerEventBusArn',
        'StackNamePrefix',
        'CloudFormationRoleArn',
        'ReleaseBucketName',
        'ReleasePrefix',
      ]),
    );
  });

  it("is assumed only by the deployer's listed roles, for at most an hour", () => {
    expect(role.MaxSessionDuration).toBe(3600);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${DeployerAccountId}:root' } },
        Action: 'sts:AssumeRole',
        Condition: { ArnEquals: { 'aws:PrincipalArn': { Ref: 'DeployerRoleArns' } } },
      },
    ]);
  });

  it('changes only the stage stacks, through change sets made with the stage role', () => {
    for (const action of [
      'cloudformation:DescribeStacks',
      'cloudformation:GetTemplate',
      'cloudformation:DescribeChangeSet',
      'cloudformation:ListChangeSets',
      'cloudformation:ExecuteChangeSet',
      'cloudformation:DeleteChangeSet',
      'cloudformation:CreateChangeSet',
    ]) {
      const found = allowing(action);
      expect({ action, count: found.length }).toEqual({ action, count: 1 });
      expect(found[0]?.statement.Resource).toEqual(STACKS);
    }
    expect(allowing('cloudformation:CreateChangeSet')[0]?.statement.Condition).toEqual({
      ArnEquals: { 'cloudformation:RoleArn': { Ref: 'CloudFormationRoleArn' } },
    });
    const deletes = allowing('cloudformation:DeleteStack');
    expect(deletes.map(({ when }) => when)).toEqual(['RecreateAllowed']);
    expect(deletes[0]?.statement.Resource).toEqual(STACKS);
  });

  it('passes only the stage role, only to CloudFormation; "*" only where AWS offers no scope', () => {
    expect(allowing('iam:PassRole').map(({ statement }) => statement)).toEqual([
      expect.objectContaining({
        Resource: { Ref: 'CloudFormationRoleArn' },
        Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
      }),
    ]);
    const unscoped = statements.filter(({ statement }) => asList(statement.Resource).includes('*'));
    expect(unscoped.flatMap(({ statement }) => asList(statement.Action))).toEqual([
      'cloudformation:GetTemplateSummary',
    ]);
    expect(
      statements.flatMap(({ statement }) => asList(statement.Action)).filter((a) => a.endsWith('*')),
    ).toEqual([]);
  });

  it('reads only the release objects of the deployer’s account (the role and the stage service role)', () => {
    const releases = {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${ReleaseBucketName}/${ReleasePrefix}*' },
      Condition: { StringEquals: { 'aws:ResourceAccount': { Ref: 'DeployerAccountId' } } },
    };
    expect(allowing('s3:GetObject').map(({ statement }) => statement)).toEqual([
      expect.objectContaining(releases),
    ]);
    const serviceRole = propertiesOf<{ PolicyDocument: { Statement: unknown[] } }>(
      resources,
      'CloudFormationRoleReadsReleases',
    ).PolicyDocument.Statement.map(unwrap);
    expect(serviceRole.filter(({ when }) => !when).map(({ statement }) => statement)).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', ...releases }),
    ]);
    // A bucket encrypted with a customer-managed key: both roles decrypt with that key, through S3 only.
    for (const decrypt of [...serviceRole, ...statements].filter(({ statement }) =>
      asList(statement.Action).includes('kms:Decrypt'),
    )) {
      expect(decrypt.when).toBe('ReleasesEncryptedWithKey');
      expect(decrypt.statement).toMatchObject({
        Resource: { Ref: 'ReleaseKeyArn' },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 's3.${AWS::Region}.amazonaws.com' } } },
      });
    }
    expect(
      [...serviceRole, ...statements].filter(({ statement }) => statement.Action === 'kms:Decrypt'),
    ).toHaveLength(2);
  });

  it("forwards the stage stacks' status changes, API calls, alarms and rollouts to the deployer's bus, and nothing else", () => {
    const forwarding = resources.ForwardingRole?.Properties as {
      Policies: { PolicyDocument: { Statement: Statement[] } }[];
    };
    expect(forwarding.Policies.flatMap((p) => p.PolicyDocument.Statement)).toEqual([
      { Effect: 'Allow', Action: 'events:PutEvents', Resource: { Ref: 'DeployerEventBusArn' } },
    ]);
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
    // Stack status changes, stack API calls, the stages' alarms going to ALARM, and CodeDeploy rollouts.
    expect(rules).toHaveLength(4);
    const kinds = rules.map((r) => {
      const pattern = r.Properties.EventPattern as { source: string[]; 'detail-type': string[] };
      return `${pattern.source.join()}: ${pattern['detail-type'].join()}`;
    });
    expect(kinds.sort()).toEqual(
      [
        'aws.cloudformation: AWS API Call via CloudTrail',
        'aws.cloudformation: CloudFormation Stack Status Change',
        'aws.codedeploy: CodeDeploy Deployment State-change Notification',
        'aws.cloudwatch: CloudWatch Alarm State Change',
      ].sort(),
    );
    for (const rule of rules) {
      const { Targets } = rule.Properties as { EventPattern: Json; Targets: Json[] };
      expect(Targets).toEqual([
        {
          Id: 'DeployerBus',
          Arn: { Ref: 'DeployerEventBusArn' },
          RoleArn: { 'Fn::GetAtt': ['ForwardingRole', 'Arn'] },
        },
      ]);
    }
    const patterns = JSON.stringify(rules.map((r) => r.Properties.EventPattern));
    expect(patterns).toContain('CloudFormation Stack Status Change');
    expect(patterns).toContain('AWS API Call via CloudTrail');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
    expect(patterns).toContain('${StackNamePrefix}');
  });
});

describe('template.yaml: what the deployer grants itself for target accounts', () => {
  const template = read('template.yaml');
  const resources = template.Resources;

  it('takes TargetAccountIds and TargetRoleArns, empty by default', () => {
    for (const name of ['TargetAccountIds', 'TargetRoleArns', 'StageRegions', 'StageReleaseObjectArns'])
      expect(template.Parameters[name]).toMatchObject({ Type: 'CommaDelimitedList', Default: '' });
    expect(template.Conditions.HasTargetAccounts).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'TargetAccountIds' }] }, ''] }],
    });
  });

  it('lets only the target accounts put only the stack, alarm and rollout events on the default bus', () => {
    const policy = resources.TargetAccountsEventBusPolicy;
    expect(policy).toMatchObject({ Type: 'AWS::Events::EventBusPolicy', Condition: 'HasTargetAccounts' });
    expect(policy?.Properties.Statement).toEqual({
      Effect: 'Allow',
      Principal: { AWS: { Ref: 'TargetAccountIds' } },
      Action: 'events:PutEvents',
      Resource: {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        'Fn::Sub': 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default',
      },
      Condition: {
        StringEquals: {
          'events:source': ['aws.cloudformation', 'aws.cloudwatch', 'aws.codedeploy'],
          'events:detail-type': [
            'CloudFormation Stack Status Change',
            'AWS API Call via CloudTrail',
            'CloudWatch Alarm State Change',
            'CodeDeploy Deployment State-change Notification',
          ],
        },
      },
    });
  });

  it('lets the deploy, reconcile and notify functions assume only the target roles, when there are any', () => {
    const policy = resources.StageDeployPolicy?.Properties as { PolicyDocument: { Statement: unknown[] } };
    const notify = resources.NotifyFunction?.Properties as {
      Policies: ({ Statement?: unknown[] } | unknown)[];
    };
    const notifyStatements = notify.Policies.flatMap((p) => (p as { Statement?: unknown[] }).Statement ?? []);
    for (const statements of [policy.PolicyDocument.Statement, notifyStatements]) {
      const assume = statements
        .map(unwrap)
        .filter(({ statement }) => asList(statement.Action).includes('sts:AssumeRole'));
      expect(assume).toEqual([
        {
          when: 'HasTargetRoles',
          statement: {
            Sid: 'AssumeTargetRoles',
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Resource: { Ref: 'TargetRoleArns' },
          },
        },
      ]);
    }
    // The deploy policy is the deploy and the reconcile functions'.
    for (const fn of ['DeployFunction', 'ReconcileFunction'])
      expect(propertiesOf<{ Policies: unknown[] }>(resources, fn).Policies).toContainEqual({
        Ref: 'StageDeployPolicy',
      });
  });

  it('lets the target accounts read the release objects of a bucket whose policy the template manages', () => {
    const policy = propertiesOf<{ PolicyDocument: { Statement: unknown[] } }>(
      resources,
      'ArtifactBucketPolicy',
    );
    const reads = policy.PolicyDocument.Statement.map(unwrap).filter(
      ({ statement }) => statement.Effect === 'Allow',
    );
    expect(reads).toEqual([
      {
        when: 'HasTargetAccounts',
        statement: {
          Sid: 'TargetAccountsReadReleases',
          Effect: 'Allow',
          Principal: { AWS: { Ref: 'TargetAccountIds' } },
          Action: 's3:GetObject',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
          Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${ArtifactBucketName}/${ReleasePrefix}*' },
        },
      },
    ]);
  });

  it("fires the reconcile rule on a stage stack's status in any account the bus hears from, by the stack prefix", () => {
    const { Events: events } = propertiesOf<{ Events: Record<string, { Properties: Json }> }>(
      resources,
      'ReconcileFunction',
    );
    const pattern = events.StackSettled?.Properties.Pattern as {
      detail: { 'stack-id': { wildcard: { 'Fn::Sub': string } }[] };
    };
    const [only] = pattern.detail['stack-id'];
    const wildcard = only?.wildcard['Fn::Sub']
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      .replace('${AWS::Partition}', 'aws')
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      .replace('${StackNamePrefix}', 'orders-api-');
    const matches = new RegExp(
      `^${(wildcard ?? '')
        .split('*')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    expect(matches.test('arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-dev/1a2b')).toBe(
      true,
    );
    expect(matches.test('arn:aws:cloudformation:eu-west-1:222222222222:stack/orders-api-prod/1a2b')).toBe(
      true,
    );
    expect(matches.test('arn:aws:cloudformation:us-east-1:222222222222:stack/payments-prod/1a2b')).toBe(
      false,
    );
  });
});
