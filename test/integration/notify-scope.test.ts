/**
 * What the notify trigger reports, against moto: only the configured stages' stacks unless
 * `notifications.allStacks`, nothing for a muted stage, `*_IN_PROGRESS` only with
 * `notifications.inProgress`, API calls unless `notifications.apiCalls: false`, and not the deployer's own
 * calls. The configuration variants go through the YAML and the schema; the inbox is the real topic's queue.
 */
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackNotification } from '../../shared/triggers/notify';
import { uploadedBuild, worldsOfFile } from './helpers/file-setup';
import {
  cloudTrailEvent,
  consoleToken,
  createOtherStack,
  runtimeWith,
  type StackTarget,
  stackStatusEvent,
  withTarget,
} from './helpers/stack-events';
import { bodyField, inbox, pipelineEvent, REGION, type StageNames, type World } from './helpers/world';

jest.setTimeout(60_000);

let world: World;
let stage: StageNames;
/** The dev stage's stack. */
let dev: StackTarget;
/** A stack of the same account and region that no stage owns. */
let other: StackTarget;

const worlds = worldsOfFile();
beforeAll(async () => {
  ({ world, stage, target: dev } = await withTarget(await worlds.withStack()));
  other = await createOtherStack(world, `it-${world.id}-other`);
});

beforeEach(async () => {
  await inbox(world); // each test reads only its own messages
});

describe('stacks outside the configuration', () => {
  test('are not reported by default', async () => {
    const status = await handleStackNotification(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', other, { token: consoleToken() }),
    );
    const call = await handleStackNotification(
      world.runtime,
      cloudTrailEvent('cloudtrail-update-stack.json', other),
    );

    for (const summary of [status, call]) {
      expect(summary).toEqual({
        verdict: 'ignored',
        reason: 'not the stack of a configured stage',
        stack: other.stack,
      });
    }
    expect(await inbox(world)).toEqual([]);
  });

  test('are reported with allStacks: true, as not a configured stage', async () => {
    const runtime = runtimeWith(world, { notifications: { allStacks: true } });
    const token = consoleToken();

    await handleStackNotification(runtime, stackStatusEvent('stack-update-complete.json', other, { token }));
    await handleStackNotification(runtime, cloudTrailEvent('cloudtrail-update-stack.json', other));

    const messages = await inbox(world);
    expect(messages.map((m) => m.subject).sort()).toEqual(
      [
        `${other.stack} UPDATE_COMPLETE`,
        `${other.stack} UpdateStack by PlatformOps (session kim@example.com)`,
      ].sort(),
    );
    for (const message of messages) {
      expect(message.attributes).toMatchObject({ stage: '-', stack: other.stack });
      expect(bodyField(message.body, 'Stage')).toBe('(not a configured stage)');
    }
    const status = messages.find((m) => m.attributes.kind === 'stack-status');
    const body = status?.body ?? '';
    expect(bodyField(body, 'Started by')).toBe(`a person in the AWS console (${token})`);
    // No stage: no release history and no artifact parameter to read.
    expect(bodyField(body, 'Release')).toBeUndefined();
    expect(bodyField(body, 'Running now')).toBeUndefined();
    expect(bodyField(body, 'Next')).toBe(
      `check it with aws cloudformation describe-stacks --stack-name ${other.stack} --region ${REGION}.`,
    );
  });
});

describe('a muted stage', () => {
  test('gets no stack messages, even with allStacks, but its deploy outcomes are still reported', async () => {
    const runtime = runtimeWith(world, {
      notifications: { allStacks: true },
      stages: { dev: { mute: true } },
    });

    const summaries = [
      await handleStackNotification(runtime, stackStatusEvent('stack-update-complete.json', dev)),
      await handleStackNotification(runtime, stackStatusEvent('stack-update-rollback-complete.json', dev)),
      await handleStackNotification(runtime, cloudTrailEvent('cloudtrail-update-stack.json', dev)),
      await handleStackNotification(runtime, cloudTrailEvent('cloudtrail-update-stack-failed.json', dev)),
    ];

    for (const summary of summaries) {
      expect(summary).toEqual({
        verdict: 'ignored',
        reason: `stage ${stage.name} is muted`,
        stack: dev.stack,
      });
    }
    expect(await inbox(world)).toEqual([]);

    const { execution } = await uploadedBuild(world);
    await handlePipelineEvent(runtime, pipelineEvent(world, execution));
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} DEPLOYING ${execution.commitId.slice(0, 7)}`,
    ]);
  });

  test('an unmuted stage of the same configuration is reported', async () => {
    const summary = await handleStackNotification(
      world.runtime,
      stackStatusEvent('stack-update-complete.json', dev),
    );
    expect(summary.verdict).toBe('notified');
    expect((await inbox(world)).map((m) => m.attributes.stage)).toEqual([stage.name]);
  });
});

describe('in-progress statuses', () => {
  test('are not reported by default, and are with inProgress: true', async () => {
    const event = stackStatusEvent('stack-update-complete.json', dev, { status: 'UPDATE_IN_PROGRESS' });

    expect(await handleStackNotification(world.runtime, event)).toEqual({
      verdict: 'ignored',
      reason: 'in-progress status UPDATE_IN_PROGRESS',
      stack: dev.stack,
    });
    expect(await inbox(world)).toEqual([]);

    await handleStackNotification(runtimeWith(world, { notifications: { inProgress: true } }), event);
    const [message, ...rest] = await inbox(world);
    expect(rest).toEqual([]);
    expect(message?.subject).toMatch(new RegExp(`^\\[${stage.name}\\] ${dev.stack} UPDATE_IN_PROGRESS\\b`));
    expect(message?.attributes).toMatchObject({ status: 'UPDATE_IN_PROGRESS', severity: 'info' });
    expect(bodyField(message?.body ?? '', 'Next')).toBe(
      `wait for the outcome: aws cloudformation describe-stacks --stack-name ${dev.stack} --region ${REGION} --query "Stacks[0].StackStatus"`,
    );
  });
});

describe('API calls', () => {
  test('are not reported with apiCalls: false; status changes still are', async () => {
    const runtime = runtimeWith(world, { notifications: { apiCalls: false } });

    expect(
      await handleStackNotification(runtime, cloudTrailEvent('cloudtrail-update-stack.json', dev)),
    ).toEqual({
      verdict: 'ignored',
      reason: 'API call reports are off',
      stack: dev.stack,
    });
    expect(
      (await handleStackNotification(runtime, stackStatusEvent('stack-update-complete.json', dev))).verdict,
    ).toBe('notified');
    expect((await inbox(world)).map((m) => m.attributes.kind)).toEqual(['stack-status']);
  });

  test("the deployer's own role is not reported, unless AWS refused its call", async () => {
    const runtime = runtimeWith(world, {}, { ownRoles: ['PlatformOps'] });
    const refused = cloudTrailEvent('cloudtrail-update-stack.json', dev);
    refused.detail.errorCode = 'ValidationError';
    refused.detail.errorMessage = 'No updates are to be performed.';

    expect(
      await handleStackNotification(runtime, cloudTrailEvent('cloudtrail-update-stack.json', dev)),
    ).toEqual({
      verdict: 'ignored',
      reason: 'a call of the deployer itself (its deploy message reports it)',
      stack: dev.stack,
    });
    await handleStackNotification(runtime, refused);

    const messages = await inbox(world);
    expect(messages.map((m) => m.subject)).toEqual([
      `[${stage.name}] ${dev.stack} UpdateStack REFUSED by PlatformOps (session kim@example.com)`,
    ]);
    expect(bodyField(messages[0]?.body ?? '', 'Result')).toBe(
      'refused: ValidationError: "No updates are to be performed."',
    );
  });

  test('a call that starts no stack operation is ignored', async () => {
    const event = cloudTrailEvent('cloudtrail-update-stack.json', dev);
    event.detail.eventName = 'DescribeStacks';
    expect(await handleStackNotification(world.runtime, event)).toEqual({
      verdict: 'ignored',
      reason: 'an API call that does not start a stack operation',
    });
    expect(await inbox(world)).toEqual([]);
  });
});

describe('malformed events', () => {
  test('an event from another region is rejected and reported to nobody', async () => {
    const event = { ...stackStatusEvent('stack-update-complete.json', dev), region: 'eu-west-1' };
    const summary = await handleStackNotification(world.runtime, event);
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain('eu-west-1');
    expect(await inbox(world)).toEqual([]);
  });
});
