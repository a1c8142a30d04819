/**
 * What the ops team hears about a stage elsewhere: its stack's API calls counted as that account's stack
 * (one name in two accounts is two storms), the deployer's own calls there (with the role it assumes)
 * left to its deploy messages, and the deploy message's console link in the stage's region.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { stringify } from 'yaml';
import { announceDeploy } from '../../shared/messages/deploy-messages';
import { ledgerItemId } from '../../shared/messages/ledger-keys';
import { windowOf } from '../../shared/triggers/api-call-storm';
import { handleStackNotification } from '../../shared/triggers/notify';
import { type CloudTrailEvent, cloudTrailEvent } from '../integration/helpers/stack-events';
import { ACCOUNT, makeRuntime, REGION } from './helpers/fixtures';

const TARGET = '222222222222';
const ROLE = `arn:aws:iam::${TARGET}:role/deployer-target`;
const STACK = 'orders-api';
const STACK_THERE = `arn:aws:cloudformation:${REGION}:${TARGET}:stack/${STACK}/0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f`;

const mocks = {
  cfn: mockClient(CloudFormationClient),
  ddb: mockClient(DynamoDBClient),
  s3: mockClient(S3Client),
  sns: mockClient(SNSClient),
  ssm: mockClient(SSMClient),
  sts: mockClient(STSClient),
};

const stage = (extra: Record<string, unknown>) => ({
  stack: STACK,
  artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
  releasePrefix: 'releases/orders-api/',
  ...extra,
});

/** dev at home and prod in TARGET, both on a stack named orders-api; eu in another region. */
const runtime = () =>
  makeRuntime(
    stringify({
      pipelines: {
        p: {
          stages: {
            dev: stage({ ssmParameter: '/deployer/dev/artifact' }),
            prod: stage({ ssmParameter: '/deployer/prod/artifact', account: TARGET, assumeRoleArn: ROLE }),
            eu: stage({
              ssmParameter: '/deployer/eu/artifact',
              region: 'eu-west-1',
              releaseBucket: 'orders-api-eu-releases',
            }),
          },
        },
      },
    }),
  );

beforeEach(() => {
  for (const mock of Object.values(mocks)) mock.reset();
  mocks.ddb.on(UpdateItemCommand).resolves({ Attributes: { count: { N: '1' } } });
  mocks.ddb.on(PutItemCommand).resolves({});
  mocks.ddb.on(GetItemCommand).resolves({});
  mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  mocks.sts.on(AssumeRoleCommand).resolves({
    Credentials: {
      AccessKeyId: 'ASIATARGET',
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + 3_600_000),
    },
  });
});

/** An UpdateStack of orders-api in TARGET, by the role with this ARN. */
const callThere = (roleArn: string): CloudTrailEvent => {
  const event = cloudTrailEvent('cloudtrail-update-stack.json', { stack: STACK, stackId: STACK_THERE });
  event.account = TARGET;
  const identity = event.detail.userIdentity as { sessionContext: { sessionIssuer: Record<string, string> } };
  identity.sessionContext.sessionIssuer.arn = roleArn;
  identity.sessionContext.sessionIssuer.userName = roleArn.split('/').at(-1) ?? '';
  identity.sessionContext.sessionIssuer.accountId = TARGET;
  return event;
};

describe('API calls on the stack of a stage in another account', () => {
  it("leaves the deployer's own calls there (with the role it assumes) to its deploy messages", async () => {
    const summary = await handleStackNotification(runtime(), callThere(ROLE));
    expect(summary).toMatchObject({
      verdict: 'ignored',
      reason: expect.stringContaining('the role it assumes there'),
    });
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it("reports someone else's call, counted as that account's stack (not the home stack of the same name)", async () => {
    const event = callThere(`arn:aws:iam::${TARGET}:role/PlatformOps`);
    const summary = await handleStackNotification(runtime(), event);
    expect(summary).toMatchObject({ verdict: 'notified', stack: STACK });
    const window = windowOf(event.detail.eventTime);
    const counted = mocks.ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key?.id?.S);
    expect(counted).toContain(ledgerItemId('storm-window', `${STACK}@${TARGET}/${REGION}`, window));
    expect(counted).not.toContain(ledgerItemId('storm-window', STACK, window));
  });

  it('keeps counting a home stack under its name alone, as the ledger always did', async () => {
    const event = cloudTrailEvent('cloudtrail-update-stack.json', {
      stack: STACK,
      stackId: STACK_THERE.replace(TARGET, ACCOUNT),
    });
    await handleStackNotification(runtime(), event);
    const window = windowOf(event.detail.eventTime);
    expect(mocks.ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key?.id?.S)).toContain(
      ledgerItemId('storm-window', STACK, window),
    );
    // Read at home, with the deployer's own client: no role assumed.
    expect(mocks.sts).not.toHaveReceivedCommand(AssumeRoleCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
  });
});

describe('deploy messages of a stage in another region', () => {
  it("link the stack's console page in the stage's region", async () => {
    const stackId = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/${STACK}/1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d`;
    await announceDeploy(runtime(), {
      outcome: 'deploying',
      stage: 'eu',
      stack: STACK,
      trigger: 'a test',
      reconcile: { outcome: 'deploying', stage: 'eu', stack: STACK, fresh: true, stackId },
    });
    const body = String(mocks.sns.commandCalls(PublishCommand)[0]?.args[0].input.Message);
    expect(body).toContain('https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1');
    expect(body).not.toContain(`${REGION}.console.aws.amazon.com`);
  });
});
