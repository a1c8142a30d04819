/**
 * The chat form of a deploy outcome (deploy-messages.ts writes its email): what happened to which release in
 * which stage, why when it stopped short, and the commands that come next. Threaded by the release.
 */
import type { Severity } from '../notification';
import { consoleLink } from '../notification';
import { nextStepText, reasonText } from '../reasons';
import type { DeployOutcome, DeployReport } from '../reports';
import { code, command, composeChat, field, own, plain, shortCommitOf, threads } from './compose';
import type { ChatNotification } from './schema';

/** How the email heads the outcome: its word for the title and its sentence for the description. */
export interface Headline {
  word: string;
  severity: Severity;
  text: string;
}

const EMOJI: Record<DeployOutcome, string> = {
  deploying: '\u{1F680}', // 🚀
  'pending-approval': '\u270B', // ✋
  'no-change': '\u2796', // ➖
  'in-sync': '\u2705', // ✅
  waiting: '\u23F3', // ⏳
  blocked: '\u26D4', // ⛔
  tampered: '\u{1F6A8}', // 🚨
  recreating: '\u267B', // ♻
  'nothing-desired': '\u2754', // ❔
  frozen: '\u2744', // ❄
  failed: '\u274C', // ❌
  superseded: '\u23ED', // ⏭
  locked: '\u{1F512}', // 🔒
};

/** The chat form of one stage's deploy outcome. */
export const deployChat = (report: DeployReport, region: string, headline: Headline): ChatNotification => {
  const rec = report.reconcile;
  const commit = report.release?.commitId ?? report.execution?.commitId ?? report.commitId;
  const releaseKey = report.release?.key ?? rec?.desired?.key;
  const short = shortCommitOf(commit);
  const status = report.outcome === 'deploying' ? undefined : rec?.stackStatus;
  return composeChat({
    title: `${EMOJI[report.outcome]} ${report.stage}: ${report.stack} ${headline.word}${short ? ` ${short}` : ''}`,
    lines: [
      own(headline.text, 1000),
      ...field('Stack', `${code(report.stack)}${status ? ` (${plain(status, 64)})` : ''}`),
      ...field('Release', releaseKey === undefined ? undefined : code(releaseKey)),
      ...field('Commit', commitText(commit, report.execution?.author)),
      ...field(
        'Pipeline',
        report.execution &&
          `${code(report.execution.pipeline)}, ${report.execution.source === 'upload' ? 'uploaded build' : 'execution'} ${code(report.execution.executionId)}`,
      ),
      ...field('Triggered by', report.trigger === undefined ? undefined : code(report.trigger)),
      ...field('Desired', rec?.desired && `${code(rec.desired.parameter)} version ${rec.desired.version}`),
      ...field('Running', rec?.live === undefined ? undefined : code(rec.live)),
      ...field('Change set', rec?.changeSet === undefined ? undefined : code(rec.changeSet)),
      ...field('Reason', reasonOf(report)),
      ...field(
        'Locked by',
        report.lock &&
          `${code(report.lock.holder)} since ${code(report.lock.since)} until ${code(report.lock.until)}`,
      ),
      ...(rec?.changes?.length ? ['*Planned changes:*'] : []),
      ...(rec?.changes ?? [])
        .slice(0, 20)
        .map(
          (c) =>
            `\u2022 ${code(c.action, 64)} ${code(c.logicalId, 128)} (${code(c.type, 128)}), replacement: ${code(c.replacement, 64)}`,
        ),
      ...field('Console', rec?.stackId ? consoleLink(region, rec.stackId) : undefined),
    ],
    nextSteps: nextSteps(report, region),
    keywords: [report.stage, report.stack, report.outcome, short],
    threadId: threadOf(report),
    eventType: `deployer-deploy-${report.outcome}`,
    relatedResources: [
      rec?.stackId,
      report.release ? `arn:aws:s3:::${report.release.bucket}/${report.release.key}` : undefined,
    ],
    context: {
      stage: report.stage,
      stack: report.stack,
      outcome: report.outcome,
      severity: headline.severity,
      commit: short,
      desiredVersion: rec?.desired?.version,
      changeSet: rec?.changeSet,
      region,
    },
  });
};

/**
 * The release's thread: the release a move replaced (its rollback lands where its failure was), else the
 * release deployed; a build that never became a release has its own; the rest go to the stage's.
 */
export const threadOf = (report: DeployReport): string => {
  const release = report.replaces ?? report.release?.key ?? report.reconcile?.desired?.key;
  if (release !== undefined) return threads.release(report.stage, release);
  if (report.execution) return threads.build(report.stage, report.execution.executionId);
  return threads.stage(report.stage);
};

const commitText = (commit: string | undefined, author: string | undefined): string | undefined =>
  commit === undefined
    ? undefined
    : `${code(commit, 64)}${author === undefined ? '' : ` by ${code(author, 128)}`}`;

const reasonOf = ({ error, overtaken, reconcile: rec }: DeployReport): string | undefined => {
  if (error !== undefined) return code(error, 1000);
  if (overtaken)
    return own(
      `recorded as desired version ${overtaken.version}; a newer build is desired now (version ${overtaken.newest})`,
    );
  const reason = rec && reasonText(rec);
  return reason === undefined ? undefined : code(reason, 1000);
};

const nextSteps = (report: DeployReport, region: string): string[] => {
  const { stage, stack, reconcile: rec } = report;
  const status = `Status: ${command(`npx deployer status ${stage}`)}`;
  switch (report.outcome) {
    case 'deploying':
      return [
        `Watch it: ${command(`npx deployer status ${stage}`)}`,
        `If it goes wrong: ${command(`npx deployer rollback ${stage}`)}`,
      ];
    case 'pending-approval':
      return [
        `Review the planned changes, then approve: ${command(`npx deployer approve ${stage}`)}`,
        `Or reject: ${command(`npx deployer reject ${stage}`)}`,
        ...(rec?.changeSet
          ? [
              `The change set: ${command(`aws cloudformation describe-change-set --stack-name ${stack} --change-set-name ${plain(rec.changeSet, 128)} --region ${region}`)}`,
            ]
          : []),
      ];
    case 'blocked':
    case 'frozen':
    case 'tampered': {
      const next = rec && nextStepText(rec);
      return next ? [own(next), status] : [status];
    }
    case 'failed':
      return [
        own(
          'Fix the build so that it uploads its artifact as the README describes, then run the pipeline again.',
        ),
      ];
    case 'locked':
      return report.lock
        ? [
            `The lock ends at ${code(report.lock.until, 64)} (S3's clock); the next delivery takes it over then.`,
            `If no deploy, reconcile or CLI move of stage ${stage} is running, delete ${code(report.lock.location)} to free it now.`,
          ]
        : [status];
    default:
      return [status];
  }
};
