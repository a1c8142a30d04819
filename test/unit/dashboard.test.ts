/**
 * The delivery dashboard in template.yaml charts the metrics the handlers write (shared/metrics.ts), by the
 * names, namespace and dimensions they are written with, and the functions' errors; and the functions that
 * archive the history may list the archive, nothing more of the bucket.
 */
import { join } from 'node:path';
import { readTemplate } from '../../bin/support/sam-template';
import { METRIC, METRICS_NAMESPACE } from '../../shared/metrics';

const template = readTemplate(join(__dirname, '..', '..', 'template.yaml')) as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};

interface Widget {
  type: string;
  properties: { region?: string; metrics?: unknown[][]; markdown?: string };
}

/** The dashboard body, its CloudFormation placeholders filled as a deploy would fill them. */
const dashboard = (): { widgets: Widget[] } => {
  const resource = template.Resources.DeliveryDashboard;
  if (!resource) throw new Error('template.yaml has no DeliveryDashboard');
  expect(resource.Type).toBe('AWS::CloudWatch::Dashboard');
  const body = (resource.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
  const placeholders = [...body.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]);
  expect(new Set(placeholders)).toEqual(
    new Set(['AWS::Region', 'DeployFunction', 'NotifyFunction', 'ReconcileFunction']),
  );
  return JSON.parse(body.replace(/\$\{([^}]+)\}/g, (_, name: string) => `resolved-${name}`));
};

const expressions = (): string[] =>
  dashboard().widgets.flatMap((w) =>
    (w.properties.metrics ?? []).flatMap((row) =>
      row.flatMap((cell) =>
        typeof cell === 'object' && cell !== null && 'expression' in cell ? [String(cell.expression)] : [],
      ),
    ),
  );

describe('the delivery dashboard', () => {
  it('is valid JSON in every widget’s region', () => {
    const widgets = dashboard().widgets.filter((w) => w.type === 'metric');
    expect(widgets.length).toBeGreaterThanOrEqual(5);
    for (const widget of widgets) expect(widget.properties.region).toBe('resolved-AWS::Region');
  });

  it('charts every metric the handlers write, by their namespace and dimensions', () => {
    const searched = expressions();
    const search = (dimensions: string, name: string, stat: string) =>
      `SEARCH('{${METRICS_NAMESPACE},${dimensions}} MetricName="${name}"', '${stat}', 86400)`;
    expect(searched).toEqual(
      expect.arrayContaining([
        search('outcome,service,stage', METRIC.deploys, 'Sum'),
        search('service,stage', METRIC.leadTime, 'p50'),
        search('service,stage', METRIC.leadTime, 'p90'),
        search('service,stage', METRIC.failures, 'Sum'),
        search('service,stage', METRIC.notifications, 'Sum'),
      ]),
    );
    expect(searched).toHaveLength(5);
  });

  it('charts the errors of the three functions', () => {
    const rows = dashboard().widgets.flatMap((w) => w.properties.metrics ?? []);
    const errors = rows.filter((row) => row[0] === 'AWS/Lambda' && row[1] === 'Errors').map((row) => row[3]);
    expect(errors).toEqual([
      'resolved-DeployFunction',
      'resolved-NotifyFunction',
      'resolved-ReconcileFunction',
    ]);
  });
});

describe('IAM for the history archive and the metrics', () => {
  type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
  const statements = (): Statement[] => {
    const policy = template.Resources.StageDeployPolicy;
    if (!policy) throw new Error('template.yaml has no StageDeployPolicy');
    return (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
  };

  it('lets the deploy and reconcile functions list the history archive’s prefix, and only it', () => {
    const listing = statements().filter((s) => [s.Action].flat().includes('s3:ListBucket'));
    expect(listing).toEqual([
      {
        Sid: 'ListHistoryArchive',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${ArtifactBucketName}' },
        Condition: {
          StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } },
          StringLike: { 's3:prefix': '.deployer/history/*' },
        },
      },
    ]);
    // They read and write it as the rest of their own state, under .deployer/.
    const state = statements().find((s) => s.Sid === 'DeployerState');
    expect(state?.Action).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject']));
    expect(state?.Resource).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'Fn::Sub': 'arn:${AWS::Partition}:s3:::${ArtifactBucketName}/.deployer/*',
    });
    for (const fn of ['DeployFunction', 'ReconcileFunction'])
      expect(template.Resources[fn]?.Properties.Policies).toContainEqual({ Ref: 'StageDeployPolicy' });
  });

  it('grants no cloudwatch:PutMetricData: the metrics are log lines', () => {
    expect(JSON.stringify(template)).not.toContain('cloudwatch:PutMetricData');
  });
});
