/**
 * Change sets: how the deployer changes a stack. One change set per desired version, named after it, made
 * with the stage's service role, waited for within a bounded time, then executed or left for approval.
 */

import {
  type CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  ExecuteChangeSetCommand,
  ListChangeSetsCommand,
  type Parameter,
  type RollbackConfiguration,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import type { Stage } from '../edge/stages';
import { errorMessage, errorName } from '../errors';
import { changeSetPrefix, desiredVersionOfChangeSet } from '../names';
import { tokenInDescription } from './runs';
import { guardWrite, writeOnce } from './single-writes';

/** CloudFormation's words for a change set with nothing in it: the only signal it gives, kept here once. */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;

export const isNoChangeReason = (reason: string | undefined): boolean => NO_CHANGES.test(reason ?? '');

/** An empty change set refused at creation (the form some emulators use). */
export const isNoChangeError = (error: unknown): boolean =>
  errorName(error) === 'ValidationError' && isNoChangeReason(errorMessage(error));

/**
 * A change set: its stack and name, and its ARN once CloudFormation gave one. The ARN names exactly one
 * change set; the name only together with the stack.
 */
export interface ChangeSetRef {
  stack: string;
  name: string;
  id?: string;
}

export const target = (ref: ChangeSetRef) => ({ StackName: ref.stack, ChangeSetName: ref.id ?? ref.name });

/** The template a change set deploys: the verified text of a pinned template, or the stack's current one. */
export type TemplateSource =
  | { kind: 'pinned'; sha256: string; body?: string; url?: string }
  | { kind: 'previous' };

export interface ChangeSetRequest {
  stage: Stage;
  name: string;
  /** The run's unpredictable token: the create's ClientToken, and named in the description. */
  token: string;
  /** The release key the stack should run. */
  artifactKey: string;
  /** The stack as it is now, or undefined to create it. */
  stack: Stack | undefined;
  template: TemplateSource;
  /** The parameters the template declares, when a new template is deployed (undefined: the stack's own). */
  templateParameters?: string[];
  /** The stage's alarms as rollback triggers (alarms.ts): CloudFormation rolls back an update that trips one. */
  rollbackConfiguration?: RollbackConfiguration;
}

/**
 * Parameters for the change set: the artifact parameter gets the release key, configured overrides get their
 * values, every other parameter the stack already has keeps its previous value. With a new template, only
 * the parameters it declares are passed (a new one without an override takes its default).
 */
export const changeSetParameters = (
  stage: Stage,
  artifactKey: string,
  stack: Stack | undefined,
  templateParameters?: string[],
): Parameter[] => {
  const values: Record<string, string> = { ...stage.parameterOverrides, [stage.stackParameter]: artifactKey };
  const existing = new Set(
    (stack?.Parameters ?? []).flatMap((p) => (p.ParameterKey ? [p.ParameterKey] : [])),
  );
  const keys = templateParameters ?? (stack ? [...existing] : Object.keys(values));
  return keys.flatMap((ParameterKey): Parameter[] => {
    const value = values[ParameterKey];
    if (value !== undefined) return [{ ParameterKey, ParameterValue: value }];
    return existing.has(ParameterKey) ? [{ ParameterKey, UsePreviousValue: true }] : [];
  });
};

export type CreateResult =
  | { result: 'created'; ref: ChangeSetRef }
  | { result: 'exists'; ref: ChangeSetRef; description?: string }
  | { result: 'empty' };

const templateFields = (template: TemplateSource) => {
  if (template.kind === 'previous') return { UsePreviousTemplate: true };
  return template.body !== undefined ? { TemplateBody: template.body } : { TemplateURL: template.url };
};

/** CloudFormation's answer for a change set that does not exist (the name varies with the API's version). */
export const isChangeSetMissing = (error: unknown): boolean =>
  ['ChangeSetNotFoundException', 'ChangeSetNotFound'].includes(errorName(error) ?? '');

/** The change set of this name on the stack, as CloudFormation describes it, or undefined. */
export const describeNamed = async (cfn: CloudFormationClient, stack: string, name: string) => {
  try {
    return await cfn.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: name }));
  } catch (error) {
    if (isChangeSetMissing(error) || isStackGone(error)) return undefined;
    throw error;
  }
};

const isStackGone = (error: unknown): boolean =>
  errorName(error) === 'ValidationError' && /does not exist/i.test(errorMessage(error));

/**
 * Ask CloudFormation for a change set, once: a create whose answer was lost is found again by the token in
 * its description. 'exists' when a change set of that name is already on the stack (made by an earlier
 * reconcile — or by someone else: the caller checks it against its run records); 'empty' when CloudFormation
 * refuses one because nothing would change.
 */
export const createChangeSet = async (
  cfn: CloudFormationClient,
  request: ChangeSetRequest,
): Promise<CreateResult> => {
  const { stage, name, stack, token } = request;
  const ref = (Id: string | undefined): ChangeSetRef => ({
    stack: stage.stack,
    name,
    ...(Id ? { id: Id } : {}),
  });
  try {
    const Id = await writeOnce(
      `creating change set ${name} on ${stage.stack}`,
      async () =>
        (
          await cfn.send(
            guardWrite(
              new CreateChangeSetCommand({
                StackName: stage.stack,
                ChangeSetName: name,
                ChangeSetType: stack ? 'UPDATE' : 'CREATE',
                ClientToken: token,
                ...templateFields(request.template),
                Parameters: changeSetParameters(
                  stage,
                  request.artifactKey,
                  stack,
                  request.templateParameters,
                ),
                Capabilities: stage.capabilities,
                Tags: Object.entries(stage.tags).map(([Key, Value]) => ({ Key, Value })),
                ...(stage.roleArn ? { RoleARN: stage.roleArn } : {}),
                ...(request.rollbackConfiguration
                  ? { RollbackConfiguration: request.rollbackConfiguration }
                  : {}),
                Description: changeSetDescription(request),
              }),
            ),
          )
        ).Id ?? '',
      async () => {
        const found = await describeNamed(cfn, stage.stack, name);
        return tokenInDescription(found?.Description) === token ? (found?.ChangeSetId ?? '') : undefined;
      },
    );
    return { result: 'created', ref: ref(Id || undefined) };
  } catch (error) {
    if (isNoChangeError(error)) return { result: 'empty' };
    if (errorName(error) === 'AlreadyExistsException') {
      const found = await describeNamed(cfn, stage.stack, name);
      return {
        result: 'exists',
        ref: ref(found?.ChangeSetId),
        ...(found?.Description ? { description: found.Description } : {}),
      };
    }
    throw error;
  }
};

/** "deployer: stage dev, ArtifactKey=…, template <sha>, run <token>": the run token must survive the cut. */
const changeSetDescription = ({ stage, artifactKey, template, token }: ChangeSetRequest): string => {
  const run = `, run ${token}`;
  const pinned = template.kind === 'pinned' ? `, template ${template.sha256.slice(0, 12)}` : '';
  return `${`deployer: stage ${stage.name}, ${stage.stackParameter}=${artifactKey}${pinned}`.slice(0, 1024 - run.length)}${run}`;
};

/** Change set states that mean its execution started (or ended). */
const EXECUTED = new Set(['EXECUTE_IN_PROGRESS', 'EXECUTE_COMPLETE', 'EXECUTE_FAILED']);

/**
 * Execute a change set once, with the run's token: the token comes back in the stack's status events, where
 * it tells the deployer's own operations from anyone else's. An execute whose answer was lost is found again
 * by the change set's execution status.
 */
export const executeChangeSet = async (cfn: CloudFormationClient, ref: ChangeSetRef, token: string) => {
  await writeOnce(
    `executing change set ${ref.name} on ${ref.stack}`,
    async () => {
      await cfn.send(guardWrite(new ExecuteChangeSetCommand({ ...target(ref), ClientRequestToken: token })));
      return true;
    },
    async () => {
      const found = await describeNamed(cfn, ref.stack, ref.id ?? ref.name);
      // A change set that is gone after an execute was executed (CloudFormation removes executed ones).
      return !found || EXECUTED.has(found.ExecutionStatus ?? '') ? true : undefined;
    },
  );
};

/** Delete a change set; one already gone (a retried delete whose first answer was lost) counts as deleted. */
export const deleteChangeSet = async (cfn: CloudFormationClient, ref: ChangeSetRef) => {
  try {
    await cfn.send(new DeleteChangeSetCommand(target(ref)));
  } catch (error) {
    if (!isChangeSetMissing(error)) throw error;
  }
};

/** A pending change set that CloudFormation has finished making: it can be executed. */
export const isReadyToExecute = (pending: { status: string }): boolean =>
  pending.status === 'CREATE_COMPLETE';

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
