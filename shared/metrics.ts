/**
 * The deployer's own CloudWatch metrics, through Powertools Metrics in the embedded metric format: JSON lines
 * in the function's log that CloudWatch turns into metrics (no `cloudwatch:PutMetricData` call, no permission
 * for it). Namespace `Deployer`; every metric has the dimensions `service` and `stage`:
 *
 * - `Deploys` (Count, also by `outcome`): what a pipeline build came to on a stage (`deploying`,
 *   `pending-approval`, `waiting`, `superseded`, `no-change`, `blocked`, `tampered`, `unreleasable`, …; a
 *   redelivery is not counted again), what a reconcile started on its own (the same words), and how a
 *   deployer's run ended when its stack settled (`deployed`, `failed`);
 * - `LeadTime` (Milliseconds): from the build's start to the stack settling, for each successful deploy;
 * - `Failures` (Count): deploys of the deployer that ended failed (rolled back);
 * - `Notifications` (Count): messages the functions sent to the ops team — deploy reports, stack outcomes,
 *   API-call reports and digests (`stage` is `none` for a stack of no stage; the command line's are not
 *   counted).
 *
 * Metrics are kept per dimension set while an invocation runs (one invocation may work on several stages) and
 * written once at its end (`publishMetrics`, called by logger.ts `logInvocation`). They are written where they
 * mean something: in a Lambda function (and `deployer invoke`, which runs one), not in tests or `npm start`,
 * unless POWERTOOLS_METRICS_DISABLED=false asks for them anywhere.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricUnit as Unit } from '@aws-lambda-powertools/metrics/types';
import { isFailureStatus, isSuccessfulDeploy } from './stack-status';

export const METRICS_NAMESPACE = 'Deployer';
export const METRICS_SERVICE = 'deployer';

/** The metric names, as the dashboard in template.yaml charts them. */
export const METRIC = {
  deploys: 'Deploys',
  leadTime: 'LeadTime',
  failures: 'Failures',
  notifications: 'Notifications',
  autoRollbacks: 'AutoRollbacks',
} as const;

/** The `stage` of a metric about a stack that belongs to no configured stage. */
export const NO_STAGE = 'none';

type Dimensions = { stage: string; outcome?: string };

/** One Powertools instance per dimension set, made when first used and kept for the next invocations. */
const instances = new Map<string, Metrics>();

const emitting = (): boolean =>
  process.env.POWERTOOLS_METRICS_DISABLED !== undefined || Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME);

const metricsFor = (dimensions: Dimensions): Metrics => {
  const id = JSON.stringify(dimensions);
  let metrics = instances.get(id);
  if (!metrics) {
    metrics = new Metrics({
      namespace: METRICS_NAMESPACE,
      serviceName: METRICS_SERVICE,
      defaultDimensions: dimensions,
    });
    instances.set(id, metrics);
  }
  return metrics;
};

const add = (dimensions: Dimensions, name: string, unit: Unit, value: number): void => {
  if (!emitting()) return;
  metricsFor(dimensions).addMetric(name, unit, value);
};

/** A pipeline build's (or a reconcile's) outcome on a stage, or how a deployer's run ended. */
export const countDeploy = (stage: string, outcome: string): void =>
  add({ stage, outcome }, METRIC.deploys, MetricUnit.Count, 1);

/**
 * An alarm rolled back a release while it baked: an automatic rollback, and a failure of the baked release's
 * deploy (its stack settled well, and counted as deployed then: `deployer metrics` counts it failed).
 */
export const countAutoRollback = (stage: string): void => {
  add({ stage }, METRIC.autoRollbacks, MetricUnit.Count, 1);
  add({ stage }, METRIC.failures, MetricUnit.Count, 1);
};

/**
 * A deployer's run ended in the stack's final `status` at `settledAt`: `deployed` (and its lead time from
 * `startedAt`, the build's start, when known) or `failed` (and a failure); any other end (a deletion) is no
 * deploy.
 */
export const recordSettled = (
  stage: string,
  run: { status: string; settledAt: string; startedAt?: string | undefined },
): void => {
  if (isSuccessfulDeploy(run.status)) {
    countDeploy(stage, 'deployed');
    const leadTime = Date.parse(run.settledAt) - Date.parse(run.startedAt ?? '');
    if (Number.isFinite(leadTime) && leadTime >= 0)
      add({ stage }, METRIC.leadTime, MetricUnit.Milliseconds, leadTime);
  } else if (isFailureStatus(run.status)) {
    countDeploy(stage, 'failed');
    add({ stage }, METRIC.failures, MetricUnit.Count, 1);
  }
};

/** Messages sent to the ops team about a stage (none is not counted). */
export const countNotifications = (stage: string | undefined, sent: number): void => {
  if (sent > 0) add({ stage: stage ?? NO_STAGE }, METRIC.notifications, MetricUnit.Count, sent);
};

/**
 * What a pipeline build came to on each stage it feeds, and the messages sent about it. A redelivery of a
 * recorded build (`recorded: 'duplicate'`) is not a deploy again; its messages, if it sent any, count. A
 * build that could not be released (the deploy path's `failed`) is `unreleasable`: `failed` is a deploy
 * whose stack rolled back.
 */
export const countDeliveries = (
  stages: { stage: string; outcome: string; recorded?: string; notified: boolean }[],
): void => {
  for (const s of stages) {
    if (s.recorded !== 'duplicate') countDeploy(s.stage, s.outcome === 'failed' ? 'unreleasable' : s.outcome);
    countNotifications(s.stage, s.notified ? 1 : 0);
  }
};

/** Write what this invocation recorded, one EMF line per dimension set, and forget it. */
export const publishMetrics = (): void => {
  for (const metrics of instances.values()) if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};
