/**
 * The walkthrough's chat step (`npm start`): with a chat topic (a queue on it stands in for the Slack or
 * Teams channel Amazon Q Developer would post to), a stack outcome goes out twice: as the email text to the
 * ops topic, and as a custom notification to the chat topic. The step prints the notification as JSON, and
 * as the chat client shows it.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeStack } from '../../shared/aws/stacks';
import { loadConfigFile } from '../../shared/edge/config';
import { readSettings } from '../../shared/edge/settings';
import { renderChat } from '../../shared/messages/chat/render';
import type { ChatNotification } from '../../shared/messages/chat/schema';
import type { Runtime } from '../../shared/runtime';
import { handleStackNotification } from '../../shared/triggers/notify';
import { createOpsInbox, readInbox } from '../support/example-world';
import { type Scene, say, showInbox } from './timeline';

const indent = (text: string, by = '     ') =>
  text
    .split('\n')
    .map((line) => `${by}${line}`)
    .join('\n');

/**
 * Step `step`: turn chat notifications on, and let CloudFormation report that the dev stack finished an
 * update a person started in the console. Needs the scene, the repository root (events/,
 * deployer.config.yaml) and the environment the walkthrough set (the ops topic and the ledger).
 */
export const chatNotifications = async (scene: Scene, root: string, step: string) => {
  const { clients, sqs, dev } = scene;
  say(`\n${step}. Chat notifications: the same messages, for a Slack or Microsoft Teams channel`);
  const chat = await createOpsInbox(clients.sns, sqs, 'deployer-chat');
  say(`   chat topic ${chat.topicArn} (template.yaml: ChatNotifications=true, output ChatTopicArn),`);
  say('   a queue on it stands in for the channel Amazon Q Developer in chat applications posts to');
  const runtime: Runtime = {
    settings: readSettings({ ...process.env, DEPLOYER_CHAT_TOPIC_ARN: chat.topicArn }),
    config: loadConfigFile(join(root, 'deployer.config.yaml')),
    clients,
  };
  const event = await statusEvent(scene, root, `Console-UpdateStack-${randomUUID()}`);
  say(`   CloudFormation reports ${dev.stack} UPDATE_COMPLETE of an update started in the console`);
  const reported = await handleStackNotification(runtime, event);
  say(`   notify: ${reported.verdict}`);
  await showInbox(scene, 'the ops inbox (email text, as before)', 'subjects');
  const posted = await readInbox(sqs, chat.queueUrl);
  say(`\n   the chat topic: ${posted.length} new message(s)`);
  for (const { body } of posted) {
    const notification = JSON.parse(body) as ChatNotification;
    say('   ---- as JSON (the SNS message Amazon Q Developer reads)');
    say(indent(JSON.stringify(notification, null, 2)));
    say('   ---- as the chat client shows it');
    say(indent(renderChat(notification)));
    say(
      `   thread ${notification.metadata.threadId}: the release the stack runs; its deploy, its outcomes and a rollback from it share it`,
    );
  }
};

/** CloudFormation's "Stack Status Change" event for the dev stack, as AWS would send it. */
const statusEvent = async (scene: Scene, root: string, token: string): Promise<unknown> => {
  const stack = await describeStack(scene.clients.cfn, scene.dev.stack);
  const sample = JSON.parse(readFileSync(join(root, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.id = randomUUID();
  sample.resources = [stack?.StackId];
  sample.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  sample.detail['stack-id'] = stack?.StackId;
  sample.detail['status-details'] = { status: 'UPDATE_COMPLETE', 'status-reason': '' };
  sample.detail['client-request-token'] = token;
  return sample;
};
