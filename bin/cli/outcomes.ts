/**
 * What a command that changes a stage did, in words for the person who ran it: what was done, the release
 * now desired, the outcome on the stack, the change set, and the next step. Reasons, keys and names come from
 * AWS and the history: they are shown as data (quoted or bare single words), never as our own text.
 */
import type { PlannedChange } from '../../shared/aws/change-set-wait';
import { cleanText, quoted, shown } from '../../shared/edge/untrusted';
import { nextStepText, reasonText } from '../../shared/messages/reasons';
import type { ReconcileOutcome, ReconcileResult } from '../../shared/outcomes';
import type { MoveResult } from '../../shared/stage/moves';
import { fields, short, shortCommit } from './render';

/** The release a stage now desires: "version 7: releases/app/3f9a12b4c5d6… (commit 1a2b3c4)". */
export const desiredText = (version: number | undefined, key: string | undefined, commit?: string): string =>
  [
    version === undefined ? undefined : `version ${version}:`,
    short(key),
    commit ? `(commit ${shortCommit(commit)})` : undefined,
  ]
    .filter(Boolean)
    .join(' ');

const stackOf = (r: ReconcileResult) => `stack ${shown(r.stack)}`;
const reasonOf = (r: ReconcileResult) => {
  const reason = reasonText(r);
  return reason ? quoted(reason) : 'no reason given';
};

/** One line per outcome: what happened on the stack. */
const OUTCOME: Record<ReconcileOutcome, (r: ReconcileResult) => string> = {
  deploying: (r) =>
    `deploying: the change set was executed; ${stackOf(r)} is ${r.action === 'create' ? 'being created' : 'updating'}`,
  'pending-approval': () => 'waiting for approval: the change set is ready to execute',
  'no-change': () => 'no change: CloudFormation found nothing to change; the empty change set was deleted',
  'in-sync': (r) => `in sync: ${stackOf(r)} already runs this release`,
  waiting: (r) =>
    `waiting: ${stackOf(r)} is ${shown(r.stackStatus ?? 'busy')}; the release is deployed when it settles`,
  blocked: (r) => `blocked: ${reasonOf(r)}`,
  tampered: (r) => `REFUSED, nothing deployed: ${reasonOf(r)}`,
  recreating: (r) => `recreating: ${reasonOf(r)}`,
  'nothing-desired': () => 'nothing to do: no release was ever recorded for this stage',
  frozen: (r) => `frozen, nothing deployed: ${reasonOf(r)}`,
};

/** The next step, in commands where there is one. */
const nextStep = (r: ReconcileResult): string | undefined => {
  const stage = shown(r.stage);
  switch (r.outcome) {
    case 'deploying':
    case 'recreating':
      return `npx deployer status ${stage} shows when the stack settles; the ops team hears how it ends`;
    case 'pending-approval':
      return `npx deployer approve ${stage} executes it; npx deployer reject ${stage} keeps what runs`;
    case 'waiting':
      return `none: the stack's completion deploys it (npx deployer status ${stage} shows the stack)`;
    case 'blocked':
    case 'frozen':
    case 'tampered': {
      // Our own sentence, with names from the configuration and AWS in it: kept on one clean line.
      const next = nextStepText(r);
      return next ? cleanText(next) : undefined;
    }
    default:
      return undefined;
  }
};

/** "Modify Function (AWS::Lambda::Function, replaced), Add Queue (AWS::SQS::Queue)", at most five. */
const changesText = (changes: PlannedChange[]): string => {
  const listed = changes.slice(0, 5).map((c) => {
    const replaced = c.replacement === 'True' ? ', replaced' : '';
    return `${shown(c.action)} ${shown(c.logicalId)} (${shown(c.type)}${replaced})`;
  });
  const more = changes.length > listed.length ? `, and ${changes.length - listed.length} more` : '';
  return `${listed.join(', ')}${more}`;
};

/** The outcome, the change set, the planned changes and the next step of a reconcile. */
export const outcomeFields = (r: ReconcileResult): [string, string | undefined][] => [
  ['outcome', OUTCOME[r.outcome](r)],
  ['change set', r.changeSet ? shown(r.changeSet) : undefined],
  ['changes', r.changes?.length ? changesText(r.changes) : undefined],
  ['next', nextStep(r)],
];

/** A reconcile as --json gives it to scripts: the data, with its reason and next step in words. */
export const reconcileJson = (r: ReconcileResult) => ({
  ...r,
  reason: reasonText(r),
  nextStep: nextStepText(r),
});

/** A move as --json gives it to scripts: its reconcile with the words. */
export const moveJson = <Move extends MoveResult>(move: Move) => ({
  ...move,
  reconcile: reconcileJson(move.reconcile),
});

/** What a move did: the headline, the release now desired, and what came of it on the stack. */
export const moveText = (
  headline: string,
  move: { version: number | undefined; key: string | undefined; notified?: boolean },
  outcome: [string, string | undefined][],
  commit?: string,
): string =>
  `${headline}\n${fields([
    ['desired', desiredText(move.version, move.key, commit)],
    ...outcome,
    ['ops team', move.notified ? 'told, as for any deploy' : undefined],
  ])}`;

/** A move that recorded a release and reconciled the stage (rollback, reject, promote). */
export const recordedMoveText = (headline: string, move: MoveResult): string =>
  moveText(headline, move, outcomeFields(move.reconcile), move.reconcile.desired?.provenance.commit);

/** What `deployer reconcile` found and did. */
export const reconcileText = (r: ReconcileResult): string =>
  `reconciled stage ${shown(r.stage)}\n${fields([
    [
      'desired',
      r.desired ? desiredText(r.desired.version, r.desired.key, r.desired.provenance.commit) : 'nothing',
    ],
    ['running', r.live ? short(r.live) : undefined],
    ...outcomeFields(r),
  ])}`;
