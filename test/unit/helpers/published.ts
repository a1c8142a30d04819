/**
 * Assertions on what the ops team was sent: every SNS Publish as the subscriber sees it, the one message of
 * a test, SNS's rules for a subject, and the "Label: value" lines of a body.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import type { Mocks } from './world';

export interface Published {
  subject: string;
  body: string;
  attributes: Record<string, string>;
}

/** Every SNS Publish sent so far, as the subscriber sees it. */
export const publishedMessages = (mocks: Mocks): Published[] =>
  mocks.sns.commandCalls(PublishCommand).map((call) => {
    const input = call.args[0].input;
    return {
      subject: input.Subject ?? '',
      body: input.Message ?? '',
      attributes: Object.fromEntries(
        Object.entries(input.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue ?? '']),
      ),
    };
  });

/** The one message published, or a failing test. */
export const onlyMessage = (mocks: Mocks): Published => {
  const messages = publishedMessages(mocks);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  if (!message) throw new Error('no message published');
  return message;
};

/** SNS's rules for a subject: 1 to 100 characters, one line of printable ASCII, not starting with a space. */
export const expectValidSubject = (subject: string): void => {
  expect(subject.length).toBeGreaterThan(0);
  expect(subject.length).toBeLessThanOrEqual(100);
  expect(subject).toMatch(/^[\x20-\x7e]+$/);
  expect(subject).not.toMatch(/^\s/);
};

/** The value of a "Label: value" line of a message body, or undefined when the line is absent. */
export const fieldOf = (body: string, label: string): string | undefined => {
  const prefix = `${label}:`;
  const line = body.split('\n').find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim();
};
