/**
 * The hostile table, CloudFormation events: CloudTrail API calls and stack status changes through the
 * notify and reconcile handlers (stack names and ARNs with path tricks, unicode, control characters, huge
 * values, another account or region, unconfigured stacks, schedule look-alikes), and the cases that once
 * found product bugs. See hostile-cases.ts for what a case is.
 */
import { scheduleEvent } from '../../integration/helpers/stack-events';
import {
  type HostileCase,
  huge,
  notEventCases,
  OTHER_ACCOUNT,
  OTHER_REGION,
  unconfiguredArn,
} from './hostile-cases';

export const NOTIFY_CASES: HostileCase[] = [
  ...notEventCases('notify'),
  {
    what: "CloudTrail: stackName '../../x'",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: '../../x' };
        e.detail.responseElements = null;
      }),
  },
  {
    what: "CloudTrail: stackName the stage stack with '/../../x'",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}/../../x` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with spaces',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack} ${c.stage.stack}` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with emoji',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}-🔥` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName in full-width look-alike letters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = {
          stackName: c.stage.stack.replace(/[a-z]/g, (ch) =>
            String.fromCodePoint((ch.codePointAt(0) ?? 0) + 0xfee0),
          ),
        };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: stackName with control characters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `${c.stage.stack}\r\n\u0007` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: a 1 MB stackName',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: huge('s') };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: an S3 ARN as stackName',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `arn:aws:s3:::${c.world.bucket}` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: no stack named at all',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = null;
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: requestParameters mistyped (a string)',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        (e.detail as Record<string, unknown>).requestParameters = c.stage.stack;
      }),
  },
  {
    what: 'CloudTrail: an unconfigured stack',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.call((e) => {
        e.detail.requestParameters = { stackName: `it-${c.world.id}-other` };
        e.detail.responseElements = null;
      }),
  },
  {
    what: 'CloudTrail: a call that starts no stack operation (DescribeStacks)',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.call((e) => {
        e.detail.eventName = 'DescribeStacks';
      }),
  },
  {
    what: 'CloudTrail: a call made in another region',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.detail.awsRegion = OTHER_REGION;
      }),
  },
  {
    what: 'CloudTrail: another account',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: a stack-id that is the stack name, not an ARN',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.stage.stack;
      }),
  },
  {
    what: 'status change: a stack-id that is an S3 ARN',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `arn:aws:s3:::${c.world.bucket}`;
      }),
  },
  {
    what: "status change: a stack-id with '..' for the stack name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.target.stackId.replace(`/${c.stage.stack}/`, '/../../x/');
      }),
  },
  {
    what: 'status change: a stack-id with a newline',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `${c.target.stackId}\n`;
      }),
  },
  {
    what: 'status change: a stack-id of an unconfigured stack',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = unconfiguredArn(c);
      }),
  },
  {
    what: 'status change: a status with control characters',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_COMPLETE\u0000\n';
      }),
  },
  {
    what: 'status change: a 1 MB status reason',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details']['status-reason'] = huge('Resource handler returned message: ');
      }),
  },
  {
    what: 'status change: another account',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: another region',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'status change: an in-progress status (not reported by default)',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_IN_PROGRESS';
      }),
  },
  {
    what: 'an unknown detail-type',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e['detail-type'] = 'CloudFormation Resource Status Change';
      }),
  },
  {
    what: 'the schedule event sent to the notify handler',
    handler: 'notify',
    verdict: 'rejected',
    event: () => scheduleEvent(),
  },
  {
    what: 'a pipeline event sent to the notify handler',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => c.pipeline(),
  },
];

export const RECONCILE_CASES: HostileCase[] = [
  ...notEventCases('reconcile'),
  {
    what: 'a schedule-looking event with a wrong source',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'custom.attacker' }),
  },
  {
    what: "a schedule-looking event whose source has a trailing space ('aws.events ')",
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'aws.events ' }),
  },
  {
    what: 'a schedule-looking event with a lowercase detail-type',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), 'detail-type': 'scheduled event' }),
  },
  {
    what: 'a schedule-looking event from EventBridge Scheduler (aws.scheduler)',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), source: 'aws.scheduler' }),
  },
  {
    what: 'status change: a stack-id of an unconfigured stack',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = unconfiguredArn(c);
      }),
  },
  {
    what: 'status change: a stack-id that is not an ARN',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = `${c.stage.stack} (${c.target.stackId})`;
      }),
  },
  {
    what: "status change: a stack-id naming '../../x'",
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = c.target.stackId.replace(`/${c.stage.stack}/`, '/../../x/');
      }),
  },
  {
    what: 'status change: an in-progress status of the stage stack',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) =>
      c.status((e) => {
        e.detail['status-details'].status = 'UPDATE_IN_PROGRESS';
      }),
  },
  {
    what: 'status change: a 1 MB client request token naming another stage with a path',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['client-request-token'] = `deploy-${c.stage.name}/../prod-v1${huge('/..')}`;
      }),
  },
  {
    what: 'status change: another account',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.account = OTHER_ACCOUNT;
      }),
  },
  {
    what: 'status change: another region',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.region = OTHER_REGION;
      }),
  },
  {
    what: 'a CloudTrail call sent to the reconcile handler',
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) => c.call(),
  },
  {
    what: 'a pipeline event sent to the reconcile handler',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) => c.pipeline(),
  },
];
