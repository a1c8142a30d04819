/**
 * The notify trigger against moto: stack status changes of a stack the deployer deployed, and CloudTrail
 * API calls on a stage's stack, become one message each on the real ops topic, read back from the SQS
 * queue subscribed to it. The events are the samples of events/ aimed at the real stack.
 */

import { consoleLink } from '../../shared/messages/notification';
import { handleStackNotification } from '../../shared/triggers/notify';
import { onlyMessage, worldsOfFile } from './helpers/file-setup';
import { runTokenOf } from './helpers/runs';
import {
  ACCESS_KEY_ID,
  cloudTrailEvent,
  consoleToken,
  messageAttributes,
  stackStatusEvent,
  withTarget,
} from './helpers/stack-events';
import {
  artifactKeyOf,
  bodyField,
  changeSetsOf,
  inbox,
  parameterHistory,
  REGION,
  stackOf,
  stageOf,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();

/** A dev stack running an initial release, then a build the deployer deployed (desired version 2). */
const deployedWorld = async () => withTarget(await worlds.deployed());

/** A stage stack with no deploy of ours yet. */
const stackWorld = async () => withTarget(await worlds.withStack());

/** The whole message as one string, to search for what must never be in it. */
const everything = (message: { subject: string; body: string; attributes: Record<string, string> }) =>
  [message.subject, message.body, ...Object.values(message.attributes)].join('\n');

describe('stack status changes', () => {
  test("UPDATE_COMPLETE of the deployer's change set: subject, body lines and attributes", async () => {
    const { world, stage, target, execution, releaseKey } = await deployedWorld();
    const token = await runTokenOf(world, 'dev', 2);
    const event = stackStatusEvent('stack-update-complete.json', target, {
      token,
      time: '2026-11-20T10:17:05Z',
    });
    const historyBefore = await parameterHistory(world, stage.ssmParameter);
    const changeSetsBefore = await changeSetsOf(world, stage.stack);

    const summary = await handleStackNotification(world.runtime, event);

    const subject = `[${stage.name}] ${stage.stack} UPDATE_COMPLETE ${execution.commitId.slice(0, 7)}`;
    expect(summary).toEqual({ verdict: 'notified', stack: stage.stack, subject });
    const message = await onlyMessage(world);
    expect(message.subject).toBe(subject);
    expect(message.attributes).toEqual(messageAttributes('stack-status', stage, 'UPDATE_COMPLETE', 'info'));
    const body = message.body;
    expect(body.split('\n')[0]).toBe('The stack update completed.');
    expect(bodyField(body, 'Stage')).toBe(stage.name);
    expect(bodyField(body, 'Stack')).toBe(stage.stack);
    expect(bodyField(body, 'Status')).toBe('UPDATE_COMPLETE');
    expect(bodyField(body, 'Started by')).toBe(`the deployer (run ${token})`);
    expect(bodyField(body, 'Release')).toBe(`${releaseKey} (desired version 2)`);
    expect(bodyField(body, 'Commit')).toBe(execution.commitId);
    expect(bodyField(body, 'Running now')).toBe(releaseKey);
    expect(bodyField(body, 'When')).toBe(`2026-11-20 10:17:05 UTC (${REGION})`);
    expect(bodyField(body, 'Console')).toBe(consoleLink(REGION, target.stackId));
    expect(bodyField(body, 'Console')).toContain(encodeURIComponent(target.stackId));
    // The sample's empty status reason is left out; a success has no root cause and no failed release.
    for (const absent of ['Reason', 'Root cause', 'Failed release'])
      expect(bodyField(body, absent)).toBeUndefined();
    expect(bodyField(body, 'Next')).toBe(
      `check it with aws cloudformation describe-stacks --stack-name ${stage.stack} --region ${REGION}. To roll back: npx deployer rollback ${stage.name} (see its history first: npx deployer history ${stage.name}).`,
    );

    // Reporting changes nothing.
    expect(await parameterHistory(world, stage.ssmParameter)).toEqual(historyBefore);
    expect(await changeSetsOf(world, stage.stack)).toEqual(changeSetsBefore);
    expect(artifactKeyOf(await stackOf(world, stage.stack))).toBe(releaseKey);
  });

  test('an update started in the console: the release is found by what the stack runs', async () => {
    const { world, stage, target, execution, releaseKey } = await deployedWorld();
    const token = consoleToken();

    await handleStackNotification(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token }),
    );

    const message = await onlyMessage(world);
    expect(message.subject).toBe(
      `[${stage.name}] ${stage.stack} UPDATE_COMPLETE ${execution.commitId.slice(0, 7)}`,
    );
    const body = message.body;
    expect(bodyField(body, 'Started by')).toBe(`a person in the AWS console (${token})`);
    expect(bodyField(body, 'Release')).toBe(`${releaseKey} (desired version 2)`);
    expect(bodyField(body, 'Running now')).toBe(releaseKey);
  });

  test('an event without a client request token says the starter is not recorded', async () => {
    const { world, target, initialKey } = await stackWorld();

    await handleStackNotification(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', target, { token: null }),
    );

    const [message] = await inbox(world);
    const body = message?.body ?? '';
    expect(bodyField(body, 'Started by')).toBe(
      'not recorded in the event (see the API call message for this stack)',
    );
    // The initial release's provenance names no commit: none in the subject or the body.
    expect(bodyField(body, 'Release')).toBe(`${initialKey} (desired version 1)`);
    expect(bodyField(body, 'Commit')).toBeUndefined();
    expect(message?.subject).toBe(`[${stageOf(world).name}] ${target.stack} UPDATE_COMPLETE`);
  });
});

describe('CloudTrail API calls', () => {
  test('UpdateStack by an assumed role names the role and the session, never the access key', async () => {
    const { world, stage, target } = await stackWorld();
    const event = cloudTrailEvent('cloudtrail-update-stack.json', target);
    expect(JSON.stringify(event)).toMatch(ACCESS_KEY_ID); // the sample carries one

    const summary = await handleStackNotification(world.runtime, event);

    const subject = `[${stage.name}] ${stage.stack} UpdateStack by PlatformOps (session kim@example.com)`;
    expect(summary).toEqual({ verdict: 'notified', stack: stage.stack, subject });
    const message = await onlyMessage(world);
    expect(message.subject).toBe(subject);
    expect(message.attributes).toEqual(messageAttributes('api-call', stage, 'UpdateStack', 'info'));
    const body = message.body;
    expect(body.split('\n')[0]).toBe(
      `PlatformOps (session kim@example.com) called UpdateStack on ${stage.stack}.`,
    );
    expect(bodyField(body, 'Stage')).toBe(stage.name);
    expect(bodyField(body, 'Stack')).toBe(stage.stack);
    expect(bodyField(body, 'Call')).toBe('UpdateStack');
    expect(bodyField(body, 'Caller')).toBe('PlatformOps (session kim@example.com) (AssumedRole)');
    expect(bodyField(body, 'Caller ARN')).toBe('arn:aws:iam::123456789012:role/PlatformOps');
    expect(bodyField(body, 'Result')).toBe('accepted');
    expect(bodyField(body, 'When')).toBe(`2026-11-20 11:38:51 UTC (${REGION})`);
    expect(bodyField(body, 'Console')).toBe(consoleLink(REGION, target.stackId));
    expect(bodyField(body, 'Next')).toBe('a second message reports how the operation ends.');
    expect(everything(message)).not.toMatch(ACCESS_KEY_ID);
    expect(everything(message)).not.toContain('ASIAEXAMPLEKEY123456');
  });

  test('a refused UpdateStack says REFUSED with AWS’s error message', async () => {
    const { world, stage, target } = await stackWorld();
    const event = cloudTrailEvent('cloudtrail-update-stack-failed.json', target);
    const stackBefore = await stackOf(world, stage.stack);

    const summary = await handleStackNotification(world.runtime, event);

    const subject = `[${stage.name}] ${stage.stack} UpdateStack REFUSED by dana`;
    expect(summary).toMatchObject({ verdict: 'notified', subject });
    const message = await onlyMessage(world);
    expect(message.subject).toBe(subject);
    expect(message.attributes).toEqual(
      messageAttributes('api-call', stage, 'UpdateStack_REFUSED', 'warning'),
    );
    const body = message.body;
    expect(body.split('\n')[0]).toBe(`dana called UpdateStack on ${stage.stack}, and AWS refused it.`);
    expect(bodyField(body, 'Result')).toBe(
      `refused: ValidationError: "Stack:${target.stackId} is in UPDATE_ROLLBACK_FAILED state and can not be updated."`,
    );
    expect(bodyField(body, 'Caller')).toBe('dana (IAMUser)');
    expect(bodyField(body, 'Caller ARN')).toBe('arn:aws:iam::123456789012:user/dana');
    // A refused call has no response, so no stack id for a console link.
    expect(bodyField(body, 'Console')).toBeUndefined();
    expect(bodyField(body, 'Next')).toMatch(/^the stack did not change\./);
    expect(everything(message)).not.toMatch(ACCESS_KEY_ID);
    expect(everything(message)).not.toContain('AKIAIOSFODNN7EXAMPLE');
    // Only a report: the stack is as it was.
    expect((await stackOf(world, stage.stack))?.LastUpdatedTime).toEqual(stackBefore?.LastUpdatedTime);
  });

  test('ExecuteChangeSet by a person names the change set from its ARN', async () => {
    const { world, stage, target } = await stackWorld();

    await handleStackNotification(
      world.runtime,
      cloudTrailEvent('cloudtrail-execute-change-set.json', target),
    );

    const [message] = await inbox(world);
    expect(message?.subject).toBe(
      `[${stage.name}] ${stage.stack} ExecuteChangeSet by PlatformOps (session kim@example.com)`,
    );
    expect(bodyField(message?.body ?? '', 'Call')).toBe('ExecuteChangeSet (change set deploy-prod-v7)');
  });
});
