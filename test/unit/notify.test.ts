import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { deployMessage, severityOf } from '../../shared/messages/deploy-messages';
import {
  composeSubject,
  fieldLines,
  publish,
  shortCommit,
  toSubject,
} from '../../shared/messages/notification';
import type { ReconcileResult } from '../../shared/outcomes';
import { expectNoInjection, HOSTILE, HOSTILE_CLEANED, HOSTILE_QUOTED } from '../support/hostile-text';
import { executionOf, makeRuntime, SAMPLE, TOPIC_ARN } from './helpers/fixtures';

const sns = mockClient(SNSClient);
beforeEach(() => {
  sns.reset();
});

/** SNS's rules for a subject. */
const expectValidSubject = (subject: string): void => {
  expect(subject.length).toBeGreaterThan(0);
  expect(subject.length).toBeLessThanOrEqual(100);
  expect(subject).toMatch(/^[\x20-\x7e]+$/);
  expect(subject).not.toMatch(/[\r\n]/);
  expect(subject).toMatch(/^[^\s]/);
};

describe('toSubject', () => {
  it.each<[string, string]>([
    ['empty', ''],
    ['only whitespace', ' \t\n\r '],
    ['accents', 'Crème brûlée déployée à Zürich'],
    ['CJK', '部署が完了しました'],
    ['emoji', '🚀 deployed 🔥🔥 to prod 🎉'],
    ['newlines', 'line one\nline two\r\nline three'],
    ['control characters', 'bell\u0007 nul\u0000 esc\u001b[31m red'],
    ['zero-width and bidi overrides', 'a\u200bb \u202eevil\u202c c'],
    ['10k characters', 'x'.repeat(10_000)],
    ['10k emoji', '😀'.repeat(10_000)],
    ['10k newlines then text', `${'\n'.repeat(10_000)}text`],
    ['a long word after spaces', `${' '.repeat(98)}${'y'.repeat(200)}`],
    ['lone surrogates', '\ud800\udc00\ud800 end'],
  ])('makes a valid SNS subject of %s', (_what, text) => {
    expectValidSubject(toSubject(text));
  });

  it('keeps short ASCII text as it is', () => {
    expect(toSubject('[dev] orders-api-dev DEPLOYING 1a2b3c4')).toBe(
      '[dev] orders-api-dev DEPLOYING 1a2b3c4',
    );
  });

  it('drops accents instead of replacing the letter', () => {
    expect(toSubject('Crème brûlée')).toBe('Creme brulee');
  });

  it('turns each whitespace run, newlines included, into one space', () => {
    expect(toSubject('a\n\nb\t\tc\r\nd')).toBe('a b c d');
  });

  it('replaces characters it cannot show with "?"', () => {
    expect(toSubject('ok ✓')).toBe('ok ?');
  });

  it('cuts long text to exactly 100 characters ending in "..."', () => {
    const subject = toSubject('x'.repeat(10_000));
    expect(subject).toHaveLength(100);
    expect(subject.endsWith('...')).toBe(true);
  });

  it('names the deployer for text with nothing to show', () => {
    expect(toSubject('')).toBe('deployer notification');
    expect(toSubject('\n\t ')).toBe('deployer notification');
  });
});

describe('fieldLines', () => {
  it('skips undefined and empty values and aligns the rest', () => {
    expect(
      fieldLines([
        ['Stage', 'dev'],
        ['Running', undefined],
        ['Change set', 'deploy-dev-v3'],
        ['Reason', ''],
      ]),
    ).toEqual(['Stage:      dev', 'Change set: deploy-dev-v3']);
  });

  it('aligns by the longest label that is shown, not by skipped ones', () => {
    expect(
      fieldLines([
        ['A very long label', undefined],
        ['Ab', '1'],
        ['C', '2'],
      ]),
    ).toEqual(['Ab: 1', 'C:  2']);
  });

  it('returns no lines when nothing is known', () => {
    expect(fieldLines([['Stage', undefined]])).toEqual([]);
  });

  it('keeps a value that nobody quoted to its own line: no line break, ESC or bidi character gets through', () => {
    const lines = fieldLines([
      ['Reason', HOSTILE],
      ['Stage', 'dev'],
    ]);
    expect(lines).toEqual([`Reason: ${HOSTILE_CLEANED}`, 'Stage:  dev']);
    expectNoInjection(lines.join('\n'), 0);
  });

  it('cuts a value longer than any field we write, with a visible marker', () => {
    const [line] = fieldLines([['Reason', 'r'.repeat(20_000)]]);
    expect(line).toMatch(/^Reason: r+…\[cut 12000 chars\]$/);
  });
});

describe('shortCommit', () => {
  it('is the first 7 characters, or undefined', () => {
    expect(shortCommit(SAMPLE.commitId)).toBe('1a2b3c4');
    expect(shortCommit(undefined)).toBeUndefined();
  });
});

describe('publish', () => {
  it('sends one Publish with a valid subject, the body and string attributes', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const id = await publish(makeRuntime().clients.sns, TOPIC_ARN, {
      subject: '[dev] orders-api-dev\nDEPLOYING 🚀',
      body: 'line 1\nline 2\n',
      attributes: { stage: 'dev', outcome: 'deploying', author: 'Zoë', empty: '', long: 'l'.repeat(300) },
    });
    expect(id).toBe('m-1');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC_ARN,
      Subject: '[dev] orders-api-dev DEPLOYING ??',
      Message: 'line 1\nline 2\n',
      MessageAttributes: {
        stage: { DataType: 'String', StringValue: 'dev' },
        outcome: { DataType: 'String', StringValue: 'deploying' },
        author: { DataType: 'String', StringValue: 'Zo?' },
        empty: { DataType: 'String', StringValue: '-' },
        long: { DataType: 'String', StringValue: 'l'.repeat(256) },
      },
    });
  });

  it('lets an SNS failure reach the caller', async () => {
    sns.on(PublishCommand).rejects(new Error('topic gone'));
    await expect(
      publish(makeRuntime().clients.sns, TOPIC_ARN, { subject: 's', body: 'b', attributes: {} }),
    ).rejects.toThrow('topic gone');
  });
});

describe('deployMessage', () => {
  const execution = executionOf();
  const release = {
    bucket: 'orders-api-artifacts',
    key: `releases/orders-api/${'a'.repeat(64)}.zip`,
    sha256: 'a'.repeat(64),
    commitId: SAMPLE.commitId,
  };
  const reconcile = (extra: Partial<ReconcileResult>): ReconcileResult => ({
    outcome: 'deploying',
    stage: 'prod',
    stack: 'orders-api-prod',
    stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-prod/1234',
    stackStatus: 'UPDATE_COMPLETE',
    desired: {
      parameter: '/deployer/orders-api/prod/artifact',
      key: release.key,
      version: 4,
      provenance: {},
    },
    live: 'releases/orders-api/old.zip',
    changeSet: 'deploy-prod-v4',
    fresh: true,
    ...extra,
  });

  it('asks for approval with the planned changes and the commands to review and execute', () => {
    const message = deployMessage(
      {
        outcome: 'pending-approval',
        stage: 'prod',
        stack: 'orders-api-prod',
        execution,
        release,
        reconcile: reconcile({
          outcome: 'pending-approval',
          changes: [
            { action: 'Modify', logicalId: 'Function', type: 'AWS::Lambda::Function', replacement: 'False' },
          ],
        }),
      },
      'us-east-1',
    );
    expect(message.subject).toBe('[prod] orders-api-prod APPROVAL NEEDED 1a2b3c4');
    expect(message.attributes).toEqual({
      stage: 'prod',
      stack: 'orders-api-prod',
      outcome: 'pending-approval',
      severity: 'warning',
      status: 'UPDATE_COMPLETE',
    });
    expect(message.body).toContain('Stack:      orders-api-prod (UPDATE_COMPLETE)');
    expect(message.body).toContain(`Release:    s3://orders-api-artifacts/${release.key}`);
    expect(message.body).toContain(`Commit:     ${SAMPLE.commitId}`);
    expect(message.body).toContain('Desired:    /deployer/orders-api/prod/artifact version 4');
    expect(message.body).toContain(
      'Planned changes:\n  Modify Function (AWS::Lambda::Function), replacement: False',
    );
    expect(message.body).toContain(
      'describe-change-set --stack-name orders-api-prod --region us-east-1 --change-set-name deploy-prod-v4',
    );
    expect(message.body).toContain('approve with: npx deployer approve prod');
    expect(message.body).toContain('reject with: npx deployer reject prod');
    expect(message.body).toContain(
      'https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/stackinfo?stackId=arn%3Aaws%3Acloudformation',
    );
    expect(message.body.endsWith('\n')).toBe(true);
  });

  it('passes on the next step of a blocked stack', () => {
    const message = deployMessage(
      {
        outcome: 'blocked',
        stage: 'prod',
        stack: 'orders-api-prod',
        execution,
        release,
        reconcile: reconcile({
          outcome: 'blocked',
          why: { code: 'stack-needs-person', status: 'ROLLBACK_FAILED', region: 'us-east-1' },
        }),
      },
      'us-east-1',
    );
    expect(message.attributes.severity).toBe('error');
    expect(message.body).toContain('Reason:     stack orders-api-prod is ROLLBACK_FAILED');
    expect(message.body).toContain(
      "\nNext: The stack's creation failed and it cannot be updated. Find the cause in its events (aws cloudformation describe-stack-events --stack-name orders-api-prod --region us-east-1)",
    );
  });

  it('explains a failed release without a stack section, and falls back to the event commit', () => {
    const message = deployMessage(
      {
        outcome: 'failed',
        stage: 'dev',
        stack: 'orders-api-dev',
        execution,
        error: 'build artifact missing',
      },
      'us-east-1',
    );
    expect(message.subject).toBe('[dev] orders-api-dev FAILED 1a2b3c4');
    expect(message.attributes).toEqual({
      stage: 'dev',
      stack: 'orders-api-dev',
      outcome: 'failed',
      severity: 'error',
    });
    expect(message.body).toContain('Reason:   build artifact missing');
    expect(message.body).not.toContain('Release:');
    expect(message.body).not.toContain('Console:');
    expect(message.body).toContain('Next: fix the build');
  });

  it('leaves the commit out of the subject when none is known', () => {
    const legacy = executionOf('pipeline-succeeded-legacy');
    const message = deployMessage(
      { outcome: 'in-sync', stage: 'dev', stack: 'orders-api-dev', execution: legacy },
      'us-east-1',
    );
    expect(message.subject).toBe('[dev] orders-api-dev IN SYNC');
    expect(message.body).not.toContain('Commit:');
    expect(message.body).not.toContain('Next:');
  });

  it('shows names and keys from outside as data: the SSM history, the stack, S3 metadata, DescribeChangeSet', () => {
    const { desired } = reconcile({});
    if (!desired) throw new Error('test setup: no desired release');
    const message = deployMessage(
      {
        outcome: 'pending-approval',
        stage: 'prod',
        stack: 'orders-api-prod',
        commitId: HOSTILE,
        reconcile: reconcile({
          outcome: 'pending-approval',
          stackStatus: HOSTILE,
          desired: { ...desired, key: HOSTILE },
          live: HOSTILE,
          changeSet: HOSTILE,
          changes: [
            { action: 'Modify', logicalId: HOSTILE, type: 'AWS::Lambda::Function', replacement: 'False' },
          ],
        }),
      },
      'us-east-1',
    );
    const field = (label: string) =>
      message.body
        .split('\n')
        .find((line) => line.startsWith(`${label}:`))
        ?.replace(/^[^:]+:\s+/, '');
    expect(field('Stack')).toBe(`orders-api-prod (${HOSTILE_QUOTED})`);
    expect(field('Release')).toBe(HOSTILE_QUOTED);
    expect(field('Commit')).toBe(HOSTILE_QUOTED);
    expect(field('Running')).toBe(HOSTILE_QUOTED);
    expect(field('Change set')).toBe(HOSTILE_QUOTED);
    expect(message.body).toContain(`  Modify ${HOSTILE_QUOTED} (AWS::Lambda::Function), replacement: False`);
    expectNoInjection(message.body);
    expectValidSubject(toSubject(message.subject));
  });

  it('rates each outcome', () => {
    expect(severityOf('deploying')).toBe('info');
    expect(severityOf('no-change')).toBe('info');
    expect(severityOf('in-sync')).toBe('info');
    expect(severityOf('pending-approval')).toBe('warning');
    expect(severityOf('waiting')).toBe('warning');
    expect(severityOf('nothing-desired')).toBe('warning');
    expect(severityOf('blocked')).toBe('error');
    expect(severityOf('failed')).toBe('error');
  });
});

describe('composeSubject', () => {
  const longStack = `orders-${'x'.repeat(110)}-api-prod`;

  it('keeps stage, outcome and commit when the stack name is too long, shortening the name in the middle', () => {
    const subject = composeSubject('prod', longStack, ['UPDATE_ROLLBACK_COMPLETE', '1a2b3c4']);
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject.startsWith('[prod] orders-')).toBe(true);
    expect(subject.endsWith(' UPDATE_ROLLBACK_COMPLETE 1a2b3c4')).toBe(true);
    expect(subject).toContain('...');
    expect(subject).toContain('i-prod UPDATE_ROLLBACK_COMPLETE');
  });

  it('leaves a subject that fits untouched, without a stage when there is none', () => {
    expect(composeSubject(undefined, 'orders-api', ['DELETE_COMPLETE', undefined])).toBe(
      'orders-api DELETE_COMPLETE',
    );
    expect(composeSubject('dev', 'orders-api-dev', ['DEPLOYING', '1a2b3c4'])).toBe(
      '[dev] orders-api-dev DEPLOYING 1a2b3c4',
    );
  });

  it('stays a valid subject when even the words after the name are too long', () => {
    const subject = composeSubject('dev', longStack, [
      'UpdateStack',
      'by',
      `role (session ${'s'.repeat(120)})`,
    ]);
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });
});
