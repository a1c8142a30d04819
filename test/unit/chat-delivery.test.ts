/**
 * Delivering the chat form: the optional chat topic in the settings (functions and command line), the email
 * first and the chat form after it, each once through the notification ledger (an in-memory DynamoDB here),
 * a chat publish that fails retried alone, a lost answer counted as sent, and the template's variable absent
 * from `deployer invoke` unless chat notifications are on.
 */
import { join } from 'node:path';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand, type PublishCommandInput } from '@aws-sdk/client-sns';
import { cliRuntime } from '../../bin/cli/runtime';
import { functionDefinition, readTemplate } from '../../bin/support/sam-template';
import { AmbiguousWriteError } from '../../shared/aws/single-writes';
import { readSettings } from '../../shared/edge/settings';
import { chatNotificationSchema } from '../../shared/messages/chat/schema';
import { announceDeploy } from '../../shared/messages/deploy-messages';
import { sendOnce } from '../../shared/messages/ledger';
import { chatKeyOf, ledgerKeys } from '../../shared/messages/ledger-keys';
import { statusMessage } from '../../shared/messages/stack-messages';
import type { Runtime } from '../../shared/runtime';
import { deployReport, statusReport } from './helpers/chat-samples';
import {
  ACCOUNT,
  awsError,
  LEDGER_TABLE,
  makeRuntime,
  REGION,
  ROOT,
  rejectionOf,
  TOPIC_ARN,
} from './helpers/fixtures';
import { mockAll, resetAll } from './helpers/world';

const CHAT_TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:deployer-chat`;
const mocks = mockAll();
const withChat = (): Runtime => {
  const runtime = makeRuntime();
  runtime.settings.chatTopicArn = CHAT_TOPIC_ARN;
  return runtime;
};

type Item = Record<string, AttributeValue>;
/** The ledger's table, in memory: the conditions sendOnce writes with, evaluated as DynamoDB would. */
let table: Map<string, Item>;

const conditionFailed = (item?: Item) =>
  Object.assign(awsError('ConditionalCheckFailedException', 'The conditional request failed'), {
    ...(item ? { Item: item } : {}),
  });

const ownedBy = (item: Item | undefined, values: Record<string, AttributeValue> | undefined) =>
  item?.owner?.S !== undefined && item.owner.S === values?.[':owner']?.S;

const fakeLedger = (): void => {
  table = new Map();
  mocks.ddb.on(PutItemCommand).callsFake(async (input: PutItemCommandInput) => {
    const item = input.Item as Item & { id: { S: string } };
    const held = table.get(item.id.S);
    const stale = Number(input.ExpressionAttributeValues?.[':stale']?.N ?? 0);
    if (held && !(held.state?.S === 'sending' && Number(held.claimedAt?.N) < stale))
      throw conditionFailed(held);
    table.set(item.id.S, item);
    return {};
  });
  mocks.ddb.on(UpdateItemCommand).callsFake(async (input: UpdateItemCommandInput) => {
    const id = input.Key?.id?.S ?? '';
    const item = table.get(id);
    if (!ownedBy(item, input.ExpressionAttributeValues)) throw conditionFailed();
    table.set(id, { ...item, state: { S: 'sent' } });
    return {};
  });
  mocks.ddb.on(DeleteItemCommand).callsFake(async (input: DeleteItemCommandInput) => {
    const id = input.Key?.id?.S ?? '';
    if (!ownedBy(table.get(id), input.ExpressionAttributeValues)) throw conditionFailed();
    table.delete(id);
    return {};
  });
  mocks.ddb.on(GetItemCommand).callsFake(async (input: GetItemCommandInput) => ({
    Item: table.get(input.Key?.id?.S ?? ''),
  }));
};

/** Every Publish so far, by topic. */
const published = (topic: string): PublishCommandInput[] =>
  mocks.sns
    .commandCalls(PublishCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.TopicArn === topic);

const KEY = ledgerKeys.stackEvent('c1b9a4e2-0f5d-4a7b-9e3c-2d1f0a9b8c7d');
const MESSAGE = statusMessage(statusReport('UPDATE_COMPLETE', 'Jane'));

beforeEach(() => {
  resetAll(mocks);
  mocks.ddb.reset();
  fakeLedger();
  mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('settings: DEPLOYER_CHAT_TOPIC_ARN', () => {
  const env = {
    AWS_REGION: REGION,
    DEPLOYER_ACCOUNT_ID: ACCOUNT,
    DEPLOYER_TOPIC_ARN: TOPIC_ARN,
    DEPLOYER_LEDGER_TABLE: LEDGER_TABLE,
  };

  it('is optional: unset or empty means no chat topic', () => {
    expect(readSettings(env).chatTopicArn).toBeUndefined();
    expect(readSettings({ ...env, DEPLOYER_CHAT_TOPIC_ARN: '' }).chatTopicArn).toBeUndefined();
    expect(readSettings({ ...env, DEPLOYER_CHAT_TOPIC_ARN: CHAT_TOPIC_ARN }).chatTopicArn).toBe(
      CHAT_TOPIC_ARN,
    );
  });

  it('is validated like the ops topic, naming the variable', () => {
    for (const bad of [
      'arn:aws:sns:us-east-1:123:chat',
      'https://hooks.slack.com/x',
      `${CHAT_TOPIC_ARN}\nx`,
    ]) {
      expect(() => readSettings({ ...env, DEPLOYER_CHAT_TOPIC_ARN: bad })).toThrow(
        'environment variable DEPLOYER_CHAT_TOPIC_ARN is not an SNS topic ARN',
      );
    }
  });

  it('reaches the command line, whose moves then post to chat; a malformed one is a usage error', () => {
    const cli = {
      AWS_REGION: REGION,
      DEPLOYER_TOPIC_ARN: TOPIC_ARN,
      DEPLOYER_CONFIG_FILE: join(ROOT, 'deployer.config.yaml'),
    };
    expect(cliRuntime(cli, { tellsOps: true }).settings.chatTopicArn).toBeUndefined();
    expect(
      cliRuntime({ ...cli, DEPLOYER_CHAT_TOPIC_ARN: CHAT_TOPIC_ARN }, { tellsOps: true }).settings
        .chatTopicArn,
    ).toBe(CHAT_TOPIC_ARN);
    expect(() => cliRuntime({ ...cli, DEPLOYER_CHAT_TOPIC_ARN: 'slack' }, { tellsOps: true })).toThrow(
      expect.objectContaining({
        name: 'UsageError',
        message: expect.stringContaining('DEPLOYER_CHAT_TOPIC_ARN'),
      }),
    );
  });

  it('is absent from a function run by `deployer invoke` unless chat notifications are on (the template default)', () => {
    const template = readTemplate(join(ROOT, 'template.yaml'));
    const fn = functionDefinition(template, 'NotifyFunction', { region: REGION, accountId: ACCOUNT });
    expect(fn.environment).not.toHaveProperty('DEPLOYER_CHAT_TOPIC_ARN');
    expect(fn.unresolved).not.toContain('DEPLOYER_CHAT_TOPIC_ARN');
    const given = functionDefinition(template, 'NotifyFunction', {
      region: REGION,
      accountId: ACCOUNT,
      envVars: { Parameters: { DEPLOYER_CHAT_TOPIC_ARN: CHAT_TOPIC_ARN } },
    });
    expect(given.environment.DEPLOYER_CHAT_TOPIC_ARN).toBe(CHAT_TOPIC_ARN);
  });
});

describe('sendOnce with a chat topic', () => {
  it('sends the email as text to the ops topic, then the chat form as JSON to the chat topic, each once', async () => {
    await expect(sendOnce(withChat(), KEY, MESSAGE)).resolves.toBe('sent');

    const [email, ...moreEmail] = published(TOPIC_ARN);
    const [chat, ...moreChat] = published(CHAT_TOPIC_ARN);
    expect([moreEmail, moreChat]).toEqual([[], []]);
    expect(email).toMatchObject({ Subject: MESSAGE.subject, Message: MESSAGE.body });
    // The email readers never see the JSON form.
    expect(() => JSON.parse(email?.Message ?? '')).toThrow();
    expect(email?.Message).not.toContain('client-markdown');
    expect(chat?.Subject).toBeUndefined();
    const parsed = chatNotificationSchema.safeParse(JSON.parse(chat?.Message ?? ''));
    expect(parsed.success).toBe(true);
    expect(chat?.MessageAttributes?.form?.StringValue).toBe('chat');
    expect(chat?.MessageAttributes?.stage?.StringValue).toBe('dev');
    // Email first.
    const order = mocks.sns.commandCalls(PublishCommand).map((call) => call.args[0].input.TopicArn);
    expect(order).toEqual([TOPIC_ARN, CHAT_TOPIC_ARN]);
    expect(table.get(KEY)?.state?.S).toBe('sent');
    expect(table.get(chatKeyOf(KEY))?.state?.S).toBe('sent');
  });

  it('posts nothing twice when the event is delivered again', async () => {
    await sendOnce(withChat(), KEY, MESSAGE);
    await expect(sendOnce(withChat(), KEY, MESSAGE)).resolves.toBe('duplicate');
    expect(published(TOPIC_ARN)).toHaveLength(1);
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(1);
  });

  it('sends no chat form without a chat topic', async () => {
    await sendOnce(makeRuntime(), KEY, MESSAGE);
    expect(mocks.sns.commandCalls(PublishCommand).map((c) => c.args[0].input.TopicArn)).toEqual([TOPIC_ARN]);
    expect(table.has(chatKeyOf(KEY))).toBe(false);
  });

  it('a chat publish that fails fails the invocation; its retry sends the chat form alone, never a second email', async () => {
    mocks.sns
      .on(PublishCommand, { TopicArn: CHAT_TOPIC_ARN })
      .rejectsOnce(awsError('AuthorizationError', 'not allowed to publish', 403))
      .resolves({ MessageId: 'm-2' });

    const error = await rejectionOf(sendOnce(withChat(), KEY, MESSAGE));
    expect(error.name).toBe('AuthorizationError');
    expect(published(TOPIC_ARN)).toHaveLength(1);
    expect(table.get(KEY)?.state?.S).toBe('sent');
    // The chat form's claim was given back.
    expect(table.has(chatKeyOf(KEY))).toBe(false);

    await expect(sendOnce(withChat(), KEY, MESSAGE)).resolves.toBe('duplicate');
    expect(published(TOPIC_ARN)).toHaveLength(1);
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(2);
    expect(table.get(chatKeyOf(KEY))?.state?.S).toBe('sent');
  });

  it('an email publish that fails sends no chat form (the retry sends both)', async () => {
    mocks.sns
      .on(PublishCommand, { TopicArn: TOPIC_ARN })
      .rejectsOnce(awsError('KMSDisabled', 'key disabled'))
      .resolves({ MessageId: 'm-3' });

    await rejectionOf(sendOnce(withChat(), KEY, MESSAGE));
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(0);
    expect(table.size).toBe(0);

    await expect(sendOnce(withChat(), KEY, MESSAGE)).resolves.toBe('sent');
    expect(published(TOPIC_ARN)).toHaveLength(2);
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(1);
  });

  it('a chat publish whose answer was lost counts as sent: no second post', async () => {
    mocks.sns
      .on(PublishCommand, { TopicArn: CHAT_TOPIC_ARN })
      .rejects(new AmbiguousWriteError(awsError('InternalError', 'reset after the write', 500)));

    await expect(sendOnce(withChat(), KEY, MESSAGE)).resolves.toBe('sent');
    expect(table.get(chatKeyOf(KEY))?.state?.S).toBe('sent');
    await sendOnce(withChat(), KEY, MESSAGE);
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(1);
  });
});

describe('deploy reports sent without the ledger (their once-only record is the SSM label written after)', () => {
  it('sends the email, then the chat form', async () => {
    await expect(announceDeploy(withChat(), deployReport('deploying', 'Jane'))).resolves.toBe(true);
    const [email] = published(TOPIC_ARN);
    const [chat] = published(CHAT_TOPIC_ARN);
    expect(email?.Message).toMatch(/^A new release is being deployed\.\n/);
    expect(chatNotificationSchema.safeParse(JSON.parse(chat?.Message ?? '')).success).toBe(true);
    expect(mocks.ddb).not.toHaveReceivedAnyCommand();
  });

  it('a chat publish that fails is logged, not thrown: a retry would send the email again', async () => {
    mocks.sns
      .on(PublishCommand, { TopicArn: CHAT_TOPIC_ARN })
      .rejects(awsError('NotFound', 'Topic does not exist', 404));

    await expect(announceDeploy(withChat(), deployReport('deploying', 'Jane'))).resolves.toBe(true);
    expect(published(TOPIC_ARN)).toHaveLength(1);
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(1);
  });

  it('an email publish that fails throws before any chat post', async () => {
    mocks.sns.on(PublishCommand, { TopicArn: TOPIC_ARN }).rejects(awsError('KMSDisabled', 'key disabled'));
    await rejectionOf(announceDeploy(withChat(), deployReport('deploying', 'Jane')));
    expect(published(CHAT_TOPIC_ARN)).toHaveLength(0);
  });
});
