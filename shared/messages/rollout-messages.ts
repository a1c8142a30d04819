/**
 * The ops team's messages for a stage's canary or linear rollout (CodeDeploy, through SAM's
 * DeploymentPreference): it started, it succeeded, it stopped or failed, or it rolled back — with the alarm
 * that stopped it and CodeDeploy's reason, quoted as data.
 */
import { quoted, shown } from '../edge/untrusted';
import { rolloutChat } from './chat/rollout-chat';
import { composeSubject, fieldLines, type Notification, type Severity, shortCommit } from './notification';
import { deploymentLink, isFailedRollout, type RolloutOutcome, type RolloutReport } from './rollout-report';

export type { RolloutReport } from './rollout-report';

const WORDS: Record<RolloutOutcome, string> = {
  started: 'ROLLOUT STARTED',
  succeeded: 'ROLLOUT SUCCEEDED',
  stopped: 'ROLLOUT STOPPED',
  failed: 'ROLLOUT FAILED',
  'rolled-back': 'ROLLED BACK',
  ready: 'ROLLOUT READY',
  other: 'ROLLOUT',
};

/** The subject's words for the outcome (the chat title uses the same). */
export const rolloutWords = (report: RolloutReport): string =>
  report.outcome === 'other' ? `ROLLOUT ${report.change.state}` : WORDS[report.outcome];

/** The first sentence of the message. */
export const rolloutHeadline = ({ outcome, change, facts }: RolloutReport): string => {
  const alarms = facts?.alarms ?? [];
  // The alarms' names are outside text: the "Stopped by" field shows them, quoted (as code in chat).
  const byAlarm = alarms.length ? ` by ${alarms.length > 1 ? 'alarms' : 'an alarm'}` : '';
  switch (outcome) {
    case 'started':
      return 'A gradual rollout started: CodeDeploy shifts traffic to the new version step by step.';
    case 'succeeded':
      return 'The rollout completed: all traffic goes to the new version.';
    case 'ready':
      return 'The deployment is ready: traffic waits to be shifted.';
    case 'stopped':
      return `The rollout was STOPPED${byAlarm}.`;
    case 'failed':
      return `The rollout FAILED${byAlarm}.`;
    case 'rolled-back':
      return `The rollout was STOPPED${byAlarm} and ROLLED BACK: traffic goes to the previous version again.`;
    default:
      return `The deployment is now ${change.state}.`;
  }
};

/** What to do next, in our words (the chat form puts the commands in code). */
export const rolloutNextStep = ({ outcome, stage, release, markedFailed }: RolloutReport): string => {
  if (outcome === 'started' || outcome === 'ready')
    return `wait: a message follows when the rollout ends. Watch it: npx deployer status ${stage.name}`;
  if (outcome === 'succeeded') return 'nothing: the stack update completes next (its message follows).';
  if (!isFailedRollout(outcome)) return `check it: npx deployer status ${stage.name}`;
  const marked =
    markedFailed && release
      ? ` Release ${shown(release.key)} (desired version ${release.version}) is marked failed and will not be retried.`
      : '';
  return `CloudFormation rolls the stack back next (its message follows).${marked} Look at the alarm and the function's errors, fix the cause and push a new build.`;
};

export const rolloutSeverity = (outcome: RolloutOutcome): Severity =>
  isFailedRollout(outcome) ? 'error' : 'info';

/** The message for one state of a rollout. */
export const rolloutMessage = (report: RolloutReport): Notification => {
  const { change, stage, facts, release } = report;
  const failed = isFailedRollout(report.outcome);
  const headline = rolloutHeadline(report);
  const lines = [
    headline,
    '',
    ...fieldLines([
      ['Stage', stage.name],
      ['Stack', stage.stack],
      ['Deployment', change.deploymentId],
      ['Application', shown(change.application)],
      ['Group', shown(change.deploymentGroup)],
      ['State', change.state],
      [
        'Stopped by',
        facts?.alarms.length ? facts.alarms.map((a) => `alarm ${quoted(a, 255)}`).join(', ') : undefined,
      ],
      [
        'Error',
        facts?.error
          ? `${shown(facts.error.code ?? 'unknown')}: ${quoted(facts.error.message ?? '')}`
          : undefined,
      ],
      ['Rollback', facts?.rollback ? quoted(facts.rollback.message ?? 'rolled back') : undefined],
      [
        failed ? 'Failed release' : 'Release',
        release ? `${shown(release.key)} (desired version ${release.version})` : undefined,
      ],
      ['Commit', release?.commit === undefined ? undefined : shown(release.commit)],
      ['When', `${change.time} (${change.region})`],
      ['Console', deploymentLink(change.region, change.deploymentId)],
    ]),
    '',
    `Next: ${rolloutNextStep(report)}`,
  ];
  return {
    subject: composeSubject(stage.name, stage.stack, [rolloutWords(report), shortCommit(release?.commit)]),
    body: `${lines.join('\n')}\n`,
    chat: rolloutChat(report, headline),
    attributes: {
      kind: 'rollout',
      stage: stage.name,
      stack: stage.stack,
      status: `ROLLOUT_${change.state}`,
      severity: rolloutSeverity(report.outcome),
    },
  };
};
