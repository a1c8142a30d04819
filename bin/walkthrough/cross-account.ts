/**
 * The walkthrough's cross-account step (`npm start`): a stage whose stack lives in a second account. The
 * deployer assumes the role the stage names there (on moto, the credentials STS gives for a role of account
 * B act in B), deploys the pipeline's build to that account's stack through a change set, and keeps the
 * desired state, the release, the lock and the ops messages at home. Then the stack's status event from
 * account B is reported, and the same event from an account no stage lives in is turned away.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { buildKeyFor } from '../../shared/aws/artifacts';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { validateConfig } from '../../shared/edge/config';
import { parsePipelineEvent } from '../../shared/edge/events';
import { allStages } from '../../shared/edge/stages';
import { logger } from '../../shared/logger';
import type { Runtime } from '../../shared/runtime';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackNotification } from '../../shared/triggers/notify';
import { exampleBuild, uploadBuild } from '../support/example-world';
import type { Story } from './steps';
import { describeDesired, say, showInbox } from './timeline';

type Scene = Pick<Story, 'root' | 'clients' | 'sqs' | 'queueUrl' | 'dev' | 'event'>;

/** The second account, and one where no stage lives. */
const ACCOUNT_B = '222222222222';
const NOBODY = '333333333333';
const PIPELINE = 'orders-api-account-b-pipeline';

/** Step `step`: a build deployed to a stage in account B, and that stack's events from B and from elsewhere. */
export const stageInAnotherAccountStep = async (story: Scene, step = '8'): Promise<void> => {
  const { name: _name, pipeline: _pipeline, promoteTo: _promoteTo, ...dev } = story.dev;
  const config = validateConfig(
    {
      pipelines: {
        [PIPELINE]: {
          stages: {
            'prod-b': {
              ...dev,
              stack: 'orders-api-prod-b',
              ssmParameter: '/deployer/orders-api/prod-b/artifact',
              parameterOverrides: { ...dev.parameterOverrides, Stage: 'prod-b' },
              account: ACCOUNT_B,
              assumeRoleArn: `arn:aws:iam::${ACCOUNT_B}:role/deployer-target`,
              roleArn: `arn:aws:iam::${ACCOUNT_B}:role/orders-api-prod-cloudformation`,
            },
          },
        },
      },
    },
    'the walkthrough (a stage in account B)',
  );
  const [far] = allStages(config);
  if (!far) throw new Error('the walkthrough configuration has no stage');
  const home = process.env.DEPLOYER_ACCOUNT_ID ?? '123456789012';
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const runtime: Runtime = {
    settings: {
      region,
      accountId: home,
      topicArn: process.env.DEPLOYER_TOPIC_ARN ?? '',
      ledgerTable: process.env.DEPLOYER_LEDGER_TABLE ?? '',
    },
    config,
    clients: story.clients,
  };

  say(`\n${step}. A stage in another account: prod-b's stack lives in account ${ACCOUNT_B}`);
  say(`   deployer.config.yaml: account: ${ACCOUNT_B}, assumeRoleArn: ${far.assumeRoleArn}`);
  say(
    `   (targets/template.yaml makes that role in account ${ACCOUNT_B}, and forwards its stack events here)`,
  );
  const event = structuredClone(story.event) as { id: string; detail: Record<string, unknown> };
  event.id = randomUUID();
  event.detail.pipeline = PIPELINE;
  event.detail['execution-id'] = randomUUID();
  const execution = parsePipelineEvent(event);
  const key = buildKeyFor(far, execution);
  await uploadBuild(story.clients.s3, {
    bucket: far.artifact.bucket,
    key,
    bytes: exampleBuild(execution.executionId),
    executionId: execution.executionId,
  });
  say(`   pipeline ${PIPELINE} succeeds with its build at s3://${far.artifact.bucket}/${key}`);
  const summary = await handlePipelineEvent(runtime, event);
  for (const stage of summary.stages) {
    say(`   stage ${stage.stage}: ${stage.outcome}, release ${stage.releaseKey}`);
    await describeDesired(story.clients, far.ssmParameter, stage.desiredVersion);
  }

  const inB = await clientOfAccount(ACCOUNT_B, region);
  const there = await describeStack(inB, far.stack);
  const atHome = await describeStack(story.clients.cfn, far.stack);
  say(
    `   in account ${ACCOUNT_B}: ${far.stack} ${there?.StackStatus}, ${far.stackParameter} = ${there ? stackParameterValue(there, far.stackParameter) : '?'}`,
  );
  say(
    `   in the deployer's account ${home}: ${far.stack} ${atHome ? 'exists (it should not)' : 'does not exist'}`,
  );
  say(`   the desired state, the release and the stage's lock stay in account ${home}`);
  await showInbox(story, 'the ops inbox', 'subjects');

  say(
    `\n   ${far.stack} finishes in account ${ACCOUNT_B}: its status event comes through the forwarding rule`,
  );
  // The request token of the deployer's run: the message says the deployer started it.
  const token = summary.stages[0]?.token ?? '';
  const fromB = statusEvent(story.root, there?.StackId ?? '', ACCOUNT_B, token);
  const reported = await handleStackNotification(runtime, fromB);
  say(`   notify, the event from ${ACCOUNT_B}: ${reported.verdict}`);
  const spoofed = statusEvent(
    story.root,
    (there?.StackId ?? '').replace(`:${ACCOUNT_B}:`, `:${NOBODY}:`),
    NOBODY,
    token,
  );
  // The rejection is logged as an error; the timeline says it instead.
  const level = logger.getLevelName();
  logger.setLogLevel('SILENT');
  const refused = await handleStackNotification(runtime, spoofed).finally(() => logger.setLogLevel(level));
  say(`   notify, the same stack's event from ${NOBODY}: ${refused.verdict} (${refused.reason})`);
  await showInbox(story, 'the ops inbox', 'subjects');
  inB.destroy();
};

/** A CloudFormation client signed in to `account` (a person's view there, not the deployer's). */
const clientOfAccount = async (account: string, region: string): Promise<CloudFormationClient> => {
  const sts = new STSClient({ region });
  try {
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${account}:role/walkthrough-reader`,
        RoleSessionName: 'walkthrough',
      }),
    );
    return new CloudFormationClient({
      region,
      credentials: {
        accessKeyId: Credentials?.AccessKeyId ?? '',
        secretAccessKey: Credentials?.SecretAccessKey ?? '',
        sessionToken: Credentials?.SessionToken ?? '',
      },
    });
  } finally {
    sts.destroy();
  }
};

/** CloudFormation's "Stack Status Change" for this stack, as the account it lives in sends it. */
const statusEvent = (root: string, stackId: string, account: string, token: string): unknown => {
  const sample = JSON.parse(readFileSync(join(root, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.id = randomUUID();
  sample.account = account;
  sample.resources = [stackId];
  sample.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  sample.detail['stack-id'] = stackId;
  sample.detail['status-details'] = { status: 'CREATE_COMPLETE', 'status-reason': '' };
  sample.detail['client-request-token'] = token;
  return sample;
};
