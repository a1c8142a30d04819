/**
 * The notification ledger with a mocked DynamoDB and SNS: the claim, the duplicate that sends nothing, the
 * stale claim taken over, the claim given back after a failed publish, and lost answers read back.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import * as singleWrites from '../../shared/aws/single-writes';
import { AmbiguousWriteError } from '../../shared/aws/single-writes';
import {
  CLAIM_STALE_MS,
  IN_FLIGHT_WAITS_MS,
  RETENTION_SECONDS,
  sendOnce,
} from '../../shared/messages/ledger';
import { ledgerKeys } from '../../shared/messages/ledger-keys';
import type { Notification } from '../../shared/messages/notification';
import { awsError, LEDGER_TABLE, makeRuntime, rejectionOf, TOPIC_ARN } from './helpers/fixtures';
import { mockAll, resetAll } from './helpers/world';

const mocks = mockAll();
const runtime = makeRuntime();
const NOW = Date.parse('2026-11-20T10:15:00.000Z');
const MESSAGE: Notification = {
  subject: '[dev] orders-api-dev UPDATE_COMPLETE',
  body: 'The stack was updated.\n',
  attributes: { kind: 'stack-status', stage: 'dev' },
};
const EVENT_ID = 'c1b9a4e2-0f5d-4a7b-9e3c-2d1f0a9b8c7d';
const KEY = ledgerKeys.stackEvent(EVENT_ID);

const conditionFailed = (item?: Record<string, unknown>) =>
  Object.assign(awsError('ConditionalCheckFailedException', 'The conditional request failed'), {
    ...(item ? { Item: item } : {}),
  });
const lostAnswer = () =>
  new AmbiguousWriteError(awsError('InternalServerError', 'reset after the write', 500));

/** The owner token of the n-th claim (PutItem) sent. */
const ownerOfClaim = (n = 0): string | undefined =>
  (mocks.ddb.commandCalls(PutItemCommand)[n]?.args[0].input as PutItemCommandInput | undefined)?.Item?.owner
    ?.S;

/** The commands passed through guardWrite (retried by the SDK only when nothing can have landed). */
let guarded: unknown[] = [];
const isGuarded = (command: unknown): boolean => guarded.includes(command);

beforeEach(() => {
  resetAll(mocks);
  mocks.ddb.reset();
  mocks.ddb.on(PutItemCommand).resolves({});
  mocks.ddb.on(UpdateItemCommand).resolves({});
  mocks.ddb.on(DeleteItemCommand).resolves({});
  mocks.ddb.on(GetItemCommand).resolves({});
  mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  jest.spyOn(Date, 'now').mockReturnValue(NOW);
  guarded = [];
  const guardWrite = singleWrites.guardWrite;
  jest.spyOn(singleWrites, 'guardWrite').mockImplementation((command) => {
    guarded.push(command);
    return guardWrite(command);
  });
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
});

describe('keys', () => {
  it('are the kind and a SHA-256: no outside text reaches the table, every id has one length', () => {
    const hostile = `${'x'.repeat(120)}\n\u202eNext: delete everything`;
    for (const key of [
      ledgerKeys.stackEvent(hostile),
      ledgerKeys.settled(hostile, 'dev', 'deploying', 3),
      ledgerKeys.deployOutcome('dev', hostile, 'failed'),
      ledgerKeys.digest('orders-api-dev', NOW),
    ]) {
      expect(key).toMatch(/^(notify|settle|deploy|digest)#[0-9a-f]{64}$/);
    }
    expect(ledgerKeys.stackEvent('a')).not.toBe(ledgerKeys.stackEvent('b'));
    // Parts are kept apart: "a:b" + "c" is not "a" + "b:c".
    expect(ledgerKeys.deployOutcome('a:b', 'c', 'failed')).not.toBe(
      ledgerKeys.deployOutcome('a', 'b:c', 'failed'),
    );
  });
});

describe('sendOnce', () => {
  it('claims the key, publishes, and marks it sent, each write guarded and owned by one token', async () => {
    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');

    const [claim] = mocks.ddb.commandCalls(PutItemCommand);
    expect(claim?.args[0].input).toMatchObject({
      TableName: LEDGER_TABLE,
      Item: {
        id: { S: KEY },
        state: { S: 'sending' },
        claimedAt: { N: String(NOW) },
        expiresAt: { N: String(NOW / 1000 + RETENTION_SECONDS) },
      },
      ConditionExpression: 'attribute_not_exists(id) OR (#state = :sending AND claimedAt < :stale)',
    });
    const owner = ownerOfClaim();
    expect(owner).toMatch(/^[0-9a-f-]{36}$/);
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(mocks.sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC_ARN,
      Message: MESSAGE.body,
    });
    expect(mocks.ddb).toHaveReceivedCommandWith(UpdateItemCommand, {
      Key: { id: { S: KEY } },
      UpdateExpression: 'SET #state = :sent, sentAt = :now',
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: expect.objectContaining({ ':owner': { S: owner }, ':sent': { S: 'sent' } }),
    });
    for (const call of [
      ...mocks.ddb.commandCalls(PutItemCommand),
      ...mocks.ddb.commandCalls(UpdateItemCommand),
    ])
      expect(isGuarded(call.args[0])).toBe(true);
  });

  it('sends nothing for a key that was sent', async () => {
    mocks.ddb.on(PutItemCommand).rejects(conditionFailed({ id: { S: KEY }, state: { S: 'sent' } }));

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('duplicate');

    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
    expect(mocks.ddb).not.toHaveReceivedCommand(UpdateItemCommand);
    expect(mocks.ddb).not.toHaveReceivedCommand(DeleteItemCommand);
  });

  it('reads the holder back when DynamoDB does not return it with the refusal', async () => {
    mocks.ddb.on(PutItemCommand).rejects(conditionFailed());
    mocks.ddb.on(GetItemCommand).resolves({ Item: { id: { S: KEY }, state: { S: 'sent' } } });

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('duplicate');
    expect(mocks.ddb).toHaveReceivedCommandWith(GetItemCommand, {
      Key: { id: { S: KEY } },
      ConsistentRead: true,
    });
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('takes over a claim older than any function may run: the condition lets DynamoDB decide', async () => {
    await sendOnce(runtime, KEY, MESSAGE);
    const claim = mocks.ddb.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(claim?.ExpressionAttributeValues).toEqual({
      ':sending': { S: 'sending' },
      ':stale': { N: String(NOW - CLAIM_STALE_MS) },
    });
    // Longer than the longest function timeout (300 s) in template.yaml.
    expect(CLAIM_STALE_MS).toBeGreaterThan(300_000);
  });

  it('waits while another invocation sends the same message, then sends nothing', async () => {
    const sending = {
      id: { S: KEY },
      state: { S: 'sending' },
      owner: { S: 'other' },
      claimedAt: { N: String(NOW) },
    };
    mocks.ddb
      .on(PutItemCommand)
      .rejectsOnce(conditionFailed(sending))
      .rejects(conditionFailed({ ...sending, state: { S: 'sent' } }));
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'], now: NOW });

    const sent = sendOnce(runtime, KEY, MESSAGE);
    await jest.advanceTimersByTimeAsync(IN_FLIGHT_WAITS_MS[0] ?? 0);

    await expect(sent).resolves.toBe('duplicate');
    expect(mocks.ddb).toHaveReceivedCommandTimes(PutItemCommand, 2);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('claims the key when the other invocation gave it back (its publish failed)', async () => {
    const sending = {
      id: { S: KEY },
      state: { S: 'sending' },
      owner: { S: 'other' },
      claimedAt: { N: String(NOW) },
    };
    mocks.ddb.on(PutItemCommand).rejectsOnce(conditionFailed(sending)).resolves({});
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'], now: NOW });

    const sent = sendOnce(runtime, KEY, MESSAGE);
    await jest.advanceTimersByTimeAsync(IN_FLIGHT_WAITS_MS[0] ?? 0);

    await expect(sent).resolves.toBe('sent');
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('fails (for a retry) while another invocation keeps sending, and never publishes meanwhile', async () => {
    const sending = {
      id: { S: KEY },
      state: { S: 'sending' },
      owner: { S: 'other' },
      claimedAt: { N: String(NOW) },
    };
    mocks.ddb.on(PutItemCommand).rejects(conditionFailed(sending));
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'], now: NOW });

    const failed = rejectionOf(sendOnce(runtime, KEY, MESSAGE));
    await jest.advanceTimersByTimeAsync(IN_FLIGHT_WAITS_MS.reduce((a, b) => a + b, 0));

    const error = await failed;
    expect(error.message).toContain('is being sent by another invocation since 2026-11-20T10:15:00.000Z');
    expect(mocks.ddb).toHaveReceivedCommandTimes(PutItemCommand, IN_FLIGHT_WAITS_MS.length + 1);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('gives the key back when the publish definitely failed, so that the retry sends the message', async () => {
    mocks.sns.on(PublishCommand).rejects(awsError('AuthorizationErrorException', 'not allowed', 403));

    const error = await rejectionOf(sendOnce(runtime, KEY, MESSAGE));

    expect(error.name).toBe('AuthorizationErrorException');
    const owner = ownerOfClaim();
    expect(mocks.ddb).toHaveReceivedCommandWith(DeleteItemCommand, {
      Key: { id: { S: KEY } },
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: { ':owner': { S: owner } },
    });
    expect(isGuarded(mocks.ddb.commandCalls(DeleteItemCommand)[0]?.args[0])).toBe(true);
    expect(mocks.ddb).not.toHaveReceivedCommand(UpdateItemCommand);

    // The retry finds the key free and sends.
    mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');
  });

  it('rethrows the publish failure even when giving the key back fails too', async () => {
    mocks.sns.on(PublishCommand).rejects(awsError('InvalidParameterException', 'bad', 400));
    mocks.ddb.on(DeleteItemCommand).rejects(awsError('ProvisionedThroughputExceededException', 'slow down'));

    const error = await rejectionOf(sendOnce(runtime, KEY, MESSAGE));
    expect(error.name).toBe('InvalidParameterException');
  });

  it('a lost answer to the claim is read back: our own claim (by its owner token) is ours, not a duplicate', async () => {
    mocks.ddb.on(PutItemCommand).rejectsOnce(lostAnswer()).rejects(conditionFailed());
    mocks.ddb.on(GetItemCommand).callsFake(async () => ({
      Item: {
        id: { S: KEY },
        state: { S: 'sending' },
        owner: { S: ownerOfClaim() },
        claimedAt: { N: String(NOW) },
      },
    }));

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');

    expect(mocks.ddb).toHaveReceivedCommandTimes(PutItemCommand, 1);
    expect(mocks.ddb).toHaveReceivedCommandWith(GetItemCommand, { ConsistentRead: true });
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('a lost answer to a claim that did not land: claims again', async () => {
    mocks.ddb.on(PutItemCommand).rejectsOnce(lostAnswer()).resolves({});

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');

    expect(mocks.ddb).toHaveReceivedCommandTimes(PutItemCommand, 2);
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('a lost answer to the publish counts as sent: no second publish, the key marked sent', async () => {
    mocks.sns.on(PublishCommand).rejects(lostAnswer());

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');

    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(mocks.ddb).not.toHaveReceivedCommand(DeleteItemCommand);
    expect(mocks.ddb).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
  });

  it('a message that went out stays sent when marking it fails: no error, so no retry sends it again', async () => {
    mocks.ddb.on(UpdateItemCommand).rejects(awsError('ProvisionedThroughputExceededException', 'slow down'));

    await expect(sendOnce(runtime, KEY, MESSAGE)).resolves.toBe('sent');
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('fails clearly without a ledger table, before publishing anything', async () => {
    const without = { ...runtime, settings: { ...runtime.settings, ledgerTable: '' } };
    const error = await rejectionOf(sendOnce(without, KEY, MESSAGE));
    expect(error.message).toContain('DEPLOYER_LEDGER_TABLE');
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
