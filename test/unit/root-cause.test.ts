import {
  CloudFormationClient,
  DescribeStackEventsCommand,
  type DescribeStackEventsCommandInput,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { findRootCause } from '../../shared/aws/root-cause';
import { awsError, makeRuntime, rejectionOf } from './helpers/fixtures';
import { resourceEvent, stackEventPages, stackItselfEvent } from './helpers/stack-builders';
import { STACK_IDS } from './helpers/stack-samples';

const cfn = mockClient(CloudFormationClient);
const client = makeRuntime().clients.cfn;

beforeEach(() => {
  cfn.reset();
});

const givenPages = (...pages: StackEvent[][]): void => {
  cfn.on(DescribeStackEventsCommand).callsFake(stackEventPages(pages));
};

const REAL_REASON = 'Resource handler returned message: "Uploaded file must be a non-empty zip file"';
const TOKEN = 'deploy-prod-v7';

/** An update of ours that failed and rolled back, newest first, over three pages; a fourth, older page. */
const rolledBackUpdate = (token: string | undefined = TOKEN): StackEvent[][] => {
  const t = token === undefined ? {} : { token };
  return [
    [
      stackItselfEvent('UPDATE_ROLLBACK_COMPLETE', t),
      resourceEvent('OrdersFunction', 'UPDATE_COMPLETE', undefined, t),
      stackItselfEvent('UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', t),
      resourceEvent('OrdersQueue', 'UPDATE_COMPLETE', undefined, { ...t, type: 'AWS::SQS::Queue' }),
    ],
    [
      stackItselfEvent('UPDATE_ROLLBACK_IN_PROGRESS', t),
      resourceEvent('OrdersQueue', 'UPDATE_FAILED', 'Resource update cancelled', {
        ...t,
        type: 'AWS::SQS::Queue',
      }),
      resourceEvent('OrdersFunction', 'UPDATE_FAILED', REAL_REASON, t),
      resourceEvent('OrdersFunction', 'UPDATE_IN_PROGRESS', undefined, t),
    ],
    [
      resourceEvent('OrdersQueue', 'UPDATE_IN_PROGRESS', undefined, { ...t, type: 'AWS::SQS::Queue' }),
      stackItselfEvent('UPDATE_IN_PROGRESS', t),
      // The operation before: its failure must not be named.
      stackItselfEvent('UPDATE_ROLLBACK_COMPLETE', { token: 'deploy-prod-v6' }),
      resourceEvent('OldTable', 'UPDATE_FAILED', 'an older failure', {
        token: 'deploy-prod-v6',
        type: 'AWS::DynamoDB::Table',
      }),
    ],
    [
      resourceEvent('AncientBucket', 'CREATE_FAILED', 'the oldest failure', {
        token: 'deploy-prod-v1',
        type: 'AWS::S3::Bucket',
      }),
      stackItselfEvent('CREATE_IN_PROGRESS', { token: 'deploy-prod-v1' }),
    ],
  ];
};

const EXPECTED = {
  logicalId: 'OrdersFunction',
  type: 'AWS::Lambda::Function',
  status: 'UPDATE_FAILED',
  reason: REAL_REASON,
};

describe('findRootCause: paging', () => {
  it('reads the events over three pages and names the first real failure', async () => {
    givenPages(...rolledBackUpdate());
    expect(await findRootCause(client, STACK_IDS.prod, TOKEN)).toEqual(EXPECTED);
  });

  it('stops at the stack-level UPDATE_IN_PROGRESS: the fourth page is never read', async () => {
    givenPages(...rolledBackUpdate());
    await findRootCause(client, STACK_IDS.prod, TOKEN);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 3);
  });

  it('asks for the stack by its id, passing each NextToken on', async () => {
    givenPages(...rolledBackUpdate());
    await findRootCause(client, STACK_IDS.prod, TOKEN);
    const inputs = cfn
      .commandCalls(DescribeStackEventsCommand)
      .map((c): DescribeStackEventsCommandInput => c.args[0].input);
    expect(inputs).toEqual([
      { StackName: STACK_IDS.prod, NextToken: undefined },
      { StackName: STACK_IDS.prod, NextToken: 'page-1' },
      { StackName: STACK_IDS.prod, NextToken: 'page-2' },
    ]);
  });

  it('without a token, still stops at the operation start and ignores the previous operation', async () => {
    givenPages(...rolledBackUpdate(undefined));
    expect(await findRootCause(client, STACK_IDS.prod)).toEqual(EXPECTED);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 3);
  });

  it('stops after the first page when the operation starts there', async () => {
    givenPages(
      [
        stackItselfEvent('ROLLBACK_COMPLETE'),
        resourceEvent('FunctionRole', 'CREATE_FAILED', 'Access denied for iam:CreateRole', {
          type: 'AWS::IAM::Role',
        }),
        stackItselfEvent('CREATE_IN_PROGRESS'),
      ],
      [resourceEvent('Never', 'CREATE_FAILED', 'never read')],
    );
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'FunctionRole' });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 1);
  });

  it.each(['CREATE_IN_PROGRESS', 'UPDATE_IN_PROGRESS', 'DELETE_IN_PROGRESS', 'IMPORT_IN_PROGRESS'])(
    'treats the stack-level %s as the start of the operation',
    async (start) => {
      givenPages(
        [
          resourceEvent('Newer', 'DELETE_FAILED', 'this operation'),
          stackItselfEvent(start),
          resourceEvent('Older', 'UPDATE_FAILED', 'the previous operation'),
        ],
        [],
      );
      expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Newer' });
      expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 1);
    },
  );

  it('reads every page when the history has no start (and names the oldest failure)', async () => {
    givenPages(
      [resourceEvent('B', 'UPDATE_FAILED', 'second')],
      [resourceEvent('A', 'UPDATE_FAILED', 'first')],
    );
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'A', reason: 'first' });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 2);
  });

  it('stops after 20 pages of a stack whose history never ends', async () => {
    cfn.on(DescribeStackEventsCommand).resolves({
      StackEvents: [resourceEvent('Noise', 'UPDATE_COMPLETE')],
      NextToken: 'more',
    });
    expect(await findRootCause(client, STACK_IDS.prod)).toBeUndefined();
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 20);
  });

  it('passes an SDK error on (the handler decides)', async () => {
    cfn.on(DescribeStackEventsCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    const error = await rejectionOf(findRootCause(client, STACK_IDS.prod));
    expect(error.name).toBe('Throttling');
  });
});

describe('findRootCause: which failure', () => {
  it('prefers the earliest real failure to a later "Resource creation cancelled"', async () => {
    givenPages([
      stackItselfEvent('ROLLBACK_IN_PROGRESS'),
      resourceEvent('Queue', 'CREATE_FAILED', 'Resource creation cancelled', { type: 'AWS::SQS::Queue' }),
      resourceEvent('Table', 'CREATE_FAILED', 'Resource creation cancelled', {
        type: 'AWS::DynamoDB::Table',
      }),
      resourceEvent('FunctionRole', 'CREATE_FAILED', 'not authorized to perform iam:CreateRole', {
        type: 'AWS::IAM::Role',
      }),
      stackItselfEvent('CREATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toEqual({
      logicalId: 'FunctionRole',
      type: 'AWS::IAM::Role',
      status: 'CREATE_FAILED',
      reason: 'not authorized to perform iam:CreateRole',
    });
  });

  it('prefers a real failure to an echo even when the echo came first', async () => {
    givenPages([
      resourceEvent('Function', 'UPDATE_FAILED', 'Runtime nodejs12.x is no longer supported'),
      resourceEvent('Queue', 'UPDATE_FAILED', 'Resource update canceled', { type: 'AWS::SQS::Queue' }),
      stackItselfEvent('UPDATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Function' });
  });

  it('of two real failures, names the earlier one', async () => {
    givenPages([
      resourceEvent('Later', 'UPDATE_FAILED', 'later real failure'),
      resourceEvent('Earlier', 'UPDATE_FAILED', 'earlier real failure'),
      stackItselfEvent('UPDATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Earlier' });
  });

  it('when every failure is an echo, names the earliest echo', async () => {
    givenPages([
      resourceEvent('Second', 'CREATE_FAILED', 'Resource creation cancelled'),
      resourceEvent('First', 'CREATE_FAILED', 'Resource creation cancelled'),
      stackItselfEvent('CREATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'First' });
  });

  it('treats a nested stack failure that only lists failed resources as an echo', async () => {
    givenPages([
      resourceEvent('Nested', 'UPDATE_FAILED', 'The following resource(s) failed to update: [Inner].', {
        type: 'AWS::CloudFormation::Stack',
        physicalId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-prod-Nested-1/abc',
      }),
      resourceEvent('Alarm', 'UPDATE_FAILED', 'Invalid metric name', { type: 'AWS::CloudWatch::Alarm' }),
      stackItselfEvent('UPDATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Alarm' });
  });

  it("does not take a nested stack's own start for the operation start", async () => {
    givenPages(
      [
        resourceEvent('Nested', 'CREATE_IN_PROGRESS', undefined, {
          type: 'AWS::CloudFormation::Stack',
          physicalId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-prod-Nested-1/abc',
        }),
        resourceEvent('Bucket', 'CREATE_FAILED', 'Bucket name already exists', { type: 'AWS::S3::Bucket' }),
      ],
      [stackItselfEvent('UPDATE_IN_PROGRESS')],
    );
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Bucket' });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 2);
  });

  it('ignores failures of the stack itself (they only sum up)', async () => {
    givenPages([
      stackItselfEvent('UPDATE_ROLLBACK_FAILED'),
      stackItselfEvent('UPDATE_FAILED'),
      resourceEvent('Function', 'UPDATE_FAILED', 'real'),
      stackItselfEvent('UPDATE_IN_PROGRESS'),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'Function' });
  });

  it('returns undefined when nothing failed', async () => {
    givenPages(
      [stackItselfEvent('UPDATE_COMPLETE'), resourceEvent('Function', 'UPDATE_COMPLETE')],
      [resourceEvent('Function', 'UPDATE_IN_PROGRESS'), stackItselfEvent('UPDATE_IN_PROGRESS')],
    );
    expect(await findRootCause(client, STACK_IDS.prod)).toBeUndefined();
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 2);
  });

  it('returns undefined for a stack without events', async () => {
    cfn.on(DescribeStackEventsCommand).resolves({});
    expect(await findRootCause(client, STACK_IDS.prod)).toBeUndefined();
  });

  it('fills in what an event does not say', async () => {
    givenPages([
      {
        EventId: 'bare',
        Timestamp: new Date('2026-11-20T11:00:00Z'),
        ResourceStatus: 'CREATE_FAILED',
        StackId: STACK_IDS.prod,
        StackName: 'orders-api-prod',
      },
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toEqual({
      logicalId: '?',
      type: '?',
      status: 'CREATE_FAILED',
      reason: 'no reason given',
    });
  });
});

describe('findRootCause: the client request token', () => {
  it("ignores a newer operation's events (its start and its failure) and finds ours", async () => {
    const console = { token: 'Console-UpdateStack-1111' };
    const ours = { token: TOKEN };
    givenPages(
      [
        stackItselfEvent('UPDATE_ROLLBACK_COMPLETE', console),
        resourceEvent('ConsoleThing', 'UPDATE_FAILED', 'failure of the console update', console),
        stackItselfEvent('UPDATE_IN_PROGRESS', console),
      ],
      [
        stackItselfEvent('UPDATE_ROLLBACK_COMPLETE', ours),
        resourceEvent('OrdersFunction', 'UPDATE_FAILED', REAL_REASON, ours),
        stackItselfEvent('UPDATE_IN_PROGRESS', ours),
      ],
      [resourceEvent('Never', 'UPDATE_FAILED', 'never read')],
    );
    expect(await findRootCause(client, STACK_IDS.prod, TOKEN)).toEqual(EXPECTED);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackEventsCommand, 2);
  });

  it('ignores failures of other operations interleaved with ours', async () => {
    givenPages([
      resourceEvent('Other', 'UPDATE_FAILED', 'not ours', { token: 'someone-else' }),
      resourceEvent('OrdersFunction', 'UPDATE_FAILED', REAL_REASON, { token: TOKEN }),
      resourceEvent('Other2', 'UPDATE_FAILED', 'not ours either', { token: 'someone-else' }),
      stackItselfEvent('UPDATE_IN_PROGRESS', { token: TOKEN }),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod, TOKEN)).toEqual(EXPECTED);
  });

  it('keeps events that carry no token', async () => {
    givenPages([
      resourceEvent('Untokened', 'UPDATE_FAILED', 'real, no token'),
      stackItselfEvent('UPDATE_IN_PROGRESS', { token: TOKEN }),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod, TOKEN)).toMatchObject({ logicalId: 'Untokened' });
  });

  it('without a token, the newest operation is the one reported', async () => {
    givenPages([
      resourceEvent('ConsoleThing', 'UPDATE_FAILED', 'failure of the console update', {
        token: 'Console-UpdateStack-1111',
      }),
      stackItselfEvent('UPDATE_IN_PROGRESS', { token: 'Console-UpdateStack-1111' }),
      resourceEvent('OrdersFunction', 'UPDATE_FAILED', REAL_REASON, { token: TOKEN }),
    ]);
    expect(await findRootCause(client, STACK_IDS.prod)).toMatchObject({ logicalId: 'ConsoleThing' });
  });
});
