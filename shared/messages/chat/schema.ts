/**
 * The custom-notification format of Amazon Q Developer in chat applications as a schema, with our limits
 * (format.ts says what the service documents and where the limits come from). The tests hold every chat
 * message the deployer composes against it.
 */
import * as z from 'zod/mini';
import '../../edge/schema';
import { CHAT_LIMITS, CONTEXT_KEY, CONTEXT_VALUE, EVENT_TYPE } from './format';

const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

export const chatNotificationSchema = z
  .strictObject({
    version: z.literal('1.0'),
    source: z.literal('custom'),
    id: z.optional(text(128)),
    content: z.strictObject({
      textType: z.literal('client-markdown'),
      title: text(CHAT_LIMITS.title),
      description: text(CHAT_LIMITS.description),
      nextSteps: z.optional(z.array(text(CHAT_LIMITS.nextStep)).check(z.maxLength(CHAT_LIMITS.nextSteps))),
      keywords: z.optional(z.array(text(CHAT_LIMITS.keyword)).check(z.maxLength(CHAT_LIMITS.keywords))),
    }),
    metadata: z.strictObject({
      threadId: text(CHAT_LIMITS.threadId),
      summary: text(CHAT_LIMITS.summary),
      eventType: z.string().check(z.regex(EVENT_TYPE)),
      relatedResources: z.optional(
        z.array(text(CHAT_LIMITS.relatedResource)).check(z.maxLength(CHAT_LIMITS.relatedResources)),
      ),
      additionalContext: z.optional(
        z
          .record(z.string().check(z.regex(CONTEXT_KEY)), z.string().check(z.regex(CONTEXT_VALUE)))
          .check(z.refine((context) => Object.keys(context).length <= CHAT_LIMITS.contextEntries)),
      ),
      enableCustomActions: z.boolean(),
    }),
  })
  .check(
    z.refine(
      (chat) => Buffer.byteLength(JSON.stringify(chat), 'utf8') <= CHAT_LIMITS.messageBytes,
      'the message is larger than SNS takes (256 KB)',
    ),
  );

export type ChatNotification = z.infer<typeof chatNotificationSchema>;
