/**
 * `npm start`: the deploy path end to end on the embedded emulator, with no AWS account. Starts moto,
 * sets up the example service (bucket, template, build, SSM parameter, ops topic, dev stack), plays
 * events/pipeline-succeeded.json through the deploy handler, prints what happened as the ops team would
 * see it, and stops moto again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeChangeSetCommand } from '@aws-sdk/client-cloudformation';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { buildKeyFor } from '../shared/artifacts';
import { createClients } from '../shared/clients';
import { loadConfigFile, stagesOfPipeline } from '../shared/config';
import { parsePipelineEvent } from '../shared/events';
import { logger } from '../shared/logger';
import { describeStack, stackParameterValue } from '../shared/stacks';
import {
  createBucket,
  createOpsInbox,
  createStageStack,
  exampleBuild,
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
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void moto.stop().finally(() => process.exit(130));
    });
  }
  try {
    await walkthrough(moto.endpoint);
  } finally {
    await moto.stop();
    say(`moto stopped; nothing left running.`);
  }
};

const walkthrough = async (endpoint: string): Promise<void> => {
  Object.assign(process.env, emulatorEnv(endpoint), { DEPLOYER_ACCOUNT_ID: ACCOUNT });
  // The timeline below says what happened; the handler's JSON logs show from LOG_LEVEL=INFO on.
  logger.setLogLevel((process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN');
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const clients = createClients(region);
  const sqs = new SQSClient({ region });
  const config = loadConfigFile(join(ROOT, 'deployer.config.yaml'));
  const eventFile = join(ROOT, 'events', 'pipeline-succeeded.json');
  const event: unknown = JSON.parse(readFileSync(eventFile, 'utf8'));
  const execution = parsePipelineEvent(event);
  const stages = stagesOfPipeline(config, execution.pipeline);
  const first = stages?.[0];
  if (!stages || !first)
    throw new Error(`pipeline ${execution.pipeline} of ${eventFile} is not in deployer.config.yaml`);

  say(`Deployer walkthrough on moto at ${endpoint} (no AWS account involved)\n`);
  say('1. The example service, as it stands before the build');
  const bucket = first.artifact.bucket;
  await createBucket(clients.s3, bucket);
  if (first.template) await uploadTemplate(clients.s3, first.template.bucket, first.template.key);
  const { topicArn, queueUrl } = await createOpsInbox(clients.sns, sqs, 'deployer-ops');
  process.env.DEPLOYER_TOPIC_ARN = topicArn;
  const initialKey = `${first.releasePrefix}initial.zip`;
  await uploadBuild(clients.s3, { bucket, key: initialKey, bytes: exampleBuild('initial') });
  await createStageStack(clients, {
    stack: first.stack,
    ssmParameter: first.ssmParameter,
    stageName: first.name,
    bucket,
    templateKey: first.template?.key ?? '',
    releaseKey: initialKey,
    earlier: {
      pipeline: execution.pipeline,
      execution: 'initial-release',
      startedAt: new Date(Date.parse(execution.startedAt) - 86_400_000).toISOString(),
    },
  });
  say(`   bucket ${bucket}, stage template s3://${bucket}/${first.template?.key}`);
  say(`   ops topic ${topicArn}, with a queue subscribed as the ops inbox`);
  say(
    `   stage ${first.name}: stack ${first.stack} runs ${initialKey}; ${first.ssmParameter} holds it (version 1)`,
  );
  for (const other of stages.slice(1)) say(`   stage ${other.name}: stack ${other.stack} does not exist yet`);

  const buildKey = buildKeyFor(first, execution);
  await uploadBuild(clients.s3, {
    bucket,
    key: buildKey,
    bytes: exampleBuild(execution.executionId),
    executionId: execution.executionId,
    ...(execution.commitId ? { commitId: execution.commitId } : {}),
  });
  say(`\n2. The pipeline's build uploads s3://${bucket}/${buildKey}, then the pipeline succeeds`);
  say(`   event: events/pipeline-succeeded.json (${execution.pipeline}, execution ${execution.executionId})`);

  const { handler } = await import('../handlers/deploy');
  const summary = await handler(event);
  say(`\n3. The deploy handler: ${summary.verdict}`);
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
  }

  await showInbox(sqs, queueUrl, '4. The ops inbox after the deploy');

  const deployed = summary.stages.find((s) => s.stage === first.name);
  const stack = await describeStack(clients.cfn, first.stack);
  if (deployed?.changeSet && stack?.StackId) {
    const statusEvent = stackStatusEvent(
      stack.StackId,
      stack.StackStatus ?? 'UPDATE_COMPLETE',
      deployed.changeSet,
    );
    say(`\n5. The stack finishes: CloudFormation sends "${stack.StackStatus}" for ${first.stack}`);
    say(`   event: events/stack-update-complete.json with this stack's id and the change set's token`);
    const notify = await import('../handlers/notify');
    const reconcileTrigger = await import('../handlers/reconcile');
    const reported = await notify.handler(statusEvent);
    const settled = await reconcileTrigger.handler(statusEvent);
    say(
      `   notify handler: ${reported.verdict}; reconcile handler: ${settled.map((r) => `${r.stage} ${r.outcome}`).join(', ')}`,
    );
    await showInbox(sqs, queueUrl, '6. The ops inbox after the stack settled');
  }
  say('');
};

const stackStatusEvent = (stackId: string, status: string, token: string): unknown => {
  const sample = JSON.parse(readFileSync(join(ROOT, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.resources = [stackId];
  sample.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  sample.detail['stack-id'] = stackId;
  sample.detail['status-details'].status = status;
  sample.detail['client-request-token'] = token;
  return sample;
};

const showInbox = async (sqs: SQSClient, queueUrl: string, title: string) => {
  const inbox = await readInbox(sqs, queueUrl);
  say(`\n${title}: ${inbox.length} message(s)`);
  for (const message of inbox) {
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

const describeDesired = async (
  clients: ReturnType<typeof createClients>,
  parameter: string,
  version?: number,
) => {
  const history = await clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter, MaxResults: 50 }));
  const entry = history.Parameters?.find((p) => p.Version === version);
  say(`     desired      ${parameter} version ${version} (labels: ${entry?.Labels?.join(', ') || 'none'})`);
};

const describeChangeSet = async (clients: ReturnType<typeof createClients>, stack: string, name: string) => {
  const cs = await clients.cfn.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: name }));
  say(`     change set   ${name} (${cs.Status}, ${cs.ExecutionStatus})`);
};

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
