/**
 * Change sets: how the deployer changes a stack. One change set per desired version, named after it, made
 * with the stage's service role, waited for within a bounded time, then executed or left for approval.
 */
import {
  type Change,
  type CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  ExecuteChangeSetCommand,
  ListChangeSetsCommand,
  type Parameter,
  type Stack,
  waitForChangeSetCreateComplete,
} from '@aws-sdk/client-cloudformation';
import type { Stage } from './config';
import { DeployerError, errorMessage, errorName } from './errors';
import { changeSetPrefix, desiredVersionOfChangeSet } from './names';

/** CloudFormation's words for a change set with nothing in it: the only signal it gives, kept here once. */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;

export const isNoChangeReason = (reason: string | undefined): boolean => NO_CHANGES.test(reason ?? '');

/** An empty change set refused at creation (the form some emulators use). */
export const isNoChangeError = (error: unknown): boolean =>
  errorName(error) === 'ValidationError' && isNoChangeReason(errorMessage(error));

/** One planned resource change, as an ops engineer reads it. */
export interface PlannedChange {
  action: string;
  logicalId: string;
  type: string;
  replacement: string;
}

export type ChangeSetState =
  | { status: 'ready'; changes: PlannedChange[] }
  | { status: 'empty'; reason: string }
  | { status: 'failed'; reason: string };

/**
 * A change set: its stack and name, and its ARN once CloudFormation gave one. The ARN names exactly one
 * change set; the name only together with the stack.
 */
export interface ChangeSetRef {
  stack: string;
  name: string;
  id?: string;
}

const target = (ref: ChangeSetRef) => ({ StackName: ref.stack, ChangeSetName: ref.id ?? ref.name });

export interface ChangeSetRequest {
  stage: Stage;
  name: string;
  /** The release key the stack should run. */
  artifactKey: string;
  /** The stack as it is now, or undefined to create it. */
  stack: Stack | undefined;
  /** The template to create the stack from, when it does not exist. */
  templateUrl?: string;
}

/** Polling for a change set: CloudFormation usually needs a few seconds. */
const POLL = { minDelay: 2, maxDelay: 10 };

/**
 * Parameters for the change set: the artifact parameter gets the release key, configured overrides get their
 * values, every other parameter of an existing stack keeps its previous value.
 */
export const changeSetParameters = (
  stage: Stage,
  artifactKey: string,
  stack: Stack | undefined,
): Parameter[] => {
  const values: Record<string, string> = { ...stage.parameterOverrides, [stage.stackParameter]: artifactKey };
  if (!stack)
    return Object.entries(values).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue }));
  return (stack.Parameters ?? []).flatMap(({ ParameterKey }): Parameter[] => {
    if (!ParameterKey) return [];
    const value = values[ParameterKey];
    return value === undefined
      ? [{ ParameterKey, UsePreviousValue: true }]
      : [{ ParameterKey, ParameterValue: value }];
  });
};

export type CreateResult =
  | { result: 'created'; ref: ChangeSetRef }
  | { result: 'exists'; ref: ChangeSetRef }
  | { result: 'empty' };

/**
 * Ask CloudFormation for a change set. 'exists' when a change set of that name is already on the stack
 * (another reconcile made it); 'empty' when CloudFormation refuses one because nothing would change.
 */
export const createChangeSet = async (
  cfn: CloudFormationClient,
  request: ChangeSetRequest,
): Promise<CreateResult> => {
  const { stage, name, stack } = request;
  try {
    const { Id } = await cfn.send(
      new CreateChangeSetCommand({
        StackName: stage.stack,
        ChangeSetName: name,
        ChangeSetType: stack ? 'UPDATE' : 'CREATE',
        ...(stack ? { UsePreviousTemplate: true } : { TemplateURL: request.templateUrl }),
        Parameters: changeSetParameters(stage, request.artifactKey, stack),
        Capabilities: stage.capabilities,
        Tags: Object.entries(stage.tags).map(([Key, Value]) => ({ Key, Value })),
        ...(stage.roleArn ? { RoleARN: stage.roleArn } : {}),
        Description: `deployer: stage ${stage.name}, ${stage.stackParameter}=${request.artifactKey}`.slice(
          0,
          1024,
        ),
      }),
    );
    return { result: 'created', ref: { stack: stage.stack, name, ...(Id ? { id: Id } : {}) } };
  } catch (error) {
    if (isNoChangeError(error)) return { result: 'empty' };
    if (errorName(error) === 'AlreadyExistsException')
      return { result: 'exists', ref: { stack: stage.stack, name } };
    throw error;
  }
};

const plannedChanges = (changes: Change[] | undefined): PlannedChange[] =>
  (changes ?? []).flatMap(({ ResourceChange: rc }) =>
    rc
      ? [
          {
            action: rc.Action ?? 'Unknown',
            logicalId: rc.LogicalResourceId ?? '?',
            type: rc.ResourceType ?? '?',
            replacement: rc.Replacement ?? 'False',
          },
        ]
      : [],
  );

/** Wait for CloudFormation to compute the change set, at most `timeoutSeconds`. */
export const awaitChangeSet = async (
  cfn: CloudFormationClient,
  ref: ChangeSetRef,
  timeoutSeconds: number,
): Promise<ChangeSetState> => {
  const result = await waitForChangeSetCreateComplete(
    { client: cfn, maxWaitTime: timeoutSeconds, ...POLL },
    target(ref),
  );
  const described = result.reason as DescribeChangeSetCommandOutput | Error | undefined;
  const state = String(result.state);
  if (state === 'SUCCESS') {
    return {
      status: 'ready',
      changes: plannedChanges((described as DescribeChangeSetCommandOutput).Changes),
    };
  }
  if (state === 'FAILURE') {
    const reason =
      described instanceof Error ? described.message : (described?.StatusReason ?? 'no reason given');
    return isNoChangeReason(reason) ? { status: 'empty', reason } : { status: 'failed', reason };
  }
  throw new DeployerError(`change set ${ref.name} on ${ref.stack} was not ready after ${timeoutSeconds}s`);
};

export const executeChangeSet = async (cfn: CloudFormationClient, ref: ChangeSetRef) => {
  // The token comes back in the stack's status events: it tells our own deploys from anyone else's.
  await cfn.send(new ExecuteChangeSetCommand({ ...target(ref), ClientRequestToken: ref.name }));
};

export const deleteChangeSet = async (cfn: CloudFormationClient, ref: ChangeSetRef) => {
  await cfn.send(new DeleteChangeSetCommand(target(ref)));
};

/** Our change sets on the stack that still wait for execution, with the desired version each was made for. */
export const pendingChangeSets = async (cfn: CloudFormationClient, stage: Stage) => {
  const prefix = changeSetPrefix(stage.name);
  const pending: (ChangeSetRef & { version: number; status: string })[] = [];
  let NextToken: string | undefined;
  do {
    const page = await cfn.send(new ListChangeSetsCommand({ StackName: stage.stack, NextToken }));
    for (const summary of page.Summaries ?? []) {
      const name = summary.ChangeSetName ?? '';
      const version = desiredVersionOfChangeSet(stage.name, name);
      if (!name.startsWith(prefix) || version === undefined || summary.ExecutionStatus !== 'AVAILABLE')
        continue;
      pending.push({
        stack: stage.stack,
        name,
        ...(summary.ChangeSetId ? { id: summary.ChangeSetId } : {}),
        version,
        status: summary.Status ?? 'UNKNOWN',
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return pending;
};
