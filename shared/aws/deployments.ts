/**
 * What CloudFormation and CodeDeploy say about a stage's canary rollouts: the CodeDeploy application and
 * deployment groups its stack made (SAM's DeploymentPreference), the request token of the stack operation
 * running now, and what one deployment came to (GetDeployment: its status, error, rollback and the alarm that
 * stopped it).
 */
import {
  type CloudFormationClient,
  DescribeStackEventsCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { type CodeDeployClient, GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { isStackMissing } from './stacks';

/** The CodeDeploy application and deployment groups of one stack, by their physical ids (their names). */
export interface StackDeploymentGroups {
  applications: Set<string>;
  groups: Set<string>;
}

/**
 * The CodeDeploy resources a stack made, as CloudFormation records them. ListStackResources pages through a
 * stack of any size (DescribeStackResources stops at 100 resources). A stack that does not exist has none.
 */
export const stackDeploymentGroups = async (
  cfn: CloudFormationClient,
  stack: string,
): Promise<StackDeploymentGroups> => {
  const found: StackDeploymentGroups = { applications: new Set(), groups: new Set() };
  let NextToken: string | undefined;
  try {
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: stack, NextToken }));
      for (const resource of page.StackResourceSummaries ?? []) {
        const id = resource.PhysicalResourceId;
        if (!id) continue;
        if (resource.ResourceType === 'AWS::CodeDeploy::Application') found.applications.add(id);
        if (resource.ResourceType === 'AWS::CodeDeploy::DeploymentGroup') found.groups.add(id);
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if (isStackMissing(error)) return found;
    throw error;
  }
  return found;
};

/**
 * The client request token of the stack's newest operation, from its newest own event: CloudFormation creates
 * a SAM rollout's CodeDeploy deployment while it updates the stack, so that operation is the one the
 * deployment belongs to. Whether the token is the deployer's is for its run records to say (runs.ts).
 */
export const currentOperationToken = async (
  cfn: CloudFormationClient,
  stack: string,
): Promise<string | undefined> => {
  try {
    const { StackEvents } = await cfn.send(new DescribeStackEventsCommand({ StackName: stack }));
    const own = (StackEvents ?? []).find(
      (e) => e.ResourceType === 'AWS::CloudFormation::Stack' && e.LogicalResourceId === stack,
    );
    return own?.ClientRequestToken;
  } catch (error) {
    if (isStackMissing(error)) return undefined;
    throw error;
  }
};

/** What a deployment came to, as GetDeployment says. */
export interface DeploymentFacts {
  application?: string;
  group?: string;
  status?: string;
  /** Who made it: CloudFormation (a stack update), CloudFormationRollback, codeDeployRollback, user, … */
  creator?: string;
  error?: { code?: string; message?: string };
  /** The deployment rolled back: the deployment that did it and CodeDeploy's words. */
  rollback?: { deploymentId?: string; message?: string };
  /** The alarms that stopped it, when an alarm did (errorInformation code ALARM_ACTIVE). */
  alarms: string[];
}

/**
 * GetDeployment of one deployment. For a deployment stopped by an alarm CodeDeploy answers errorInformation
 * code ALARM_ACTIVE, with the alarms named in its message after "Activated alarms:" (read as CodeDeploy writes
 * it; a message without that list still says an alarm stopped it).
 */
export const readDeployment = async (
  cd: CodeDeployClient,
  deploymentId: string,
): Promise<DeploymentFacts> => {
  const { deploymentInfo: info } = await cd.send(new GetDeploymentCommand({ deploymentId }));
  const error = info?.errorInformation;
  const rollback = info?.rollbackInfo;
  const hasError = Boolean(error?.code || error?.message);
  const rolledBack = Boolean(rollback?.rollbackDeploymentId || rollback?.rollbackMessage);
  return {
    ...(info?.applicationName ? { application: info.applicationName } : {}),
    ...(info?.deploymentGroupName ? { group: info.deploymentGroupName } : {}),
    ...(info?.status ? { status: info.status } : {}),
    ...(info?.creator ? { creator: info.creator } : {}),
    ...(hasError
      ? {
          error: {
            ...(error?.code ? { code: error.code } : {}),
            ...(error?.message ? { message: error.message } : {}),
          },
        }
      : {}),
    ...(rolledBack
      ? {
          rollback: {
            ...(rollback?.rollbackDeploymentId ? { deploymentId: rollback.rollbackDeploymentId } : {}),
            ...(rollback?.rollbackMessage ? { message: rollback.rollbackMessage } : {}),
          },
        }
      : {}),
    alarms: error?.code === 'ALARM_ACTIVE' ? alarmsIn(error.message) : [],
  };
};

/** The alarm names after "Activated alarms:" in CodeDeploy's message, at most ten, each at most 255 long. */
export const alarmsIn = (message: string | undefined): string[] => {
  const list = /Activated alarms:\s*(.+)$/is.exec(message ?? '')?.[1];
  if (!list) return [];
  return list
    .split(/,\s*/)
    .map((name) => name.trim().replace(/[.\s]+$/, ''))
    .filter((name) => name !== '' && name.length <= 255)
    .slice(0, 10);
};
