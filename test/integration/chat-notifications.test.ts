/**
 * Chat notifications against moto: with a chat topic (a queue subscribed to it plays the Amazon Q Developer
 * channel), a deploy, the stack outcome the notify trigger reports for it and the rollback a person runs
 * from the command line each land on the chat topic as a valid custom notification in one thread, and on the
 * ops topic as the email text they always were. A redelivered event posts nothing, to either.
 */
import { createOpsInbox, readInbox } from '../../bin/support/example-world';
import { type ChatNotification, chatNotificationSchema } from '../../shared/messages/chat/schema';
import { handleStackNotification } from '../../shared/triggers/notify';
import { cliWorlds, runCli } from './helpers/operate';
import { runTokenOf } from './helpers/runs';
import { stackStatusEvent, targetOfStack } from './helpers/stack-events';
import { createStackFor, deploy, inbox, newExecution, stageOf, uploadExecutionBuild } from './helpers/world';

jest.setTimeout(120_000);

const cliWorld = cliWorlds();

/** A dev stack on an initial release, and the chat topic with its queue. */
const chatWorld = async () => {
  const made = await cliWorld();
  const { world } = made;
  const chat = await createOpsInbox(world.clients.sns, world.sqs, `it-chat-${world.id}`);
  world.runtime.settings.chatTopicArn = chat.topicArn;
  const initialKey = await createStackFor(world);
  const readChat = async (): Promise<{ raw: string; chat: ChatNotification }[]> =>
    (await readInbox(world.sqs, chat.queueUrl)).map(({ body }) => ({
      raw: body,
      chat: JSON.parse(body) as ChatNotification,
    }));
  return { ...made, stage: stageOf(world), initialKey, chatTopicArn: chat.topicArn, readChat };
};

/** The one message that arrived on each topic since the last read. */
const onlyOne = <T>(messages: T[]): T => {
  expect(messages).toHaveLength(1);
  return messages[0] as T;
};

const expectValid = (chat: ChatNotification): void => {
  const parsed = chatNotificationSchema.safeParse(chat);
  expect(parsed.success ? 'valid' : parsed.error.issues).toBe('valid');
};

test('a deploy, its stack outcome and its rollback: text by email, custom notifications in one chat thread', async () => {
  const w = await chatWorld();
  const { world, stage } = w;
  const execution = newExecution();
  await uploadExecutionBuild(world, execution);

  // The deploy.
  const summary = await deploy(world, execution);
  expect(summary.stages[0]).toMatchObject({ outcome: 'deploying', desiredVersion: 2 });
  const email = onlyOne(await inbox(world));
  expect(email.body).toMatch(/^A new release is being deployed\.\n/);
  expect(() => JSON.parse(email.body)).toThrow();
  const deployed = onlyOne(await w.readChat());
  expectValid(deployed.chat);
  expect(deployed.chat.content.keywords).toEqual([
    stage.name,
    stage.stack,
    'deploying',
    execution.commitId.slice(0, 7),
  ]);
  expect(deployed.chat.content.nextSteps).toContain(
    `If it goes wrong: \`npx deployer rollback ${stage.name}\``,
  );
  const thread = deployed.chat.metadata.threadId;

  // Its stack outcome, as the notify trigger reports it, in the same thread.
  const token = await runTokenOf(world, 'dev', 2);
  const event = stackStatusEvent('stack-update-complete.json', await targetOfStack(world, stage.stack), {
    token,
  });
  expect(await handleStackNotification(world.runtime, event)).toMatchObject({ verdict: 'notified' });
  const outcomeEmail = onlyOne(await inbox(world));
  expect(outcomeEmail.subject).toContain('UPDATE_COMPLETE');
  expect(() => JSON.parse(outcomeEmail.body)).toThrow();
  const outcome = onlyOne(await w.readChat());
  expectValid(outcome.chat);
  expect(outcome.chat.metadata).toMatchObject({
    threadId: thread,
    eventType: 'deployer-stack-update-complete',
  });
  expect(outcome.chat.content.title).toContain('UPDATE_COMPLETE');

  // The same event delivered again: nothing more, on either topic.
  expect(await handleStackNotification(world.runtime, event)).toMatchObject({ verdict: 'ignored' });
  expect(await inbox(world)).toEqual([]);
  expect(await w.readChat()).toEqual([]);

  // A person rolls back from the command line: in the thread of the release it replaces.
  const ran = await runCli(w, ['rollback', stage.name], { DEPLOYER_CHAT_TOPIC_ARN: w.chatTopicArn });
  expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
  const rollbackEmail = onlyOne(await inbox(world));
  expect(rollbackEmail.body).toContain('a rollback by tester to version 1');
  const rolledBack = onlyOne(await w.readChat());
  expectValid(rolledBack.chat);
  expect(rolledBack.chat.metadata.threadId).toBe(thread);
  expect(rolledBack.chat.content.description).toContain(
    `*Triggered by:* \`a rollback by tester to version 1\``,
  );
  expect(rolledBack.chat.content.description).toContain(`*Release:* \`${w.initialKey}\``);
});

test('without a chat topic nothing is posted to chat, and the email is unchanged', async () => {
  const w = await chatWorld();
  delete w.world.runtime.settings.chatTopicArn;
  const execution = newExecution();
  await uploadExecutionBuild(w.world, execution);
  await deploy(w.world, execution);
  expect(onlyOne(await inbox(w.world)).body).toMatch(/^A new release is being deployed\.\n/);
  expect(await w.readChat()).toEqual([]);
});
