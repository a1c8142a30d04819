/**
 * `npm start`: the whole story on the embedded emulator, with no AWS account. Starts moto (and, in front
 * of it, the test proxy that can make a stack look busy and add the stack events AWS would record), sets
 * up the example service, then plays through the handlers, as EventBridge would deliver them:
 *
 *   1. a pipeline succeeds: dev is deployed, prod waits for approval;
 *   2. dev's stack finishes: the ops team hears how it ended;
 *   3. the same pipeline event again: nothing to do, nothing said;
 *   4. a second build lands while dev's stack is busy: recorded, not deployed;
 *   5. the stack settles: the second build is deployed;
 *   6. a third build's update fails and rolls back: the ops team hears the root cause, and the broken
 *      release is marked failed so it is not retried.
 *
 * It prints a timeline with the ops emails as read back from the topic, stops everything, and exits 0.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeChangeSetCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import type { handler as DeployHandler } from '../handlers/deploy';
import type { handler as NotifyHandler } from '../handlers/notify';
import type { handler as ReconcileHandler } from '../handlers/reconcile';
import { buildKeyFor, fillKey } from '../shared/aws/artifacts';
import { createClients } from '../shared/aws/clients';
import { describeStack, stackParameterValue } from '../shared/aws/stacks';
import { loadConfigFile, type Stage, stagesOfPipeline } from '../shared/edge/config';
import { type PipelineExecution, parsePipelineEvent } from '../shared/edge/events';
import { logger } from '../shared/logger';
import { type AwsProxy, startAwsProxy } from './support/aws-proxy';
import {
  createBucket,
  createLedgerTable,
  createOpsInbox,
  createStageStack,
  exampleBuild,
  exampleTemplateWithQueue,
  readInbox,
  uploadBuild,
  uploadTemplate,
} from './support/example-world';
import { emulatorEnv, startMoto } from './support/moto';

const ROOT = join(__dirname, '..', '..');
const ACCOUNT = '123456789012'; // moto's account
const say = (line = '') => process.stdout.write(`${line}\n`);
const indent = (text: string, by = '     ') =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');

const main = async (): Promise<void> => {
  // Node 20 is what these machines run; the SDK's notice about Node 22 would open every walkthrough.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const moto = await startMoto();
  const proxy = await startAwsProxy(moto.endpoint);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void proxy
        .close()
        .then(() => moto.stop())
        .finally(() => process.exit(130));
    });
  }
  try {
    await walkthrough(moto.endpoint, proxy);
  } finally {
    await proxy.close();
    await moto.stop();
    say(`moto stopped; nothing left running.`);
  }
};

interface Story {
  clients: ReturnType<typeof createClients>;
  sqs: SQSClient;
  queueUrl: string;
  proxy: AwsProxy;
  dev: Stage;
  event: Record<string, unknown>;
  deploy: typeof DeployHandler;
  notify: typeof NotifyHandler;
  reconcile: typeof ReconcileHandler;
}

const walkthrough = async (endpoint: string, proxy: AwsProxy): Promise<void> => {
  // Everything, handlers included, talks to moto through the proxy.
  Object.assign(process.env, emulatorEnv(proxy.endpoint), { DEPLOYER_ACCOUNT_ID: ACCOUNT });
  // The timeline below says what happened; the handlers' JSON logs show from LOG_LEVEL=INFO on.
  logger.setLogLevel((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'ERROR');
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const clients = createClients(region);
  const sqs = new SQSClient({ region });
  const config = loadConfigFile(join(ROOT, 'deployer.config.yaml'));
  const eventFile = join(ROOT, 'events', 'pipeline-succeeded.json');
  const event = JSON.parse(readFileSync(eventFile, 'utf8')) as Record<string, unknown>;
  const execution = parsePipelineEvent(event);
  const stages = stagesOfPipeline(config, execution.pipeline);
  const dev = stages?.[0];
  if (!stages || !dev)
    throw new Error(`pipeline ${execution.pipeline} of ${eventFile} is not in deployer.config.yaml`);

  say(`Deployer walkthrough on moto at ${endpoint} (no AWS account involved)\n`);
  say('0. The example service, as it stands before the build');
  const bucket = dev.artifact.bucket;
  await createBucket(clients.s3, bucket);
  if (dev.template) await uploadTemplate(clients.s3, dev.template.bucket, dev.template.key);
  const { topicArn, queueUrl } = await createOpsInbox(clients.sns, sqs, 'deployer-ops');
  process.env.DEPLOYER_TOPIC_ARN = topicArn;
  await createLedgerTable(clients.ddb, 'deployer-ledger');
  process.env.DEPLOYER_LEDGER_TABLE = 'deployer-ledger';
  const initialKey = `${dev.releasePrefix}initial.zip`;
  await uploadBuild(clients.s3, { bucket, key: initialKey, bytes: exampleBuild('initial') });
  await createStageStack(clients, {
    stack: dev.stack,
    ssmParameter: dev.ssmParameter,
    stageName: dev.name,
    bucket,
    templateKey: dev.template?.key ?? '',
    releaseKey: initialKey,
    earlier: {
      pipeline: execution.pipeline,
      execution: 'initial-release',
      startedAt: new Date(Date.parse(execution.startedAt) - 86_400_000).toISOString(),
    },
  });
  say(`   bucket ${bucket}, stage template s3://${bucket}/${dev.template?.key}`);
  say(`   ops topic ${topicArn}, with a queue subscribed as the ops inbox`);
  say('   notification ledger: DynamoDB table deployer-ledger (each message goes out once)');
  say(
    `   stage ${dev.name}: stack ${dev.stack} runs ${initialKey}; ${dev.ssmParameter} holds it (version 1)`,
  );
  for (const other of stages.slice(1)) say(`   stage ${other.name}: stack ${other.stack} does not exist yet`);

  const story: Story = {
    clients,
    sqs,
    queueUrl,
    proxy,
    dev,
    event,
    deploy: (await import('../handlers/deploy')).handler,
    notify: (await import('../handlers/notify')).handler,
    reconcile: (await import('../handlers/reconcile')).handler,
  };
  const firstRun = await firstDeploy(story, execution, stages);
  await stackFinishes(story, '2', firstRun, 'UPDATE_COMPLETE');
  await sameEventAgain(story);
  const second = await buildWhileBusy(story, execution);
  // The update that kept the stack busy was someone else's (a person's, in the console).
  await stackFinishes(story, '5', `Console-UpdateStack-${randomUUID()}`, 'UPDATE_COMPLETE', second);
  await failedUpdate(story, execution);
  say('');
};

const firstDeploy = async (story: Story, execution: PipelineExecution, stages: Stage[]) => {
  const { clients, dev } = story;
  const buildKey = buildKeyFor(dev, execution);
  await uploadBuild(clients.s3, {
    bucket: dev.artifact.bucket,
    key: buildKey,
    bytes: exampleBuild(execution.executionId),
    executionId: execution.executionId,
    ...(execution.commitId ? { commitId: execution.commitId } : {}),
  });
  say(
    `\n1. The pipeline's build uploads s3://${dev.artifact.bucket}/${buildKey}, then the pipeline succeeds`,
  );
  say(`   event: events/pipeline-succeeded.json (${execution.pipeline}, execution ${execution.executionId})`);
  const summary = await story.deploy(story.event);
  say(`\n   The deploy handler: ${summary.verdict}`);
  for (const stage of summary.stages) {
    say(`   stage ${stage.stage}: ${stage.outcome}`);
    say(`     release key  ${stage.releaseKey}`);
    const settings = stages.find((s) => s.name === stage.stage);
    if (settings) await describeDesired(clients, settings.ssmParameter, stage.desiredVersion);
    if (stage.changeSet) await describeChangeSet(clients, settings?.stack ?? stage.stack, stage.changeSet);
    const stack = await describeStack(clients.cfn, stage.stack);
    const live = stack && stackParameterValue(stack, settings?.stackParameter ?? '');
    say(
      `     stack        ${stage.stack} ${stack?.StackStatus ?? 'does not exist'}${live ? `, ${settings?.stackParameter} = ${live}` : ' (created when the change set is executed)'}`,
    );
    if (stage.token) say(`     run          ${stage.token} (the request token its status events carry)`);
  }
  await showInbox(story, 'the ops inbox', 'full');
  return summary.stages.find((s) => s.stage === dev.name)?.token ?? '';
};

/** CloudFormation's "Stack Status Change" event for the dev stack, as AWS would send it. */
const statusEvent = async (story: Story, status: string, token: string): Promise<unknown> => {
  const stack = await describeStack(story.clients.cfn, story.dev.stack);
  const sample = JSON.parse(readFileSync(join(ROOT, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.id = randomUUID(); // every event AWS sends has an id of its own
  sample.resources = [stack?.StackId];
  sample.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  sample.detail['stack-id'] = stack?.StackId;
  sample.detail['status-details'] = { status, 'status-reason': '' };
  sample.detail['client-request-token'] = token;
  return sample;
};

const stackFinishes = async (
  story: Story,
  step: string,
  token: string,
  status: string,
  deployedBy?: string,
) => {
  say(
    `\n${step}. ${story.dev.stack} finishes: CloudFormation sends "${status}" (events/stack-update-complete.json)`,
  );
  const event = await statusEvent(story, status, token);
  const reported = await story.notify(event);
  const settled = await story.reconcile(event);
  say(
    `   notify handler: ${reported.verdict}; reconcile handler: ${settled.map((r) => `${r.stage} ${r.outcome}`).join(', ')}`,
  );
  if (deployedBy) await showStack(story, `now runs the build of ${deployedBy}`);
  await showInbox(story, 'the ops inbox', step === '2' || step === '5' ? 'full' : 'subjects');
};

const sameEventAgain = async (story: Story) => {
  say('\n3. EventBridge delivers the same pipeline event again (delivery is at-least-once)');
  const history = await story.clients.ssm.send(
    new GetParameterHistoryCommand({ Name: story.dev.ssmParameter }),
  );
  const summary = await story.deploy(story.event);
  const after = await story.clients.ssm.send(
    new GetParameterHistoryCommand({ Name: story.dev.ssmParameter }),
  );
  for (const stage of summary.stages) say(`   stage ${stage.stage}: ${stage.recorded}, ${stage.outcome}`);
  say(
    `   SSM versions of dev before and after: ${history.Parameters?.length} and ${after.Parameters?.length}`,
  );
  await showInbox(story, 'the ops inbox', 'subjects');
};

/** Another execution of the pipeline, with its own bytes and a later start. */
const nextExecution = async (story: Story, first: PipelineExecution, n: number, template?: string) => {
  const executionId = `${first.executionId.slice(0, -4)}${String(n).padStart(4, '0')}`;
  const event = structuredClone(story.event) as { id: string; detail: Record<string, unknown> };
  event.id = `${event.id.slice(0, -4)}${String(n).padStart(4, '0')}`;
  event.detail['execution-id'] = executionId;
  event.detail['execution-trigger'] = {
    ...(event.detail['execution-trigger'] as object),
    'commit-id': createHash('sha1').update(`commit ${n}`).digest('hex'),
  };
  event.detail['start-time'] = new Date(Date.parse(first.startedAt) + n * 3_600_000).toISOString();
  const execution = parsePipelineEvent(event);
  await uploadBuild(story.clients.s3, {
    bucket: story.dev.artifact.bucket,
    key: buildKeyFor(story.dev, execution),
    bytes: exampleBuild(executionId),
    executionId,
  });
  const templateKey = story.dev.artifact.templateKey;
  if (template && templateKey)
    await uploadTemplate(
      story.clients.s3,
      story.dev.artifact.bucket,
      fillKey(templateKey, execution),
      template,
    );
  return { event, executionId };
};

const buildWhileBusy = async (story: Story, first: PipelineExecution): Promise<string> => {
  // This build also changes the service's template (it adds a queue): the template travels with the code.
  const { event, executionId } = await nextExecution(story, first, 2, exampleTemplateWithQueue());
  story.proxy.makeBusy(story.dev.stack, 1_000);
  say(
    `\n4. A second build (execution ${executionId}) succeeds while ${story.dev.stack} is UPDATE_IN_PROGRESS;`,
  );
  say('   its template, published beside its artifact, adds a queue to the service');
  const summary = await story.deploy(event);
  for (const stage of summary.stages)
    say(`   stage ${stage.stage}: recorded as desired version ${stage.desiredVersion}; ${stage.outcome}`);
  await showStack(story, 'still runs the first build');
  await showInbox(story, 'the ops inbox', 'subjects');
  story.proxy.makeBusy(story.dev.stack, 0);
  return executionId;
};

const failedUpdate = async (story: Story, first: PipelineExecution) => {
  const { clients, dev } = story;
  const before = await describeStack(clients.cfn, dev.stack);
  const running = before ? stackParameterValue(before, dev.stackParameter) : undefined;
  const { event, executionId } = await nextExecution(story, first, 3);
  say(`\n6. A third build (execution ${executionId}) is deployed, and its update fails`);
  const summary = await story.deploy(event);
  const deployed = summary.stages.find((s) => s.stage === dev.name);
  say(`   stage ${dev.name}: ${deployed?.outcome} with change set ${deployed?.changeSet}`);
  await showInbox(story, 'the ops inbox', 'subjects');
  // moto applies every update; CloudFormation would have rolled this one back. Play what AWS would do:
  // the stack events of the failure, the stack back on the release it ran, and the status event.
  const token = deployed?.token ?? '';
  const now = Date.now();
  story.proxy.addStackEvents(dev.stack, [
    {
      logicalId: dev.stack,
      type: 'AWS::CloudFormation::Stack',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      token,
      time: new Date(now).toISOString(),
    },
    {
      logicalId: 'Function',
      type: 'AWS::Lambda::Function',
      status: 'UPDATE_FAILED',
      token,
      time: new Date(now - 20_000).toISOString(),
      reason:
        'Resource handler returned message: "Unzipped size must be smaller than 262144000 bytes (Service: Lambda, Status Code: 400)" (HandlerErrorCode: InvalidRequest)',
    },
    {
      logicalId: 'Function',
      type: 'AWS::Lambda::Function',
      status: 'UPDATE_IN_PROGRESS',
      token,
      time: new Date(now - 25_000).toISOString(),
    },
    {
      logicalId: dev.stack,
      type: 'AWS::CloudFormation::Stack',
      status: 'UPDATE_IN_PROGRESS',
      token,
      time: new Date(now - 30_000).toISOString(),
      reason: 'User Initiated',
    },
  ]);
  const stack = await describeStack(clients.cfn, dev.stack);
  await clients.cfn.send(
    new UpdateStackCommand({
      StackName: dev.stack,
      UsePreviousTemplate: true,
      Capabilities: dev.capabilities,
      Parameters: (stack?.Parameters ?? []).map(({ ParameterKey }) =>
        ParameterKey === dev.stackParameter
          ? { ParameterKey, ParameterValue: running }
          : { ParameterKey, UsePreviousValue: true },
      ),
    }),
  );
  say(`   CloudFormation rolls ${dev.stack} back to ${running} and sends "UPDATE_ROLLBACK_COMPLETE"`);
  const rolledBack = await statusEvent(story, 'UPDATE_ROLLBACK_COMPLETE', token);
  const reported = await story.notify(rolledBack);
  const settled = await story.reconcile(rolledBack);
  say(
    `   notify handler: ${reported.verdict}; reconcile handler: ${settled.map((r) => `${r.stage} ${r.outcome}${r.markedFailed ? `, version ${r.markedFailed} marked failed` : ''}`).join(', ')}`,
  );
  const again = await story.reconcile(await statusEvent(story, 'UPDATE_ROLLBACK_COMPLETE', token));
  say(
    `   the next reconcile of dev: ${again.map((r) => r.outcome).join(', ')} (the failed release is not retried)`,
  );
  await showInbox(story, 'the ops inbox', 'full');
};

const showStack = async (story: Story, note: string) => {
  const stack = await describeStack(story.clients.cfn, story.dev.stack);
  say(
    `   stack ${story.dev.stack} ${note}: ${story.dev.stackParameter} = ${stack ? stackParameterValue(stack, story.dev.stackParameter) : '?'}`,
  );
};

const showInbox = async (story: Story, title: string, detail: 'full' | 'subjects') => {
  const inbox = await readInbox(story.sqs, story.queueUrl);
  say(`\n   ${title}: ${inbox.length} new message(s)`);
  for (const message of inbox) {
    if (detail === 'subjects') {
      say(`     Subject: ${message.subject}`);
      continue;
    }
    say(`   ----`);
    say(`     Subject: ${message.subject}`);
    say(
      `     Attributes: ${Object.entries(message.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    say(indent(message.body));
  }
};

const describeDesired = async (clients: Story['clients'], parameter: string, version?: number) => {
  const history = await clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter, MaxResults: 50 }));
  const entry = history.Parameters?.find((p) => p.Version === version);
  say(`     desired      ${parameter} version ${version} (labels: ${entry?.Labels?.join(', ') || 'none'})`);
};

const describeChangeSet = async (clients: Story['clients'], stack: string, name: string) => {
  const cs = await clients.cfn.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: name }));
  say(`     change set   ${name} (${cs.Status}, ${cs.ExecutionStatus})`);
};

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
