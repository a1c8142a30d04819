/**
 * The ops team's messages for stack operations: who started what (CloudTrail API calls) and how it ended
 * (stack status changes), with the root cause when it failed and the next step.
 */

import type { Caller } from '../edge/callers';
import type { StackApiCall } from '../edge/stack-events';
import type { Stage } from '../edge/stages';
import { quoted, shown } from '../edge/untrusted';
import { classifyStatus, isDeletedStatus, isFailureStatus, isFinalStatus } from '../stack-status';
import { apiCallChat, statusChat } from './chat/stack-chat';
import {
  composeSubject,
  consoleLink,
  fieldLines,
  type Notification,
  type Severity,
  shortCommit,
} from './notification';
import { stackNextStep } from './reasons';
import type { StatusReport } from './reports';

export type { StatusReport } from './reports';

const HEADLINES: Record<string, string> = {
  CREATE_COMPLETE: 'The stack was created.',
  UPDATE_COMPLETE: 'The stack update completed.',
  DELETE_COMPLETE: 'The stack was deleted.',
  IMPORT_COMPLETE: 'Resources were imported into the stack.',
  UPDATE_ROLLBACK_COMPLETE: 'The stack update FAILED and was rolled back.',
  ROLLBACK_COMPLETE:
    'The stack creation FAILED and was rolled back. The stack cannot be updated, only deleted.',
  UPDATE_ROLLBACK_FAILED: 'The stack update FAILED, and so did its rollback. The stack needs a person.',
  ROLLBACK_FAILED: 'The stack creation FAILED, and so did its rollback. The stack needs a person.',
  CREATE_FAILED: 'The stack creation FAILED.',
  UPDATE_FAILED: 'The stack update FAILED.',
  DELETE_FAILED: 'The stack could not be deleted.',
  IMPORT_ROLLBACK_COMPLETE: 'The resource import FAILED and was rolled back.',
  IMPORT_ROLLBACK_FAILED: 'The resource import FAILED, and so did its rollback.',
};

export const statusSeverity = (status: string): Severity => (isFailureStatus(status) ? 'error' : 'info');

/** Who started the operation, from the client request token the status event carries. */
export const startedBy = (token: string | undefined, ourChangeSet: boolean): string => {
  if (!token) return 'not recorded in the event (see the API call message for this stack)';
  const name = shown(token, 128);
  if (ourChangeSet) return `the deployer (run ${name})`;
  if (token.startsWith('Console-')) return `a person in the AWS console (${name})`;
  return `a client with request token ${name}`;
};

/** "2026-11-20 10:17:05 UTC", whatever offset the event's time was written with. */
const utc = (time: string): string => {
  const parsed = new Date(time);
  const iso = Number.isNaN(parsed.getTime()) ? time : parsed.toISOString();
  return `${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC`;
};

/** The message for a stack status change. */
export const statusMessage = (report: StatusReport): Notification => {
  const { change, stage, release } = report;
  const failed = isFailureStatus(change.status);
  const commit = release?.provenance.commit;
  const headline = HEADLINES[change.status] ?? `The stack is now ${change.status}.`;
  const subject = composeSubject(stage?.name, change.stack, [change.status, shortCommit(commit)]);
  const cause = report.rootCause;
  const lines = [
    headline,
    '',
    ...fieldLines([
      ['Stage', stage?.name ?? '(not a configured stage)'],
      ['Stack', change.stack],
      ['Status', change.status],
      ['Reason', change.reason === undefined ? undefined : quoted(change.reason)],
      [
        'Root cause',
        cause
          ? `${shown(cause.logicalId)} (${shown(cause.type)}) ${shown(cause.status)}: ${quoted(cause.reason)}`
          : undefined,
      ],
      ['Started by', report.startedBy],
      [
        failed ? 'Failed release' : 'Release',
        release ? `${shown(release.key)} (desired version ${release.version})` : undefined,
      ],
      ['Commit', commit === undefined ? undefined : shown(commit)],
      ['Running now', report.running === undefined ? undefined : shown(report.running)],
      ['When', `${utc(change.time)} (${change.region})`],
      ['Console', consoleLink(change.region, change.stackId)],
    ]),
    '',
    `Next: ${statusNextStep(report)}`,
  ];
  return {
    subject,
    body: `${lines.join('\n')}\n`,
    chat: statusChat(report, headline),
    attributes: {
      kind: 'stack-status',
      stage: stage?.name ?? '-',
      stack: change.stack,
      status: change.status,
      severity: statusSeverity(change.status),
    },
  };
};

const statusNextStep = ({ change, stage, release, running, ours }: StatusReport): string => {
  const where = `--stack-name ${change.stack} --region ${change.region}`;
  const rollback = stage
    ? ` To roll back: npx deployer rollback ${stage.name} (see its history first: npx deployer history ${stage.name}).`
    : '';
  if (classifyStatus(change.status) === 'needs-person' && !isDeletedStatus(change.status)) {
    return stackNextStep(change.status, change.stack, change.region);
  }
  switch (change.status) {
    case 'UPDATE_ROLLBACK_COMPLETE':
      return `the stack runs ${running === undefined ? 'its previous release' : shown(running)} again. Fix the root cause and push a new build${ours && release ? `; release ${shown(release.key)} is marked failed and will not be retried` : ''}.`;
    case 'DELETE_COMPLETE':
      return stage
        ? `stage ${stage.name} is still configured, so the deployer creates the stack again from its desired release (unless that release failed). To retire the stage, remove it from deployer.config.yaml.`
        : 'nothing.';
    default:
      if (!isFinalStatus(change.status))
        return `wait for the outcome: aws cloudformation describe-stacks ${where} --query "Stacks[0].StackStatus"`;
      return `check it with aws cloudformation describe-stacks ${where}.${rollback}`;
  }
};

/** The caller as a person reads it: role and session, or user or service, each shown as data. */
const callerText = ({ name, role, session }: Caller): string =>
  role !== undefined && session !== undefined ? `${shown(role)} (session ${shown(session)})` : shown(name);

/** The message for an API call that starts a stack operation. */
export const apiCallMessage = (call: StackApiCall, stage: Stage | undefined): Notification => {
  const refused = call.error !== undefined;
  const caller = callerText(call.caller);
  const subject = composeSubject(stage?.name, call.stack, [
    call.eventName,
    refused ? 'REFUSED' : undefined,
    'by',
    call.caller.name,
  ]);
  const lines = [
    refused
      ? `${caller} called ${call.eventName} on ${call.stack}, and AWS refused it.`
      : `${caller} called ${call.eventName} on ${call.stack}.`,
    '',
    ...fieldLines([
      ['Stage', stage?.name ?? '(not a configured stage)'],
      ['Stack', call.stack],
      ['Call', call.changeSet ? `${call.eventName} (change set ${shown(call.changeSet)})` : call.eventName],
      ['Caller', `${caller} (${shown(call.caller.type)})`],
      ['Caller ARN', call.caller.arn === undefined ? undefined : shown(call.caller.arn, 2048)],
      [
        'Result',
        call.error ? `refused: ${shown(call.error.code)}: ${quoted(call.error.message)}` : 'accepted',
      ],
      ['When', `${utc(call.time)} (${call.region})`],
      ['Console', call.stackId ? consoleLink(call.region, call.stackId) : undefined],
    ]),
    '',
    refused
      ? 'Next: the stack did not change. Fix the request (the message above says why) and try again.'
      : 'Next: a second message reports how the operation ends.',
  ];
  return {
    subject,
    body: `${lines.join('\n')}\n`,
    chat: apiCallChat(call, stage),
    attributes: {
      kind: 'api-call',
      stage: stage?.name ?? '-',
      stack: call.stack,
      status: refused ? `${call.eventName}_REFUSED` : call.eventName,
      severity: refused ? 'warning' : 'info',
    },
  };
};
