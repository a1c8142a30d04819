import {
  CreateChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
} from '@aws-sdk/client-cloudformation';
import { PublishCommand } from '@aws-sdk/client-sns';
import {
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import type { RunRecord } from '../../shared/aws/runs';
import { handleReconcileTrigger, handleStackSettled, reconcileAll } from '../../shared/triggers/reconcile';
import { awsError, makeRuntime, rejectionOf, repoConfigText, SAMPLE, TOPIC_ARN } from './helpers/fixtures';
import { malformedStackEvents } from './helpers/malformed-stack-events';
import { expectValidSubject, fieldOf, onlyMessage, publishedMessages } from './helpers/published';
import { TEMPLATE, tamper } from './helpers/releases';
import { appliedOf, givenApplied, givenRun, runRecordOf, runToken, runTokenPattern } from './helpers/runs';
import { runtimeWith } from './helpers/runtime-changes';
import { liveStack, NEW_KEY, NEW_RELEASE, NEWER_KEY, version } from './helpers/stack-builders';
import {
  apiCallEvent,
  PARAMETERS,
  type StatusChangeSample,
  scheduleEvent,
  statusEvent,
} from './helpers/stack-samples';
import { givenStackWorld, type StackWorld } from './helpers/stack-world';
import { expectNoAwsCall, mockAll, OLD_KEY, resetAll } from './helpers/world';

const mocks = mockAll();

const OLD_COMMIT = '0123456789abcdef0123456789abcdef01234567';
const NEWER_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

let world: StackWorld;
beforeEach(() => {
  resetAll(mocks);
  world = givenStackWorld(mocks);
});

/**
 * dev runs v2 (NEW_KEY, with the template v2 pins, as the deployer's applied record says) and v2 is
 * desired: in sync.
 */
const devInSync = (): void => {
  world.stacks['orders-api-dev'] = liveStack('dev', NEW_KEY, 'UPDATE_COMPLETE');
  world.history[PARAMETERS.dev] = [
    version('dev', 1, OLD_KEY, { commit: OLD_COMMIT }),
    version('dev', 2, NEW_KEY, {
      commit: SAMPLE.commitId,
      provenance: { artifact: NEW_RELEASE.sha256, template: TEMPLATE.sha256 },
    }),
  ];
  givenApplied(world.s3, 'dev', { version: 2, key: NEW_KEY, template: TEMPLATE.sha256 });
};

/** prod rolled back from v7 (NEW_KEY) to OLD_KEY; v7 is still the newest desired version. */
const prodRolledBack = (): void => {
  world.stacks['orders-api-prod'] = liveStack('prod', OLD_KEY, 'UPDATE_ROLLBACK_COMPLETE');
  world.history[PARAMETERS.prod] = [
    version('prod', 6, OLD_KEY, { commit: OLD_COMMIT }),
    version('prod', 7, NEW_KEY, { commit: SAMPLE.commitId }),
  ];
};

/** prod runs OLD_KEY, which is desired: in sync. */
const prodInSync = (): void => {
  world.stacks['orders-api-prod'] = liveStack('prod', OLD_KEY, 'UPDATE_COMPLETE');
  world.history[PARAMETERS.prod] = [version('prod', 6, OLD_KEY, { commit: OLD_COMMIT })];
};

/** The names of the commands a mock received, in order. */
const sentTo = (mock: (typeof mocks)['ssm'] | (typeof mocks)['cfn']): string[] =>
  mock.calls().map((call) => (call.args[0] as object).constructor.name);

const labelsOf = (stage: 'dev' | 'prod', number: number): string[] =>
  world.history[PARAMETERS[stage]]?.find((v) => v.Version === number)?.Labels ?? [];

/**
 * The deployer's run that deployed this version of the stage: on record in S3 (state 'executing' unless
 * told), with an unpredictable token. Returns the record.
 */
const ourRun = (stage: 'dev' | 'prod', number: number, fields: Partial<RunRecord> = {}): RunRecord => {
  const key = world.history[PARAMETERS[stage]]?.find((v) => v.Version === number)?.Value ?? NEW_KEY;
  return givenRun(world.s3, { stage, version: number, artifactKey: key, ...fields });
};

/** A copy of a status event sample that carries this request token. */
const withToken =
  (token: string) =>
  (event: StatusChangeSample): void => {
    event.detail['client-request-token'] = token;
  };

/** A status event of the deployer's run for this version (its run recorded first). */
const ourEvent = (name: Parameters<typeof statusEvent>[0], stage: 'dev' | 'prod', number: number) =>
  statusEvent(name, withToken(ourRun(stage, number).token));

describe('handleStackSettled: our deploy failed', () => {
  it("UPDATE_ROLLBACK_COMPLETE of the deployer's run for v7: labels v7 failed-v7, then reconciles", async () => {
    prodRolledBack();
    const raw = ourEvent('stack-update-rollback-complete', 'prod', 7);
    const summary = await handleStackSettled(runtimeWith(), raw);
    expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
      Name: PARAMETERS.prod,
      ParameterVersion: 7,
      Labels: ['failed-v7'],
    });
    // Labelled before reconcile reads the desired state (from the history), so it sees the label.
    const ssmCalls = sentTo(mocks.ssm);
    expect(ssmCalls.indexOf('LabelParameterVersionCommand')).toBeGreaterThanOrEqual(0);
    expect(ssmCalls.indexOf('LabelParameterVersionCommand')).toBeLessThan(
      ssmCalls.indexOf('GetParameterHistoryCommand'),
    );
    expect(mocks.cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'orders-api-prod' });
    expect(summary).toMatchObject({ verdict: 'reconciled', stage: 'prod', markedFailed: 7 });
  });

  it('the run is marked settled by the event that ended it', async () => {
    prodRolledBack();
    const run = ourRun('prod', 7);
    const raw = statusEvent('stack-update-rollback-complete', withToken(run.token));
    await handleStackSettled(runtimeWith(), raw);
    expect(runRecordOf(world.s3, 'prod', run.token)).toMatchObject({
      state: 'settled',
      settledBy: raw.id,
      settledStatus: 'UPDATE_ROLLBACK_COMPLETE',
    });
  });

  it('the failed label makes reconcile return blocked: no change set, no message', async () => {
    prodRolledBack();
    const summary = await handleStackSettled(
      runtimeWith(),
      ourEvent('stack-update-rollback-complete', 'prod', 7),
    );
    expect(summary).toEqual({
      verdict: 'reconciled',
      stage: 'prod',
      outcome: 'blocked',
      markedFailed: 7,
      notified: false,
    });
    expect(labelsOf('prod', 7)).toContain('failed-v7');
    // Reconcile read the failed mark with the history, after the label was put on.
    expect(mocks.ssm).toHaveReceivedCommandWith(GetParameterHistoryCommand, { Name: PARAMETERS.prod });
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('marks the failed version and deploys a newer desired one (prod: waits for approval, says so)', async () => {
    prodRolledBack();
    world.history[PARAMETERS.prod]?.push(version('prod', 8, NEWER_KEY, { commit: NEWER_COMMIT }));
    const summary = await handleStackSettled(
      runtimeWith(),
      ourEvent('stack-update-rollback-complete', 'prod', 7),
    );
    expect(summary).toMatchObject({ outcome: 'pending-approval', markedFailed: 7, notified: true });
    expect(labelsOf('prod', 7)).toContain('failed-v7');
    expect(labelsOf('prod', 8)).not.toContain('failed-v8');
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, { ChangeSetName: 'deploy-prod-v8' });
    expect(mocks.cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(onlyMessage(mocks).subject).toBe('[prod] orders-api-prod APPROVAL NEEDED fedcba9');
  });

  it.each<[Parameters<typeof statusEvent>[0], 'dev' | 'prod', number, string]>([
    ['stack-update-rollback-failed', 'prod', 8, 'UPDATE_ROLLBACK_FAILED'],
    ['stack-create-failed', 'dev', 1, 'CREATE_FAILED'],
    ['stack-rollback-complete', 'dev', 1, 'ROLLBACK_COMPLETE'],
  ])(
    '%s of our change set: labels the version, the stack needs a person, nothing published',
    async (name, stage, number, status) => {
      world.stacks[`orders-api-${stage}`] = liveStack(stage, OLD_KEY, status);
      world.history[PARAMETERS[stage]] = [version(stage, number, NEW_KEY)];
      const summary = await handleStackSettled(runtimeWith(), ourEvent(name, stage, number));
      expect(summary).toMatchObject({
        verdict: 'reconciled',
        stage,
        outcome: 'blocked',
        markedFailed: number,
      });
      expect(mocks.ssm).toHaveReceivedCommandWith(LabelParameterVersionCommand, {
        Name: PARAMETERS[stage],
        ParameterVersion: number,
        Labels: [`failed-v${number}`],
      });
      expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
      expect(mocks.sns).not.toHaveReceivedAnyCommand();
    },
  );
});

describe('handleStackSettled: failures that are not our deploy', () => {
  it.each<[string, () => string]>([
    ['a console token', () => 'Console-UpdateStack-1234'],
    ["another stage's change set", () => 'deploy-dev-v7'],
    ['a change set name that only looks like ours', () => 'deploy-prod-v07'],
    // The sample event's own token: it looks exactly like the deployer's old tokens, anyone can send it.
    ["the look-alike token deploy-prod-v7 (the deployer's change set name)", () => 'deploy-prod-v7'],
    ['a well-formed run token the deployer has no record of', () => runToken('prod', 7, 'forged')],
    ["another stage's run, recorded under that stage", () => ourRun('dev', 7).token],
    ['a run that was recorded but never executed', () => ourRun('prod', 7, { state: 'created' }).token],
    [
      'the token of a run another event already settled (reused on a later operation)',
      () => ourRun('prod', 7, { state: 'settled', settledBy: 'an-earlier-event' }).token,
    ],
  ])('with %s: labels nothing', async (_what, tokenOf) => {
    prodInSync();
    world.history[PARAMETERS.prod]?.push(version('prod', 7, NEW_KEY, { commit: SAMPLE.commitId }));
    world.stacks['orders-api-prod'] = liveStack('prod', NEW_KEY, 'UPDATE_ROLLBACK_COMPLETE');
    const raw = statusEvent('stack-update-rollback-complete', withToken(tokenOf()));
    const summary = await handleStackSettled(runtimeWith(), raw);
    expect(summary).toEqual({ verdict: 'reconciled', stage: 'prod', outcome: 'in-sync', notified: false });
    expect(summary).not.toHaveProperty('markedFailed');
    expect(mocks.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
    expect(labelsOf('prod', 7)).toEqual([]);
  });

  it('without a token: labels nothing', async () => {
    prodInSync();
    const raw = statusEvent('stack-update-rollback-complete', (e) => {
      delete e.detail['client-request-token'];
    });
    await handleStackSettled(runtimeWith(), raw);
    expect(mocks.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('a success of our change set: labels nothing', async () => {
    devInSync();
    const summary = await handleStackSettled(runtimeWith(), ourEvent('stack-update-complete', 'dev', 2));
    expect(summary).not.toHaveProperty('markedFailed');
    expect(mocks.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
  });

  it('a redelivery of the event that settled our run still acts on it (each step is idempotent)', async () => {
    prodRolledBack();
    const raw = statusEvent('stack-update-rollback-complete', (e) => {
      e.detail['client-request-token'] = ourRun('prod', 7, { state: 'settled', settledBy: e.id }).token;
    });
    const summary = await handleStackSettled(runtimeWith(), raw);
    expect(summary).toMatchObject({ markedFailed: 7 });
  });
});

describe('handleStackSettled: auto-promotion (promoteTo)', () => {
  /** The repository configuration, with dev handing what it deploys to prod. */
  const promoting = () => {
    const line = '        roleArn: arn:aws:iam::123456789012:role/orders-api-dev-cloudformation\n';
    const text = repoConfigText().replace(line, `${line}        promoteTo: [prod]\n`);
    const runtime = makeRuntime(text);
    expect(runtime.config.pipelines['orders-api-pipeline']?.stages.dev?.promoteTo).toEqual(['prod']);
    return runtime;
  };
  const prodVersions = () => world.history[PARAMETERS.prod]?.map((v) => v.Version);

  it("promotes the release of the deployer's own completed run, with its artifact and template", async () => {
    devInSync();
    prodInSync();
    const summary = await handleStackSettled(promoting(), ourEvent('stack-update-complete', 'dev', 2));
    expect(summary).toMatchObject({
      verdict: 'reconciled',
      stage: 'dev',
      outcome: 'in-sync',
      promoted: ['prod'],
    });
    const promoted = world.history[PARAMETERS.prod]?.at(-1);
    expect(promoted).toMatchObject({ Version: 7, Value: NEW_KEY });
    expect(JSON.parse(promoted?.Description ?? '{}')).toMatchObject({
      action: 'promote',
      from: 'dev',
      commit: SAMPLE.commitId,
      artifact: NEW_RELEASE.sha256,
      template: TEMPLATE.sha256,
    });
    // prod requires approval: its change set waits, and the ops team is asked.
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, { ChangeSetName: 'deploy-prod-v7' });
    expect(mocks.cfn).not.toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-prod',
    });
    expect(onlyMessage(mocks).subject).toBe('[prod] orders-api-prod APPROVAL NEEDED 1a2b3c4');
  });

  it.each<[string, () => string]>([
    ["the look-alike token deploy-dev-v2 (the sample's)", () => 'deploy-dev-v2'],
    ['a well-formed run token the deployer has no record of', () => runToken('dev', 2, 'forged')],
    ['a console token', () => 'Console-UpdateStack-1234'],
  ])('never promotes after an operation it did not start: %s', async (_what, tokenOf) => {
    devInSync();
    prodInSync();
    const raw = statusEvent('stack-update-complete', withToken(tokenOf()));
    const summary = await handleStackSettled(promoting(), raw);
    expect(summary).toEqual({ verdict: 'reconciled', stage: 'dev', outcome: 'in-sync', notified: false });
    expect(prodVersions()).toEqual([6]);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('never promotes a version that failed', async () => {
    devInSync();
    prodInSync();
    const v2 = world.history[PARAMETERS.dev]?.find((v) => v.Version === 2);
    if (v2) v2.Labels = ['failed-v2'];
    const summary = await handleStackSettled(promoting(), ourEvent('stack-update-complete', 'dev', 2));
    expect(summary).not.toHaveProperty('promoted');
    expect(prodVersions()).toEqual([6]);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
  });

  it('never promotes a release whose bytes were changed: refused, and the ops team is told', async () => {
    devInSync();
    prodInSync();
    tamper(world.s3, NEW_KEY);
    const summary = await handleStackSettled(promoting(), ourEvent('stack-update-complete', 'dev', 2));
    expect(summary).not.toHaveProperty('promoted');
    expect(prodVersions()).toEqual([6]);
    expect(mocks.ssm).not.toHaveReceivedCommand(PutParameterCommand);
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    const { attributes, body } = onlyMessage(mocks);
    expect(attributes.outcome).toBe('tampered');
    expect(body).toContain(NEW_KEY);
    expect(appliedOf(world.s3, 'prod')).toBeUndefined();
  });
});

describe('handleStackSettled: a release recorded while the stack was busy', () => {
  const devNewerDesired = (): void => {
    devInSync();
    world.history[PARAMETERS.dev]?.push(version('dev', 3, NEWER_KEY, { commit: NEWER_COMMIT }));
  };

  it('deploys it: CreateChangeSet and ExecuteChangeSet for the desired version', async () => {
    devNewerDesired();
    const summary = await handleStackSettled(runtimeWith(), statusEvent('stack-update-complete'));
    expect(summary).toEqual({ verdict: 'reconciled', stage: 'dev', outcome: 'deploying', notified: true });
    expect(mocks.cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v3',
      ChangeSetType: 'UPDATE',
    });
    expect(mocks.cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);
    const token = mocks.cfn.commandCalls(ExecuteChangeSetCommand)[0]?.args[0].input.ClientRequestToken ?? '';
    expect(token).toMatch(runTokenPattern('dev', 3));
    expect(runRecordOf(world.s3, 'dev', token)).toMatchObject({ version: 3, state: 'executing' });
  });

  it('publishes one DEPLOYING message that says what triggered it', async () => {
    devNewerDesired();
    await handleStackSettled(runtimeWith(), statusEvent('stack-update-complete'));
    expect(mocks.sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(mocks.sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC_ARN });
    const { subject, body, attributes } = onlyMessage(mocks);
    expect(subject).toBe('[dev] orders-api-dev DEPLOYING fedcba9');
    expectValidSubject(subject);
    expect(fieldOf(body, 'Triggered by')).toBe('stack orders-api-dev reached UPDATE_COMPLETE');
    expect(fieldOf(body, 'Release')).toBe(NEWER_KEY);
    expect(fieldOf(body, 'Running')).toBe(NEW_KEY);
    expect(fieldOf(body, 'Change set')).toBe('deploy-dev-v3');
    expect(fieldOf(body, 'Commit')).toBe(NEWER_COMMIT);
    expect(attributes).toMatchObject({ stage: 'dev', stack: 'orders-api-dev', outcome: 'deploying' });
  });

  it('a stage stack deleted by a person is created again from the desired release, and said so', async () => {
    devInSync();
    delete world.stacks['orders-api-dev'];
    const summary = await handleStackSettled(runtimeWith(), statusEvent('stack-delete-complete'));
    expect(summary).toMatchObject({ outcome: 'deploying', notified: true });
    // From the template v2 pins (verified), never from the configured template object.
    expect(mocks.cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetName: 'deploy-dev-v2',
      ChangeSetType: 'CREATE',
      TemplateBody: TEMPLATE.bytes.toString('utf8'),
    });
    expect(fieldOf(onlyMessage(mocks).body, 'Triggered by')).toBe(
      'stack orders-api-dev reached DELETE_COMPLETE',
    );
  });

  it('a stack deleted after its creation failed is not created again from the failed release', async () => {
    world.history[PARAMETERS.dev] = [version('dev', 1, NEW_KEY, { labels: ['failed-v1'] })];
    const summary = await handleStackSettled(runtimeWith(), statusEvent('stack-delete-complete'));
    expect(summary).toEqual({ verdict: 'reconciled', stage: 'dev', outcome: 'blocked', notified: false });
    // The failed mark is read with the history (its failed-v1 label).
    expect(mocks.ssm).toHaveReceivedCommandWith(GetParameterHistoryCommand, { Name: PARAMETERS.dev });
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('in sync: nothing to do, nothing published', async () => {
    devInSync();
    const summary = await handleStackSettled(runtimeWith(), statusEvent('stack-update-complete'));
    expect(summary).toEqual({ verdict: 'reconciled', stage: 'dev', outcome: 'in-sync', notified: false });
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('nothing desired: nothing published', async () => {
    world.stacks['orders-api-dev'] = liveStack('dev', NEW_KEY);
    const summary = await handleStackSettled(runtimeWith(), statusEvent('stack-update-complete'));
    expect(summary).toMatchObject({ outcome: 'nothing-desired', notified: false });
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });
});

describe('handleStackSettled: events it does not act on', () => {
  it.each([
    'UPDATE_IN_PROGRESS',
    'UPDATE_ROLLBACK_IN_PROGRESS',
    'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
    'REVIEW_IN_PROGRESS',
  ])('ignores %s without any AWS call', async (status) => {
    const raw = statusEvent('stack-update-complete', (e) => {
      e.detail['status-details'] = { status };
    });
    expect(await handleStackSettled(runtimeWith(), raw)).toEqual({
      verdict: 'ignored',
      reason: `in-progress status ${status}`,
    });
    expectNoAwsCall(mocks);
  });

  it('ignores a stack outside the configuration without any AWS call, even a failure with a token like ours', async () => {
    const raw = statusEvent('stack-update-rollback-complete', (e) => {
      e.detail['stack-id'] = 'arn:aws:cloudformation:us-east-1:123456789012:stack/billing/5e5e5e5e';
    });
    expect(await handleStackSettled(runtimeWith(), raw)).toEqual({
      verdict: 'ignored',
      reason: 'not the stack of a configured stage',
    });
    expectNoAwsCall(mocks);
  });

  it('ignores an API call event without any AWS call', async () => {
    expect(await handleStackSettled(runtimeWith(), apiCallEvent('cloudtrail-update-stack'))).toEqual({
      verdict: 'ignored',
      reason: 'not a stack status change',
    });
    expectNoAwsCall(mocks);
  });

  it.each(malformedStackEvents())(
    'rejects %s without any AWS call and without throwing',
    async (_what, make) => {
      const summary = await handleStackSettled(runtimeWith(), make());
      expect(summary.verdict).toBe('rejected');
      expectNoAwsCall(mocks);
    },
  );

  it.each([
    ['another account', { account: '210987654321' }],
    ['another region', { region: 'eu-west-1' }],
  ])('rejects a status change from %s without any AWS call', async (_what, change) => {
    const raw = { ...statusEvent('stack-update-rollback-complete'), ...change };
    const summary = await handleStackSettled(runtimeWith(), raw);
    expect(summary.verdict).toBe('rejected');
    expect(summary.reason).toContain('this deployer serves 123456789012 in us-east-1');
    expectNoAwsCall(mocks);
  });

  it('a muted stage is still reconciled (mute is about stack messages only)', async () => {
    devInSync();
    const summary = await handleStackSettled(
      runtimeWith({ mute: ['dev'] }),
      statusEvent('stack-update-complete'),
    );
    expect(summary.verdict).toBe('reconciled');
  });
});

describe('handleReconcileTrigger', () => {
  it('the schedule reconciles every configured stage', async () => {
    devInSync();
    world.history[PARAMETERS.dev]?.push(version('dev', 3, NEWER_KEY, { commit: NEWER_COMMIT }));
    prodInSync();
    const summaries = await handleReconcileTrigger(runtimeWith(), scheduleEvent());
    expect(summaries).toEqual([
      { verdict: 'reconciled', stage: 'dev', outcome: 'deploying', notified: true },
      { verdict: 'reconciled', stage: 'prod', outcome: 'in-sync', notified: false },
    ]);
    expect(mocks.ssm).toHaveReceivedCommandWith(GetParameterHistoryCommand, { Name: PARAMETERS.dev });
    expect(mocks.ssm).toHaveReceivedCommandWith(GetParameterHistoryCommand, { Name: PARAMETERS.prod });
    expect(mocks.cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'orders-api-dev' });
    expect(mocks.cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'orders-api-prod' });
    expect(mocks.ssm).not.toHaveReceivedCommand(LabelParameterVersionCommand);
    const { subject, body } = onlyMessage(mocks);
    expect(subject).toBe('[dev] orders-api-dev DEPLOYING fedcba9');
    expect(fieldOf(body, 'Triggered by')).toBe('the scheduled reconcile');
  });

  it('the schedule does not retry a release labelled failed: blocked, no change set, no message', async () => {
    devInSync();
    prodRolledBack();
    const v7 = world.history[PARAMETERS.prod]?.find((v) => v.Version === 7);
    if (v7) v7.Labels = ['failed-v7'];
    const summaries = await handleReconcileTrigger(runtimeWith(), scheduleEvent());
    expect(summaries).toEqual([
      { verdict: 'reconciled', stage: 'dev', outcome: 'in-sync', notified: false },
      { verdict: 'reconciled', stage: 'prod', outcome: 'blocked', notified: false },
    ]);
    expect(mocks.cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('a stack status change settles its own stage only', async () => {
    devInSync();
    const summaries = await handleReconcileTrigger(runtimeWith(), statusEvent('stack-update-complete'));
    expect(summaries).toEqual([{ verdict: 'reconciled', stage: 'dev', outcome: 'in-sync', notified: false }]);
    expect(mocks.cfn).not.toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'orders-api-prod' });
  });

  it('an event that only looks like the schedule is handled as a stack event (and rejected)', async () => {
    const raw = { ...scheduleEvent(), source: 'custom.events' };
    const summaries = await handleReconcileTrigger(runtimeWith(), raw);
    expect(summaries).toEqual([expect.objectContaining({ verdict: 'rejected' })]);
    expectNoAwsCall(mocks);
  });
});

describe('reconcileAll', () => {
  it('one stage failing does not stop the others, and the error names the stage', async () => {
    devInSync();
    world.history[PARAMETERS.dev]?.push(version('dev', 3, NEWER_KEY, { commit: NEWER_COMMIT }));
    prodInSync();
    mocks.cfn
      .on(DescribeStacksCommand, { StackName: 'orders-api-prod' })
      .rejects(awsError('AccessDenied', 'not allowed to describe orders-api-prod', 403));
    const error = await rejectionOf(reconcileAll(runtimeWith()));
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.message).toContain('prod: not allowed to describe orders-api-prod');
    expect(error.message).not.toContain('dev:');
    expect(mocks.cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      ClientRequestToken: expect.stringMatching(runTokenPattern('dev', 3)),
    });
    expect(publishedMessages(mocks)).toHaveLength(1);
  });

  it('no stage needing anything: every stage in sync, nothing published', async () => {
    devInSync();
    prodInSync();
    const summaries = await reconcileAll(runtimeWith());
    expect(summaries.map((s) => s.outcome)).toEqual(['in-sync', 'in-sync']);
    expect(mocks.sns).not.toHaveReceivedAnyCommand();
  });

  it('reads each stage by its own stack', async () => {
    devInSync();
    prodInSync();
    await reconcileAll(runtimeWith());
    const stackNames = mocks.cfn
      .commandCalls(DescribeStacksCommand)
      .map((c) => c.args[0].input.StackName)
      .sort();
    expect(stackNames).toEqual(['orders-api-dev', 'orders-api-prod']);
  });
});
