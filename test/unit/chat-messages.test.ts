/**
 * The chat form of every message (Amazon Q Developer's custom notification): it fits the format's schema
 * and limits for every kind of message, threads a release's deploy, stack outcome and rollback together,
 * shows outside text only as inert data (no mention, no link, no markdown of an attacker's), and never
 * reaches the email body.
 */
import fc from 'fast-check';
import { CHAT_LIMITS } from '../../shared/messages/chat/format';
import { renderChat } from '../../shared/messages/chat/render';
import { type ChatNotification, chatNotificationSchema } from '../../shared/messages/chat/schema';
import { deployMessage } from '../../shared/messages/deploy-messages';
import { statusMessage } from '../../shared/messages/stack-messages';
import { HOSTILE } from '../support/hostile-text';
import {
  deployReport,
  dev,
  everyMessage,
  PREVIOUS_KEY,
  prod,
  RELEASE,
  releaseVersion,
  rollbackReport,
  statusReport,
} from './helpers/chat-samples';
import { BUILD_RELEASE_KEY, REGION } from './helpers/fixtures';

const chatOf = (message: { chat?: ChatNotification }): ChatNotification => {
  if (!message.chat) throw new Error('the message has no chat form');
  return message.chat;
};

/** Every field a person reads in the channel. */
const readable = (chat: ChatNotification): string[] => [
  chat.content.title,
  chat.content.description,
  ...(chat.content.nextSteps ?? []),
  ...(chat.content.keywords ?? []),
  chat.metadata.summary,
];

/** The text with every inline code span taken out: what the chat client renders as markdown. */
const outsideCode = (text: string): string => text.replace(/`[^`\n]*`/g, '');

const expectValid = (chat: ChatNotification): void => {
  const parsed = chatNotificationSchema.safeParse(chat);
  expect(parsed.success ? 'valid' : parsed.error.issues).toBe('valid');
};

describe('every message the deployer sends has a chat form in the custom-notification format', () => {
  const samples = everyMessage('Fix the queue (PR 42) by Jane Doe');

  it('covers every deploy outcome, every stack status, API calls and the storm digest', () => {
    expect(samples.length).toBeGreaterThan(40);
  });

  it.each(samples.map((s) => [s.kind, s] as const))('%s', (_, sample) => {
    const chat = chatOf(sample.message);
    expectValid(chat);
    expect(chat).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { textType: 'client-markdown' },
    });
    expect(chat.content.keywords).toEqual(expect.arrayContaining([sample.stack]));
    if (sample.stage) {
      expect(chat.content.keywords).toContain(sample.stage);
      expect(chat.content.title).toContain(sample.stage);
    }
    expect(chat.content.title).toContain(sample.stack);
    expect(chat.metadata.eventType).toMatch(/^deployer-[a-z0-9-]+$/);
    expect(chat.content.description.split('\n')[0]?.length).toBeGreaterThan(10);
    // The email keeps its text: its body is no JSON, and the chat form is not in it.
    expect(() => JSON.parse(sample.message.body)).toThrow();
    expect(sample.message.body).not.toContain('"source":"custom"');
  });

  it('gives the next command: rollback after a deploy, approve and reject for an approval, the stack fix when blocked', () => {
    const steps = (outcome: Parameters<typeof deployReport>[0]) =>
      (chatOf(deployMessage(deployReport(outcome, 'x'), REGION)).content.nextSteps ?? []).join('\n');
    expect(steps('deploying')).toContain('`npx deployer rollback dev`');
    expect(steps('pending-approval')).toContain('`npx deployer approve dev`');
    expect(steps('pending-approval')).toContain('`npx deployer reject dev`');
    expect(steps('blocked')).toContain('continue-update-rollback');
    const failedStack = chatOf(statusMessage(statusReport('UPDATE_ROLLBACK_COMPLETE', 'x'))).content;
    expect(failedStack.nextSteps?.join('\n')).toContain('`npx deployer rollback dev`');
  });

  it('carries the root cause and the stack reason of a failed operation, as data', () => {
    const chat = chatOf(
      statusMessage(
        statusReport('UPDATE_ROLLBACK_COMPLETE', 'x', {
          change: {
            ...statusReport('UPDATE_ROLLBACK_COMPLETE', 'x').change,
            reason: 'The following resource(s) failed',
          },
          rootCause: {
            logicalId: 'OrdersFunction',
            type: 'AWS::Lambda::Function',
            status: 'UPDATE_FAILED',
            reason: 'Uploaded file must be a non-empty zip',
          },
        }),
      ),
    );
    expect(chat.content.description).toContain(
      '*Root cause:* `OrdersFunction` (`AWS::Lambda::Function`) `UPDATE_FAILED`: `Uploaded file must be a non-empty zip`',
    );
    expect(chat.content.description).toContain('*Reason:* `The following resource(s) failed`');
    expect(chat.content.description).toContain(
      `*Failed release:* \`${BUILD_RELEASE_KEY}\` (desired version 12)`,
    );
  });

  it('keywords name the stage, the stack, the outcome and the commit', () => {
    const chat = chatOf(deployMessage(deployReport('deploying', 'x'), REGION));
    expect(chat.content.keywords).toEqual(['dev', dev.stack, 'deploying', '1a2b3c4']);
    expect(chat.content.title).toBe(`\u{1F680} dev: ${dev.stack} DEPLOYING 1a2b3c4`);
  });

  it('renders as a person reads it in the channel', () => {
    const text = renderChat(chatOf(deployMessage(deployReport('deploying', 'Jane'), REGION)));
    expect(text.split('\n').slice(0, 3)).toEqual([
      `\u{1F680} dev: ${dev.stack} DEPLOYING 1a2b3c4`,
      'A new release is being deployed.',
      `Stack: ${dev.stack}`,
    ]);
    expect(text).toContain('Next steps\n  \u2022 Watch it: npx deployer status dev');
    expect(text).not.toMatch(/[`*]/);
  });
});

describe('threads: one per stage and release', () => {
  const thread = (message: { chat?: ChatNotification }) => chatOf(message).metadata.threadId;
  const deployed = thread(deployMessage(deployReport('deploying', 'x'), REGION));

  it('puts the deploy, its stack outcome, its failure and the rollback that replaces it in one thread', () => {
    expect(thread(statusMessage(statusReport('UPDATE_COMPLETE', 'x')))).toBe(deployed);
    expect(thread(statusMessage(statusReport('UPDATE_ROLLBACK_COMPLETE', 'x')))).toBe(deployed);
    expect(thread(deployMessage(rollbackReport('x'), REGION))).toBe(deployed);
    // Its approval, and the approval's execution, are about the same release.
    expect(thread(deployMessage(deployReport('pending-approval', 'x'), REGION))).toBe(deployed);
  });

  it("finds the stage's desired release for an outcome whose release is not known (someone else's operation)", () => {
    const report = statusReport('UPDATE_ROLLBACK_COMPLETE', 'x', { release: undefined, ours: false });
    expect(thread(statusMessage(report))).toBe(deployed);
    const unknown = statusReport('UPDATE_COMPLETE', 'x', { release: undefined, desired: undefined });
    expect(thread(statusMessage(unknown))).not.toBe(deployed);
  });

  it('differs across releases and across stages', () => {
    const other = statusReport('UPDATE_COMPLETE', 'x', {
      release: releaseVersion(13, PREVIOUS_KEY),
      desired: { key: PREVIOUS_KEY, version: 13 },
    });
    expect(thread(statusMessage(other))).not.toBe(deployed);
    const inProd = deployMessage(deployReport('deploying', 'x', prod), REGION);
    expect(thread(inProd)).not.toBe(deployed);
    // The rollback's own deploy is about the previous release: that release's thread.
    expect(thread(statusMessage(other))).toBe(
      thread(
        deployMessage(
          { ...deployReport('deploying', 'x'), release: { ...RELEASE, key: PREVIOUS_KEY } },
          REGION,
        ),
      ),
    );
  });
});

describe('outside text in chat: cleaned, and shown only as inert data', () => {
  const ATTACKS = [
    '@here deploy is broken',
    '<!channel> look',
    '<!here|here>',
    '<@U024BE7LH> please',
    '[Open the dashboard](https://evil.example/login)',
    '<https://evil.example|click me>',
    'https://evil.example/steal',
    '`code break` *bold* _it_ ~strike~',
    '@everyone @channel',
    HOSTILE,
  ];

  const expectInert = (chat: ChatNotification): void => {
    expectValid(chat);
    for (const text of readable(chat)) {
      // Not even inside a code span: Slack parses <!here> and <@U…> before its markdown.
      expect(text).not.toMatch(/[<>@]/);
      const rendered = outsideCode(text);
      expect(rendered).not.toMatch(/<[!@#]|<https?:|@(here|channel|everyone)\b|\]\(/);
      expect(rendered).not.toContain('evil.example');
      for (const line of text.split('\n')) {
        expect(line).not.toMatch(/[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u);
        // Code spans stay closed: an even number of backticks on every line.
        expect((line.match(/`/g) ?? []).length % 2).toBe(0);
      }
    }
    // No line of the description is the attacker's: each starts with our own words or a label.
    const lines = chat.content.description.split('\n');
    for (const line of lines.slice(1)) expect(line).toMatch(/^(\*[A-Z][A-Za-z ]+:\*|\u2022 |[A-Z`]|… )/);
  };

  it.each(ATTACKS)('%j, in every slot of every message', (attack) => {
    for (const sample of everyMessage(attack)) expectInert(chatOf(sample.message));
  });

  it('keeps the link the deployer writes (the stack in the console), and no other', () => {
    const chat = chatOf(deployMessage(deployReport('deploying', 'https://evil.example/x'), REGION));
    const links = outsideCode(chat.content.description).match(/https?:\/\/\S+/g) ?? [];
    expect(links).toHaveLength(1);
    expect(links[0]).toMatch(/^https:\/\/us-east-1\.console\.aws\.amazon\.com\/cloudformation\//);
  });
});

describe('properties: any outside text, of any length', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: 'grapheme', maxLength: 300 }),
    fc.constantFrom('@here', '<!channel>', '[x](https://evil.example)', '`', '\u202e', 'x'.repeat(300_000)),
    fc
      .array(
        fc.constantFrom(
          '@here ',
          '<!channel>',
          '`',
          '*',
          '_',
          '[a](b)',
          '\n',
          '\u001b[2J',
          'https://evil.example ',
        ),
        {
          maxLength: 40,
        },
      )
      .map((parts) => parts.join('')),
  );

  it('every chat form fits the schema, its limits and SNS, and renders nothing of the attacker', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        for (const sample of everyMessage(text)) {
          const chat = chatOf(sample.message);
          expect(chatNotificationSchema.safeParse(chat).success).toBe(true);
          expect(Buffer.byteLength(JSON.stringify(chat))).toBeLessThanOrEqual(CHAT_LIMITS.messageBytes);
          expect(chat.content.title.length).toBeLessThanOrEqual(CHAT_LIMITS.title);
          expect(chat.content.description.length).toBeLessThanOrEqual(CHAT_LIMITS.description);
          for (const text of readable(chat)) {
            expect(text).not.toMatch(/[<>@]/);
            const rendered = outsideCode(text);
            expect(rendered).not.toMatch(/<[!@#]|@(here|channel|everyone)\b|\]\(|evil\.example/);
            for (const line of text.split('\n')) expect((line.match(/`/g) ?? []).length % 2).toBe(0);
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
