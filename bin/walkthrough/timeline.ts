/**
 * The walkthrough's timeline (`npm start`): the lines it prints, and what it reads back from the emulator to
 * show — the ops inbox, the dev stack, a desired version with its labels, a change set.
 */
import { DescribeChangeSetCommand } from '@aws-sdk/client-cloudformation';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import type { createClients } from '../../shared/aws/clients';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import type { Stage } from '../../shared/edge/stages';
import { readInbox } from '../support/example-world';

/** What the timeline looks at: the emulator's clients, the ops inbox (a queue on the topic), the dev stage. */
export interface Scene {
  clients: ReturnType<typeof createClients>;
  sqs: SQSClient;
  queueUrl: string;
  dev: Stage;
}

export const say = (line = '') => process.stdout.write(`${line}\n`);

const indent = (text: string, by = '     ') =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `${by}${l}`)
    .join('\n');

export const showStack = async (scene: Scene, note: string) => {
  const stack = await describeStack(scene.clients.cfn, scene.dev.stack);
  say(
    `   stack ${scene.dev.stack} ${note}: ${scene.dev.stackParameter} = ${stack ? stackParameterValue(stack, scene.dev.stackParameter) : '?'}`,
  );
};

export const showInbox = async (scene: Scene, title: string, detail: 'full' | 'subjects') => {
  const inbox = await readInbox(scene.sqs, scene.queueUrl);
  say(`\n   ${title}: ${inbox.length} new message(s)`);
  for (const message of inbox) {
    if (detail === 'subjects') {
      say(`     Subject: ${message.subject}`);
      continue;
    }
    say(`   ----`);
    say(`     Subject: ${message.subject}`);
    say(
      `     Attributes: ${Object.entries(message.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
    say(indent(message.body));
  }
};

export const describeDesired = async (clients: Scene['clients'], parameter: string, version?: number) => {
  const history = await clients.ssm.send(new GetParameterHistoryCommand({ Name: parameter, MaxResults: 50 }));
  const entry = history.Parameters?.find((p) => p.Version === version);
  say(`     desired      ${parameter} version ${version} (labels: ${entry?.Labels?.join(', ') || 'none'})`);
};

export const describeChangeSet = async (clients: Scene['clients'], stack: string, name: string) => {
  const cs = await clients.cfn.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: name }));
  say(`     change set   ${name} (${cs.Status}, ${cs.ExecutionStatus})`);
};
