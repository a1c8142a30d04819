import type { ReleaseVersion } from '../../shared/aws/release-history';
import type { RootCause } from '../../shared/aws/root-cause';
import { parseStackEvent, type StackApiCall, type StackStatusChange } from '../../shared/edge/stack-events';
import { consoleLink, toSubject } from '../../shared/messages/notification';
import {
  apiCallMessage,
  type StatusReport,
  startedBy,
  statusMessage,
  statusSeverity,
} from '../../shared/messages/stack-messages';
import { isFailureStatus, isFinalStatus } from '../../shared/stack-status';
import { expectNoInjection, HOSTILE, HOSTILE_CLEANED, HOSTILE_QUOTED } from '../support/hostile-text';
import { makeRuntime, SAMPLE, stageOf } from './helpers/fixtures';
import { expectValidSubject, fieldOf } from './helpers/published';
import { runToken } from './helpers/runs';
import { NEW_KEY } from './helpers/stack-builders';
import {
  type ApiCallEventName,
  type ApiCallSample,
  apiCallEvent,
  SAMPLE_ACCESS_KEYS,
  STACK_IDS,
  type StatusChangeSample,
  type StatusEventName,
  statusEvent,
} from './helpers/stack-samples';
import { OLD_KEY } from './helpers/world';

const config = makeRuntime().config;
const dev = stageOf(config, 'dev');
const prod = stageOf(config, 'prod');

const change = (
  name: StatusEventName,
  edit: (event: StatusChangeSample) => void = () => {},
): StackStatusChange => {
  const event = parseStackEvent(statusEvent(name, edit));
  if (event?.kind !== 'status-change') throw new Error('test setup: not a status change');
  return event;
};

const call = (name: ApiCallEventName, edit: (event: ApiCallSample) => void = () => {}): StackApiCall => {
  const event = parseStackEvent(apiCallEvent(name, edit));
  if (event?.kind !== 'api-call') throw new Error('test setup: not an API call');
  return event;
};

/** A version of the stage history; `commit: null` for one recorded without a commit. */
const release = (
  version: number,
  key = NEW_KEY,
  commit: string | null = SAMPLE.commitId,
): ReleaseVersion => ({
  version,
  key,
  labels: [],
  provenance: commit ? { pipeline: SAMPLE.pipeline, execution: `exec-${version}`, commit } : {},
  handWritten: commit === null,
  failed: false,
});

const ROOT_CAUSE: RootCause = {
  logicalId: 'OrdersFunction',
  type: 'AWS::Lambda::Function',
  status: 'UPDATE_FAILED',
  reason: 'Resource handler returned message: "Uploaded file must be a non-empty zip"',
};

/** The request token of the deployer's run that deployed prod's version 7 (recorded by the deployer). */
const RUN_V7 = runToken('prod', 7);

/**
 * The report the notify trigger builds for our failed prod deploy (events/stack-update-rollback-complete,
 * carrying the token of the deployer's run).
 */
const rolledBackReport = (overrides: Partial<StatusReport> = {}): StatusReport => ({
  change: change('stack-update-rollback-complete', (e) => {
    e.detail['client-request-token'] = RUN_V7;
  }),
  stage: prod,
  startedBy: startedBy(RUN_V7, true),
  rootCause: ROOT_CAUSE,
  release: release(7),
  running: OLD_KEY,
  ours: true,
  ...overrides,
});

describe('isFailureStatus, isFinalStatus, statusSeverity', () => {
  it.each([
    ['UPDATE_ROLLBACK_COMPLETE', true, true],
    ['ROLLBACK_COMPLETE', true, true],
    ['IMPORT_ROLLBACK_COMPLETE', true, true],
    ['UPDATE_ROLLBACK_FAILED', true, true],
    ['ROLLBACK_FAILED', true, true],
    ['CREATE_FAILED', true, true],
    ['UPDATE_FAILED', true, true],
    ['DELETE_FAILED', true, true],
    ['IMPORT_ROLLBACK_FAILED', true, true],
    ['CREATE_COMPLETE', false, true],
    ['UPDATE_COMPLETE', false, true],
    ['DELETE_COMPLETE', false, true],
    ['IMPORT_COMPLETE', false, true],
    ['CREATE_IN_PROGRESS', false, false],
    ['UPDATE_IN_PROGRESS', false, false],
    ['UPDATE_ROLLBACK_IN_PROGRESS', false, false],
    ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', false, false],
    ['UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', false, false],
    ['REVIEW_IN_PROGRESS', false, false],
    ['DELETE_IN_PROGRESS', false, false],
  ])('%s: failure %s, final %s', (status, failure, final) => {
    expect(isFailureStatus(status)).toBe(failure);
    expect(isFinalStatus(status)).toBe(final);
    expect(statusSeverity(status)).toBe(failure ? 'error' : 'info');
  });
});

describe('startedBy', () => {
  it('says the event did not record who when there is no token', () => {
    expect(startedBy(undefined, false)).toBe(
      'not recorded in the event (see the API call message for this stack)',
    );
  });

  it("names the deployer's run by its token", () => {
    expect(startedBy(RUN_V7, true)).toBe(`the deployer (run ${RUN_V7})`);
  });

  it('never claims the deployer for a token it has no record of, however much it looks like one', () => {
    expect(startedBy('deploy-prod-v7', false)).toBe('a client with request token deploy-prod-v7');
    expect(startedBy(RUN_V7, false)).toBe(`a client with request token ${RUN_V7}`);
  });

  it('names a person in the console', () => {
    expect(startedBy('Console-DeleteStack-9d8c7b6a', false)).toBe(
      'a person in the AWS console (Console-DeleteStack-9d8c7b6a)',
    );
  });

  it('names any other client by its token', () => {
    expect(startedBy('terraform-1234', false)).toBe('a client with request token terraform-1234');
  });

  it('shows a hostile token as one bounded, quoted line', () => {
    const shown = startedBy(`evil\ntoken\u202e\u0000 ${'x'.repeat(300)}`, false);
    expect(shown).toBe(`a client with request token "evil token ${'x'.repeat(117)}…[cut 183 chars]"`);
    expectNoInjection(shown);
  });

  it('a hostile token that starts like a console token is still shown as data', () => {
    expect(startedBy(`Console-${HOSTILE}`, false)).toBe(
      `a person in the AWS console ("Console-${HOSTILE_QUOTED.slice(1)})`,
    );
  });
});

describe('statusMessage: our rolled-back prod deploy (the README example)', () => {
  const message = statusMessage(rolledBackReport());

  it('has the subject [stage] stack status short-commit', () => {
    expect(message.subject).toBe('[prod] orders-api-prod UPDATE_ROLLBACK_COMPLETE 1a2b3c4');
    expect(toSubject(message.subject)).toBe(message.subject);
  });

  it('says what happened first', () => {
    expect(message.body.split('\n')[0]).toBe('The stack update FAILED and was rolled back.');
  });

  it('names the stage, stack, status, root cause, who started it, the release, commit and what runs now', () => {
    const { body } = message;
    expect(fieldOf(body, 'Stage')).toBe('prod');
    expect(fieldOf(body, 'Stack')).toBe('orders-api-prod');
    expect(fieldOf(body, 'Status')).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(fieldOf(body, 'Root cause')).toBe(
      'OrdersFunction (AWS::Lambda::Function) UPDATE_FAILED: "Resource handler returned message: \\"Uploaded file must be a non-empty zip\\""',
    );
    expect(fieldOf(body, 'Started by')).toBe(`the deployer (run ${RUN_V7})`);
    expect(fieldOf(body, 'Failed release')).toBe(`${NEW_KEY} (desired version 7)`);
    expect(fieldOf(body, 'Commit')).toBe(SAMPLE.commitId);
    expect(fieldOf(body, 'Running now')).toBe(OLD_KEY);
  });

  it('gives the time in UTC with the region, and the console link for that region', () => {
    expect(fieldOf(message.body, 'When')).toBe('2026-11-20 11:42:19 UTC (us-east-1)');
    expect(fieldOf(message.body, 'Console')).toBe(consoleLink('us-east-1', STACK_IDS.prod));
    expect(fieldOf(message.body, 'Console')).toBe(
      `https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/stackinfo?stackId=${encodeURIComponent(STACK_IDS.prod)}`,
    );
  });

  it('says the failed release is not retried and what runs now', () => {
    const next = message.body.split('\n').find((line) => line.startsWith('Next: '));
    expect(next).toBe(
      `Next: the stack runs ${OLD_KEY} again. Fix the root cause and push a new build; release ${NEW_KEY} is marked failed and will not be retried.`,
    );
  });

  it('carries attributes for filter policies, severity error', () => {
    expect(message.attributes).toEqual({
      kind: 'stack-status',
      stage: 'prod',
      stack: 'orders-api-prod',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      severity: 'error',
    });
  });

  it('ends with a newline and has no empty field', () => {
    expect(message.body.endsWith('\n')).toBe(true);
    expect(message.body).not.toMatch(/^[A-Za-z ]+:\s*$/m);
  });
});

describe('statusMessage: the next step per status', () => {
  const nextOf = (report: StatusReport): string => {
    const line = statusMessage(report)
      .body.split('\n')
      .find((l) => l.startsWith('Next: '));
    if (!line) throw new Error('no Next: line');
    return line;
  };

  it('UPDATE_ROLLBACK_FAILED: continue-update-rollback for the stack and region', () => {
    const next = nextOf({
      change: change('stack-update-rollback-failed'),
      stage: prod,
      startedBy: startedBy(runToken('prod', 8), true),
    });
    expect(next).toContain(
      'aws cloudformation continue-update-rollback --stack-name orders-api-prod --region us-east-1',
    );
    expect(next).toContain('--resources-to-skip');
  });

  it('ROLLBACK_COMPLETE: delete the stack, the next deploy creates it again', () => {
    const next = nextOf({
      change: change('stack-rollback-complete'),
      stage: dev,
      startedBy: startedBy(runToken('dev', 1), true),
    });
    expect(next).toContain('aws cloudformation delete-stack --stack-name orders-api-dev --region us-east-1');
    expect(next).toContain('the next deploy creates it again');
  });

  it('ROLLBACK_COMPLETE: the headline says the stack cannot be updated', () => {
    const { body } = statusMessage({
      change: change('stack-rollback-complete'),
      stage: dev,
      startedBy: startedBy(runToken('dev', 1), true),
    });
    expect(body).toContain('The stack cannot be updated, only deleted.');
  });

  it("UPDATE_ROLLBACK_COMPLETE of someone else's operation: never says a release is marked failed", () => {
    const next = nextOf(
      rolledBackReport({ ours: false, startedBy: startedBy('Console-UpdateStack-1', false) }),
    );
    expect(next).toBe(`Next: the stack runs ${OLD_KEY} again. Fix the root cause and push a new build.`);
  });

  it('UPDATE_ROLLBACK_COMPLETE without a known release or running key: the previous release runs again', () => {
    const next = nextOf({
      change: change('stack-update-rollback-complete'),
      stage: prod,
      startedBy: startedBy(runToken('prod', 7), true),
    });
    expect(next).toBe(
      'Next: the stack runs its previous release again. Fix the root cause and push a new build.',
    );
  });

  it('DELETE_COMPLETE of a stage stack: says the stage still exists and the stack is created again', () => {
    const next = nextOf({
      change: change('stack-delete-complete'),
      stage: dev,
      startedBy: startedBy('Console-DeleteStack-9d8c7b6a', false),
    });
    expect(next).toContain('stage dev');
    expect(next).toContain('creates the stack again');
  });

  it('DELETE_COMPLETE of another stack: nothing', () => {
    const next = nextOf({
      change: change('stack-delete-complete'),
      startedBy: startedBy(undefined, false),
    });
    expect(next).toBe('Next: nothing.');
  });

  it('UPDATE_COMPLETE: how to check it, and how to roll back the stage', () => {
    const next = nextOf({
      change: change('stack-update-complete'),
      stage: dev,
      startedBy: startedBy(runToken('dev', 2), true),
    });
    expect(next).toContain(
      'aws cloudformation describe-stacks --stack-name orders-api-dev --region us-east-1',
    );
    expect(next).toContain('npx deployer rollback dev');
    expect(next).toContain('npx deployer history dev');
  });

  it('an in-progress status: wait for the outcome', () => {
    const next = nextOf({
      change: change('stack-update-complete', (e) => {
        e.detail['status-details'] = { status: 'UPDATE_IN_PROGRESS' };
      }),
      stage: dev,
      startedBy: startedBy(runToken('dev', 2), true),
    });
    expect(next).toContain('wait for the outcome');
    expect(next).toContain('--stack-name orders-api-dev --region us-east-1');
  });

  it('CREATE_FAILED: inspect the stack events', () => {
    const next = nextOf({
      change: change('stack-create-failed'),
      stage: dev,
      startedBy: startedBy(runToken('dev', 1), true),
    });
    expect(next).toContain('aws cloudformation describe-stack-events --stack-name orders-api-dev');
  });

  it('uses the region of the event in commands and the console link', () => {
    const report: StatusReport = {
      change: change('stack-update-rollback-failed', (e) => {
        e.region = 'eu-west-1';
      }),
      stage: prod,
      startedBy: startedBy(undefined, false),
    };
    const { body } = statusMessage(report);
    expect(body).toContain('--region eu-west-1');
    expect(fieldOf(body, 'Console')).toContain('https://eu-west-1.console.aws.amazon.com/');
    expect(fieldOf(body, 'When')).toBe('2026-11-20 12:30:44 UTC (eu-west-1)');
  });
});

describe('statusMessage: attributes and severity', () => {
  it.each<[StatusEventName, string, 'dev' | 'prod']>([
    ['stack-update-rollback-complete', 'error', 'prod'],
    ['stack-update-rollback-failed', 'error', 'prod'],
    ['stack-create-failed', 'error', 'dev'],
    ['stack-rollback-complete', 'error', 'dev'],
    ['stack-update-complete', 'info', 'dev'],
    ['stack-delete-complete', 'info', 'dev'],
  ])('%s has severity %s', (name, severity, stageName) => {
    const stage = stageName === 'dev' ? dev : prod;
    const message = statusMessage({ change: change(name), stage, startedBy: 'x' });
    expect(message.attributes).toMatchObject({ kind: 'stack-status', stage: stageName, severity });
  });

  it('a stack outside the configuration: stage "-" in the attributes, said so in the body, no stage in the subject', () => {
    const message = statusMessage({
      change: change('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'arn:aws:cloudformation:us-east-1:123456789012:stack/billing/0a0a0a0a';
      }),
      startedBy: startedBy(undefined, false),
    });
    expect(message.subject).toBe('billing UPDATE_COMPLETE');
    expect(message.attributes.stage).toBe('-');
    expect(fieldOf(message.body, 'Stage')).toBe('(not a configured stage)');
    expect(message.body).not.toContain('get-parameter-history');
  });

  it('a successful release is labelled Release, not Failed release', () => {
    const { body } = statusMessage({
      change: change('stack-update-complete'),
      stage: dev,
      startedBy: startedBy(runToken('dev', 2), true),
      release: release(2),
      running: NEW_KEY,
    });
    expect(fieldOf(body, 'Release')).toBe(`${NEW_KEY} (desired version 2)`);
    expect(body).not.toContain('Failed release');
  });
});

describe('statusMessage: what it leaves out', () => {
  const { subject, body } = statusMessage({
    change: change('stack-update-complete'),
    stage: dev,
    startedBy: startedBy(undefined, false),
  });

  it('no short commit in the subject without a release', () => {
    expect(subject).toBe('[dev] orders-api-dev UPDATE_COMPLETE');
  });

  it.each(['Reason', 'Root cause', 'Release', 'Failed release', 'Commit', 'Running now'])(
    'no %s line',
    (label) => {
      expect(fieldOf(body, label)).toBeUndefined();
    },
  );

  it('still says when, where, and who', () => {
    expect(fieldOf(body, 'When')).toBe('2026-11-20 10:17:05 UTC (us-east-1)');
    expect(fieldOf(body, 'Started by')).toContain('not recorded');
  });

  it('a release without a commit: no commit line, no short commit', () => {
    const message = statusMessage({
      change: change('stack-update-complete'),
      stage: dev,
      startedBy: 'x',
      release: release(2, NEW_KEY, null),
    });
    expect(message.subject).toBe('[dev] orders-api-dev UPDATE_COMPLETE');
    expect(fieldOf(message.body, 'Commit')).toBeUndefined();
  });
});

describe('statusMessage: times', () => {
  it('drops fractional seconds', () => {
    const { body } = statusMessage({
      change: change('stack-update-complete', (e) => {
        e.time = '2026-11-20T10:17:05.123Z';
      }),
      stage: dev,
      startedBy: 'x',
    });
    expect(fieldOf(body, 'When')).toBe('2026-11-20 10:17:05 UTC (us-east-1)');
  });

  // Product bug (shared/messages/stack-messages.ts `utc`): an event time with an offset, which the schema accepts, is
  // printed unconverted with "UTC" after it. Remove `.failing` once fixed.
  it('converts an event time with an offset to UTC', () => {
    const { body } = statusMessage({
      change: change('stack-update-complete', (e) => {
        e.time = '2026-11-20T12:17:05+02:00';
      }),
      stage: dev,
      startedBy: 'x',
    });
    expect(fieldOf(body, 'When')).toBe('2026-11-20 10:17:05 UTC (us-east-1)');
  });
});

describe('statusMessage and apiCallMessage: hostile input', () => {
  const LONG_NAME = `a${'-b'.repeat(63)}c`;

  it('a 128-character stack name: the published subject stays within SNS rules', () => {
    expect(LONG_NAME).toHaveLength(128);
    const message = statusMessage({
      change: change('stack-update-rollback-complete', (e) => {
        e.detail['stack-id'] = `arn:aws:cloudformation:us-east-1:123456789012:stack/${LONG_NAME}/0a0a0a0a`;
      }),
      stage: prod,
      startedBy: 'x',
      release: release(7),
    });
    expect(message.attributes.stack).toBe(LONG_NAME);
    expectValidSubject(toSubject(message.subject));
    expect(toSubject(message.subject).startsWith('[prod] a-b-b')).toBe(true);
  });

  it.each([
    ['newlines', 'first line\nsecond line\r\nthird', '"first line second line third"'],
    ['unicode and bidi overrides', 'échec ✗ \u202eevil\u202c 部署', '"échec ✗ evil 部署"'],
    ['control characters', 'bell\u0007 esc\u001b[31m nul\u0000', '"bell esc nul"'],
    ['4096 characters', 'r'.repeat(4096), `"${'r'.repeat(2000)}…[cut 2096 chars]"`],
  ])(
    'a status reason with %s never reaches the subject, and is one quoted line of the body',
    (_what, reason, shown) => {
      const message = statusMessage({
        change: change('stack-update-rollback-failed', (e) => {
          e.detail['status-details'] = { status: 'UPDATE_ROLLBACK_FAILED', 'status-reason': reason };
        }),
        stage: prod,
        startedBy: 'x',
      });
      expect(message.subject).toBe('[prod] orders-api-prod UPDATE_ROLLBACK_FAILED');
      expectValidSubject(toSubject(message.subject));
      expect(fieldOf(message.body, 'Reason')).toBe(shown);
      expectNoInjection(message.body);
    },
  );

  it.each([
    ['a 256-character user name', 'u'.repeat(256)],
    ['a user name with newlines', 'mallory\nSubject: fake'],
    ['a unicode user name', 'Zoë 🚀 部署'],
    ['a user name of only whitespace and controls', ' \n\t\u0000 '],
  ])('an API call by %s: the published subject stays within SNS rules', (_what, userName) => {
    const message = apiCallMessage(
      call('cloudtrail-create-stack', (e) => {
        e.detail.userIdentity = { type: 'IAMUser', userName };
      }),
      dev,
    );
    const subject = toSubject(message.subject);
    expectValidSubject(subject);
    expect(subject.startsWith('[dev] orders-api-dev CreateStack by')).toBe(true);
  });

  it('an assumed-role session name with unicode and 128-character stack: valid subject', () => {
    const message = apiCallMessage(
      call('cloudtrail-update-stack', (e) => {
        e.detail.requestParameters = { stackName: LONG_NAME };
        const identity = e.detail.userIdentity;
        if (identity)
          identity.arn = 'arn:aws:sts::123456789012:assumed-role/PlatformOps/jürgen\u202e@example.com';
      }),
      undefined,
    );
    expectValidSubject(toSubject(message.subject));
  });
});

describe('apiCallMessage', () => {
  it('an assumed role: named by role and session, never by access key', () => {
    const message = apiCallMessage(call('cloudtrail-update-stack'), prod);
    expect(message.subject).toBe(
      '[prod] orders-api-prod UpdateStack by PlatformOps (session kim@example.com)',
    );
    expect(fieldOf(message.body, 'Caller')).toBe('PlatformOps (session kim@example.com) (AssumedRole)');
    expect(fieldOf(message.body, 'Caller ARN')).toBe('arn:aws:iam::123456789012:role/PlatformOps');
    const everything = JSON.stringify(message);
    for (const key of SAMPLE_ACCESS_KEYS) expect(everything).not.toContain(key);
    expect(everything).not.toContain('accessKeyId');
  });

  it('an accepted call: says so, and that a second message reports the outcome', () => {
    const message = apiCallMessage(call('cloudtrail-create-stack'), dev);
    expect(message.subject).toBe('[dev] orders-api-dev CreateStack by dana');
    expect(message.body.split('\n')[0]).toBe('dana called CreateStack on orders-api-dev.');
    expect(fieldOf(message.body, 'Result')).toBe('accepted');
    expect(fieldOf(message.body, 'Call')).toBe('CreateStack');
    expect(fieldOf(message.body, 'When')).toBe('2026-11-19 08:00:02 UTC (us-east-1)');
    expect(fieldOf(message.body, 'Console')).toBe(consoleLink('us-east-1', STACK_IDS.dev));
    expect(message.body).toContain('Next: a second message reports how the operation ends.');
    expect(message.attributes).toEqual({
      kind: 'api-call',
      stage: 'dev',
      stack: 'orders-api-dev',
      status: 'CreateStack',
      severity: 'info',
    });
  });

  it('a change set execution names the change set', () => {
    const message = apiCallMessage(call('cloudtrail-execute-change-set'), prod);
    expect(fieldOf(message.body, 'Call')).toBe('ExecuteChangeSet (change set deploy-prod-v7)');
    expect(fieldOf(message.body, 'Console')).toBeUndefined();
  });

  it('a refused call: REFUSED with the error code and AWS message, severity warning', () => {
    const message = apiCallMessage(call('cloudtrail-update-stack-failed'), prod);
    expect(message.subject).toBe('[prod] orders-api-prod UpdateStack REFUSED by dana');
    expect(message.body.split('\n')[0]).toBe(
      'dana called UpdateStack on orders-api-prod, and AWS refused it.',
    );
    expect(fieldOf(message.body, 'Result')).toBe(
      `refused: ValidationError: "Stack:${STACK_IDS.prod} is in UPDATE_ROLLBACK_FAILED state and can not be updated."`,
    );
    expect(message.body).toContain('Next: the stack did not change.');
    expect(message.attributes).toMatchObject({ status: 'UpdateStack_REFUSED', severity: 'warning' });
  });

  it('an AWS service caller', () => {
    const message = apiCallMessage(
      call('cloudtrail-delete-stack', (e) => {
        e.detail.userIdentity = { type: 'AWSService', invokedBy: 'servicecatalog.amazonaws.com' };
      }),
      dev,
    );
    expect(message.subject).toBe('[dev] orders-api-dev DeleteStack by servicecatalog.amazonaws.com');
    expect(fieldOf(message.body, 'Caller')).toBe('servicecatalog.amazonaws.com (AWSService)');
    expect(fieldOf(message.body, 'Caller ARN')).toBeUndefined();
  });

  it('a stack outside the configuration', () => {
    const message = apiCallMessage(
      call('cloudtrail-create-stack', (e) => {
        e.detail.requestParameters = { stackName: 'billing' };
        e.detail.responseElements = null;
      }),
      undefined,
    );
    expect(message.subject).toBe('billing CreateStack by dana');
    expect(message.attributes.stage).toBe('-');
    expect(fieldOf(message.body, 'Stage')).toBe('(not a configured stage)');
  });
});

describe('statusMessage: untrusted text stays text', () => {
  const attacked = (edit: Partial<StatusReport> = {}, reason = HOSTILE) =>
    statusMessage(
      rolledBackReport({
        change: change('stack-update-rollback-complete', (e) => {
          e.detail['status-details'] = { status: 'UPDATE_ROLLBACK_COMPLETE', 'status-reason': reason };
        }),
        ...edit,
      }),
    );

  it('a status reason that fakes a "Next:" line, clears the screen and reverses text: one quoted line', () => {
    const { body } = attacked();
    expect(fieldOf(body, 'Reason')).toBe(HOSTILE_QUOTED);
    expectNoInjection(body);
    expect(body.split('\n').filter((line) => line.startsWith('Next:'))).toEqual([
      expect.stringMatching(/^Next: the stack runs /),
    ]);
  });

  it('a root cause reason from the stack events: quoted', () => {
    const { body } = attacked({ rootCause: { ...ROOT_CAUSE, reason: HOSTILE } });
    expect(fieldOf(body, 'Root cause')).toBe(
      `OrdersFunction (AWS::Lambda::Function) UPDATE_FAILED: ${HOSTILE_QUOTED}`,
    );
    expectNoInjection(body);
  });

  it('a hostile logical id and resource type: quoted too', () => {
    const { body } = attacked({ rootCause: { ...ROOT_CAUSE, logicalId: HOSTILE, type: 'AWS::X\u202e' } });
    expect(fieldOf(body, 'Root cause')).toBe(
      `${HOSTILE_QUOTED} ("AWS::X") UPDATE_FAILED: "Resource handler returned message: \\"Uploaded file must be a non-empty zip\\""`,
    );
    expectNoInjection(body);
  });

  it('what the stack runs (a stack parameter anyone can set) cannot fake the Next line it is part of', () => {
    const { body } = attacked({ running: HOSTILE }, 'plain');
    expect(fieldOf(body, 'Running now')).toBe(HOSTILE_QUOTED);
    const next = body.split('\n').filter((line) => line.startsWith('Next:'));
    expect(next).toEqual([
      `Next: the stack runs ${HOSTILE_QUOTED} again. Fix the root cause and push a new build; release ${NEW_KEY} is marked failed and will not be retried.`,
    ]);
    expectNoInjection(body);
  });

  it('a release key and a commit from the SSM history: quoted', () => {
    const hostileRelease = { ...release(7, HOSTILE), provenance: { commit: HOSTILE } };
    const { body } = attacked({ release: hostileRelease }, 'plain');
    expect(fieldOf(body, 'Failed release')).toBe(`${HOSTILE_QUOTED} (desired version 7)`);
    expect(fieldOf(body, 'Commit')).toBe(HOSTILE_QUOTED);
    expectNoInjection(body);
  });

  it('a hostile client request token: quoted in "Started by"', () => {
    const { body } = attacked({ startedBy: startedBy(HOSTILE, false) }, 'plain');
    expect(fieldOf(body, 'Started by')).toBe(`a client with request token ${HOSTILE_QUOTED}`);
    expectNoInjection(body);
  });

  it('a 10,000-character reason: the message goes out, shortened with a visible marker', () => {
    const { body } = attacked({}, `${'x'.repeat(9_990)}0123456789`);
    expect(fieldOf(body, 'Reason')).toBe(`"${'x'.repeat(2000)}…[cut 8000 chars]"`);
    expectNoInjection(body);
  });

  it('plain values stay bare: names and keys without anything to fake', () => {
    const { body } = attacked({}, 'plain');
    expect(fieldOf(body, 'Running now')).toBe(OLD_KEY);
    expect(fieldOf(body, 'Failed release')).toBe(`${NEW_KEY} (desired version 7)`);
    expect(body).not.toContain(HOSTILE_CLEANED);
  });
});

describe('apiCallMessage: untrusted text stays text', () => {
  it('a caller user name that fakes lines: quoted in the headline and the Caller line', () => {
    const message = apiCallMessage(
      call('cloudtrail-create-stack', (e) => {
        e.detail.userIdentity = {
          type: 'IAMUser',
          userName: HOSTILE,
          arn: `arn:aws:iam::123456789012:user/${HOSTILE}`,
        };
      }),
      dev,
    );
    expect(message.body.split('\n')[0]).toBe(`${HOSTILE_QUOTED} called CreateStack on orders-api-dev.`);
    expect(fieldOf(message.body, 'Caller')).toBe(`${HOSTILE_QUOTED} (IAMUser)`);
    expect(fieldOf(message.body, 'Caller ARN')).toBe(
      `"arn:aws:iam::123456789012:user/${HOSTILE_QUOTED.slice(1)}`,
    );
    expectNoInjection(message.body);
    expectValidSubject(toSubject(message.subject));
  });

  it('a role session name: the role bare, the session quoted', () => {
    const message = apiCallMessage(
      call('cloudtrail-update-stack', (e) => {
        const identity = e.detail.userIdentity;
        if (identity) identity.arn = `arn:aws:sts::123456789012:assumed-role/PlatformOps/${HOSTILE}`;
      }),
      prod,
    );
    expect(fieldOf(message.body, 'Caller')).toBe(`PlatformOps (session ${HOSTILE_QUOTED}) (AssumedRole)`);
    expectNoInjection(message.body);
  });

  it("a refused call's error code and AWS message: quoted", () => {
    const message = apiCallMessage(
      call('cloudtrail-update-stack-failed', (e) => {
        e.detail.errorCode = 'Validation\nError';
        e.detail.errorMessage = HOSTILE;
      }),
      prod,
    );
    expect(fieldOf(message.body, 'Result')).toBe(`refused: "Validation Error": ${HOSTILE_QUOTED}`);
    expectNoInjection(message.body);
    // Our own next step is the only "Next:" line.
    expect(message.body).toContain('Next: the stack did not change.');
  });

  it('a change set name from the request: quoted', () => {
    const message = apiCallMessage(
      call('cloudtrail-execute-change-set', (e) => {
        e.detail.requestParameters = { stackName: 'orders-api-prod', changeSetName: HOSTILE };
      }),
      prod,
    );
    expect(fieldOf(message.body, 'Call')).toBe(`ExecuteChangeSet (change set ${HOSTILE_QUOTED})`);
    expectNoInjection(message.body);
  });
});
