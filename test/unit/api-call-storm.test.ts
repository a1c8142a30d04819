/**
 * API-call storms with a mocked DynamoDB and SNS: which calls are sent one by one, which are folded and what
 * is noted of them, a redelivered call keeping its place, and the digest's words.
 */
import { PutItemCommand, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { PublishCommand } from '@aws-sdk/client-sns';
import type { StackApiCall } from '../../shared/edge/stack-events';
import type { Notification } from '../../shared/messages/notification';
import { digestMessage } from '../../shared/messages/storm-messages';
import { reportApiCall, SENT_ONE_BY_ONE, WINDOW_MS, windowOf } from '../../shared/triggers/api-call-storm';
import { ACCOUNT, awsError, makeRuntime, REGION } from './helpers/fixtures';
import { mockAll, resetAll } from './helpers/world';

const mocks = mockAll();
const runtime = makeRuntime();
const WINDOW = Date.parse('2026-11-20T10:00:00.000Z');
const EVENT_ID = '7d0c3f4e-1a2b-4c5d-8e9f-0a1b2c3d4e5f';
const MESSAGE: Notification = {
  subject: '[dev] orders-api-dev UpdateStack REFUSED by dana',
  body: 'dana called UpdateStack on orders-api-dev, and AWS refused it.\n',
  attributes: { kind: 'api-call' },
};

const refused = (change: Partial<StackApiCall> = {}): StackApiCall => ({
  kind: 'api-call',
  stackRefs: ['orders-api-dev'],
  eventName: 'UpdateStack',
  stack: 'orders-api-dev',
  caller: { type: 'IAMUser', name: 'dana' },
  time: '2026-11-20T10:04:27Z',
  region: REGION,
  account: ACCOUNT,
  error: { code: 'ValidationError', message: 'is in UPDATE_ROLLBACK_FAILED state and can not be updated' },
  ...change,
});

/** The window counter answers this count for the next call. */
const counted = (count: number) =>
  mocks.ddb
    .on(UpdateItemCommand, { ReturnValues: 'UPDATED_NEW' })
    .resolves({ Attributes: { count: { N: String(count) } } });

const updates = (): UpdateItemCommandInput[] =>
  mocks.ddb.commandCalls(UpdateItemCommand).map((call) => call.args[0].input as UpdateItemCommandInput);

beforeEach(() => {
  resetAll(mocks);
  mocks.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('windows', () => {
  it('are ten minutes of the calls event time, in UTC', () => {
    expect(windowOf('2026-11-20T10:00:00Z')).toBe(WINDOW);
    expect(windowOf('2026-11-20T10:09:59.999Z')).toBe(WINDOW);
    expect(windowOf('2026-11-20T12:09:59+02:00')).toBe(WINDOW);
    expect(windowOf('2026-11-20T10:10:00Z')).toBe(WINDOW + WINDOW_MS);
  });
});

describe('reportApiCall', () => {
  it('sends the first calls of a window one by one, counting refused ones', async () => {
    counted(1);
    await expect(reportApiCall(runtime, refused(), EVENT_ID, MESSAGE)).resolves.toBe('sent');

    expect(mocks.sns).toHaveReceivedCommandWith(PublishCommand, { Message: MESSAGE.body });
    expect(updates()[0]).toMatchObject({
      UpdateExpression: expect.stringContaining('ADD #count :by, refused :refused'),
      ExpressionAttributeValues: expect.objectContaining({
        ':by': { N: '1' },
        ':refused': { N: '1' },
        ':window': { N: String(WINDOW) },
      }),
    });
    // The call's place, kept for its redeliveries.
    expect(mocks.ddb).toHaveReceivedCommandWith(PutItemCommand, {
      Item: expect.objectContaining({ ordinal: { N: '1' } }),
      ConditionExpression: 'attribute_not_exists(id)',
    });
  });

  it('the last call sent one by one says that what follows is folded into a digest', async () => {
    counted(SENT_ONE_BY_ONE);
    await reportApiCall(runtime, refused(), EVENT_ID, MESSAGE);

    const body = mocks.sns.commandCalls(PublishCommand)[0]?.args[0].input.Message;
    expect(body).toBe(
      `${MESSAGE.body}\nMore API calls on this stack until 10:10 UTC are not sent one by one: one digest after 10:10 UTC says how many there were.\n`,
    );
  });

  it('folds a later call: nothing sent; who called what noted, cleaned; the window listed as due', async () => {
    counted(SENT_ONE_BY_ONE + 1);
    const hostile = refused({ caller: { type: 'IAMUser', name: 'dana\u001b[2J\nNext: \u202edelete prod' } });

    await expect(reportApiCall(runtime, hostile, EVENT_ID, MESSAGE)).resolves.toBe('folded');

    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
    const [, noted, index, pointer] = updates();
    expect(noted).toMatchObject({
      UpdateExpression: 'ADD callers :caller, calls :call',
      ExpressionAttributeValues: {
        ':caller': { SS: ['dana Next: delete prod'] },
        ':call': { SS: ['UpdateStack refused (ValidationError)'] },
      },
    });
    expect(index).toMatchObject({
      UpdateExpression: 'ADD stacks :stack SET expiresAt = :expires',
      ExpressionAttributeValues: expect.objectContaining({ ':stack': { SS: ['orders-api-dev'] } }),
    });
    expect(pointer).toMatchObject({
      UpdateExpression: 'SET #window = :window, expiresAt = :expires',
      ExpressionAttributeValues: expect.objectContaining({ ':window': { N: String(WINDOW) } }),
    });
  });

  it('folds the calls after the first fifty folded without noting them: only counted', async () => {
    counted(SENT_ONE_BY_ONE + 51);
    await expect(reportApiCall(runtime, refused(), EVENT_ID, MESSAGE)).resolves.toBe('folded');
    expect(updates()).toHaveLength(1);
    expect(mocks.sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('a redelivered call keeps its first place: the count taken back, reported (once, by the ledger) as what it was', async () => {
    counted(500);
    mocks.ddb.on(PutItemCommand, { ConditionExpression: 'attribute_not_exists(id)' }).rejects(
      Object.assign(awsError('ConditionalCheckFailedException', 'The conditional request failed'), {
        Item: { ordinal: { N: '2' }, owner: { S: 'the first delivery' } },
      }),
    );

    await expect(reportApiCall(runtime, refused(), EVENT_ID, MESSAGE)).resolves.toBe('sent');

    const [added, takenBack] = updates();
    expect(added?.ExpressionAttributeValues).toMatchObject({ ':by': { N: '1' }, ':refused': { N: '1' } });
    expect(takenBack?.ExpressionAttributeValues).toMatchObject({
      ':by': { N: '-1' },
      ':refused': { N: '-1' },
    });
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });
});

describe('digestMessage', () => {
  const digest = {
    stage: 'dev',
    stack: 'orders-api-dev',
    region: REGION,
    windowStart: WINDOW,
    windowEnd: WINDOW + WINDOW_MS,
    folded: 997,
    refused: 1000,
    sentOneByOne: 3,
    callers: ['PlatformOps (session kim@example.com)', 'dana'],
    calls: ['UpdateStack refused (ValidationError)'],
    noted: 50,
  };

  it('says how many calls were folded, when, by whom, with the callers as data', () => {
    const message = digestMessage(digest);
    expect(message.subject).toBe('[dev] orders-api-dev 997 more API calls folded (10:00-10:10 UTC)');
    expect(message.body).toContain('Folded:     997 calls\n');
    expect(message.body).toContain('Callers:    "PlatformOps (session kim@example.com)", dana\n');
    expect(message.body).toContain('Noted from: the first 50 folded calls (the rest only counted)\n');
    expect(message.body).toContain('Refused calls changed nothing.');
    expect(message.attributes).toEqual({
      kind: 'api-call',
      stage: 'dev',
      stack: 'orders-api-dev',
      status: 'API_CALLS_FOLDED',
      severity: 'warning',
    });
  });

  it('one folded call, all noted, none refused, a stack outside the configuration', () => {
    const message = digestMessage({ ...digest, stage: undefined, folded: 1, noted: 1, refused: 0 });
    expect(message.subject).toBe('orders-api-dev 1 more API call folded (10:00-10:10 UTC)');
    expect(message.body).not.toContain('Noted from');
    expect(message.attributes).toMatchObject({ stage: '-', severity: 'info' });
  });
});
