/**
 * What a stage should run, what it runs, what waits, and who holds its lock: `deployer status`.
 */
import { readBake } from '../aws/bake-record';
import { isReadyToExecute, pendingChangeSets } from '../aws/change-sets';
import { latestWithKey, type ReleaseVersion, readHistory } from '../aws/release-history';
import { describeStack, stackParameterValue } from '../aws/stacks';
import { stageCfn } from '../aws/stage-clients';
import { readStageLock, type StageLock } from '../aws/stage-lock';
import type { Stage } from '../edge/stages';
import type { ReconcileResult } from '../outcomes';
import type { Runtime } from '../runtime';
import { classifyStatus } from '../stack-status';
import { frozenReason, stageWindowState } from '../stage/freeze-gate';

export interface StageStatus {
  stage: string;
  stack: string;
  stackStatus: string;
  desired?: ReleaseVersion;
  live?: { key: string; release?: ReleaseVersion };
  pendingChangeSet?: { name: string; version: number };
  /** The stage's lock, when a writer holds it (or left it expired): who, since and until when, where. */
  lock?: StageLock;
  inSync: boolean;
  /** The stage is frozen now (deployWindows): why, and when it opens (ISO 8601; absent: not within 400 days). */
  frozen?: Extract<NonNullable<ReconcileResult['why']>, { code: 'stage-frozen' }>;
  /** The desired release bakes (alarm-gated stage): until when, watched by which alarms. */
  baking?: { version: number; until: string; alarms: string[] };
}

/** What a stage should run, what it runs, and what waits. */
export const stageStatus = async (runtime: Runtime, stage: Stage): Promise<StageStatus> => {
  const { ssm, s3 } = runtime.clients;
  const cfn = stageCfn(runtime, stage);
  const [stack, history, lock, bake] = await Promise.all([
    describeStack(cfn, stage.stack),
    readHistory(ssm, stage),
    readStageLock(s3, stage),
    stage.alarms.length > 0 ? readBake(s3, stage) : undefined,
  ]);
  const desired = history.at(-1);
  const liveKey = stack ? stackParameterValue(stack, stage.stackParameter) : undefined;
  const stackStatus = stack?.StackStatus ?? 'DOES_NOT_EXIST';
  const pending = stack ? (await pendingChangeSets(cfn, stage)).find(isReadyToExecute) : undefined;
  return {
    stage: stage.name,
    stack: stage.stack,
    stackStatus,
    ...(desired ? { desired } : {}),
    ...(liveKey ? { live: { key: liveKey, ...withRelease(latestWithKey(history, liveKey)) } } : {}),
    ...(pending ? { pendingChangeSet: { name: pending.name, version: pending.version } } : {}),
    ...(lock ? { lock } : {}),
    ...withFrozen(frozenReason(stageWindowState(runtime, stage))),
    ...(bake?.state === 'baking' && desired?.version === bake.version && !desired.failed
      ? { baking: { version: bake.version, until: bake.until, alarms: bake.alarms } }
      : {}),
    inSync:
      desired !== undefined &&
      !desired.failed &&
      liveKey === desired.key &&
      classifyStatus(stackStatus) === 'stable',
  };
};

const withFrozen = (frozen: StageStatus['frozen']) => (frozen ? { frozen } : {});
const withRelease = (release: ReleaseVersion | undefined) => (release ? { release } : {});
