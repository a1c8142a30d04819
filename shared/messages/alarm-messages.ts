/**
 * The ops team's message for an automatic rollback: which alarm went to ALARM while which release was baking,
 * CloudWatch's reason, and the release the stage goes back to. Sent once per rolled-back version (the ledger
 * key ledgerKeys.autoRollback), under the stage's lock, by the move that records the rollback.
 */
import { quoted, shown } from '../edge/untrusted';
import { alarmChat } from './chat/alarm-chat';
import { composeSubject, consoleLink, fieldLines, type Notification } from './notification';
import type { AlarmTrip, DeployReport } from './reports';

export const ALARM_HEADLINE = {
  word: 'ROLLED BACK',
  severity: 'error' as const,
  text: 'An alarm went to ALARM while a new release was baking: the deployer rolled the stage back to its last good release on its own. The release that tripped the alarm is marked failed and is not deployed again.',
};

/** An alarm tripped the baking release, and the stage had no earlier good release to go back to. */
export const NO_GOOD_RELEASE_HEADLINE = {
  word: 'NOT ROLLED BACK',
  severity: 'error' as const,
  text: 'An alarm went to ALARM while a new release was baking, and the stage has no earlier good release to roll back to: the deployer marked the release failed and left the stack running it. A person must act.',
};

/** The headline of an automatic rollback's message: rolled back, or not (no good release to go back to). */
export const alarmHeadline = (alarm: AlarmTrip) =>
  alarm.noGoodRelease === undefined ? ALARM_HEADLINE : NO_GOOD_RELEASE_HEADLINE;

/** The email (and chat form) of an automatic rollback, or of one that could not be made. */
export const alarmRollbackMessage = (
  report: DeployReport & { alarm: AlarmTrip },
  region: string,
): Notification => {
  const rec = report.reconcile;
  const { alarm } = report;
  const headline = alarmHeadline(alarm);
  const stranded = alarm.noGoodRelease !== undefined;
  const lines = [
    headline.text,
    '',
    ...fieldLines([
      ['Stage', report.stage],
      ['Stack', report.stack],
      ['Alarm', `${shown(alarm.name)} went to ALARM at ${alarm.at}`],
      ['Alarm reason', quoted(alarm.reason || '(CloudWatch gave none)')],
      [
        stranded ? 'Failed' : 'Rolled back',
        `version ${alarm.from} (baking until ${alarm.bakeUntil}), now marked failed`,
      ],
      ['Not rolled back', stranded ? shown(alarm.noGoodRelease ?? '', 500) : undefined],
      ['Back to', rec?.desired ? shown(rec.desired.key) : undefined],
      ['Desired', rec?.desired ? `${rec.desired.parameter} version ${rec.desired.version}` : undefined],
      ['Deploy', rec ? rec.outcome : undefined],
      ['Triggered by', report.trigger],
      ['Time', new Date().toISOString()],
      ['Region', region],
      ['Console', rec?.stackId ? consoleLink(region, rec.stackId) : undefined],
    ]),
    '',
    stranded
      ? `Next: the stack still runs version ${alarm.from}. Deploy a fixed build, or roll back by hand to a release you trust: npx deployer rollback ${report.stage} --to <version>; see the stage with: npx deployer status ${report.stage}`
      : `Next: find out why ${shown(alarm.name)} fired before building again; see the stage with: npx deployer status ${report.stage}`,
  ];
  return {
    subject: composeSubject(report.stage, report.stack, [headline.word, `alarm ${alarm.name}`]),
    body: `${lines.join('\n')}\n`,
    chat: alarmChat(report, region, headline),
    attributes: {
      stage: report.stage,
      stack: report.stack,
      outcome: stranded ? 'auto-rollback-impossible' : 'auto-rollback',
      severity: headline.severity,
    },
  };
};
