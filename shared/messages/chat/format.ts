/**
 * The chat form of a message: Amazon Q Developer in chat applications' (formerly AWS Chatbot) custom
 * notification, which it renders in Slack and Microsoft Teams when it arrives on an SNS topic mapped to a
 * channel. Arbitrary text on such a topic is not rendered, so the chat form goes to a topic of its own.
 *
 * What the service documents ("Custom notifications using Amazon Q Developer in chat applications",
 * https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html, sections "Event schema" and
 * "Parameter details"), as read for this module:
 * - `version` (required): must be "1.0". `source` (required): must be "custom". `id` (optional): a unique
 *   event identifier.
 * - `content.textType` (optional): only "client-markdown" is supported; the text is rendered in the target
 *   platform's markdown. `content.title` (optional per the table): supports markdown, emojis included.
 *   `content.description`, `content.nextSteps` (strings), `content.keywords` (strings).
 * - `metadata` (optional): `threadId` (messages with the same one are grouped in a thread, when the channel's
 *   preferences allow threads: `@Amazon Q preferences`), `summary`, `eventType`, `relatedResources`
 *   (strings), `additionalContext` (string to string), `enableCustomActions` (boolean; seen in published
 *   examples, not in the excerpt of the table read here).
 * - The page read here gives no per-field length limits. The limits below are ours: they fit Slack's
 *   smallest budgets for such text (a header block 150 characters, a section's text 3,000), and custom
 *   actions' documented shapes (CustomActionAttachment: NotificationType `[a-zA-Z0-9-]+` up to 100
 *   characters; Variables values `[\x21-\x7F]+` up to 1,024). The one hard limit is SNS's: a message is at
 *   most 256 KB (262,144 bytes of UTF-8).
 * We are stricter than the service: a title and a description are always sent.
 */

export const CHAT_LIMITS = {
  title: 150,
  description: 3000,
  nextSteps: 5,
  nextStep: 300,
  keywords: 10,
  keyword: 64,
  summary: 150,
  threadId: 128,
  relatedResources: 10,
  relatedResource: 2048,
  contextEntries: 20,
  contextValue: 1024,
  /** SNS's limit on a message, in bytes of UTF-8. */
  messageBytes: 256 * 1024,
} as const;

/** Custom actions match a notification's type with this pattern (CustomActionAttachment.NotificationType). */
export const EVENT_TYPE = /^[a-zA-Z0-9-]{1,100}$/;
/** Keys and values custom actions can read as variables (CustomActionAttachment.Variables). */
export const CONTEXT_KEY = /^[A-Za-z0-9_-]{1,100}$/;
export const CONTEXT_VALUE = /^[\x21-\x7e]{1,1024}$/;
