/**
 * What a stage should run, what it runs, what waits, and who holds its lock: `deployer status`.
 */
import { isReadyToExecute, pendingChangeSets } from '../aws/change-sets';
import { latestWithKey, type ReleaseVersion, readHistory } from '../aws/release-history';
import { describeStack, stackParameterValue } from '../aws/stacks';
import { stageCfn } from '../aws/stage-clients';
import { readStageLock, type StageLock } from '../aws/stage-lock';
import type { Stage } from '../edge/config';
import type { Runtime } from '../runtime';
import { classifyStatus } from '../stack-status';

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
}

/** What a stage should run, what it runs, and what waits. */
export const stageStatus = async (runtime: Runtime, stage: Stage): Promise<StageStatus> => {
  const { ssm, s3 } = runtime.clients;
  const cfn = stageCfn(runtime, stage);
  const [stack, history, lock] = await Promise.all([
    describeStack(cfn, stage.stack),
    readHistory(ssm, stage),
    readStageLock(s3, stage),
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
    inSync:
      desired !== undefined &&
      !desired.failed &&
      liveKey === desired.key &&
      classifyStatus(stackStatus) === 'stable',
  };
};

const withRelease = (release: ReleaseVersion | undefined) => (release ? { release } : {});
