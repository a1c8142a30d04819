/**
 * Least privilege, checked on the template as CloudFormation will see it (after the SAM transform): no
 * statement allows every action, and "*" resources appear only for actions AWS offers no scope for.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** Actions that support no resource-level permissions: AWS accepts only "*" for them. */
const UNSCOPABLE = new Set(['ssm:DescribeParameters']);

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
const statementsOf = (resources: Resources): { owner: string; statement: Statement }[] =>
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
      ((document as { Statement: Statement[] }).Statement ?? []).map((statement) => ({
        owner: id,
        statement,
      })),
    );
  });

const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

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

  it('publishes only to the ops topic', () => {
    const publish = statements.filter(({ statement }) => asList(statement.Action).includes('sns:Publish'));
    expect(publish.length).toBeGreaterThan(0);
    for (const { statement } of publish) expect(statement.Resource).toEqual({ Ref: 'OpsTopic' });
  });
});
