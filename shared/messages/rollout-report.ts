/**
 * What a rollout message reports, as data: one state of a CodeDeploy deployment (a stage's canary or linear
 * rollout, SAM's DeploymentPreference), with what GetDeployment said and the release it rolls out. The email
 * (rollout-messages.ts) and the chat form (chat/rollout-chat.ts) both put it into words.
 */
import type { DeploymentFacts } from '../aws/deployments';
import type { DeploymentStateChange } from '../edge/deployment-events';
import type { Stage } from '../edge/stages';

/** What the state means to the ops team. */
export type RolloutOutcome =
  | 'started'
  | 'succeeded'
  | 'stopped'
  | 'failed'
  | 'rolled-back'
  | 'ready'
  | 'other';

export interface RolloutReport {
  change: DeploymentStateChange;
  stage: Stage;
  outcome: RolloutOutcome;
  /** GetDeployment's answer, for a deployment that stopped or failed. */
  facts?: DeploymentFacts;
  /** The release the rollout deploys: the deployer's run's, else the stage's desired one. */
  release?: { key: string; version: number; commit?: string };
  /** The release is the deployer's run, and its desired version is now marked failed. */
  markedFailed?: boolean;
}

/** The outcome of a state: a stop or failure that rolled back is a rollback (GetDeployment's rollbackInfo). */
export const rolloutOutcome = (state: string, facts: DeploymentFacts | undefined): RolloutOutcome => {
  switch (state) {
    case 'START':
      return 'started';
    case 'SUCCESS':
      return 'succeeded';
    case 'READY':
      return 'ready';
    case 'STOP':
      return facts?.rollback ? 'rolled-back' : 'stopped';
    case 'FAILURE':
      return facts?.rollback ? 'rolled-back' : 'failed';
    default:
      return 'other';
  }
};

/** Whether the outcome ends the release: a rollout that stopped, failed or rolled back. */
export const isFailedRollout = (outcome: RolloutOutcome): boolean =>
  outcome === 'stopped' || outcome === 'failed' || outcome === 'rolled-back';

/** The link to the deployment in the CodeDeploy console of its region. */
export const deploymentLink = (region: string, deploymentId: string): string =>
  `https://${region}.console.aws.amazon.com/codesuite/codedeploy/deployments/${deploymentId}?region=${region}`;
