/**
 * The hostile table, cases that found product bugs (now fixed), kept so they stay fixed. See
 * hostile-cases.ts for what a case is.
 */
import { scheduleEvent } from '../../integration/helpers/stack-events';
import { foreignArn, type HostileCase, OTHER_ACCOUNT, OTHER_REGION } from './hostile-cases';

/**
 * Cases that found product bugs (now fixed): stack ARNs of another account or region, a detail-type with a
 * toString key, schedule events from elsewhere.
 */
export const FOUND_BUG_CASES: HostileCase[] = [
  // stack-events.ts stackNameOf/STACK_ARN: the account and region inside a stack ARN are never compared
  // with the deployer's, so an ARN of another account's (or region's) stack of the same name is taken for
  // the stage's stack: the notify handler reports it, the reconcile handler reconciles the stage.
  {
    what: "CloudTrail: stackName an ARN of another account's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.call((e) => {
        const arn = foreignArn(c, { account: OTHER_ACCOUNT });
        e.detail.requestParameters = { stackName: arn };
        e.detail.responseElements = { stackId: arn };
      }),
  },
  {
    what: "status change: a stack-id of another account's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { account: OTHER_ACCOUNT });
      }),
  },
  {
    what: "status change: a stack-id of another region's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { region: OTHER_REGION });
      }),
  },
  {
    what: "status change: a stack-id of another account's stack of the same name",
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) =>
      c.status((e) => {
        e.detail['stack-id'] = foreignArn(c, { account: OTHER_ACCOUNT });
      }),
  },
  // stack-events.ts, the last statement of parseStackEvent: String(detailType) throws a TypeError for a
  // JSON object whose toString is not a function, so both handlers throw instead of rejecting.
  {
    what: 'a detail-type that is a JSON object with a "toString" key',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => ({ ...c.status(), 'detail-type': JSON.parse('{"toString": 1}') as unknown }),
  },
  {
    what: 'a detail-type that is a JSON object with a "toString" key',
    handler: 'reconcile',
    verdict: 'rejected',
    event: (c) => ({ ...c.status(), 'detail-type': JSON.parse('{"toString": 1}') as unknown }),
  },
  // settle.ts isScheduledEvent/handleReconcileTrigger: a schedule event is never validated, so one from
  // another account or region (or a bare {source, detail-type}) reconciles every stage.
  {
    what: 'a schedule event from another account',
    handler: 'reconcile',
    verdict: 'rejected',
    event: () => ({ ...scheduleEvent(), account: OTHER_ACCOUNT, region: OTHER_REGION }),
  },
];
