/**
 * The live state: the stage's CloudFormation stack, what it runs, and whether it can be updated now.
 */
import {
  type CloudFormationClient,
  DeleteStackCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import type { Stage } from '../edge/config';
import { errorMessage, errorName } from '../errors';

export type StackCondition = 'stable' | 'busy' | 'needs-person';

const STABLE = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

/**
 * Stable stacks can be updated; busy ones (every *_IN_PROGRESS, REVIEW_IN_PROGRESS and
 * UPDATE_COMPLETE_CLEANUP_IN_PROGRESS included) will end in an event that reconciles again; the rest
 * (ROLLBACK_COMPLETE, *_FAILED, …) cannot be updated until a person acts.
 */
export const classifyStatus = (status: string): StackCondition => {
  if (STABLE.has(status)) return 'stable';
  if (status.endsWith('_IN_PROGRESS')) return 'busy';
  return 'needs-person';
};

/** What a person should do about a stack in a status that blocks deploys. */
export const nextStepFor = (status: string, stack: string, region: string): string => {
  const where = `--stack-name ${stack} --region ${region}`;
  switch (status) {
    case 'ROLLBACK_COMPLETE':
    case 'ROLLBACK_FAILED':
      return `The stack's creation failed and it cannot be updated. Find the cause in its events (aws cloudformation describe-stack-events ${where}), then delete it (aws cloudformation delete-stack ${where}); the next deploy creates it again.`;
    case 'UPDATE_ROLLBACK_FAILED':
      return `The rollback of the last update failed. Fix the resource named in the stack events, then run aws cloudformation continue-update-rollback ${where} (add --resources-to-skip for resources that cannot be rolled back).`;
    case 'DELETE_FAILED':
      return `The stack could not be deleted. Remove or retain the resources named in its events, then retry aws cloudformation delete-stack ${where}.`;
    default:
      return `Inspect the stack (aws cloudformation describe-stack-events ${where}) and bring it back to a *_COMPLETE status; rollback is disabled or the stack needs a person.`;
  }
};

/** The text CloudFormation uses for a stack that does not exist: the only signal it gives, kept here once. */
export const isStackMissing = (error: unknown): boolean =>
  errorName(error) === 'ValidationError' && /does not exist/i.test(errorMessage(error));

/** The stack, or undefined when it does not exist. */
export const describeStack = async (cfn: CloudFormationClient, name: string): Promise<Stack | undefined> => {
  try {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    return Stacks?.[0];
  } catch (error) {
    if (isStackMissing(error)) return undefined;
    throw error;
  }
};

/** The value of one of the stack's parameters (what actually runs), or undefined. */
export const stackParameterValue = (stack: Stack, key: string): string | undefined =>
  stack.Parameters?.find((p) => p.ParameterKey === key)?.ParameterValue;

/** The link to the stack in the AWS console for its region. */
export const consoleLink = (region: string, stackId: string): string =>
  `https://${region}.console.aws.amazon.com/cloudformation/home?region=${region}#/stacks/stackinfo?stackId=${encodeURIComponent(stackId)}`;

/**
 * Delete a stage's stack (one whose creation failed), with the stage's service role. The token comes back
 * in the stack's status events.
 */
export const deleteStack = async (cfn: CloudFormationClient, stage: Stage, token: string): Promise<void> => {
  await cfn.send(
    new DeleteStackCommand({
      StackName: stage.stack,
      ClientRequestToken: token.slice(0, 128),
      ...(stage.roleArn ? { RoleARN: stage.roleArn } : {}),
    }),
  );
};
