/**
 * The rollout trigger (shared/triggers/codedeploy.ts): CodeDeploy's deployment state changes of a stage's
 * canary rollout become one message each, for the stage whose stack made the deployment group, and a rollout
 * that stopped or rolled back fails the deployer's run's release (marked failed, archived once).
 *
 * Mocked, not on the emulator: moto's CloudFormation does not make AWS::CodeDeploy::Application or
 * ::DeploymentGroup resources (nor SAM's transform), so ListStackResources never names them there; and moto's
 * GetDeployment answers no errorInformation and no rollbackInfo (its status stays "Created").
 */
import { ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { CodeDeployClient, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import { LabelParameterVersionCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { alarmsIn } from '../../shared/aws/deployments';
import { threads } from '../../shared/messages/chat/compose';
import { chatNotificationSchema } from '../../shared/messages/chat/schema';
import { handleDeploymentStateChange } from '../../shared/triggers/codedeploy';
import { expectNoInjection, HOSTILE } from '../support/hostile-text';
import { readEventSample, SAMPLE } from './helpers/fixtures';
import { expectValidSubject, fieldOf, onlyMessage, publishedMessages } from './helpers/published';
import { givenRun, runToken } from './helpers/runs';
import { runtimeWith } from './helpers/runtime-changes';
import { liveStack, NEW_KEY, stackItselfEvent, version } from './helpers/stack-builders';
import { PARAMETERS } from './helpers/stack-samples';
import { givenStackWorld, type StackWorld } from './helpers/stack-world';
import { expectNoAwsCall, mockAll, OLD_KEY, resetAll } from './helpers/world';

const mocks = mockAll();
const codedeploy = mockClient(CodeDeployClient);

const APP = 'orders-api-dev-ServerlessDeploymentApplication-1A2B3C4D5E6F';
const GROUP = 'orders-api-dev-FunctionDeploymentGroup-7G8H9I0J1K2L';
const DEPLOYMENT = 'd-7QX2KJ4AB';
const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const RUN = runToken('dev', 2);
const ALARM_MESSAGE =
  'One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: orders-api-dev-AliasErrorsAlarm-9XYZ';

type Sample = {
  id: string;
  account: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
};
const sample = (name: string, change: (e: Sample) => void = () => {}): Sample => {
  const event = readEventSample<Sample>(name);
  change(event);
  return event;
};
const started = () => sample('codedeploy-started');
const succeeded = () => sample('codedeploy-succeeded');
const stopped = () => sample('codedeploy-stopped-by-alarm');

/** dev's stack made APP and GROUP; prod's made others. dev is updating to v2 (NEW_KEY) in run RUN. */
let world: StackWorld;
const stackResources: Record<string, { type: string; id: string }[]> = {};

const givenRollout = (deployment: Record<string, unknown> = {}) => {
  codedeploy.on(GetDeploymentCommand).resolves({
    deploymentInfo: {
      deploymentId: DEPLOYMENT,
      applicationName: APP,
      deploymentGroupName: GROUP,
      status: 'InProgress',
      creator: 'CloudFormation',
      ...deployment,
    },
  });
};
const stoppedByAlarm = () =>
  givenRollout({
    status: 'Stopped',
    errorInformation: { code: 'ALARM_ACTIVE', message: ALARM_MESSAGE },
    rollbackInfo: {
      rollbackDeploymentId: 'd-ROLLBACK1',
      rollbackMessage: 'Rolled back: traffic shifted back to version 11',
    },
  });

beforeEach(() => {
  resetAll(mocks);
  codedeploy.reset();
  world = givenStackWorld(mocks, {
    stacks: {
      'orders-api-dev': liveStack('dev', OLD_KEY, 'UPDATE_IN_PROGRESS'),
      'orders-api-prod': liveStack('prod', OLD_KEY, 'UPDATE_COMPLETE'),
    },
    history: {
      [PARAMETERS.dev]: [version('dev', 1, OLD_KEY), version('dev', 2, NEW_KEY, { commit: COMMIT })],
      [PARAMETERS.prod]: [version('prod', 1, OLD_KEY)],
    },
    events: [[stackItselfEvent('UPDATE_IN_PROGRESS', { stage: 'dev', token: RUN })]],
  });
  stackResources['orders-api-dev'] = [
    { type: 'AWS::Lambda::Function', id: 'orders-api-dev' },
    { type: 'AWS::CodeDeploy::Application', id: APP },
    { type: 'AWS::CodeDeploy::DeploymentGroup', id: GROUP },
  ];
  stackResources['orders-api-prod'] = [
    { type: 'AWS::CodeDeploy::Application', id: 'orders-api-prod-ServerlessDeploymentApplication-P' },
    { type: 'AWS::CodeDeploy::DeploymentGroup', id: 'orders-api-prod-FunctionDeploymentGroup-P' },
  ];
  mocks.cfn.on(ListStackResourcesCommand).callsFake(async (input: { StackName: string }) => ({
    StackResourceSummaries: (stackResources[input.StackName] ?? []).map((r, i) => ({
      LogicalResourceId: `R${i}`,
      PhysicalResourceId: r.id,
      ResourceType: r.type,
      ResourceStatus: 'UPDATE_COMPLETE',
      LastUpdatedTimestamp: new Date(),
    })),
  }));
  givenRun(world.s3, { stage: 'dev', version: 2, artifactKey: NEW_KEY, token: RUN });
  givenRollout();
});

const runtime = () => runtimeWith();
const handle = (event: unknown) => handleDeploymentStateChange(runtime(), event);
const archived = () =>
  world.s3.keys(SAMPLE.bucket, '.deployer/history/dev/').filter((k) => k.includes('outcome'));

describe('which stage a deployment is of: the stack that made its application and deployment group', () => {
  it("reports a deployment of dev's group as dev's, with the release being rolled out", async () => {
    const summary = await handle(started());
    expect(summary).toMatchObject({ verdict: 'notified', stage: 'dev', deployment: DEPLOYMENT });
    const { subject, body, attributes } = onlyMessage(mocks);
    expect(subject).toBe('[dev] orders-api-dev ROLLOUT STARTED fedcba9');
    expectValidSubject(subject);
    expect(body.split('\n')[0]).toBe(
      'A gradual rollout started: CodeDeploy shifts traffic to the new version step by step.',
    );
    expect(fieldOf(body, 'Release')).toBe(`${NEW_KEY} (desired version 2)`);
    expect(fieldOf(body, 'Deployment')).toBe(DEPLOYMENT);
    expect(body).toContain(
      `Next: wait: a message follows when the rollout ends. Watch it: npx deployer status dev`,
    );
    expect(attributes).toMatchObject({
      kind: 'rollout',
      stage: 'dev',
      status: 'ROLLOUT_START',
      severity: 'info',
    });
  });

  it('ignores a deployment group that no stage stack made, after reading only the stacks (no GetDeployment, no message)', async () => {
    const summary = await handle(
      sample('codedeploy-started', (e) => {
        e.detail.deploymentGroup = 'someone-elses-group';
      }),
    );
    expect(summary).toMatchObject({ verdict: 'ignored' });
    expect(summary.reason).toContain('not a deployment group of a configured stage');
    expect(codedeploy.commandCalls(GetDeploymentCommand)).toHaveLength(0);
    expect(publishedMessages(mocks)).toHaveLength(0);
  });

  it('does not trust a name that looks like the stage stack: a forged application of the same pattern is no stage', async () => {
    const forged = sample('codedeploy-started', (e) => {
      e.detail.application = 'orders-api-dev-ServerlessDeploymentApplication-FORGED';
    });
    expect(await handle(forged)).toMatchObject({ verdict: 'ignored' });
    expect(publishedMessages(mocks)).toHaveLength(0);
  });

  it('rejects an event whose deployment CodeDeploy says is of another application (GetDeployment)', async () => {
    givenRollout({ applicationName: 'another-application' });
    const summary = await handle(started());
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain('(GetDeployment)');
    expect(publishedMessages(mocks)).toHaveLength(0);
  });

  it('reads each stage stack once per event', async () => {
    await handle(started());
    const listed = mocks.cfn.commandCalls(ListStackResourcesCommand).map((c) => c.args[0].input.StackName);
    expect(listed.sort()).toEqual(['orders-api-dev', 'orders-api-prod']);
  });
});

describe('events from elsewhere and malformed events', () => {
  it.each([
    [
      'a foreign account',
      (e: Sample) => {
        e.account = '999999999999';
        e.resources = [];
      },
      'no stage lives in that account and region',
    ],
    [
      'a region where no stage lives',
      (e: Sample) => {
        e.region = 'eu-west-3';
        e.resources = [];
        e.detail.region = 'eu-west-3';
      },
      'no stage lives in that account and region',
    ],
    [
      'a detail region other than the envelope',
      (e: Sample) => {
        e.detail.region = 'eu-west-1';
      },
      'in its detail',
    ],
    [
      'a resource ARN of another account',
      (e: Sample) => {
        e.resources = [`arn:aws:codedeploy:us-east-1:999999999999:application:${APP}`];
      },
      'CodeDeploy resource of account 999999999999',
    ],
    [
      'a deployment id of another shape',
      (e: Sample) => {
        e.detail.deploymentId = 'd-1; rm -rf';
      },
      'detail.deploymentId',
    ],
    [
      'an application name with a newline',
      (e: Sample) => {
        e.detail.application = `${APP}\nForged: line`;
      },
      'detail.application',
    ],
    [
      'no state',
      (e: Sample) => {
        delete e.detail.state;
      },
      'detail.state',
    ],
  ])('rejects %s, with no AWS call', async (_, change, reason) => {
    const summary = await handle(sample('codedeploy-started', change));
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain(reason);
    expectNoAwsCall(mocks);
    expect(codedeploy.calls()).toHaveLength(0);
  });
});

describe('each state, once', () => {
  it('reports a success in the release thread of its deploy', async () => {
    givenRollout({ status: 'Succeeded' });
    await handle(succeeded());
    const { subject, body } = onlyMessage(mocks);
    expect(subject).toBe('[dev] orders-api-dev ROLLOUT SUCCEEDED fedcba9');
    expect(body).toContain('The rollout completed: all traffic goes to the new version.');
    expect(body).toContain('Next: nothing: the stack update completes next (its message follows).');
    // A success fails nothing.
    expect(mocks.ssm.commandCalls(LabelParameterVersionCommand)).toHaveLength(0);
  });

  it('a redelivered event sends nothing the second time (the ledger)', async () => {
    const table = new Map<string, Record<string, unknown>>();
    mocks.ddb.on(PutItemCommand).callsFake(async (input) => {
      const id = input.Item.id.S;
      const held = table.get(id);
      if (held)
        throw new ConditionalCheckFailedException({ message: 'held', $metadata: {}, Item: held } as never);
      table.set(id, input.Item);
      return {};
    });
    mocks.ddb.on(UpdateItemCommand).callsFake(async (input) => {
      const id = input.Key.id.S;
      table.set(id, { ...table.get(id), state: { S: 'sent' } });
      return {};
    });
    mocks.ddb.on(GetItemCommand).callsFake(async (input) => ({ Item: table.get(input.Key.id.S) }));
    expect((await handle(started())).verdict).toBe('notified');
    const again = await handle(started());
    expect(again).toMatchObject({ verdict: 'ignored', reason: 'already reported' });
    expect(publishedMessages(mocks)).toHaveLength(1);
  });

  it('a rollback deployment of the stack rollback is left to the stack message; its failure is not', async () => {
    givenRollout({ creator: 'CloudFormationRollback' });
    expect((await handle(started())).verdict).toBe('ignored');
    expect(publishedMessages(mocks)).toHaveLength(0);
  });
});

describe('a rollout stopped by an alarm and rolled back fails the release', () => {
  it('names the alarm, quotes CodeDeploy, marks the run version failed and archives one failed outcome', async () => {
    stoppedByAlarm();
    const summary = await handle(stopped());
    expect(summary).toMatchObject({ verdict: 'notified', markedFailed: 2 });
    const { subject, body, attributes } = onlyMessage(mocks);
    expect(subject).toBe('[dev] orders-api-dev ROLLED BACK fedcba9');
    expect(body.split('\n')[0]).toBe(
      'The rollout was STOPPED by an alarm and ROLLED BACK: traffic goes to the previous version again.',
    );
    expect(fieldOf(body, 'Stopped by')).toBe('alarm "orders-api-dev-AliasErrorsAlarm-9XYZ"');
    expect(fieldOf(body, 'Error')).toContain('ALARM_ACTIVE: "One or more alarms');
    expect(fieldOf(body, 'Rollback')).toBe('"Rolled back: traffic shifted back to version 11"');
    expect(fieldOf(body, 'Failed release')).toBe(`${NEW_KEY} (desired version 2)`);
    expect(body).toContain(
      `Release ${NEW_KEY} (desired version 2) is marked failed and will not be retried.`,
    );
    expect(attributes).toMatchObject({ status: 'ROLLOUT_STOP', severity: 'error' });
    expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETERS.dev,
      ParameterVersion: 2,
      Labels: ['failed-v2'],
    });
    const outcomes = archived();
    expect(outcomes).toEqual([
      expect.stringMatching(new RegExp(`0000000000000002\\.outcome\\.${RUN}\\.json$`)),
    ]);
    expect(world.s3.json(SAMPLE.bucket, outcomes[0] ?? '')).toMatchObject({
      version: 2,
      token: RUN,
      status: 'CODEDEPLOY_ROLLBACK_COMPLETE',
      failed: true,
    });
  });

  it("the stack's rollback later settles the same run under the same key: one failed deploy, not two", async () => {
    stoppedByAlarm();
    await handle(stopped());
    const { settleRun, readRun } = await import('../../shared/aws/runs');
    const { stageOf } = await import('./helpers/fixtures');
    const rt = runtime();
    const run = await readRun(rt.clients.s3, stageOf(rt.config, 'dev'), RUN);
    if (!run) throw new Error('test setup: no run');
    await settleRun(rt.clients.s3, stageOf(rt.config, 'dev'), run, {
      eventId: 'stack-event',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      settledAt: '2026-11-20T10:16:00Z',
    });
    expect(archived()).toHaveLength(1);
    expect(world.s3.json(SAMPLE.bucket, archived()[0] ?? '')).toMatchObject({
      status: 'UPDATE_ROLLBACK_COMPLETE',
      failed: true,
    });
  });

  it("marks nothing when the stack operation is not one of the deployer's runs (someone's own sam deploy)", async () => {
    stoppedByAlarm();
    world.events = [
      [stackItselfEvent('UPDATE_IN_PROGRESS', { stage: 'dev', token: 'Console-someone-1234' })],
    ];
    const summary = await handle(stopped());
    expect(summary.verdict).toBe('notified');
    expect(summary.markedFailed).toBeUndefined();
    expect(mocks.ssm.commandCalls(LabelParameterVersionCommand)).toHaveLength(0);
    expect(archived()).toHaveLength(0);
    // The desired release's thread still holds it.
    expect(fieldOf(onlyMessage(mocks).body, 'Failed release')).toBe(`${NEW_KEY} (desired version 2)`);
  });

  it('a stop without rollback is reported as stopped, and still fails the run', async () => {
    givenRollout({
      status: 'Stopped',
      errorInformation: { code: 'DEPLOYMENT_STOPPED', message: 'stopped by user' },
    });
    const summary = await handle(stopped());
    expect(summary.markedFailed).toBe(2);
    expect(onlyMessage(mocks).subject).toBe('[dev] orders-api-dev ROLLOUT STOPPED fedcba9');
  });
});

describe('chat form and hostile text', () => {
  it('each state has a valid chat form in the release thread of its deploy', async () => {
    const chatTopic = 'arn:aws:sns:us-east-1:123456789012:deployer-chat';
    const rt = runtime();
    rt.settings = { ...rt.settings, chatTopicArn: chatTopic };
    stoppedByAlarm();
    await handleDeploymentStateChange(rt, stopped());
    const chatCall = mocks.sns
      .commandCalls(PublishCommand)
      .find((c) => c.args[0].input.TopicArn === chatTopic);
    const chat = JSON.parse(chatCall?.args[0].input.Message ?? '{}');
    expect(chatNotificationSchema.safeParse(chat).success).toBe(true);
    expect(chat.metadata.threadId).toBe(threads.release('dev', NEW_KEY));
    expect(chat.metadata.eventType).toBe('deployer-rollout-rolled-back');
    expect(chat.content.description).toContain('*Stopped by:* `orders-api-dev-AliasErrorsAlarm-9XYZ`');
  });

  it('shows CodeDeploy text from outside as data', async () => {
    givenRollout({ status: 'Failed', errorInformation: { code: 'HEALTH_CONSTRAINTS', message: HOSTILE } });
    await handle(
      sample('codedeploy-stopped-by-alarm', (e) => {
        e.detail.state = 'FAILURE';
      }),
    );
    const { body } = onlyMessage(mocks);
    expectNoInjection(body);
  });
});

describe('alarmsIn', () => {
  it('reads the alarm names after "Activated alarms:"', () => {
    expect(alarmsIn('… stopped. Activated alarms: <a-1>, b-2.')).toEqual(['<a-1>', 'b-2']);
    expect(alarmsIn('no list here')).toEqual([]);
    expect(alarmsIn(undefined)).toEqual([]);
  });
});
