/**
 * The chat forms of the stack messages (stack-messages.ts writes their emails): how a stack operation ended,
 * with its root cause, in the thread of the release it deployed (or of the stage's desired release); and
 * who started one (a CloudTrail API call), in the stage's thread.
 */
import type { Caller } from '../../edge/callers';
import type { StackApiCall } from '../../edge/stack-events';
import type { Stage } from '../../edge/stages';
import { classifyStatus, isDeletedStatus, isFailureStatus, isFinalStatus } from '../../stack-status';
import { consoleLink } from '../notification';
import { stackNextStep } from '../reasons';
import type { StatusReport } from '../reports';
import { code, command, composeChat, field, own, plain, shortCommitOf, threads } from './compose';
import type { ChatNotification } from './schema';

/** The chat form of a stack status change; `headline` is the email's first sentence for the status. */
export const statusChat = (report: StatusReport, headline: string): ChatNotification => {
  const { change, stage, release, rootCause: cause } = report;
  const failed = isFailureStatus(change.status);
  const commit = release?.provenance.commit;
  const short = shortCommitOf(commit);
  const status = plain(change.status, 64);
  return composeChat({
    title: `${emojiOf(change.status)} ${stage?.name ?? 'stack'}: ${change.stack} ${status}${short ? ` ${short}` : ''}`,
    lines: [
      own(headline, 1000),
      ...field('Stack', `${code(change.stack)} is ${status}`),
      ...field('Reason', change.reason === undefined ? undefined : code(change.reason, 1000)),
      ...field(
        'Root cause',
        cause &&
          `${code(cause.logicalId, 256)} (${code(cause.type, 256)}) ${code(cause.status, 64)}: ${code(cause.reason, 1000)}`,
      ),
      ...field('Started by', code(report.startedBy)),
      ...field(
        failed ? 'Failed release' : 'Release',
        release && `${code(release.key)} (desired version ${release.version})`,
      ),
      ...field('Commit', commit === undefined ? undefined : code(commit, 64)),
      ...field('Running now', report.running === undefined ? undefined : code(report.running)),
      ...field('When', `${plain(change.time, 40)} (${plain(change.region, 32)})`),
      ...field('Console', consoleLink(change.region, change.stackId)),
    ],
    nextSteps: statusNextSteps(report),
    keywords: [stage?.name, change.stack, change.status, short],
    threadId: statusThread(report),
    eventType: `deployer-stack-${change.status.toLowerCase()}`,
    relatedResources: [change.stackId],
    context: {
      stage: stage?.name,
      stack: change.stack,
      status: change.status,
      severity: failed ? 'error' : 'info',
      commit: short,
      desiredVersion: release?.version,
      region: change.region,
    },
  });
};

/**
 * The thread of the release the operation deployed, else of the stage's desired release (an operation of
 * someone else's, a failure that rolled back to another release): where the deploy was reported.
 */
export const statusThread = ({ change, stage, release, desired }: StatusReport): string => {
  if (!stage) return threads.stack(change.stack);
  const key = release?.key ?? desired?.key;
  return key === undefined ? threads.stage(stage.name) : threads.release(stage.name, key);
};

const emojiOf = (status: string): string => {
  if (isFailureStatus(status)) return '\u274C'; // ❌
  if (!isFinalStatus(status)) return '\u23F3'; // ⏳
  if (isDeletedStatus(status)) return '\u{1F5D1}'; // 🗑
  return '\u2705'; // ✅
};

const statusNextSteps = ({ change, stage, release, running, ours }: StatusReport): string[] => {
  const where = `--stack-name ${change.stack} --region ${plain(change.region, 32)}`;
  const name = stage?.name;
  const rollback = name ? [`To roll back: ${command(`npx deployer rollback ${name}`)}`] : [];
  const history = name ? [`History: ${command(`npx deployer history ${name}`)}`] : [];
  if (classifyStatus(change.status) === 'needs-person' && !isDeletedStatus(change.status))
    return [own(stackNextStep(change.status, change.stack, change.region)), ...history];
  switch (change.status) {
    case 'UPDATE_ROLLBACK_COMPLETE':
      return [
        `The stack runs ${running === undefined ? 'its previous release' : code(running)} again. Fix the root cause and push a new build${ours && release ? '; the failed release is not retried' : ''}.`,
        ...rollback,
        ...history,
      ];
    case 'DELETE_COMPLETE':
      return name
        ? [
            own(
              `Stage ${name} is still configured, so the deployer creates the stack again from its desired release (unless that release failed). To retire the stage, remove it from deployer.config.yaml.`,
            ),
          ]
        : [];
    default:
      if (!isFinalStatus(change.status))
        return [
          name
            ? `Wait for the outcome: ${command(`npx deployer status ${name}`)}`
            : `Wait for the outcome: ${command(`aws cloudformation describe-stacks ${where}`)}`,
        ];
      return name
        ? [`Check it: ${command(`npx deployer status ${name}`)}`, ...rollback, ...history]
        : [`Check it: ${command(`aws cloudformation describe-stacks ${where}`)}`];
  }
};

/** The caller as a person reads it, as data: role and session, or user or service. */
const callerText = ({ name, role, session }: Caller): string =>
  role !== undefined && session !== undefined
    ? `${code(role, 128)} (session ${code(session, 128)})`
    : code(name, 256);

/** The chat form of an API call that starts a stack operation. */
export const apiCallChat = (call: StackApiCall, stage: Stage | undefined): ChatNotification => {
  const refused = call.error !== undefined;
  const eventName = plain(call.eventName, 64);
  const caller = callerText(call.caller);
  return composeChat({
    title: `\u{1F4E8} ${stage?.name ?? 'stack'}: ${call.stack} ${eventName}${refused ? ' REFUSED' : ''}`,
    lines: [
      `${caller} called ${eventName} on ${code(call.stack)}${refused ? ', and AWS refused it' : ''}.`,
      ...field('Call', `${eventName}${call.changeSet ? ` (change set ${code(call.changeSet, 128)})` : ''}`),
      ...field('Caller', `${caller} (${code(call.caller.type, 64)})`),
      ...field('Caller ARN', call.caller.arn === undefined ? undefined : code(call.caller.arn, 1024)),
      ...field(
        'Result',
        call.error ? `refused: ${code(call.error.code, 128)}: ${code(call.error.message, 1000)}` : 'accepted',
      ),
      ...field('When', `${plain(call.time, 40)} (${plain(call.region, 32)})`),
      ...field('Console', call.stackId ? consoleLink(call.region, call.stackId) : undefined),
    ],
    nextSteps: [
      refused
        ? 'The stack did not change. Fix the request (the reason above says why) and try again.'
        : 'A second message reports how the operation ends.',
    ],
    keywords: [stage?.name, call.stack, call.eventName, refused ? 'REFUSED' : undefined],
    threadId: stage ? threads.stage(stage.name) : threads.stack(call.stack),
    eventType: `deployer-api-call${refused ? '-refused' : ''}`,
    relatedResources: [call.stackId],
    context: {
      stage: stage?.name,
      stack: call.stack,
      call: call.eventName,
      severity: refused ? 'warning' : 'info',
      region: call.region,
    },
  });
};
