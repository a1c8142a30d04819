/**
 * The hostile table, change set calls named by ARN alone: a CloudTrail ExecuteChangeSet whose only stack
 * reference is a change set ARN. The notify handler must look that change set up (DescribeChangeSet) to
 * learn its stack, so these cases allow exactly that one read, and say what it answers: a change set that
 * is gone, one of an unconfigured stack, an answer that names another account's stack or another change set.
 * An ARN that is foreign or malformed is turned away before the lookup. Unit-only: the answers are mocked.
 */
import { cloudTrailEvent } from '../../integration/helpers/stack-events';
import {
  ACCOUNT,
  foreignArn,
  type HostileCase,
  type HostileCtx,
  OTHER_ACCOUNT,
  REGION,
  unconfiguredArn,
} from './hostile-cases';

/** What DescribeChangeSet says about a change set, as far as the notify handler reads it. */
export interface ChangeSetAnswer {
  ChangeSetId?: string;
  StackId?: string;
  StackName?: string;
}

export interface LookupCase extends HostileCase {
  /** What DescribeChangeSet answers for the change set: its owner, or the error it fails with. */
  changeSet?: (c: HostileCtx) => ChangeSetAnswer | Error;
  /** Exactly the commands the handler may send, in order. */
  reads: string[];
}

const CHANGE_SET_ID = '1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9';

/** The ARN of a change set of the stage in this account and region (or another account). */
const changeSetArn = (c: HostileCtx, account = ACCOUNT, path = `deploy-${c.stage.name}-v7`): string =>
  `arn:aws:cloudformation:${REGION}:${account}:changeSet/${path}/${CHANGE_SET_ID}`;

/** ExecuteChangeSet (the sample event) naming the change set by this ARN and no stack at all. */
const executeByArn = (c: HostileCtx, arn: string): unknown => {
  const event = cloudTrailEvent('cloudtrail-execute-change-set.json', c.target);
  event.detail.requestParameters = { changeSetName: arn };
  event.detail.responseElements = null;
  return event;
};

const notFound = (): Error =>
  Object.assign(new Error('ChangeSet [deploy-dev-v7] does not exist'), {
    name: 'ChangeSetNotFoundException',
    $fault: 'client',
    $metadata: { httpStatusCode: 404 },
  });

const LOOKUP = ['DescribeChangeSetCommand'];

export const LOOKUP_CASES: LookupCase[] = [
  {
    what: 'ExecuteChangeSet by the ARN alone of a change set that no longer exists',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) => executeByArn(c, changeSetArn(c)),
    changeSet: notFound,
    reads: LOOKUP,
  },
  {
    what: 'ExecuteChangeSet by the ARN alone of a change set of an unconfigured stack',
    handler: 'notify',
    verdict: 'ignored',
    event: (c) => executeByArn(c, changeSetArn(c)),
    changeSet: (c) => {
      const stackId = unconfiguredArn(c);
      return {
        ChangeSetId: changeSetArn(c),
        StackId: stackId,
        StackName: /stack\/([^/]+)\//.exec(stackId)?.[1],
      };
    },
    reads: LOOKUP,
  },
  {
    what: "ExecuteChangeSet by the ARN alone, answered with another account's stack of the same name",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => executeByArn(c, changeSetArn(c)),
    changeSet: (c) => ({
      ChangeSetId: changeSetArn(c),
      StackId: foreignArn(c, { account: OTHER_ACCOUNT }),
      StackName: c.stage.stack,
    }),
    reads: LOOKUP,
  },
  {
    what: 'ExecuteChangeSet by the ARN alone, answered for another change set',
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => executeByArn(c, changeSetArn(c)),
    changeSet: (c) => ({
      ChangeSetId: changeSetArn(c, ACCOUNT, 'someone-elses'),
      StackId: c.target.stackId,
      StackName: c.stage.stack,
    }),
    reads: LOOKUP,
  },
  {
    what: "ExecuteChangeSet by the ARN alone of another account's change set (not looked up)",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => executeByArn(c, changeSetArn(c, OTHER_ACCOUNT)),
    reads: [],
  },
  {
    what: "ExecuteChangeSet by a change set 'ARN' with '../' in it (not looked up)",
    handler: 'notify',
    verdict: 'rejected',
    event: (c) => executeByArn(c, changeSetArn(c, ACCOUNT, `deploy-${c.stage.name}-v7/../../x`)),
    reads: [],
  },
];
