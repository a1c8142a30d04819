/**
 * Notifications to the ops team through SNS: one message per deploy outcome, readable on a phone, with
 * message attributes that subscription filter policies can route on (stage, stack, outcome, severity).
 */
import {
  type MessageAttributeValue,
  PublishCommand,
  type PublishCommandInput,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { guardWrite, isAmbiguous } from '../aws/single-writes';
import { cleanText, TEXT_LIMIT } from '../edge/untrusted';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import type { ChatNotification } from './chat/schema';

export type Severity = 'info' | 'warning' | 'error';

export interface Notification {
  subject: string;
  body: string;
  attributes: Record<string, string>;
  /** The same message for a chat channel (Amazon Q Developer), composed from the same facts. */
  chat?: ChatNotification;
}

/** SNS's rules for a subject: at most 100 characters, one line of printable ASCII. */
const SUBJECT_LIMIT = 100;

/** One line of printable ASCII: accents dropped, other characters '?', whitespace runs one space. */
const asciiLine = (text: string): string =>
  text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();

/**
 * Make any text a valid SNS subject: non-ASCII and control characters become '?', whitespace runs become one
 * space, and overlong text is cut with '...'. The result starts with a letter, digit or punctuation.
 */
export const toSubject = (text: string): string => {
  const ascii = asciiLine(text);
  const subject = ascii.length > SUBJECT_LIMIT ? `${ascii.slice(0, SUBJECT_LIMIT - 3).trimEnd()}...` : ascii;
  return subject === '' ? 'deployer notification' : subject;
};

/**
 * "[stage] stack WORD WORD…": when that is too long for a subject, the stack name is shortened (keeping its
 * start and its end) so that the outcome and the commit after it stay readable.
 */
export const composeSubject = (
  stage: string | undefined,
  stack: string,
  words: (string | undefined)[],
): string => {
  const head = stage ? `[${stage}] ` : '';
  const tail = words.filter(Boolean).join(' ');
  const name = asciiLine(stack);
  const room = SUBJECT_LIMIT - head.length - tail.length - 1;
  const shortened =
    name.length <= room || room < 12 ? name : `${name.slice(0, room - 9)}...${name.slice(-6)}`;
  return toSubject(`${head}${shortened} ${tail}`);
};

/** The short form of a commit id, as git prints it. */
export const shortCommit = (commit: string | undefined): string | undefined => commit?.slice(0, 7);

/** The link to the stack in the AWS console for its region. */
export const consoleLink = (region: string, stackId: string): string =>
  `https://${region}.console.aws.amazon.com/cloudformation/home?region=${region}#/stacks/stackinfo?stackId=${encodeURIComponent(stackId)}`;

/** Long enough for any field we compose around a quoted value; anything beyond is cut with a marker. */
const FIELD_LIMIT = 4 * TEXT_LIMIT;

/**
 * Aligned "Label: value" lines, skipping values that are not known. Each value is one cleaned line: callers
 * quote what came from outside (see untrusted.ts), and this keeps a value they missed from adding lines.
 */
export const fieldLines = (fields: [string, string | undefined][]): string[] => {
  const known = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const width = Math.max(0, ...known.map(([label]) => label.length)) + 2;
  return known.map(([label, value]) => `${`${label}:`.padEnd(width)}${cleanText(value, FIELD_LIMIT)}`);
};

/** Attribute values for filter policies: bounded, printable. */
const attributeValue = (value: string): MessageAttributeValue => ({
  DataType: 'String',
  StringValue: value.replace(/[^\x20-\x7e]/g, '?').slice(0, 256) || '-',
});

/**
 * Publish a message, once. SNS has no way to ask whether a message went out, so a publish whose answer was
 * lost (a 500, a reset connection, a timeout) counts as sent: the SDK does not repeat it, and no retry of
 * the event repeats it either. Throttling and 503s, which prove nothing was sent, are retried as usual.
 */
export const publish = (
  sns: SNSClient,
  topicArn: string,
  notification: Notification,
): Promise<string | undefined> =>
  publishOnce(
    sns,
    {
      TopicArn: topicArn,
      Subject: toSubject(notification.subject),
      Message: notification.body,
      MessageAttributes: attributesOf(notification),
    },
    toSubject(notification.subject),
  );

/**
 * Publish a message's chat form (once, like `publish`): the JSON Amazon Q Developer renders, with the same
 * attributes, so that a chat subscription may filter like an email one. No subject: chat shows none.
 */
export const publishChat = (
  sns: SNSClient,
  topicArn: string,
  notification: Notification & { chat: ChatNotification },
): Promise<string | undefined> =>
  publishOnce(
    sns,
    {
      TopicArn: topicArn,
      Message: JSON.stringify(notification.chat),
      MessageAttributes: { ...attributesOf(notification), form: attributeValue('chat') },
    },
    `chat: ${toSubject(notification.subject)}`,
  );

/**
 * Publish a message to the ops topic, then its chat form to the chat topic when one is set. For senders
 * whose once-only record is written after this returns (an SSM label): a chat publish that fails is logged,
 * not thrown, since the retry of the event would send the email again. (The ledger's sendOnce, which keeps
 * a record per form, retries the chat form alone.)
 */
export const deliver = async (runtime: Runtime, notification: Notification): Promise<void> => {
  await publish(runtime.clients.sns, runtime.settings.topicArn, notification);
  const chatTopic = runtime.settings.chatTopicArn;
  if (!chatTopic || !notification.chat) return;
  try {
    await publishChat(runtime.clients.sns, chatTopic, { ...notification, chat: notification.chat });
  } catch (error) {
    logger.error(
      'the email went out, its chat form did not (not retried: a retry would send the email again)',
      {
        subject: toSubject(notification.subject),
        error,
      },
    );
  }
};

const attributesOf = (notification: Notification): Record<string, MessageAttributeValue> =>
  Object.fromEntries(
    Object.entries(notification.attributes).map(([name, value]) => [name, attributeValue(value)]),
  );

const publishOnce = async (
  sns: SNSClient,
  input: PublishCommandInput,
  label: string,
): Promise<string | undefined> => {
  try {
    const { MessageId } = await sns.send(guardWrite(new PublishCommand(input)));
    return MessageId;
  } catch (error) {
    if (!isAmbiguous(error)) throw error;
    logger.warn('the answer to a publish was lost; it counts as sent (a second copy would be a duplicate)', {
      subject: label,
      error: error.failure as Error,
    });
    return undefined;
  }
};
