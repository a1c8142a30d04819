/**
 * The chat form of an automatic rollback (alarm-messages.ts writes its email): the alarm, its reason as inert
 * data, the release rolled back and the one deployed instead. Threaded with the release it rolled back.
 */
import { consoleLink } from '../notification';
import type { AlarmTrip, DeployReport } from '../reports';
import { code, command, composeChat, field, own } from './compose';
import type { Headline } from './deploy-chat';
import { threadOf } from './deploy-chat';
import type { ChatNotification } from './schema';

export const alarmChat = (
  report: DeployReport & { alarm: AlarmTrip },
  region: string,
  headline: Headline,
): ChatNotification => {
  const rec = report.reconcile;
  const { alarm } = report;
  const stranded = alarm.noGoodRelease !== undefined;
  return composeChat({
    title: `\u{1F6A8} ${report.stage}: ${report.stack} ${headline.word} (alarm ${alarm.name})`,
    lines: [
      own(headline.text, 1000),
      ...field('Alarm', `${code(alarm.name, 255)} went to ALARM at ${code(alarm.at, 64)}`),
      ...field('Alarm reason', code(alarm.reason || '(CloudWatch gave none)', 1000)),
      ...field(
        stranded ? 'Failed' : 'Rolled back',
        `version ${alarm.from} (baking until ${code(alarm.bakeUntil, 64)})`,
      ),
      ...field('Not rolled back', stranded ? code(alarm.noGoodRelease ?? '', 500) : undefined),
      ...field('Back to', rec?.desired === undefined ? undefined : code(rec.desired.key)),
      ...field('Desired', rec?.desired && `${code(rec.desired.parameter)} version ${rec.desired.version}`),
      ...field('Console', rec?.stackId ? consoleLink(region, rec.stackId) : undefined),
    ],
    nextSteps: [
      own(
        stranded
          ? `The stack still runs version ${alarm.from}: deploy a fixed build, or roll back by hand to a release you trust.`
          : 'Find out why the alarm fired before building again.',
      ),
      `Status: ${command(`npx deployer status ${report.stage}`)}`,
    ],
    keywords: [report.stage, report.stack, stranded ? 'not-rolled-back' : 'auto-rollback', alarm.name],
    threadId: threadOf(report),
    eventType: 'deployer-deploy-auto-rollback',
    relatedResources: [rec?.stackId],
    context: {
      stage: report.stage,
      stack: report.stack,
      outcome: stranded ? 'auto-rollback-impossible' : 'auto-rollback',
      severity: headline.severity,
      fromVersion: alarm.from,
      desiredVersion: rec?.desired?.version,
      region,
    },
  });
};
