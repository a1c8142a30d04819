/**
 * The hostile table, stack events from other accounts and regions now that stages may live there. The
 * world configures, besides its stage at home, a stage `far-<id>` whose stack `it-<id>-far` lives in
 * TARGET_ACCOUNT (same region). Stack events are accepted from the deployer's own account and region, and
 * from a configured stage's account and region for that stage's stack only (shared/edge/stage-place.ts):
 * every case here is one of the ways around that rule, and must be turned away before any AWS call.
 *
 * What the rule replaced was "the deployer's account and region only"; a looser rule that takes any event
 * from an account some stage lives in, and finds the stage by the stack's name alone, fails every case here
 * (see the cases' notes).
 */
import { randomUUID } from 'node:crypto';
import {
  type CloudTrailEvent,
  cloudTrailEvent,
  consoleToken,
  type StackTarget,
  type StatusChangeEvent,
  stackStatusEvent,
} from '../../integration/helpers/stack-events';
import {
  ACCOUNT,
  type HostileCase,
  type HostileCtx,
  OTHER_ACCOUNT,
  OTHER_REGION,
  REGION,
} from './hostile-cases';
import type { LookupCase } from './hostile-lookup-cases';

/** The account the world's `far` stage lives in. */
export const TARGET_ACCOUNT = '222222222222';
/** The role the deployer assumes there. */
export const targetRoleArn = (id: string): string =>
  `arn:aws:iam::${TARGET_ACCOUNT}:role/deployer-target-${id}`;

/** The world's stage in TARGET_ACCOUNT: its name, its stack, and that stack's ARN there. */
export const farStage = (id: string) => ({
  name: `far-${id}`,
  stack: `it-${id}-far`,
  stackId: `arn:aws:cloudformation:${REGION}:${TARGET_ACCOUNT}:stack/it-${id}-far/0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f`,
});

/** A stack of this name in an account and region, as an event from there names it. */
const stackThere = (stack: string, account: string, region = REGION): StackTarget => ({
  stack,
  stackId: `arn:aws:cloudformation:${region}:${account}:stack/${stack}/${randomUUID()}`,
});

/** The account and region a stack's ARN names. */
const whereOf = (target: StackTarget): { account: string; region: string } => {
  const [, region = REGION, account = ''] =
    /^arn:aws:cloudformation:([^:]+):(\d{12}):/.exec(target.stackId) ?? [];
  return { account, region };
};

/** A final status change of this stack, sent from its account and region. */
export const statusFrom = (target: StackTarget): StatusChangeEvent => {
  const { account, region } = whereOf(target);
  const event = stackStatusEvent('stack-update-complete.json', target, { token: consoleToken() });
  event.account = account;
  event.region = region;
  return event;
};

/** A CloudTrail UpdateStack of this stack, sent from its account and region. */
const callFrom = (target: StackTarget): CloudTrailEvent => {
  const { account, region } = whereOf(target);
  const event = cloudTrailEvent('cloudtrail-update-stack.json', target);
  event.account = account;
  event.region = region;
  event.detail.awsRegion = region;
  return event;
};

type Where = (c: HostileCtx) => StackTarget;

/** The stacks an event from elsewhere may name, none of which the deployer serves where the event came from. */
const PLACES: [string, Where][] = [
  // A looser rule rejects this too: no stage lives there.
  [
    'an unconfigured account, its stack named like the far stage',
    (c) => stackThere(farStage(c.world.id).stack, OTHER_ACCOUNT),
  ],
  // A looser rule accepts it and, by the name alone, acts on the home stage.
  [
    "the far stage's account, naming the home stage's stack",
    (c) => stackThere(c.stage.stack, TARGET_ACCOUNT),
  ],
  [
    "the far stage's account, naming a stack of no stage",
    (c) => stackThere(`it-${c.world.id}-other`, TARGET_ACCOUNT),
  ],
  // A looser rule (by account alone) accepts it and acts on the far stage, whose stack is not there.
  [
    "the far stage's account in another region, naming its stack",
    (c) => stackThere(farStage(c.world.id).stack, TARGET_ACCOUNT, OTHER_REGION),
  ],
];

const rejectedFrom = (handler: 'notify' | 'reconcile', kind: 'status' | 'call'): HostileCase[] =>
  PLACES.filter(() => handler === 'notify' || kind === 'status').map(([what, where]) => ({
    what: `${kind === 'status' ? 'status change' : 'CloudTrail UpdateStack'} from ${what}`,
    handler,
    verdict: 'rejected' as const,
    event: (c: HostileCtx) => (kind === 'status' ? statusFrom(where(c)) : callFrom(where(c))),
  }));

export const PLACE_CASES: HostileCase[] = [
  ...rejectedFrom('notify', 'status'),
  ...rejectedFrom('notify', 'call'),
  ...rejectedFrom('reconcile', 'status'),
  // From home, a stack named like the far stage's is another stack: no stage's (a lookup by name alone would
  // reconcile the far stage, or report the home stack as it).
  {
    what: "status change from home naming a stack named like the far stage's",
    handler: 'reconcile',
    verdict: 'ignored',
    event: (c) => statusFrom(stackThere(farStage(c.world.id).stack, ACCOUNT)),
  },
  {
    what: "status change from home naming a stack named like the far stage's",
    handler: 'notify',
    verdict: 'ignored',
    event: (c) => statusFrom(stackThere(farStage(c.world.id).stack, ACCOUNT)),
  },
];

const CHANGE_SET_ID = '5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c';

/** ExecuteChangeSet by the ARN alone, from the far stage's account, where the change set is of another stack. */
export const PLACE_LOOKUP_CASES: LookupCase[] = [
  {
    what: "ExecuteChangeSet by ARN alone from the far stage's account, of a change set of another stack there",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => {
      const far = farStage(c.world.id);
      const event = callFrom(far);
      event.detail.eventName = 'ExecuteChangeSet';
      event.detail.requestParameters = {
        changeSetName: `arn:aws:cloudformation:${REGION}:${TARGET_ACCOUNT}:changeSet/deploy-${far.name}-v3/${CHANGE_SET_ID}`,
      };
      event.detail.responseElements = null;
      return event;
    },
    changeSet: (c) => {
      const other = stackThere(c.stage.stack, TARGET_ACCOUNT);
      return {
        ChangeSetId: `arn:aws:cloudformation:${REGION}:${TARGET_ACCOUNT}:changeSet/deploy-${farStage(c.world.id).name}-v3/${CHANGE_SET_ID}`,
        StackId: other.stackId,
        StackName: other.stack,
      };
    },
    // Looked up in the far stage's account (with the role assumed there), then turned away.
    reads: ['DescribeChangeSetCommand'],
  },
];
