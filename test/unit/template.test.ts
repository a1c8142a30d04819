/**
 * Least privilege, checked on the template as CloudFormation will see it (after the SAM transform): no
 * statement allows every action, and "*" resources appear only for actions AWS offers no scope for. And the
 * rules fire on what the code expects.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { StackStatus } from '@aws-sdk/client-cloudformation';
import { readTemplate } from '../../bin/support/sam-template';
import { isFinalStatus } from '../../shared/stack-status';

const ROOT = join(__dirname, '..', '..');

/** Actions that support no resource-level permissions: AWS accepts only "*" for them. */
const UNSCOPABLE = new Set(['ssm:DescribeParameters', 'cloudformation:GetTemplateSummary']);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

const transformed = (): Resources => {
  const out = execFileSync(
    'python3',
    [join(ROOT, 'test', 'support', 'sam-transform.py'), join(ROOT, 'template.yaml')],
    {
      encoding: 'utf8',
    },
  );
  return (JSON.parse(out) as { Resources: Resources }).Resources;
};

/** Every statement of every role's inline policies and of every managed policy the template defines. */
const statementsOf = (resources: Resources): { owner: string; statement: Statement; when?: string }[] =>
  Object.entries(resources).flatMap(([id, resource]) => {
    const documents: unknown[] = [];
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ??
        []) {
        documents.push(policy.PolicyDocument);
      }
    }
    if (resource.Type === 'AWS::IAM::ManagedPolicy') documents.push(resource.Properties?.PolicyDocument);
    return documents.flatMap((document) =>
      ((document as { Statement: unknown[] }).Statement ?? []).flatMap((statement) =>
        unwrapIf(statement).map(({ statement: s, when }) => ({
          owner: id,
          statement: s,
          ...(when ? { when } : {}),
        })),
      ),
    );
  });

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** A statement, or the statement a condition (Fn::If) puts in, with the condition's name. */
const unwrapIf = (statement: unknown): { statement: Statement; when?: string }[] => {
  const branch = (statement as { 'Fn::If'?: [string, unknown, unknown] })['Fn::If'];
  if (!branch) return [{ statement: statement as Statement }];
  const [when, yes, no] = branch;
  const kept = [{ statement: yes as Statement, when }];
  return (no as { Ref?: string }).Ref === 'AWS::NoValue' ? kept : [...kept, { statement: no as Statement }];
};

describe('template.yaml after the SAM transform', () => {
  const resources = transformed();
  const statements = statementsOf(resources);

  it('has the roles and policies the functions need', () => {
    const roles = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Role')
      .map(([id]) => id);
    expect(roles.sort()).toEqual(['DeployFunctionRole', 'NotifyFunctionRole', 'ReconcileFunctionRole']);
    expect(statements.length).toBeGreaterThan(10);
  });

  it('allows no wildcard action', () => {
    const wildcards = statements.filter(({ statement }) =>
      asList(statement.Action).some((action) => action === '*' || action.endsWith(':*')),
    );
    expect(wildcards).toEqual([]);
  });

  it('uses a "*" resource only for actions that cannot be scoped', () => {
    const unscoped = statements.filter(
      ({ statement }) =>
        asList(statement.Resource).includes('*') &&
        asList(statement.Action).some((action) => !UNSCOPABLE.has(action)),
    );
    expect(unscoped).toEqual([]);
  });

  it("passes only the stages' CloudFormation service roles, and only to CloudFormation", () => {
    const passRole = statements.filter(({ statement }) => asList(statement.Action).includes('iam:PassRole'));
    expect(passRole.length).toBeGreaterThan(0);
    for (const { statement } of passRole) {
      expect(statement.Resource).toEqual({ Ref: 'CloudFormationRoleArns' });
      expect(statement).toMatchObject({
        Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
      });
    }
  });

  it("fires the reconcile rule on every final status of CloudFormation's StackStatus list, as the code judges it, and no other", () => {
    const rule = resources.ReconcileFunctionStackSettled;
    expect(rule?.Type).toBe('AWS::Events::Rule');
    const pattern = rule?.Properties?.EventPattern as {
      detail: { 'status-details': { status: string[] } };
    };
    const final = Object.values(StackStatus).filter(isFinalStatus);
    expect([...pattern.detail['status-details'].status].sort()).toEqual([...final].sort());
    // The one the rule once missed.
    expect(final).toContain('IMPORT_ROLLBACK_FAILED');
  });

  it('lets the notify function name the stack of a change set (ExecuteChangeSet by ARN), scoped like its stack reads', () => {
    const notifyAllowing = (action: string) =>
      statements.filter(
        ({ owner, statement }) => owner === 'NotifyFunctionRole' && asList(statement.Action).includes(action),
      );
    // At home; stacks in other regions of the account (StageRegions) are read under one statement of their own.
    const atHome = (action: string) => notifyAllowing(action).filter(({ when }) => when === undefined);
    const [describeChangeSet, ...more] = atHome('cloudformation:DescribeChangeSet');
    expect(more).toEqual([]);
    expect(describeChangeSet?.statement.Resource).toEqual(
      atHome('cloudformation:DescribeStacks')[0]?.statement.Resource,
    );
    const elsewhere = notifyAllowing('cloudformation:DescribeChangeSet').filter(({ when }) => when);
    expect(elsewhere.map(({ when }) => when)).toEqual(['HasStageRegions']);
    expect(asList(elsewhere[0]?.statement.Action)).toContain('cloudformation:DescribeStacks');
  });

  it('publishes only to the ops topic, and to the chat topic only when chat notifications are on', () => {
    const publish = statements.filter(({ statement }) => asList(statement.Action).includes('sns:Publish'));
    expect(publish.length).toBeGreaterThan(0);
    const byTopic = (topic: string) =>
      publish.filter(
        ({ statement }) => JSON.stringify(statement.Resource) === JSON.stringify({ Ref: topic }),
      );
    expect(byTopic('OpsTopic').length + byTopic('ChatTopic').length).toBe(publish.length);
    // Every function that publishes to the ops topic may publish the chat form too, under the condition.
    expect(
      byTopic('ChatTopic')
        .map(({ owner }) => owner)
        .sort(),
    ).toEqual(
      byTopic('OpsTopic')
        .map(({ owner }) => owner)
        .sort(),
    );
    for (const { when } of byTopic('ChatTopic')) expect(when).toBe('ChatEnabled');
    for (const { when } of byTopic('OpsTopic')) expect(when).toBeUndefined();
  });

  it('makes the chat topic only when ChatNotifications is true: its topic, its policy, its output and the variable', () => {
    const template = readTemplate(join(ROOT, 'template.yaml')) as unknown as {
      Parameters: Record<string, { Default?: string; AllowedValues?: string[] }>;
      Conditions: Record<string, unknown>;
      Globals: { Function: { Environment: { Variables: Record<string, unknown> } } };
      Outputs: Record<string, { Condition?: string }>;
    };
    expect(template.Parameters.ChatNotifications).toMatchObject({
      Default: 'false',
      AllowedValues: ['true', 'false'],
    });
    expect(template.Conditions.ChatEnabled).toEqual({ 'Fn::Equals': [{ Ref: 'ChatNotifications' }, 'true'] });
    expect(template.Globals.Function.Environment.Variables.DEPLOYER_CHAT_TOPIC_ARN).toEqual({
      'Fn::If': ['ChatEnabled', { Ref: 'ChatTopic' }, { Ref: 'AWS::NoValue' }],
    });
    expect(template.Outputs.ChatTopicArn?.Condition).toBe('ChatEnabled');
    const topic = resources.ChatTopic as unknown as { Type: string; Condition: string };
    expect(topic).toMatchObject({ Type: 'AWS::SNS::Topic', Condition: 'ChatEnabled' });
    const policy = resources.ChatTopicPolicy as unknown as {
      Condition: string;
      Properties: { PolicyDocument: { Statement: (Statement & { Condition?: Record<string, unknown> })[] } };
    };
    expect(policy.Condition).toBe('ChatEnabled');
    const deny = policy.Properties.PolicyDocument.Statement.find((s) => s.Effect === 'Deny');
    expect(deny).toMatchObject({ Action: 'sns:Publish', Resource: { Ref: 'ChatTopic' } });
    for (const role of [
      'DeployFunctionRole',
      'NotifyFunctionRole',
      'ReconcileFunctionRole',
      'OperatorRoleArns',
    ])
      expect(JSON.stringify(deny?.Condition)).toContain(role);
    const allows = policy.Properties.PolicyDocument.Statement.filter((s) => s.Effect === 'Allow');
    for (const allow of allows) expect(asList(allow.Action)).not.toContain('sns:Publish');
  });

  it('names an exact scope: the stack prefix is required, change sets only with the stage roles, DeleteStack only where recreate is allowed', () => {
    const parameters = readTemplate(join(ROOT, 'template.yaml')).Parameters as Record<
      string,
      Record<string, unknown>
    >;
    expect(parameters.StackNamePrefix?.Default).toBeUndefined();
    expect(parameters.StackNamePrefix?.MinLength).toBe(1);
    const allowing = (action: string) =>
      statements.filter(({ statement }) => asList(statement.Action).includes(action));
    const creates = allowing('cloudformation:CreateChangeSet');
    expect(creates.length).toBeGreaterThan(0);
    for (const { statement } of creates) {
      expect(statement).toMatchObject({
        Condition: { ArnEquals: { 'cloudformation:RoleArn': { Ref: 'CloudFormationRoleArns' } } },
      });
    }
    const deletes = allowing('cloudformation:DeleteStack');
    expect(deletes.map(({ when }) => when)).toEqual(['RecreateAllowed', 'RecreateAllowedInStageRegions']);
  });

  it('writes S3 only under the release prefix and its own state, and only in its own account', () => {
    const s3Statements = statements.filter(({ statement }) =>
      asList(statement.Action).some((action) => action.startsWith('s3:')),
    );
    expect(s3Statements.length).toBeGreaterThan(3);
    for (const { statement } of s3Statements) {
      expect(statement).toMatchObject({
        Condition: { StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } },
      });
    }
    const writes = s3Statements.filter(({ statement }) =>
      asList(statement.Action).some((action) => ['s3:PutObject', 's3:DeleteObject'].includes(action)),
    );
    const where = writes.map(({ statement }) => (statement.Resource as { 'Fn::Sub': string })['Fn::Sub']);
    // CloudFormation's own ${…} placeholders, as the template writes them.
    expect([...new Set(where)].sort()).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'arn:${AWS::Partition}:s3:::${ArtifactBucketName}/${ReleasePrefix}*',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'arn:${AWS::Partition}:s3:::${ArtifactBucketName}/.deployer/*',
      // The notify function archives a rollout's failed outcome (shared/triggers/codedeploy.ts): history only.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'arn:${AWS::Partition}:s3:::${ArtifactBucketName}/.deployer/history/*',
    ]);
  });

  it('offers a bucket policy that lets only the deployer write releases and state', () => {
    const policy = resources.ArtifactBucketPolicy as unknown as {
      Condition: string;
      Properties: { PolicyDocument: { Statement: (Statement & { Condition?: Record<string, unknown> })[] } };
    };
    expect(policy.Condition).toBe('ShouldManageBucketPolicy');
    const [writers, tls] = policy.Properties.PolicyDocument.Statement;
    expect(writers).toMatchObject({
      Effect: 'Deny',
      Action: expect.arrayContaining(['s3:PutObject', 's3:DeleteObject']),
    });
    expect(JSON.stringify(writers?.Condition)).toContain('DeployFunctionRole');
    expect(JSON.stringify(writers?.Condition)).toContain('ReconcileFunctionRole');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder
    expect(JSON.stringify(writers?.Resource)).toContain('${ReleasePrefix}*');
    expect(JSON.stringify(writers?.Resource)).toContain('.deployer/*');
    expect(tls).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
  });

  it('gives every function the notification ledger: its own table, written item by item and nothing else', () => {
    expect(resources.LedgerTable).toMatchObject({
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
    const ledger = statements.filter(({ statement }) =>
      asList(statement.Action).some((action) => action.startsWith('dynamodb:')),
    );
    expect(ledger.map(({ owner }) => owner)).toEqual(['NotificationLedgerPolicy']);
    expect(ledger[0]?.statement.Resource).toEqual({ 'Fn::GetAtt': ['LedgerTable', 'Arn'] });
    expect(asList(ledger[0]?.statement.Action ?? []).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    for (const fn of ['DeployFunction', 'NotifyFunction', 'ReconcileFunction']) {
      expect(resources[`${fn}Role`]?.Properties?.ManagedPolicyArns).toContainEqual({
        Ref: 'NotificationLedgerPolicy',
      });
      expect(resources[fn]?.Properties?.Environment).toMatchObject({
        Variables: { DEPLOYER_LEDGER_TABLE: { Ref: 'LedgerTable' } },
      });
    }
  });
});
