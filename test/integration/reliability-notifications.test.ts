/**
 * Reliability: each event reported once, against moto (the notification ledger in a real DynamoDB table, the
 * ops topic read back from its SQS inbox). The same notify event delivered three times (one after another,
 * and at once), a missing-artifact deploy event twice, a status event and a schedule event twice to the
 * reconcile trigger, answers of the ledger lost; and a storm of 1,000 refused UpdateStack calls on one
 * stack, which reaches the ops team as three messages and, once its window has closed, one digest.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { LostAs } from '../../bin/support/aws-proxy';
import { type Clients, createClients } from '../../shared/aws/clients';
import { CLAIM_STALE_MS, RETENTION_SECONDS } from '../../shared/messages/ledger';
import { ledgerKeys } from '../../shared/messages/ledger-keys';
import type { Runtime } from '../../shared/runtime';
import { SENT_ONE_BY_ONE, WINDOW_MS } from '../../shared/triggers/api-call-storm';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { handleStackNotification, type NotifySummary } from '../../shared/triggers/notify';
import { handleReconcileTrigger } from '../../shared/triggers/reconcile';
import { proxyOfFile } from './helpers/reliability';
import {
  type CloudTrailEvent,
  cloudTrailEvent,
  consoleToken,
  recordRelease,
  type StackTarget,
  scheduleEvent,
  stackStatusEvent,
  withTarget,
} from './helpers/stack-events';
import {
  bodyField,
  hoursAfterBase,
  inbox,
  newExecution,
  pipelineEvent,
  REGION,
  type StageNames,
  type World,
} from './helpers/world';

jest.setTimeout(120_000);

const aws = proxyOfFile();

interface StackWorld {
  world: World;
  stage: StageNames;
  target: StackTarget;
}

/** A world whose dev stack runs its initial release. */
const stackWorld = async (): Promise<StackWorld> => withTarget(await aws.worlds.withStack());

/** The same event, delivered as a fresh copy each time (as EventBridge and Lambda's retries do). */
const copies = <T>(event: T, n: number): T[] => Array.from({ length: n }, () => structuredClone(event));

const notified = (summaries: NotifySummary[]) => summaries.filter((s) => s.verdict === 'notified');

/** A refused UpdateStack call by dana on the stack, at this time. */
const refusedUpdate = (target: StackTarget, time: string): CloudTrailEvent => {
  const event = cloudTrailEvent('cloudtrail-update-stack-failed.json', target);
  event.time = time.replace(/\.\d+Z$/, 'Z');
  event.detail.eventTime = event.time;
  return event;
};

/** Run `work` over the items with at most `width` running at once. */
const inParallel = async <T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
};

describe('the notify trigger: one message per event', () => {
  test('a stack status event delivered 3 times, then another 3 times at once: 1 message each', async () => {
    const { world, stage, target } = await stackWorld();
    const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });

    const inTurn: NotifySummary[] = [];
    for (const copy of copies(event, 3)) inTurn.push(await handleStackNotification(world.runtime, copy));

    expect(inTurn.map((s) => s.verdict)).toEqual(['notified', 'ignored', 'ignored']);
    expect(inTurn[2]).toEqual({
      verdict: 'ignored',
      reason: 'already reported (the same event delivered again)',
      stack: stage.stack,
    });
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} UPDATE_COMPLETE`,
    ]);

    const other = stackStatusEvent('stack-update-rollback-complete.json', target, { token: consoleToken() });
    const atOnce = await Promise.all(
      copies(other, 3).map((copy) => handleStackNotification(world.runtime, copy)),
    );

    expect(notified(atOnce)).toHaveLength(1);
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} UPDATE_ROLLBACK_COMPLETE`,
    ]);
  });

  test('an API-call event delivered 3 times: 1 message', async () => {
    const { world, target } = await stackWorld();
    const event = cloudTrailEvent('cloudtrail-update-stack.json', target);

    const summaries: NotifySummary[] = [];
    for (const copy of copies(event, 3)) summaries.push(await handleStackNotification(world.runtime, copy));

    expect(summaries.map((s) => s.verdict)).toEqual(['notified', 'ignored', 'ignored']);
    expect(await inbox(world)).toHaveLength(1);
  });

  test.each<LostAs>(['serverError', 'reset'])(
    'the claim lands but its answer is lost (%s): read back as ours, the message goes out once',
    async (as) => {
      const { world, target } = await stackWorld();
      const runtime = aws.runtime(world.runtime);
      const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
      aws.proxy.reset();
      aws.proxy.setFaults({ lost: { 'dynamodb.PutItem': { next: 1, as } } });

      const first = await handleStackNotification(runtime, structuredClone(event));
      const again = await handleStackNotification(runtime, structuredClone(event));
      aws.proxy.setFaults({});

      expect(aws.proxy.injected().lost).toBe(1);
      expect([first.verdict, again.verdict]).toEqual(['notified', 'ignored']);
      expect(await inbox(world)).toHaveLength(1);
    },
  );

  test('a claim left by a sender that died (older than any function runs) is taken over: the message goes out', async () => {
    const { world, target } = await stackWorld();
    const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
    const stale = Date.now() - CLAIM_STALE_MS - 1_000;
    // What a sender killed between its claim and its publish leaves behind.
    await world.clients.ddb.send(
      new PutItemCommand({
        TableName: world.ledgerTable,
        Item: {
          id: { S: ledgerKeys.stackEvent(event.id) },
          state: { S: 'sending' },
          owner: { S: 'a-sender-that-died' },
          claimedAt: { N: String(stale) },
          expiresAt: { N: String(Math.floor(stale / 1000) + RETENTION_SECONDS) },
        },
      }),
    );

    const summary = await handleStackNotification(world.runtime, event);

    expect(summary.verdict).toBe('notified');
    expect(await inbox(world)).toHaveLength(1);
  });
});

describe('the deploy trigger: a missing build reported once', () => {
  test('the pipeline event of an execution without its build, delivered twice: 1 FAILED message', async () => {
    const { world, stage } = await stackWorld();
    const event = pipelineEvent(world, newExecution(hoursAfterBase(0)));

    const first = await handlePipelineEvent(world.runtime, structuredClone(event));
    const again = await handlePipelineEvent(world.runtime, structuredClone(event));

    expect(first.stages[0]).toMatchObject({ outcome: 'failed', notified: true });
    expect(again.stages[0]).toMatchObject({ outcome: 'failed', notified: false });
    const messages = await inbox(world);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.subject).toMatch(new RegExp(`^\\[${stage.name}\\] ${stage.stack} FAILED`));
  });
});

describe('the reconcile trigger: its announcements once per event', () => {
  /**
   * CloudFormation finds nothing to change in a change set that only changes a parameter no resource uses;
   * moto computes changes for every parameter. This client hears AWS's answer for every change set.
   */
  const clientsFindingNoChanges = (): Clients => {
    const made = aws.adopt(createClients(REGION));
    made.cfn.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'DescribeChangeSetCommand') {
          Object.assign(result.output as object, {
            Status: 'FAILED',
            ExecutionStatus: 'UNAVAILABLE',
            StatusReason:
              "The submitted information didn't contain changes. Submit different information to create a change set.",
            Changes: [],
          });
        }
        return result;
      },
      { step: 'initialize', name: 'noChangesFound' },
    );
    return made;
  };

  /** dev runs its initial release; a newer one is desired, and CloudFormation finds nothing to change. */
  const noChangeWorld = async (): Promise<StackWorld & { runtime: Runtime }> => {
    const found = await stackWorld();
    await recordRelease(found.world, newExecution(hoursAfterBase(1)));
    return { ...found, runtime: { ...found.world.runtime, clients: clientsFindingNoChanges() } };
  };

  test('a status event delivered twice: "no change" said once', async () => {
    const { world, stage, target, runtime } = await noChangeWorld();
    const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });

    const first = await handleReconcileTrigger(runtime, structuredClone(event));
    const again = await handleReconcileTrigger(runtime, structuredClone(event));

    expect(first).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'no-change', notified: true },
    ]);
    expect(again).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'no-change', notified: false },
    ]);
    const messages = await inbox(world);
    expect(messages.map((m) => m.attributes.outcome)).toEqual(['no-change']);
    expect(bodyField(messages[0]?.body ?? '', 'Triggered by')).toBe(
      `stack ${stage.stack} reached UPDATE_COMPLETE`,
    );
  });

  test('a schedule event delivered twice: its announcements once', async () => {
    const { world, stage, runtime } = await noChangeWorld();
    const schedule = scheduleEvent();

    const first = await handleReconcileTrigger(runtime, structuredClone(schedule));
    const again = await handleReconcileTrigger(runtime, structuredClone(schedule));

    expect(first).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'no-change', notified: true },
    ]);
    expect(again).toEqual([
      { verdict: 'reconciled', stage: stage.name, outcome: 'no-change', notified: false },
    ]);
    expect(await inbox(world)).toHaveLength(1);
  });
});

describe('an API-call storm on one stack', () => {
  /** 10:00 UTC on the world's day: the start of a window. */
  const WINDOW = Date.parse('2026-11-20T10:00:00.000Z');
  const at = (ms: number) => new Date(ms).toISOString();
  const CALLS = 1_000;

  test('1,000 refused UpdateStack calls in one window: 3 messages, then one digest that says 997 were folded', async () => {
    const { world, stage, target } = await stackWorld();
    // Spread over the window, delivered 20 at a time in a shuffled order.
    const events = Array.from({ length: CALLS }, (_, i) =>
      refusedUpdate(target, at(WINDOW + Math.floor((i * (WINDOW_MS - 1_000)) / CALLS))),
    ).sort(() => Math.random() - 0.5);

    const summaries = await inParallel(events, 20, (event) => handleStackNotification(world.runtime, event));

    expect(notified(summaries)).toHaveLength(SENT_ONE_BY_ONE);
    expect(summaries.filter((s) => s.reason?.startsWith('folded'))).toHaveLength(CALLS - SENT_ONE_BY_ONE);
    const storm = await inbox(world);
    expect(storm.map((m) => m.subject)).toEqual(
      Array.from(
        { length: SENT_ONE_BY_ONE },
        () => `[${stage.name}] ${stage.stack} UpdateStack REFUSED by dana`,
      ),
    );
    expect(
      storm.filter((m) => m.body.includes('not sent one by one: one digest after 10:10 UTC')),
    ).toHaveLength(1);

    // A redelivered call of the storm adds nothing.
    const redelivered = await handleStackNotification(world.runtime, structuredClone(events[0]));
    expect(redelivered.verdict).toBe('ignored');
    expect(await inbox(world)).toEqual([]);

    // The schedule after the window closed sends the digest; its redelivery and the next run do not.
    const schedule = { ...scheduleEvent(), time: at(WINDOW + 2 * WINDOW_MS) };
    await handleReconcileTrigger(world.runtime, schedule);
    const [digest, ...more] = await inbox(world);
    expect(more).toEqual([]);
    expect(digest?.subject).toBe(
      `[${stage.name}] ${stage.stack} ${CALLS - SENT_ONE_BY_ONE} more API calls folded (10:00-10:10 UTC)`,
    );
    const body = digest?.body ?? '';
    expect(bodyField(body, 'Folded')).toBe(`${CALLS - SENT_ONE_BY_ONE} calls`);
    expect(bodyField(body, 'Refused')).toBe(`${CALLS} of the window's calls`);
    expect(bodyField(body, 'Calls')).toBe('"UpdateStack refused (ValidationError)"');
    expect(bodyField(body, 'Callers')).toBe('dana');
    expect(bodyField(body, 'Window')).toBe(`2026-11-20 10:00-10:10 UTC (${REGION})`);
    expect(digest?.attributes).toEqual({
      kind: 'api-call',
      stage: stage.name,
      stack: stage.stack,
      status: 'API_CALLS_FOLDED',
      severity: 'warning',
    });
    await handleReconcileTrigger(world.runtime, structuredClone(schedule));
    await handleReconcileTrigger(world.runtime, { ...scheduleEvent(), time: at(WINDOW + 3 * WINDOW_MS) });
    // The stack's next call, in a later window, is reported on its own: the digest went out already.
    await handleStackNotification(world.runtime, refusedUpdate(target, at(WINDOW + 4 * WINDOW_MS)));
    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} UpdateStack REFUSED by dana`,
    ]);
  });

  test("the stack's first call of a later window closes the window: the digest goes out before that call's message", async () => {
    const { world, stage, target } = await stackWorld();
    for (let i = 0; i < 10; i++) {
      await handleStackNotification(world.runtime, refusedUpdate(target, at(WINDOW + i * 1_000)));
    }
    expect(await inbox(world)).toHaveLength(SENT_ONE_BY_ONE);

    const later = refusedUpdate(target, at(WINDOW + WINDOW_MS + 5_000));
    await handleStackNotification(world.runtime, later);
    await handleStackNotification(world.runtime, structuredClone(later));
    await handleReconcileTrigger(world.runtime, { ...scheduleEvent(), time: at(WINDOW + 3 * WINDOW_MS) });

    expect((await inbox(world)).map((m) => m.subject)).toEqual([
      `[${stage.name}] ${stage.stack} 7 more API calls folded (10:00-10:10 UTC)`,
      `[${stage.name}] ${stage.stack} UpdateStack REFUSED by dana`,
    ]);
  });
});
