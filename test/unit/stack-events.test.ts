import { EVENT_TEXT_LIMIT } from '../../shared/edge/events';
import {
  API_CALL_DETAIL_TYPE,
  type ChangeSetCall,
  type ChangeSetOwner,
  type ParsedStackEvent,
  parseStackEvent,
  REPORTED_CALLS,
  type StackApiCall,
  type StackStatusChange,
  stackNameOf,
  withStack,
} from '../../shared/edge/stack-events';
import { EventValidationError } from '../../shared/errors';
import { loose, thrownBy } from './helpers/fixtures';
import { malformedStackEvents } from './helpers/malformed-stack-events';
import {
  API_CALL_EVENTS,
  type ApiCallSample,
  apiCallEvent,
  SAMPLE_ACCESS_KEYS,
  STACK_IDS,
  type STATUS_EVENTS,
  type StatusChangeSample,
  statusEvent,
} from './helpers/stack-samples';

/** The EventValidationError a raw event fails with. */
const rejectionOf = (raw: unknown): EventValidationError => {
  const error = thrownBy(() => parseStackEvent(raw));
  expect(error).toBeInstanceOf(EventValidationError);
  return error as EventValidationError;
};

const apiCall = (raw: unknown): StackApiCall => {
  const event = parseStackEvent(raw);
  if (event?.kind !== 'api-call') throw new Error(`expected an API call, got ${JSON.stringify(event)}`);
  return event;
};

const statusChange = (raw: unknown): StackStatusChange => {
  const event = parseStackEvent(raw);
  if (event?.kind !== 'status-change')
    throw new Error(`expected a status change, got ${JSON.stringify(event)}`);
  return event;
};

const ASSUMED_ROLE_CALLER = {
  type: 'AssumedRole',
  name: 'PlatformOps (session kim@example.com)',
  role: 'PlatformOps',
  session: 'kim@example.com',
  arn: 'arn:aws:iam::123456789012:role/PlatformOps',
};
const IAM_USER_CALLER = { type: 'IAMUser', name: 'dana', arn: 'arn:aws:iam::123456789012:user/dana' };

/** The parsed event without its list of stack references (checked on its own below). */
const withoutRefs = (event: ReturnType<typeof parseStackEvent>) => {
  if (!event) return event;
  const { stackRefs: _refs, ...rest } = event;
  return rest;
};

describe('stack references', () => {
  it('lists every stack name or ARN the event gives, for the account and region check', () => {
    expect(parseStackEvent(statusEvent('stack-update-rollback-complete'))?.stackRefs).toEqual([
      STACK_IDS.prod,
    ]);
    expect(parseStackEvent(apiCallEvent('cloudtrail-create-stack'))?.stackRefs).toEqual([
      'orders-api-dev',
      STACK_IDS.dev,
    ]);
  });
});

describe('stackNameOf', () => {
  it.each([
    ['orders-api-dev', 'orders-api-dev'],
    ['A', 'A'],
    [`a${'b'.repeat(127)}`, `a${'b'.repeat(127)}`],
    [STACK_IDS.dev, 'orders-api-dev'],
    [STACK_IDS.prod, 'orders-api-prod'],
    ['arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/china-stack/abc-123', 'china-stack'],
    ['arn:aws-us-gov:cloudformation:us-gov-west-1:123456789012:stack/gov-stack/abc-123', 'gov-stack'],
  ])('names the stack of %s', (input, expected) => {
    expect(stackNameOf(input)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['starting with a digit', '1orders'],
    ['with an underscore', 'orders_api'],
    ['with a space', 'orders api'],
    ['129 characters', `a${'b'.repeat(128)}`],
    ['unicode', 'ordérs-api'],
    ['a newline', 'orders-api\n'],
    ['an S3 ARN', 'arn:aws:s3:::orders-api-artifacts'],
    ['a change set ARN', 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-prod-v7/1f2e3d4c'],
    ['a stack ARN with a short account', 'arn:aws:cloudformation:us-east-1:12345:stack/orders-api-dev/abc'],
    ['a stack ARN without an id', 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-dev'],
    ['a stack ARN with something after it', `${STACK_IDS.dev}/extra`],
  ])('gives undefined for %s', (_what, input) => {
    expect(stackNameOf(input)).toBeUndefined();
  });
});

describe('parseStackEvent: the API call samples', () => {
  it('parses CreateStack by an IAM user', () => {
    expect(withoutRefs(parseStackEvent(apiCallEvent('cloudtrail-create-stack')))).toEqual({
      kind: 'api-call',
      eventName: 'CreateStack',
      stack: 'orders-api-dev',
      stackId: STACK_IDS.dev,
      caller: IAM_USER_CALLER,
      time: '2026-11-19T08:00:02Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it('parses UpdateStack by an assumed role: named by its role and session', () => {
    expect(withoutRefs(parseStackEvent(apiCallEvent('cloudtrail-update-stack')))).toEqual({
      kind: 'api-call',
      eventName: 'UpdateStack',
      stack: 'orders-api-prod',
      stackId: STACK_IDS.prod,
      caller: ASSUMED_ROLE_CALLER,
      time: '2026-11-20T11:38:51Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it('parses ExecuteChangeSet: the change set named from its ARN, no stack id in an empty response', () => {
    expect(withoutRefs(parseStackEvent(apiCallEvent('cloudtrail-execute-change-set')))).toEqual({
      kind: 'api-call',
      eventName: 'ExecuteChangeSet',
      stack: 'orders-api-prod',
      changeSet: 'deploy-prod-v7',
      changeSetArn:
        'arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-prod-v7/1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9',
      caller: ASSUMED_ROLE_CALLER,
      time: '2026-11-20T11:40:12Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it('parses a refused UpdateStack with its error code and message', () => {
    expect(withoutRefs(parseStackEvent(apiCallEvent('cloudtrail-update-stack-failed')))).toEqual({
      kind: 'api-call',
      eventName: 'UpdateStack',
      stack: 'orders-api-prod',
      caller: IAM_USER_CALLER,
      time: '2026-11-20T13:05:27Z',
      region: 'us-east-1',
      account: '123456789012',
      error: {
        code: 'ValidationError',
        message: `Stack:${STACK_IDS.prod} is in UPDATE_ROLLBACK_FAILED state and can not be updated.`,
      },
    });
  });

  it('parses DeleteStack with a null responseElements', () => {
    expect(withoutRefs(parseStackEvent(apiCallEvent('cloudtrail-delete-stack')))).toEqual({
      kind: 'api-call',
      eventName: 'DeleteStack',
      stack: 'orders-api-dev',
      caller: ASSUMED_ROLE_CALLER,
      time: '2026-11-21T16:14:58Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it.each(API_CALL_EVENTS)('never carries an access key or session credentials out of %s', (name) => {
    const raw = apiCallEvent(name);
    expect(JSON.stringify(raw)).toContain('accessKeyId');
    const parsed = JSON.stringify(parseStackEvent(raw));
    expect(parsed).not.toContain('accessKeyId');
    for (const key of SAMPLE_ACCESS_KEYS) expect(parsed).not.toContain(key);
    expect(parsed).not.toContain('sourceIPAddress');
    expect(parsed).not.toContain('203.0.113.24');
  });

  it('names a plain change set name as it is', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-execute-change-set', (e) => {
        e.detail.requestParameters = { stackName: 'orders-api-prod', changeSetName: 'my-change-set' };
      }),
    );
    expect(call.changeSet).toBe('my-change-set');
  });

  it.each(['CreateStack', 'UpdateStack', 'DeleteStack', 'CreateChangeSet', 'ExecuteChangeSet'])(
    'reports %s',
    (eventName) => {
      expect(REPORTED_CALLS).toContain(eventName);
      const call = apiCall(
        apiCallEvent('cloudtrail-update-stack', (e) => {
          e.detail.eventName = eventName;
        }),
      );
      expect(call.eventName).toBe(eventName);
    },
  );
});

describe('parseStackEvent: callers', () => {
  const withIdentity = (identity: ApiCallSample['detail']['userIdentity']): StackApiCall =>
    apiCall(
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.userIdentity = identity;
      }),
    );

  it('names an AWS service by the service that called', () => {
    expect(withIdentity({ type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' }).caller).toEqual({
      type: 'AWSService',
      name: 'cloudformation.amazonaws.com',
    });
  });

  it('names an AWS service that does not say which as "an AWS service"', () => {
    expect(withIdentity({ type: 'AWSService' }).caller).toEqual({
      type: 'AWSService',
      name: 'an AWS service',
    });
  });

  it('names an assumed role without a session issuer by nothing it does not know', () => {
    const caller = withIdentity({
      type: 'AssumedRole',
      arn: 'arn:aws:sts::123456789012:assumed-role/Deployer/session-1',
      accessKeyId: 'ASIAEXAMPLEKEY123456',
    }).caller;
    expect(caller).toEqual({
      type: 'AssumedRole',
      name: 'unknown role (session session-1)',
      role: 'unknown role',
      session: 'session-1',
    });
  });

  it('takes the role name from the issuer ARN when the issuer has no user name', () => {
    const caller = withIdentity({
      type: 'AssumedRole',
      arn: 'arn:aws:sts::123456789012:assumed-role/Deployer/i-0abc',
      sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::123456789012:role/ops/Deployer' } },
    }).caller;
    expect(caller).toEqual({
      type: 'AssumedRole',
      name: 'Deployer (session i-0abc)',
      role: 'Deployer',
      session: 'i-0abc',
      arn: 'arn:aws:iam::123456789012:role/ops/Deployer',
    });
  });

  it('names a caller with no identity at all "unknown"', () => {
    expect(withIdentity(undefined).caller).toEqual({ type: 'Unknown', name: 'unknown' });
  });

  it('never names a caller by its access key or principal id', () => {
    const caller = withIdentity({
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLEDANA12345',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    }).caller;
    expect(JSON.stringify(caller)).not.toContain('AKIA');
    expect(JSON.stringify(caller)).not.toContain('AIDA');
  });
});

describe('parseStackEvent: stack names', () => {
  it('takes the stack name from a stack ARN in requestParameters.stackName', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-delete-stack', (e) => {
        e.detail.requestParameters = { stackName: STACK_IDS.dev };
      }),
    );
    expect(call.stack).toBe('orders-api-dev');
  });

  it('falls back to responseElements.stackId when the request names no stack', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-create-stack', (e) => {
        e.detail.requestParameters = null;
      }),
    );
    expect(call.stack).toBe('orders-api-dev');
    expect(call.stackId).toBe(STACK_IDS.dev);
  });

  it('rejects a reported call that names no stack', () => {
    const error = rejectionOf(
      apiCallEvent('cloudtrail-delete-stack', (e) => {
        e.detail.requestParameters = {};
      }),
    );
    expect(error.message).toContain('DeleteStack event names no valid stack');
  });

  it.each([
    ['a space', 'orders api'],
    ['a newline', 'orders-api-dev\nDELETE_COMPLETE'],
    ['unicode', 'orders-api-dév'],
    ['an S3 ARN', 'arn:aws:s3:::orders-api-artifacts'],
  ])('rejects a stack name with %s', (_what, stackName) => {
    rejectionOf(
      apiCallEvent('cloudtrail-delete-stack', (e) => {
        e.detail.requestParameters = { stackName };
      }),
    );
  });

  it('keeps no stack id that is not a stack ARN', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-create-stack', (e) => {
        e.detail.responseElements = { stackId: 'not-an-arn' };
      }),
    );
    expect(call.stackId).toBeUndefined();
  });
});

describe('parseStackEvent: the status change samples', () => {
  it('parses UPDATE_ROLLBACK_COMPLETE with our change set token', () => {
    expect(withoutRefs(parseStackEvent(statusEvent('stack-update-rollback-complete')))).toEqual({
      kind: 'status-change',
      stack: 'orders-api-prod',
      stackId: STACK_IDS.prod,
      status: 'UPDATE_ROLLBACK_COMPLETE',
      token: 'deploy-prod-v7-c2a9f4e7b1d6083e5a2c9f64',
      time: '2026-11-20T11:42:19Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it('parses UPDATE_ROLLBACK_FAILED with its reason', () => {
    expect(withoutRefs(parseStackEvent(statusEvent('stack-update-rollback-failed')))).toEqual({
      kind: 'status-change',
      stack: 'orders-api-prod',
      stackId: STACK_IDS.prod,
      status: 'UPDATE_ROLLBACK_FAILED',
      reason: 'The following resource(s) failed to update: [Function]. ',
      token: 'deploy-prod-v8-e7d1b5a3c9f2046b8d1e3a70',
      time: '2026-11-20T12:30:44Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it.each<[(typeof STATUS_EVENTS)[number], string, string, string | undefined]>([
    ['stack-update-complete', 'orders-api-dev', 'UPDATE_COMPLETE', 'deploy-dev-v2-9b3e6d0c2a5f8e1b4d7c0a39'],
    ['stack-create-failed', 'orders-api-dev', 'CREATE_FAILED', 'deploy-dev-v1-4f1c2b7e9a0d3c6b8e2f5a17'],
    [
      'stack-rollback-complete',
      'orders-api-dev',
      'ROLLBACK_COMPLETE',
      'deploy-dev-v1-4f1c2b7e9a0d3c6b8e2f5a17',
    ],
    [
      'stack-delete-complete',
      'orders-api-dev',
      'DELETE_COMPLETE',
      'Console-DeleteStack-9d8c7b6a-5f4e-4d3c-a2b1-0f9e8d7c6b5a',
    ],
  ])('parses %s', (name, stack, status, token) => {
    const change = statusChange(statusEvent(name));
    expect(change).toMatchObject({ stack, status, token, account: '123456789012', region: 'us-east-1' });
  });

  it('drops an empty status reason', () => {
    const change = statusChange(statusEvent('stack-update-complete'));
    expect(change).not.toHaveProperty('reason');
  });

  it('parses an event without a client request token', () => {
    const change = statusChange(
      statusEvent('stack-update-complete', (e) => {
        delete e.detail['client-request-token'];
      }),
    );
    expect(change).not.toHaveProperty('token');
  });

  it('keeps a status reason with newlines as it is (the message, not the parser, decides)', () => {
    const change = statusChange(
      statusEvent('stack-update-rollback-failed', (e) => {
        e.detail['status-details'] = { status: 'UPDATE_ROLLBACK_FAILED', 'status-reason': 'line 1\nline 2' };
      }),
    );
    expect(change.reason).toBe('line 1\nline 2');
  });
});

describe('parseStackEvent: events it does not report', () => {
  it.each(['DescribeStacks', 'ListStacks', 'DescribeStackEvents', 'ContinueUpdateRollback', 'GetTemplate'])(
    'gives undefined for the API call %s',
    (eventName) => {
      const raw = apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.eventName = eventName;
      });
      expect(parseStackEvent(raw)).toBeUndefined();
    },
  );

  it('gives undefined for an unreported call that names no stack at all', () => {
    const raw = apiCallEvent('cloudtrail-update-stack', (e) => {
      e.detail.eventName = 'ListStacks';
      e.detail.requestParameters = null;
      e.detail.responseElements = null;
    });
    expect(parseStackEvent(raw)).toBeUndefined();
  });
});

describe('parseStackEvent: malformed events', () => {
  it.each(malformedStackEvents())('rejects %s with an EventValidationError', (_what, make) => {
    const error = rejectionOf(make());
    expect(error.message.length).toBeLessThan(2000);
  });

  it('names the field that is wrong', () => {
    const error = rejectionOf(
      statusEvent('stack-update-complete', (e) => {
        e.detail['stack-id'] = 'orders-api-dev';
      }),
    );
    expect(error.message).toContain('malformed stack status change event');
    expect(error.message).toContain('detail.stack-id');
    expect(error.message).toContain('must be a CloudFormation stack ARN');
  });

  it('names the unknown detail-type, bounded', () => {
    const error = rejectionOf({ 'detail-type': `Something Else ${'x'.repeat(500)}` });
    expect(error.message).toContain('not a CloudFormation event this deployer handles');
    expect(error.message).toContain('Something Else');
    expect(error.message.length).toBeLessThan(300);
  });

  it('rejects the API call detail-type from another source', () => {
    const raw = apiCallEvent('cloudtrail-update-stack', (e) => {
      loose(e).source = 'aws.s3';
    });
    expect(raw['detail-type']).toBe(API_CALL_DETAIL_TYPE);
    expect(rejectionOf(raw).message).toContain('malformed CloudTrail API call event');
  });
});

describe('parseStackEvent: results are plain data', () => {
  it.each<[string, () => StatusChangeSample | ApiCallSample]>([
    ['a status change', () => statusEvent('stack-update-rollback-complete')],
    ['an API call', () => apiCallEvent('cloudtrail-update-stack')],
  ])('does not change the raw event of %s', (_what, make) => {
    const raw = make();
    const before = JSON.stringify(raw);
    const event: ParsedStackEvent | undefined = parseStackEvent(raw);
    expect(event).toBeDefined();
    expect(JSON.stringify(raw)).toBe(before);
  });
});

describe('parseStackEvent: long free text is kept, never rejected (the message shortens it)', () => {
  it('a 10,000-character status reason', () => {
    const reason = `The following resource(s) failed to update: [${'Function, '.repeat(1000)}]`;
    const change = statusChange(
      statusEvent('stack-update-rollback-failed', (e) => {
        e.detail['status-details'] = { status: 'UPDATE_ROLLBACK_FAILED', 'status-reason': reason };
      }),
    );
    expect(reason.length).toBeGreaterThan(10_000);
    expect(change.reason).toBe(reason);
  });

  it('a status reason as long as a whole EventBridge event', () => {
    const change = statusChange(
      statusEvent('stack-update-rollback-failed', (e) => {
        e.detail['status-details'] = {
          status: 'UPDATE_ROLLBACK_FAILED',
          'status-reason': 'r'.repeat(EVENT_TEXT_LIMIT),
        };
      }),
    );
    expect(change.reason).toHaveLength(EVENT_TEXT_LIMIT);
  });

  it('a 10,000-character error message and error code of a refused call', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-update-stack-failed', (e) => {
        e.detail.errorCode = 'E'.repeat(1000);
        e.detail.errorMessage = 'm'.repeat(10_000);
      }),
    );
    expect(call.error).toEqual({ code: 'E'.repeat(1000), message: 'm'.repeat(10_000) });
  });

  it('long caller names, ARNs and session names', () => {
    const call = apiCall(
      apiCallEvent('cloudtrail-update-stack', (e) => {
        e.detail.userIdentity = {
          type: 'AssumedRole',
          arn: `arn:aws:sts::123456789012:assumed-role/PlatformOps/${'s'.repeat(3000)}`,
          sessionContext: { sessionIssuer: { type: 'Role', userName: 'r'.repeat(500) } },
        };
      }),
    );
    expect(call.caller.session).toBe('s'.repeat(3000));
    expect(call.caller.role).toBe('r'.repeat(500));
  });
});

const CHANGE_SET_ARN =
  'arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-prod-v8/6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f';

const changeSetCall = (edit: (event: ApiCallSample) => void = () => {}): ChangeSetCall => {
  const event = parseStackEvent(apiCallEvent('cloudtrail-execute-change-set-by-arn', edit));
  if (event?.kind !== 'change-set-call')
    throw new Error(`expected a change set call, got ${JSON.stringify(event)}`);
  return event;
};

describe('parseStackEvent: ExecuteChangeSet by the change set ARN alone', () => {
  it('parses the sample into a call whose stack is still to be named, with who made it', () => {
    expect(changeSetCall()).toEqual({
      kind: 'change-set-call',
      eventName: 'ExecuteChangeSet',
      changeSet: 'deploy-prod-v8',
      changeSetArn: CHANGE_SET_ARN,
      stackRefs: [],
      caller: ASSUMED_ROLE_CALLER,
      time: '2026-11-21T09:12:44Z',
      region: 'us-east-1',
      account: '123456789012',
    });
  });

  it('a refused call keeps its error', () => {
    const call = changeSetCall((e) => {
      e.detail.errorCode = 'ChangeSetNotFoundException';
      e.detail.errorMessage = 'ChangeSet [deploy-prod-v8] does not exist';
    });
    expect(call.error?.code).toBe('ChangeSetNotFoundException');
  });

  it('a call that names the stack too is an ordinary call, keeping the change set ARN for the locality check', () => {
    const call = apiCall(apiCallEvent('cloudtrail-execute-change-set'));
    expect(call.stack).toBe('orders-api-prod');
    expect(call.changeSetArn).toMatch(
      /^arn:aws:cloudformation:us-east-1:123456789012:changeSet\/deploy-prod-v7\//,
    );
  });

  it('a stack name that is not valid is rejected even when the change set ARN is given', () => {
    rejectionOf(
      apiCallEvent('cloudtrail-execute-change-set-by-arn', (e) => {
        e.detail.requestParameters = { stackName: 'orders api', changeSetName: CHANGE_SET_ARN };
      }),
    );
  });
});

describe('withStack: the stack DescribeChangeSet names for a change set ARN', () => {
  const owner: ChangeSetOwner = {
    ChangeSetId: CHANGE_SET_ARN,
    StackId: STACK_IDS.prod,
    StackName: 'orders-api-prod',
  };

  it('makes the call an ordinary API call on that stack', () => {
    const named = withStack(changeSetCall(), owner);
    expect(named).toEqual({
      event: {
        kind: 'api-call',
        eventName: 'ExecuteChangeSet',
        stack: 'orders-api-prod',
        stackId: STACK_IDS.prod,
        stackRefs: [STACK_IDS.prod],
        changeSet: 'deploy-prod-v8',
        changeSetArn: CHANGE_SET_ARN,
        caller: ASSUMED_ROLE_CALLER,
        time: '2026-11-21T09:12:44Z',
        region: 'us-east-1',
        account: '123456789012',
      },
    });
  });

  it.each<[string, ChangeSetOwner]>([
    ['no stack at all', { StackId: undefined, StackName: undefined }],
    ['a stack name that is not valid', { StackName: 'orders api' }],
    ['a stack id that is not a stack ARN', { StackId: 'arn:aws:s3:::orders-api-prod' }],
    ['a name that is not the one in the stack id', { StackName: 'orders-api-dev' }],
    ['another change set', { ChangeSetId: CHANGE_SET_ARN.replace('v8', 'v9') }],
    [
      'a stack of another account',
      {
        StackId: STACK_IDS.prod.replace('123456789012', '210987654321'),
      },
    ],
    ['a stack in another region', { StackId: STACK_IDS.prod.replace('us-east-1', 'eu-west-1') }],
  ])('rejects %s', (_what, change) => {
    const named = withStack(changeSetCall(), { ...owner, ...change });
    expect(named).toEqual({ rejected: expect.any(String) });
  });
});
