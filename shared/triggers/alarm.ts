/**
 * Alarm-gated deploys: a release that a run of the deployer settled on an alarm-gated stage bakes until
 * settledAt + bakeMinutes. An alarm of the stage in ALARM within that time rolls the stage back on its own to
 * its last good release (bake-end.ts). The schedule ends a bake whose time is over: it reads the alarms'
 * states first (an ALARM whose event was lost rolls back), then passes the bake and promotes the release.
 * A bake of 0 minutes passes when the stack settles (CloudFormation's own rollback triggers watched the update).
 */
import { alarmStates } from '../aws/alarms';
import { readBake, writeBake } from '../aws/bake-record';
import { readDesired, readHistory } from '../aws/release-history';
import type { RunRecord } from '../aws/runs';
import { stageCw } from '../aws/stage-clients';
import { bakeMinutesOf, isAlarmGated } from '../edge/alarm-config';
import { acceptAlarmEvent } from '../edge/alarm-events';
import { stagePlace } from '../edge/stage-place';
import { allStages, type Stage } from '../edge/stages';
import { errorMessage } from '../errors';
import { logger } from '../logger';
import { nowOf, type Runtime } from '../runtime';
import { bakeUntil, decideOnAlarm, decideOnSchedule, isRestoring, verdictAfterBake } from '../stage/bake';
import { type BakeSummary, reportRollback, rollBack } from './bake-end';
import { passBake, promoteBaked } from './bake-pass';

export type { BakeSummary } from './bake-end';

/** Handle one "CloudWatch Alarm State Change" event: roll back each stage whose baking release it trips. */
export const handleAlarmEvent = async (runtime: Runtime, raw: unknown): Promise<BakeSummary[]> => {
  const accepted = acceptAlarmEvent(runtime, raw);
  if ('rejected' in accepted) {
    logger.error('rejected alarm event', { reason: accepted.rejected });
    return [{ verdict: 'rejected', reason: accepted.rejected }];
  }
  const { change } = accepted;
  if (change.state !== 'ALARM')
    return [{ verdict: 'ignored', reason: `alarm ${change.alarm} went to ${change.state}` }];
  const watched = allStages(runtime.config).filter((stage) => {
    const place = stagePlace(runtime.settings, stage);
    return (
      stage.alarms.includes(change.alarm) &&
      place.account === change.account &&
      place.region === change.region
    );
  });
  if (watched.length === 0)
    return [
      {
        verdict: 'ignored',
        reason: `alarm ${change.alarm} watches no stage in ${change.account} ${change.region}`,
      },
    ];
  const trigger = `alarm ${change.alarm} went to ALARM (event ${change.eventId})`;
  return eachStage(watched, 'alarm event', async (stage) => {
    const [bake, desired] = await Promise.all([
      readBake(runtime.clients.s3, stage),
      readDesired(runtime.clients.ssm, stage),
    ]);
    const decision = decideOnAlarm(bake, desired, change);
    if (bake && decision.kind === 'report') return reportRollback(runtime, stage, bake, trigger);
    if (bake && decision.kind === 'rollback') return rollBack(runtime, stage, bake, decision, trigger);
    const why = 'why' in decision ? decision.why : decision.kind;
    logger.info('alarm does not roll the stage back', { stage: stage.name, alarm: change.alarm, why });
    return { verdict: 'ignored', stage: stage.name, reason: why };
  });
};

/**
 * After a run of the deployer settled well on an alarm-gated stage: record its bake. True when the caller
 * must not promote now (the release bakes, and is promoted when its bake passes); false when it promotes now,
 * as without alarms: a stage without them, or a bake of 0 minutes (passed at once). A version that restores an
 * earlier release (rollback, reject, auto-rollback) does not bake — an alarm still firing must not roll the
 * way back back — and is not promoted either: it never passed a bake here.
 */
export const startBake = async (
  runtime: Runtime,
  stage: Stage,
  run: Pick<RunRecord, 'version' | 'artifactKey' | 'token'>,
  settled: { status: string; settledAt: string },
): Promise<boolean> => {
  if (!isAlarmGated(stage)) return false;
  const minutes = bakeMinutesOf(stage);
  const existing = await readBake(runtime.clients.s3, stage);
  // A redelivered status event: the bake already recorded (or ended) stays as it is.
  if (existing?.token === run.token) return minutes > 0;
  const version = (await readHistory(runtime.clients.ssm, stage)).find((v) => v.version === run.version);
  if (version && isRestoring(version.provenance)) {
    // Nor is it handed on: only a release that passed a bake here is promoted from an alarm-gated stage.
    logger.info('a restoring version does not bake', { stage: stage.name, version: run.version });
    return minutes > 0;
  }
  const until = bakeUntil(settled.settledAt, minutes);
  await writeBake(runtime.clients.s3, stage, {
    stage: stage.name,
    version: run.version,
    key: run.artifactKey,
    token: run.token,
    status: settled.status,
    settledAt: settled.settledAt,
    until,
    alarms: stage.alarms,
    ...(minutes > 0
      ? { state: 'baking' }
      : { state: 'passed', endedAt: until, endedBy: 'a bake of 0 minutes', promotedAt: until }),
  });
  logger.info(minutes > 0 ? 'release baking' : 'release passed a bake of 0 minutes', {
    stage: stage.name,
    version: run.version,
    until,
    alarms: stage.alarms,
  });
  return minutes > 0;
};

/**
 * The schedule's part: end every bake whose time is over, by its alarms' current states (and finish an end
 * recorded but not told). One stage failing does not stop the others; the invocation fails after them.
 */
export const endDueBakes = (runtime: Runtime): Promise<BakeSummary[]> =>
  eachStage(allStages(runtime.config).filter(isAlarmGated), 'bake check', (stage) =>
    endBakeIfDue(runtime, stage, new Date(nowOf(runtime))),
  );

const endBakeIfDue = async (runtime: Runtime, stage: Stage, now: Date): Promise<BakeSummary> => {
  const [bake, desired] = await Promise.all([
    readBake(runtime.clients.s3, stage),
    readDesired(runtime.clients.ssm, stage),
  ]);
  const decision = decideOnSchedule(bake, desired, now);
  const trigger = 'the scheduled reconcile';
  if (!bake || decision.kind === 'none')
    return { verdict: 'ignored', stage: stage.name, reason: 'why' in decision ? decision.why : '' };
  switch (decision.kind) {
    case 'baking':
      return { verdict: 'baking', stage: stage.name, reason: `baking until ${decision.until}` };
    case 'report':
      return reportRollback(runtime, stage, bake, trigger);
    case 'promote':
      return promoteBaked(runtime, stage, bake, now);
    case 'rollback':
      return rollBack(runtime, stage, bake, decision, trigger);
    case 'late':
      return { verdict: 'ignored', stage: stage.name, reason: decision.why };
  }
  const states = await alarmStates(stageCw(runtime, stage), bake.alarms);
  for (const s of states.filter((s) => s.value === 'MISSING'))
    logger.warn('an alarm of the stage does not exist; it cannot hold the release back', {
      stage: stage.name,
      alarm: s.name,
    });
  const verdict = verdictAfterBake(states, now);
  if (verdict.kind === 'rollback')
    return rollBack(runtime, stage, bake, verdict, `${trigger} found alarm ${verdict.alarm} in ALARM`);
  return passBake(runtime, stage, bake, now);
};

/** Run `act` for every stage side by side; one failing does not stop the others; then fail with them all. */
const eachStage = async (
  stages: Stage[],
  what: string,
  act: (stage: Stage) => Promise<BakeSummary>,
): Promise<BakeSummary[]> => {
  const settled = await Promise.allSettled(stages.map(act));
  const failures = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [{ stage: stages[i]?.name, error: s.reason as unknown }] : [],
  );
  for (const { stage, error } of failures) logger.error(`${what} failed`, { stage, error: error as Error });
  if (failures.length > 0)
    throw new AggregateError(
      failures.map((f) => f.error),
      `${what} failed for ${failures.map((f) => `${f.stage}: ${errorMessage(f.error)}`).join('; ')}`,
    );
  return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
};
