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
 *      release is marked failed so it is not retried;
 *   7. a CI without CodePipeline uploads a build to S3: its "Object Created" event deploys it; an upload
 *      without the metadata that names the build is refused, nothing recorded;
 *   8. a stage in a second AWS account: the deployer assumes a role there, deploys the stack in that
 *      account, and hears its status events forwarded from it (an unconfigured account stays rejected);
 *   9. chat notifications: a stack outcome as the email and as the custom notification Amazon Q Developer
 *      posts to Slack or Teams;
 *  10. a freeze: a build during a freeze window is recorded, not deployed, with one message saying when the
 *      window opens; `approve --break-glass --reason` deploys it and the history says who and why;
 *  11. an alarm-gated stage: its release bakes, its alarm goes to ALARM, the deployer rolls the stage back to
 *      the last good release on its own and says why;
 *  12. how the stages delivered: `deployer metrics` over the walkthrough's history.
 *
 * It prints a timeline with the ops emails as read back from the topic, stops everything, and exits 0. The
 * steps are in walkthrough/steps.ts, what the timeline shows in walkthrough/timeline.ts.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createClients } from '../shared/aws/clients';
import { loadConfigFile } from '../shared/edge/config';
import { parsePipelineEvent } from '../shared/edge/events';
import { stagesOfPipeline } from '../shared/edge/stages';
import { logger } from '../shared/logger';
import { type AwsProxy, startAwsProxy } from './support/aws-proxy';
import {
  createBucket,
  createLedgerTable,
  createOpsInbox,
  createStageStack,
  exampleBuild,
  uploadBuild,
  uploadTemplate,
} from './support/example-world';
import { emulatorEnv, startMoto } from './support/moto';
import { alarmRollbackStep } from './walkthrough/alarm';
import { chatNotifications } from './walkthrough/chat';
import { stageInAnotherAccountStep } from './walkthrough/cross-account';
import { freezeAndBreakGlass } from './walkthrough/freeze';
import { deliveryMetrics } from './walkthrough/metrics';
import {
  buildWhileBusy,
  failedUpdate,
  firstDeploy,
  type Story,
  sameEventAgain,
  stackFinishes,
} from './walkthrough/steps';
import { say } from './walkthrough/timeline';
import { uploadedBuildStep } from './walkthrough/upload';

const ROOT = join(__dirname, '..', '..');
const ACCOUNT = '123456789012'; // moto's account

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
    root: ROOT,
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
  await uploadedBuildStep(story, '7');
  await stageInAnotherAccountStep(story, '8');
  await chatNotifications(story, ROOT, '9');
  await freezeAndBreakGlass(story, ROOT, '10');
  await alarmRollbackStep(story, '11');
  await deliveryMetrics(join(ROOT, 'deployer.config.yaml'), '12');
  say('');
};

main().catch((error: unknown) => {
  process.stderr.write(
    `npm start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
