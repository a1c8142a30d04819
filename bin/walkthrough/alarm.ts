/**
 * The walkthrough's alarm step (`npm start`): a stage watched by a CloudWatch alarm. A good release deploys,
 * then a new one; while the new one bakes, its alarm goes to ALARM (moto's SetAlarmState, and the event
 * CloudWatch would send, events/alarm-state-change.json), and the deployer rolls the stage back on its own:
 * the bad version marked failed, the good release desired again and deployed, one message to the ops team.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { buildKeyFor } from '../../shared/aws/artifacts';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { validateConfig } from '../../shared/edge/config';
import { parsePipelineEvent } from '../../shared/edge/events';
import { readSettings } from '../../shared/edge/settings';
import { allStages, type Stage } from '../../shared/edge/stages';
import { stageStatus } from '../../shared/operations/status';
import type { Runtime } from '../../shared/runtime';
import { handleAlarmEvent } from '../../shared/triggers/alarm';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackSettled } from '../../shared/triggers/reconcile';
import { exampleBuild, uploadBuild } from '../support/example-world';
import type { Story } from './steps';
import { describeDesired, say, showInbox } from './timeline';

type Scene = Pick<Story, 'root' | 'clients' | 'sqs' | 'queueUrl' | 'dev' | 'event'>;

const PIPELINE = 'orders-api-canary-pipeline';
const ALARM = 'orders-api-canary-5xx';
const REASON =
  'Threshold Crossed: 1 out of the last 1 datapoints [12.0] was greater than the threshold (5.0).';

/** Step `step`: a release rolled back on its own after its alarm fired during the bake. */
export const alarmRollbackStep = async (story: Scene, step = '12'): Promise<void> => {
  const runtime = canaryRuntime(story);
  const [canary] = allStages(runtime.config);
  if (!canary) throw new Error('the walkthrough configuration has no stage');
  await story.clients.cw.send(
    new PutMetricAlarmCommand({
      AlarmName: ALARM,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  say(`\n${step}. Alarm-gated deploys: stage ${canary.name} is watched by the CloudWatch alarm ${ALARM}`);
  say(
    `   deployer.config.yaml: alarms: [${ALARM}], bakeMinutes: 15 (a release bakes 15 minutes after it settles)`,
  );

  const first = await deployAndSettle(story, runtime, canary, 'CREATE_COMPLETE');
  say(`   the stage's first release ${first.key} created its stack (version ${first.version})`);
  const good = await deployAndSettle(story, runtime, canary, 'UPDATE_COMPLETE');
  say(`   the good release ${good.key} deployed (version ${good.version}); its stack settled`);
  const bad = await deployAndSettle(story, runtime, canary, 'UPDATE_COMPLETE');
  say(`   a new release ${bad.key} deployed (version ${bad.version}); its stack settled`);
  const status = await stageStatus(runtime, canary);
  say(
    `   npx deployer status ${canary.name}: ${status.stackStatus}, baking until ${status.baking?.until} (alarms: ${status.baking?.alarms.join(', ')})`,
  );
  say('   promoteTo waits for the bake to pass; the schedule checks the alarms when it ends');
  await showInbox(story, 'the ops inbox', 'subjects');

  say(`\n   ${ALARM} goes to ALARM during the bake: CloudWatch sends "CloudWatch Alarm State Change"`);
  await story.clients.cw.send(
    new SetAlarmStateCommand({ AlarmName: ALARM, StateValue: 'ALARM', StateReason: REASON }),
  );
  const event = alarmEvent(story.root);
  const [summary] = await handleAlarmEvent(runtime, event);
  say(
    `   the deployer, on its own: ${summary?.verdict} version ${summary?.version}, now desired: version ${summary?.rollbackVersion}`,
  );
  await describeDesired(story.clients, canary.ssmParameter, bad.version);
  await describeDesired(story.clients, canary.ssmParameter, summary?.rollbackVersion);
  const stack = await describeStack(story.clients.cfn, canary.stack);
  const live = stack ? stackParameterValue(stack, canary.stackParameter) : undefined;
  say(
    `   ${canary.stack} ${stack?.StackStatus}, ${canary.stackParameter} = ${live}${live === good.key ? ' (the good release again)' : ''}`,
  );
  await showInbox(story, 'the ops inbox', 'full');

  const again = await handleAlarmEvent(runtime, { ...event, id: randomUUID() });
  say(`   the same alarm event again: ${again[0]?.verdict} (${again[0]?.reason})`);
  await showInbox(story, 'the ops inbox', 'subjects');
};

/** The walkthrough's own configuration: one alarm-gated stage, with its own stack, built by its pipeline. */
const canaryRuntime = (story: Scene): Runtime => {
  const { name: _name, pipeline: _pipeline, promoteTo: _promoteTo, ...dev } = story.dev;
  const config = validateConfig(
    {
      pipelines: {
        [PIPELINE]: {
          stages: {
            canary: {
              ...dev,
              stack: 'orders-api-canary',
              ssmParameter: '/deployer/orders-api/canary/artifact',
              parameterOverrides: { ...dev.parameterOverrides, Stage: 'canary' },
              alarms: [ALARM],
              bakeMinutes: 15,
            },
          },
        },
      },
    },
    'the walkthrough (an alarm-gated stage)',
  );
  return {
    settings: readSettings(process.env),
    config,
    clients: story.clients,
  };
};

/** A build of the pipeline deployed to the stage, and its stack's final status event played back. */
const deployAndSettle = async (
  story: Scene,
  runtime: Runtime,
  stage: Stage,
  status: string,
): Promise<{ key: string; version: number }> => {
  const event = structuredClone(story.event) as { id: string; detail: Record<string, unknown> };
  event.id = randomUUID();
  event.detail.pipeline = PIPELINE;
  event.detail['execution-id'] = randomUUID();
  const execution = parsePipelineEvent(event);
  await uploadBuild(story.clients.s3, {
    bucket: stage.artifact.bucket,
    key: buildKeyFor(stage, execution),
    bytes: exampleBuild(execution.executionId),
    executionId: execution.executionId,
  });
  const summary = await handlePipelineEvent(runtime, event);
  const [deployed] = summary.stages;
  const stack = await describeStack(story.clients.cfn, stage.stack);
  await handleStackSettled(runtime, statusEvent(story.root, stack?.StackId ?? '', status, deployed?.token));
  return { key: deployed?.releaseKey ?? '', version: deployed?.desiredVersion ?? 0 };
};

/** CloudFormation's "Stack Status Change" for the stage's stack, with the deployer's request token. */
const statusEvent = (root: string, stackId: string, status: string, token: string | undefined) => {
  const sample = JSON.parse(readFileSync(join(root, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.id = randomUUID();
  sample.resources = [stackId];
  sample.time = new Date().toISOString();
  sample.detail['stack-id'] = stackId;
  sample.detail['status-details'] = { status, 'status-reason': '' };
  sample.detail['client-request-token'] = token;
  return sample;
};

/** events/alarm-state-change.json for the walkthrough's alarm, gone to ALARM now (within the bake). */
const alarmEvent = (root: string) => {
  const sample = JSON.parse(readFileSync(join(root, 'events', 'alarm-state-change.json'), 'utf8'));
  sample.id = randomUUID();
  sample.time = new Date().toISOString();
  sample.resources = [sample.resources[0].replace(/alarm:.*$/, `alarm:${ALARM}`)];
  sample.detail.alarmName = ALARM;
  sample.detail.state.reason = REASON;
  sample.detail.state.timestamp = new Date().toISOString().replace(/Z$/, '+0000');
  return sample;
};
