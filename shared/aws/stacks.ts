/**
 * The live state: the stage's CloudFormation stack and what it runs (what its status means:
 * shared/stack-status.ts).
 */
import {
  type CloudFormationClient,
  DeleteStackCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import type { Stage } from '../edge/stages';
import { errorMessage, errorName } from '../errors';

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
