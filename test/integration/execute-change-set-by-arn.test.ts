/**
 * ExecuteChangeSet called with the change set's ARN alone: CloudTrail's event then names no stack (the ARN
 * does not contain the stack's name, and responseElements is null), so the notify trigger asks
 * DescribeChangeSet. Against moto: a real stack and change set, executed by ARN, the CloudTrail event AWS
 * would send for it (events/cloudtrail-execute-change-set-by-arn.json), and the ops inbox read back.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateChangeSetCommand,
  ExecuteChangeSetCommand,
  waitForChangeSetCreateComplete,
} from '@aws-sdk/client-cloudformation';
import { consoleLink } from '../../shared/messages/notification';
import { handleStackNotification } from '../../shared/triggers/notify';
import { worldsOfFile } from './helpers/file-setup';
import { type CloudTrailEvent, targetOf } from './helpers/stack-events';
import { ACCOUNT, bodyField, inbox, REGION, stageOf, type World } from './helpers/world';

jest.setTimeout(300_000);

const SAMPLE = join(__dirname, '..', '..', 'events', 'cloudtrail-execute-change-set-by-arn.json');

const worlds = worldsOfFile();
let world: World;

/** A change set on the stage's stack that changes one parameter, created on moto; returns its ARN. */
const createChangeSet = async (name: string): Promise<string> => {
  const stage = stageOf(world);
  const { Id } = await world.clients.cfn.send(
    new CreateChangeSetCommand({
      StackName: stage.stack,
      ChangeSetName: name,
      ChangeSetType: 'UPDATE',
      TemplateURL: `https://${world.bucket}.s3.amazonaws.com/${world.templateKey}`,
      Capabilities: ['CAPABILITY_IAM'],
      Parameters: [
        { ParameterKey: 'Stage', ParameterValue: 'hotfix' },
        { ParameterKey: 'ArtifactBucket', UsePreviousValue: true },
        { ParameterKey: 'ArtifactKey', UsePreviousValue: true },
      ],
    }),
  );
  if (!Id) throw new Error('moto returned no change set id');
  await waitForChangeSetCreateComplete(
    { client: world.clients.cfn, maxWaitTime: 120 },
    { ChangeSetName: Id },
  );
  return Id;
};

/** What CloudTrail records for ExecuteChangeSet by ARN: the sample, aimed at this change set. */
const executedByArn = (changeSetArn: string): CloudTrailEvent => {
  const event = JSON.parse(readFileSync(SAMPLE, 'utf8')) as CloudTrailEvent;
  event.id = randomUUID();
  event.account = ACCOUNT;
  event.region = REGION;
  event.detail.awsRegion = REGION;
  event.detail.requestParameters = { changeSetName: changeSetArn };
  expect(event.detail.responseElements).toBeNull();
  return event;
};

test('names the stack from DescribeChangeSet and reports who executed the change set', async () => {
  ({ world } = await worlds.withStack());
  const stage = stageOf(world);
  const target = await targetOf(world);
  const name = `hotfix-${world.id}`;
  const changeSetArn = await createChangeSet(name);
  expect(changeSetArn).toMatch(
    new RegExp(`^arn:aws:cloudformation:${REGION}:${ACCOUNT}:changeSet/${name}/[-a-zA-Z0-9]+$`),
  );
  // The call as a person makes it: the ARN alone, no stack name.
  await world.clients.cfn.send(new ExecuteChangeSetCommand({ ChangeSetName: changeSetArn }));

  const summary = await handleStackNotification(world.runtime, executedByArn(changeSetArn));

  expect(summary).toMatchObject({ verdict: 'notified', stack: stage.stack });
  const messages = await inbox(world);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  expect(message?.subject).toBe(
    `[${stage.name}] ${stage.stack} ExecuteChangeSet by PlatformOps (session kim@example.com)`,
  );
  expect(message?.body.split('\n')[0]).toBe(
    `PlatformOps (session kim@example.com) called ExecuteChangeSet on ${stage.stack}.`,
  );
  expect(bodyField(message?.body ?? '', 'Call')).toBe(`ExecuteChangeSet (change set ${name})`);
  expect(bodyField(message?.body ?? '', 'Console')).toBe(consoleLink(REGION, target.stackId));
  expect(message?.attributes).toMatchObject({ kind: 'api-call', stage: stage.name, stack: stage.stack });
});

test('a change set that no longer exists is ignored: nothing to retry, nothing sent', async () => {
  world ??= await worlds.create();
  const missing = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:changeSet/gone-${world.id}/${randomUUID()}`;
  const summary = await handleStackNotification(world.runtime, executedByArn(missing));
  expect(summary).toMatchObject({ verdict: 'ignored' });
  expect(summary.reason).toContain('no longer exists');
  expect(await inbox(world)).toEqual([]);
});
