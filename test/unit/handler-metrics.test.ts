/**
 * The handlers' own metrics: what an invocation records is written at its end (logInvocation) as lines of
 * CloudWatch's embedded metric format on stdout — parsed here, as CloudWatch Logs would: the namespace, the
 * dimensions, the metric names, units and values.
 */
import { logInvocation } from '../../shared/logger';
import { METRIC, METRICS_NAMESPACE } from '../../shared/metrics';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleReconcileTrigger, handleStackSettled } from '../../shared/triggers/reconcile';
import { loadEvent, makeRuntime } from './helpers/fixtures';
import { givenRun } from './helpers/runs';
import { liveStack, NEW_KEY, version } from './helpers/stack-builders';
import { PARAMETERS, scheduleEvent, statusEvent } from './helpers/stack-samples';
import { givenStackWorld } from './helpers/stack-world';
import { givenWorld, mockAll, OLD_KEY, resetAll } from './helpers/world';

const mocks = mockAll();

interface EmfLine {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [field: string]: unknown;
}

/** What the invocation wrote to stdout, as the EMF lines among it. */
const emfOf = async (run: () => Promise<unknown>): Promise<EmfLine[]> => {
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await logInvocation({ id: 'event-1' }, undefined, run);
  } finally {
    spy.mockRestore();
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as EmfLine)
    .filter((line) => line._aws !== undefined);
};

/** Each EMF line as its dimensions and metric values, for comparing. */
const metricsIn = (lines: EmfLine[]) =>
  lines.map((line) => {
    const [directive] = line._aws.CloudWatchMetrics;
    const dimensions = Object.fromEntries((directive?.Dimensions[0] ?? []).map((d) => [d, line[d]]));
    const values = Object.fromEntries(
      (directive?.Metrics ?? []).map((m) => [m.Name, { unit: m.Unit, value: line[m.Name] }]),
    );
    return { namespace: directive?.Namespace, dimensions, values };
  });

const sorted = <T>(items: T[]): T[] =>
  [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

beforeEach(() => {
  resetAll(mocks);
  process.env.AWS_LAMBDA_FUNCTION_NAME = 'deployer-deploy';
});
afterAll(() => {
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

describe('a pipeline delivery', () => {
  it('writes, at the end of the invocation, each stage’s outcome and the messages sent: one line per dimension set', async () => {
    givenWorld(mocks);
    const runtime = makeRuntime();
    const lines = await emfOf(() => handlePipelineEvent(runtime, loadEvent('pipeline-succeeded')));

    for (const line of lines) {
      expect(line._aws.CloudWatchMetrics).toHaveLength(1);
      expect(line._aws.Timestamp).toBeGreaterThan(Date.parse('2026-01-01'));
    }
    expect(sorted(metricsIn(lines))).toEqual(
      sorted([
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev', outcome: 'deploying' },
          values: { Deploys: { unit: 'Count', value: 1 } },
        },
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'prod', outcome: 'pending-approval' },
          values: { Deploys: { unit: 'Count', value: 1 } },
        },
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev' },
          values: { Notifications: { unit: 'Count', value: 1 } },
        },
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'prod' },
          values: { Notifications: { unit: 'Count', value: 1 } },
        },
      ]),
    );
    expect(METRICS_NAMESPACE).toBe('Deployer');
  });

  it('counts a build that could not be released as `unreleasable`, not as a failed deploy', async () => {
    givenWorld(mocks, { objects: {} });
    const runtime = makeRuntime();
    const lines = await emfOf(() => handlePipelineEvent(runtime, loadEvent('pipeline-succeeded')));

    const deploys = metricsIn(lines).filter((m) => m.values.Deploys);
    expect(deploys.map((m) => m.dimensions.outcome)).toEqual(['unreleasable', 'unreleasable']);
    expect(deploys.map((m) => m.dimensions.stage).sort()).toEqual(['dev', 'prod']);
  });

  it('writes nothing for an event that deploys nothing, and nothing is left for the next invocation', async () => {
    const runtime = makeRuntime();
    const ignored = loadEvent('pipeline-started');
    expect(await emfOf(() => handlePipelineEvent(runtime, ignored))).toEqual([]);
  });

  it('writes nothing outside a Lambda function (tests, npm start)', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    givenWorld(mocks);
    const runtime = makeRuntime();
    expect(await emfOf(() => handlePipelineEvent(runtime, loadEvent('pipeline-succeeded')))).toEqual([]);
  });
});

describe('the reconcile schedule', () => {
  it('counts what it started on its own and the message it sent; a stage in sync counts nothing', async () => {
    const world = givenStackWorld(mocks);
    world.stacks['orders-api-dev'] = liveStack('dev', OLD_KEY);
    world.history[PARAMETERS.dev] = [version('dev', 1, OLD_KEY), version('dev', 2, NEW_KEY)];
    world.stacks['orders-api-prod'] = liveStack('prod', OLD_KEY);
    world.history[PARAMETERS.prod] = [version('prod', 1, OLD_KEY)];

    const lines = await emfOf(() => handleReconcileTrigger(makeRuntime(), scheduleEvent()));

    expect(sorted(metricsIn(lines))).toEqual(
      sorted([
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev', outcome: 'deploying' },
          values: { Deploys: { unit: 'Count', value: 1 } },
        },
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev' },
          values: { Notifications: { unit: 'Count', value: 1 } },
        },
      ]),
    );
  });
});

describe('a run of the deployer settles', () => {
  /**
   * The stage's v2 (NEW_KEY) was deployed by the run recorded here, whose build started an hour before the
   * event (the samples: dev's update completed, prod's rolled back).
   */
  const ranAndSettled = (status: 'stack-update-complete' | 'stack-update-rollback-complete') => {
    const stage = status === 'stack-update-complete' ? 'dev' : 'prod';
    const world = givenStackWorld(mocks);
    world.stacks[`orders-api-${stage}`] = liveStack(stage, stage === 'dev' ? NEW_KEY : OLD_KEY);
    world.history[PARAMETERS[stage]] = [version(stage, 1, OLD_KEY), version(stage, 2, NEW_KEY)];
    const event = statusEvent(status);
    const settledAt = Date.parse(event.time);
    const run = givenRun(world.s3, {
      stage,
      version: 2,
      artifactKey: NEW_KEY,
      startedAt: new Date(settledAt - 3_600_000).toISOString(),
    });
    event.detail['client-request-token'] = run.token;
    return event;
  };

  it('successfully: a deploy by outcome `deployed`, and its lead time in milliseconds', async () => {
    const event = ranAndSettled('stack-update-complete');
    const lines = await emfOf(() => handleStackSettled(makeRuntime(), event));

    expect(sorted(metricsIn(lines))).toEqual(
      sorted([
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev', outcome: 'deployed' },
          values: { [METRIC.deploys]: { unit: 'Count', value: 1 } },
        },
        {
          namespace: 'Deployer',
          dimensions: { service: 'deployer', stage: 'dev' },
          values: { [METRIC.leadTime]: { unit: 'Milliseconds', value: 3_600_000 } },
        },
      ]),
    );
  });

  it('failed: a deploy by outcome `failed` and a failure, no lead time', async () => {
    const event = ranAndSettled('stack-update-rollback-complete');
    const lines = await emfOf(() => handleStackSettled(makeRuntime(), event));

    const written = metricsIn(lines);
    expect(written).toContainEqual({
      namespace: 'Deployer',
      dimensions: { service: 'deployer', stage: 'prod', outcome: 'failed' },
      values: { Deploys: { unit: 'Count', value: 1 } },
    });
    const prodLine = written.find((m) => m.dimensions.stage === 'prod' && m.dimensions.outcome === undefined);
    expect(prodLine?.values.Failures).toEqual({ unit: 'Count', value: 1 });
    expect(prodLine?.values.LeadTime).toBeUndefined();
  });

  it('a redelivery of the event that settled the run counts nothing again', async () => {
    const event = ranAndSettled('stack-update-complete');
    await emfOf(() => handleStackSettled(makeRuntime(), event));
    const again = await emfOf(() => handleStackSettled(makeRuntime(), event));
    expect(metricsIn(again).filter((m) => m.values.Deploys || m.values.LeadTime)).toEqual([]);
  });
});
