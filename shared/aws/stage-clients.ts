/**
 * The one answer to "which CloudFormation client reaches this stage's stack". A stage at home (the deployer's
 * own account and region) uses the deployer's client; a stage in another region of the deployer's account, a
 * client for that region; a stage in another account, a client for its region with the credentials of the
 * role it names there (assumed-role.ts). Everything that reads or changes a stage's stack goes through here.
 *
 * Only the stack is elsewhere: the desired state (SSM), the releases' records, the stage's lock, the
 * notification ledger and the ops topic stay in the deployer's account and region, with its own clients.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { type Home, isHome, type Place, stagePlace, stagesAt } from '../edge/stage-place';
import type { DeployerConfig, Stage } from '../edge/stages';
import type { AssumedRole } from './assumed-role';
import type { Clients } from './client-factory';

interface Scope {
  settings: Home;
  clients: Clients;
}

/** The session name that tells, in the target account's CloudTrail, that the deployer acts for this stage. */
export const sessionNameOf = (stage: Pick<Stage, 'name'>): string => `deployer-${stage.name}`;

/** The role a stage's stack is reached with, or undefined for the deployer's own credentials. */
export const assumedRoleOf = (stage: Stage): AssumedRole | undefined =>
  stage.assumeRoleArn ? { roleArn: stage.assumeRoleArn, sessionName: sessionNameOf(stage) } : undefined;

/** The CloudFormation client for this stage's stack. */
export const stageCfn = ({ settings, clients }: Scope, stage: Stage): CloudFormationClient => {
  const place = stagePlace(settings, stage);
  const role = assumedRoleOf(stage);
  if (isHome(settings, place) && !role) return clients.cfn;
  return clients.remote.cfn(place.region, role);
};

/** The CloudWatch client for this stage's alarms: where its stack is, as its stack is reached. */
export const stageCw = ({ settings, clients }: Scope, stage: Stage): CloudWatchClient => {
  const place = stagePlace(settings, stage);
  const role = assumedRoleOf(stage);
  if (isHome(settings, place) && !role) return clients.cw;
  return clients.remote.cw(place.region, role);
};

/** The CodeDeploy client for the deployments of this stage's stack (its canary rollouts), reached like it. */
export const stageCodeDeploy = ({ settings, clients }: Scope, stage: Stage): CodeDeployClient => {
  const place = stagePlace(settings, stage);
  const role = assumedRoleOf(stage);
  if (isHome(settings, place) && !role) return clients.codedeploy;
  return clients.remote.codedeploy(place.region, role);
};

/**
 * The client for stacks in this account and region when no stack is known yet (a change set named by its
 * ARN alone): the deployer's own at home, otherwise that of a stage configured there.
 */
export const placeCfn = (
  scope: Scope & { config: DeployerConfig },
  place: Place,
): CloudFormationClient | undefined => {
  if (isHome(scope.settings, place)) return scope.clients.cfn;
  const [stage] = stagesAt(scope.config, scope.settings, place);
  return stage ? stageCfn(scope, stage) : undefined;
};
