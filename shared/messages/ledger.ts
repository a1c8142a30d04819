/**
 * The notification ledger: each message to the ops team goes out once, however often the event behind it is
 * delivered. A message has a key, saying what it reports (an EventBridge event, the outcome of one
 * execution's deploy, the digest of an API-call storm), hashed into the id of an item of a DynamoDB table
 * that the template creates. The sender claims the item with a conditional write, publishes, and marks the
 * item sent; a second delivery finds the item and sends nothing.
 *
 * A sender that died between claim and publish leaves a claim older than any function may run: the next
 * delivery takes it over. A publish that definitely failed releases the claim, so the retried event sends
 * the message. A publish whose answer was lost counts as sent: a missing message is logged, a duplicate one
 * would be an email.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { guardWrite, isAmbiguous, writeOnce } from '../aws/single-writes';
import { regionOfStageNamed } from '../edge/stage-place';
import { ConfigError, DeployerError, errorName } from '../errors';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import { type DeployReport, deployMessage } from './deploy-messages';
import { chatKeyOf } from './ledger-keys';
import { type Notification, publish, publishChat } from './notification';

export type Item = Record<string, AttributeValue>;

/** How long DynamoDB keeps an item (its TTL): far longer than EventBridge and Lambda redeliver an event. */
export const RETENTION_SECONDS = 7 * 24 * 3600;
/** A claim older than the longest function timeout (300 s) and a margin: its sender is gone. */
export const CLAIM_STALE_MS = (300 + 60) * 1000;
/**
 * Pauses while another invocation sends the same message (a duplicate delivered at the same time): it is
 * usually sent within the first. Past the last, this delivery fails and its retry finds the message sent.
 */
export const IN_FLIGHT_WAITS_MS = [250, 500, 1000, 2000, 4000];

export const tableOf = (runtime: Runtime): string => {
  const table = runtime.settings.ledgerTable;
  if (!table) throw new ConfigError('the notification ledger table is not set (DEPLOYER_LEDGER_TABLE)');
  return table;
};

/** The TTL attribute's value for an item written now. */
export const expiresAt = (now: number): AttributeValue => ({
  N: String(Math.floor(now / 1000) + RETENTION_SECONDS),
});

/** The item as DynamoDB holds it now (a strongly consistent read), or undefined. */
export const readItem = async (runtime: Runtime, id: string): Promise<Item | undefined> => {
  const { Item } = await runtime.clients.ddb.send(
    new GetItemCommand({ TableName: tableOf(runtime), Key: { id: { S: id } }, ConsistentRead: true }),
  );
  return Item;
};

export const isConditionFailure = (error: unknown): boolean =>
  errorName(error) === 'ConditionalCheckFailedException';

/** A write whose condition may not hold: false when it did not (then nothing was written), not an error. */
export const unlessConditionFails = async (write: Promise<unknown>): Promise<boolean> => {
  try {
    await write;
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
};

export type SendResult = 'sent' | 'duplicate';

/**
 * Publish a message unless the message with this key already went out (or is going out right now); then
 * its chat form (when a chat topic is set) under a key of its own, once the email is recorded sent: a chat
 * publish that fails fails the invocation, and its retry sends the chat form alone, never a second email.
 */
export const sendOnce = async (
  runtime: Runtime,
  key: string,
  notification: Notification,
): Promise<SendResult> => {
  const sns = runtime.clients.sns;
  const email = await claimAndSend(runtime, key, notification.subject, () =>
    publish(sns, runtime.settings.topicArn, notification),
  );
  const chatTopic = runtime.settings.chatTopicArn;
  const { chat } = notification;
  if (chatTopic && chat) {
    await claimAndSend(runtime, chatKeyOf(key), notification.subject, () =>
      publishChat(sns, chatTopic, { ...notification, chat }),
    );
  }
  return email;
};

/** Claim the key, send, and mark it sent; 'duplicate' when it went out already. */
const claimAndSend = async (
  runtime: Runtime,
  key: string,
  subject: string,
  send: () => Promise<unknown>,
): Promise<SendResult> => {
  const owner = randomUUID();
  if ((await claim(runtime, key, owner)) === 'sent') {
    logger.info('message already sent; not sent again', { ledgerKey: key, subject });
    return 'duplicate';
  }
  try {
    await send();
  } catch (error) {
    if (!isAmbiguous(error)) {
      await release(runtime, key, owner);
      throw error;
    }
    // Read-back is impossible for a publish: a message maybe missing is better than one maybe doubled.
    logger.warn('the answer to the publish was lost: counted as sent', { ledgerKey: key, subject, error });
  }
  await markSent(runtime, key, owner);
  return 'sent';
};

/** Send the ops team the message for a deploy outcome, once for its key; true when it went out now. */
export const announceDeployOnce = async (
  runtime: Runtime,
  key: string,
  report: DeployReport,
): Promise<boolean> =>
  (await sendOnce(
    runtime,
    key,
    deployMessage(report, regionOfStageNamed(runtime.config, runtime.settings, report.stage)),
  )) === 'sent';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Claim the key for this sender. 'sent' when another sender sent the message; while another sender is
 * sending it, wait for it to finish (or to give up, releasing the claim) before deciding.
 */
const claim = async (runtime: Runtime, key: string, owner: string): Promise<'claimed' | 'sent'> => {
  let held: Item | undefined;
  for (const pause of [0, ...IN_FLIGHT_WAITS_MS]) {
    if (pause) await sleep(pause);
    const outcome = await tryClaim(runtime, key, owner);
    if (outcome === 'claimed') return 'claimed';
    if (outcome?.state?.S === 'sent') return 'sent';
    held = outcome;
  }
  const since = held?.claimedAt?.N ? new Date(Number(held.claimedAt.N)).toISOString() : 'just now';
  throw new DeployerError(
    `message ${key} is being sent by another invocation since ${since}; a retry finds it sent`,
  );
};

/** One conditional claim: 'claimed', or the item that holds the key (undefined if it was gone meanwhile). */
const tryClaim = async (
  runtime: Runtime,
  key: string,
  owner: string,
): Promise<'claimed' | Item | undefined> => {
  const now = Date.now();
  const put = await putOwned(
    runtime,
    { id: { S: key }, state: { S: 'sending' }, claimedAt: { N: String(now) }, expiresAt: expiresAt(now) },
    owner,
    {
      // Free, or claimed by a sender that cannot still be running.
      ConditionExpression: 'attribute_not_exists(id) OR (#state = :sending AND claimedAt < :stale)',
      ExpressionAttributeNames: { '#state': 'state' },
      ExpressionAttributeValues: {
        ':sending': { S: 'sending' },
        ':stale': { N: String(now - CLAIM_STALE_MS) },
      },
    },
  );
  return put === 'ours' ? 'claimed' : put;
};

interface PutCondition {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

/**
 * A conditional PutItem that lands once. The item carries an owner token: a write whose answer was lost is
 * read back as ours, and so is the refusal of the SDK's own repeat of it. 'ours', or the item that refused
 * the write (undefined when it was gone by the time it was read).
 */
export const putOwned = (
  runtime: Runtime,
  item: Item & { id: { S: string } },
  owner: string,
  condition: PutCondition,
): Promise<'ours' | Item | undefined> => {
  const id = item.id.S;
  const ours = (found: Item | undefined) => found?.owner?.S === owner;
  return writeOnce<'ours' | Item | undefined>(
    `put ${id}`,
    async () => {
      try {
        await runtime.clients.ddb.send(
          guardWrite(
            new PutItemCommand({
              TableName: tableOf(runtime),
              Item: { ...item, owner: { S: owner } },
              ...condition,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          ),
        );
        return 'ours';
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        const holder = (error as { Item?: Item }).Item ?? (await readItem(runtime, id));
        return ours(holder) ? 'ours' : holder;
      }
    },
    async () => (ours(await readItem(runtime, id)) ? 'ours' : undefined),
  );
};

/** After a definite publish failure: give the key back, so that the retried event sends the message. */
const release = async (runtime: Runtime, key: string, owner: string): Promise<void> => {
  try {
    await writeOnce(
      `release ${key}`,
      async () => {
        await runtime.clients.ddb.send(
          guardWrite(
            new DeleteItemCommand({
              TableName: tableOf(runtime),
              Key: { id: { S: key } },
              ConditionExpression: '#owner = :owner',
              ExpressionAttributeNames: { '#owner': 'owner' },
              ExpressionAttributeValues: { ':owner': { S: owner } },
            }),
          ),
        );
        return true;
      },
      async () => ((await readItem(runtime, key))?.owner?.S === owner ? undefined : true),
    );
  } catch (error) {
    // Not ours any more (taken over), or DynamoDB failing too: the claim goes stale and is taken over then.
    if (!isConditionFailure(error))
      logger.error('could not release the claim of an unsent message', { ledgerKey: key, error });
  }
};

/**
 * Record that the message went out. It did, whatever happens here: a failure is logged, never thrown (a
 * retry would only wait for the claim to go stale and then send the message again).
 */
const markSent = async (runtime: Runtime, key: string, owner: string): Promise<void> => {
  try {
    await writeOnce(
      `mark ${key} sent`,
      async () => {
        await runtime.clients.ddb.send(
          guardWrite(
            new UpdateItemCommand({
              TableName: tableOf(runtime),
              Key: { id: { S: key } },
              UpdateExpression: 'SET #state = :sent, sentAt = :now',
              ConditionExpression: '#owner = :owner',
              ExpressionAttributeNames: { '#state': 'state', '#owner': 'owner' },
              ExpressionAttributeValues: {
                ':sent': { S: 'sent' },
                ':now': { N: String(Date.now()) },
                ':owner': { S: owner },
              },
            }),
          ),
        );
        return true;
      },
      async () => {
        const item = await readItem(runtime, key);
        return item?.owner?.S === owner && item.state?.S === 'sent' ? true : undefined;
      },
    );
  } catch (error) {
    logger.error(
      'message sent, but not recorded as sent: a redelivery after the claim expires sends it again',
      {
        ledgerKey: key,
        error,
      },
    );
  }
};
