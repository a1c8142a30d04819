/**
 * The ops team's message for each outcome of a pipeline-triggered deploy.
 */
import type { Release } from '../aws/artifacts';
import { regionOfStageNamed } from '../edge/stage-place';
import { quoted, shown } from '../edge/untrusted';
import type { Runtime } from '../runtime';
import { alarmRollbackMessage } from './alarm-messages';
import { deployChat } from './chat/deploy-chat';
import {
  composeSubject,
  consoleLink,
  deliver,
  fieldLines,
  type Notification,
  type Severity,
  shortCommit,
} from './notification';
import { nextStepText, reasonText } from './reasons';
import type { DeployOutcome, DeployReport } from './reports';

export type { DeployOutcome, DeployReport } from './reports';

const HEADLINES: Record<DeployOutcome, { word: string; severity: Severity; text: string }> = {
  deploying: { word: 'DEPLOYING', severity: 'info', text: 'A new release is being deployed.' },
  'pending-approval': {
    word: 'APPROVAL NEEDED',
    severity: 'warning',
    text: 'A new release waits for approval: its change set is ready but not executed.',
  },
  'no-change': { word: 'NO CHANGE', severity: 'info', text: 'The new release changes nothing in the stack.' },
  'in-sync': { word: 'IN SYNC', severity: 'info', text: 'The stack already runs this release.' },
  waiting: {
    word: 'WAITING',
    severity: 'warning',
    text: 'The stack is busy. The release is recorded as desired and will be deployed when the stack settles.',
  },
  blocked: {
    word: 'BLOCKED',
    severity: 'error',
    text: 'The release cannot be deployed: the stack needs a person first.',
  },
  tampered: {
    word: 'REFUSED',
    severity: 'error',
    text: 'The release was NOT deployed: its bytes do not match the digest recorded when it was released. Someone changed the object after the deployer released it.',
  },
  recreating: {
    word: 'RECREATING',
    severity: 'warning',
    text: 'The stack failed to create and is being deleted; it is created again from the release below when the deletion completes.',
  },
  'nothing-desired': {
    word: 'NOTHING DESIRED',
    severity: 'warning',
    text: 'No release is recorded for this stage.',
  },
  frozen: {
    word: 'FROZEN',
    severity: 'warning',
    text: 'The stage is frozen: the release is recorded as desired and NOT deployed. The scheduled reconcile deploys it when the deploy window opens.',
  },
  failed: { word: 'FAILED', severity: 'error', text: 'The build could not be released.' },
  superseded: {
    word: 'SUPERSEDED',
    severity: 'info',
    text: 'This build was recorded as desired, but its report did not go out before a newer build took its place. Here it is now.',
  },
  locked: {
    word: 'LOCKED',
    severity: 'warning',
    text: "The stage's lock is held by another writer and did not come free in time: nothing was changed, and the event will be delivered again.",
  },
};

/** Send the ops team the message for a deploy outcome. */
export const announceDeploy = async (runtime: Runtime, report: DeployReport): Promise<boolean> => {
  await deliver(
    runtime,
    deployMessage(report, regionOfStageNamed(runtime.config, runtime.settings, report.stage)),
  );
  return true;
};

export const severityOf = (outcome: DeployOutcome): Severity => HEADLINES[outcome].severity;

const releaseLocation = (release: Release | undefined): string | undefined =>
  release ? `s3://${release.bucket}/${release.key}` : undefined;

/** A name or id that may have come from outside (the SSM history, a stack parameter, S3 metadata). */
const shownOrNot = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : shown(value);

/** The message for one stage's deploy outcome. */
export const deployMessage = (report: DeployReport, region: string): Notification => {
  if (report.alarm) return alarmRollbackMessage({ ...report, alarm: report.alarm }, region);
  const headline = HEADLINES[report.outcome];
  const rec = report.reconcile;
  const commit = report.release?.commitId ?? report.execution?.commitId ?? report.commitId;
  const status = statusAfter(report);
  const releaseKey = releaseLocation(report.release) ?? rec?.desired?.key;
  const subject = composeSubject(report.stage, report.stack, [headline.word, shortCommit(commit)]);
  const lines = [
    headline.text,
    '',
    ...fieldLines([
      ['Stage', report.stage],
      ['Stack', `${report.stack}${status ? ` (${shown(status)})` : ''}`],
      ['Release', shownOrNot(releaseKey)],
      ['Commit', shownOrNot(commit)],
      [
        'Pipeline',
        report.execution
          ? `${shown(report.execution.pipeline)}, ${report.execution.source === 'upload' ? 'uploaded build' : 'execution'} ${shown(report.execution.executionId)}`
          : undefined,
      ],
      ['Triggered by', report.trigger],
      ['Desired', rec?.desired ? `${rec.desired.parameter} version ${rec.desired.version}` : undefined],
      ['Running', shownOrNot(rec?.live)],
      ['Template', rec?.template ? `${shown(rec.template)} (pinned by SHA-256, verified)` : undefined],
      ['Change set', shownOrNot(rec?.changeSet)],
      ['Reason', report.error ?? overtakenText(report.overtaken) ?? (rec && reasonText(rec))],
      [
        'Locked by',
        report.lock
          ? `${quoted(report.lock.holder)} since ${report.lock.since} until ${report.lock.until} (${report.lock.location})`
          : undefined,
      ],
      ['Time', new Date().toISOString()],
      ['Region', region],
      ['Console', rec?.stackId ? consoleLink(region, rec.stackId) : undefined],
    ]),
  ];
  if (rec?.changes?.length) {
    lines.push('', 'Planned changes:');
    for (const change of rec.changes) {
      // What DescribeChangeSet says: AWS's words, but not lines of ours.
      lines.push(
        `  ${shown(change.action)} ${shown(change.logicalId)} (${shown(change.type)}), replacement: ${shown(change.replacement)}`,
      );
    }
  }
  const next = nextStep(report, region);
  if (next) lines.push('', `Next: ${next}`);
  return {
    subject,
    body: `${lines.join('\n')}\n`,
    chat: deployChat(report, region, headline),
    attributes: {
      stage: report.stage,
      stack: report.stack,
      outcome: report.outcome,
      severity: headline.severity,
      ...(status ? { status } : {}),
    },
  };
};

const overtakenText = (overtaken: DeployReport['overtaken']): string | undefined =>
  overtaken &&
  `recorded as desired version ${overtaken.version} (and deployed if its change set ran); a newer build is desired now (version ${overtaken.newest})`;

/** The stack's status once this outcome happened: an executed change set has just started an operation. */
const statusAfter = ({ outcome, reconcile: rec }: DeployReport): string | undefined => {
  if (outcome === 'deploying') return rec?.action === 'create' ? 'CREATE_IN_PROGRESS' : 'UPDATE_IN_PROGRESS';
  return rec?.stackStatus;
};

const nextStep = (report: DeployReport, region: string): string | undefined => {
  const rec = report.reconcile;
  const where = `--stack-name ${report.stack} --region ${region}`;
  switch (report.outcome) {
    case 'deploying':
      return `watch it with aws cloudformation describe-stacks ${where} --query "Stacks[0].StackStatus"`;
    case 'pending-approval':
      return `review the planned changes above, then approve with: npx deployer approve ${report.stage} — or reject with: npx deployer reject ${report.stage} (from the deployer's repository, with AWS_REGION=${region} and DEPLOYER_TOPIC_ARN set). The raw change set: aws cloudformation describe-change-set ${where} --change-set-name ${shownOrNot(rec?.changeSet)}`;
    case 'blocked':
    case 'frozen':
      return rec && nextStepText(rec);
    case 'failed':
      return 'fix the build so that it uploads its artifact as the README describes, then run the pipeline again.';
    case 'locked':
      return report.lock
        ? `the lock ends at ${report.lock.until} by S3's clock, and the next delivery takes it over then. If no deploy, reconcile or CLI move of stage ${report.stage} is running, delete ${report.lock.location} to free it now.`
        : undefined;
    default:
      return undefined;
  }
};
