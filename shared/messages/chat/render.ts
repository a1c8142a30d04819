/**
 * A chat message as a person sees it in the channel, in plain text: the title, the description with its
 * markdown applied (bold labels, code spans shown as their text), the next steps as a list and the keywords.
 * For the walkthrough and the README's samples; the chat client does the real rendering.
 */
import type { ChatNotification } from './schema';

const rendered = (markdown: string): string =>
  markdown.replace(/\*([^*\n]+):\*/g, '$1:').replace(/`([^`\n]*)`/g, '$1');

export const renderChat = (chat: ChatNotification): string => {
  const { title, description, nextSteps, keywords } = chat.content;
  return [
    title,
    ...description.split('\n').map(rendered),
    ...(nextSteps?.length ? ['Next steps', ...nextSteps.map((step) => `  \u2022 ${rendered(step)}`)] : []),
    ...(keywords?.length ? [keywords.join(' \u00b7 ')] : []),
  ].join('\n');
};
