/**
 * The chat form of a rollout message (rollout-messages.ts writes the email): one state of a stage's canary
 * rollout, in the thread of the release it rolls out — where that release's deploy and its stack outcome are.
 */
import { deploymentLink, isFailedRollout, type RolloutReport } from '../rollout-report';
import { code, command, composeChat, field, own, plain, shortCommitOf, threads } from './compose';
import type { ChatNotification } from './schema';

const EMOJI: Record<RolloutReport['outcome'], string> = {
  started: '\u{1F425}', // 🐥 a canary
  succeeded: '\u2705', // ✅
  ready: '\u23F3', // ⏳
  stopped: '\u{1F6D1}', // 🛑
  failed: '\u274C', // ❌
  'rolled-back': '\u21A9\uFE0F', // ↩️
  other: '\u2139\uFE0F', // ℹ️
};

/** The chat form of one rollout state; `headline` is the email's first sentence. */
export const rolloutChat = (report: RolloutReport, headline: string): ChatNotification => {
  const { change, stage, facts, release, outcome } = report;
  const failed = isFailedRollout(outcome);
  const short = shortCommitOf(release?.commit);
  const state = plain(change.state, 32);
  const words = outcome === 'other' ? `ROLLOUT ${state}` : outcome.toUpperCase().replace('-', ' ');
  return composeChat({
    title: `${EMOJI[outcome]} ${stage.name}: ${stage.stack} ${words}${short ? ` ${short}` : ''}`,
    lines: [
      own(headline, 1000),
      ...field('Deployment', `${code(change.deploymentId, 16)} (${state})`),
      ...field('Group', `${code(change.application, 100)} / ${code(change.deploymentGroup, 100)}`),
      ...field(
        'Stopped by',
        facts?.alarms.length ? facts.alarms.map((a) => code(a, 255)).join(', ') : undefined,
      ),
      ...field(
        'Error',
        facts?.error &&
          `${code(facts.error.code ?? 'unknown', 64)}: ${code(facts.error.message ?? '', 1000)}`,
      ),
      ...field('Rollback', facts?.rollback && code(facts.rollback.message ?? 'rolled back', 1000)),
      ...field(
        failed ? 'Failed release' : 'Release',
        release && `${code(release.key)} (desired version ${release.version})`,
      ),
      ...field('Commit', release?.commit === undefined ? undefined : code(release.commit, 64)),
      ...field('When', `${plain(change.time, 40)} (${plain(change.region, 32)})`),
      ...field('Console', deploymentLink(change.region, change.deploymentId)),
    ],
    nextSteps: nextSteps(report),
    keywords: [stage.name, stage.stack, `rollout-${outcome}`, short],
    threadId: release ? threads.release(stage.name, release.key) : threads.stage(stage.name),
    eventType: `deployer-rollout-${outcome}`,
    relatedResources: [change.deploymentId],
    context: {
      stage: stage.name,
      stack: stage.stack,
      deployment: change.deploymentId,
      state: change.state,
      severity: failed ? 'error' : 'info',
      commit: short,
      desiredVersion: release?.version,
      region: change.region,
    },
  });
};

const nextSteps = ({ outcome, stage, release, markedFailed }: RolloutReport): string[] => {
  const status = command(`npx deployer status ${stage.name}`);
  if (outcome === 'started' || outcome === 'ready')
    return [`A message follows when the rollout ends. Watch it: ${status}`];
  if (outcome === 'succeeded') return ['The stack update completes next (its message follows).'];
  if (!failed(outcome)) return [`Check it: ${status}`];
  return [
    'CloudFormation rolls the stack back next (its message follows).',
    ...(markedFailed && release
      ? [`Release ${code(release.key)} is marked failed and will not be retried.`]
      : []),
    "Look at the alarm and the function's errors, fix the cause and push a new build.",
    `History: ${command(`npx deployer history ${stage.name}`)}`,
  ];
};

const failed = isFailedRollout;
