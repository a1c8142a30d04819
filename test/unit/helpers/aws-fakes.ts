/**
 * Stateful fakes of the AWS clients on top of aws-sdk-client-mock: CloudFormation's stacks (looked up by
 * name or ARN) and their event pages, and SSM parameters with their version history and labels. Each reads
 * and writes the state object it is given, at the time of each call, so that tests may change (or replace)
 * that state's fields between calls.
 */
import {
  DescribeStackEventsCommand,
  type DescribeStackEventsCommandInput,
  DescribeStacksCommand,
  type DescribeStacksCommandInput,
  type Stack,
  type StackEvent,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeParametersCommand,
  type DescribeParametersCommandInput,
  GetParameterCommand,
  type GetParameterCommandInput,
  GetParameterHistoryCommand,
  type GetParameterHistoryCommandInput,
  LabelParameterVersionCommand,
  type LabelParameterVersionCommandInput,
  type ParameterHistory,
  PutParameterCommand,
  type PutParameterCommandInput,
} from '@aws-sdk/client-ssm';
import { stackNameOf } from '../../../shared/edge/stack-events';
import { awsError } from './fixtures';
import { stackEventPages, stackMissing } from './stack-builders';
import type { Mocks } from './world';

export interface StacksState {
  /** Stacks by name; any other stack "does not exist". Looked up by name or stack ARN. */
  stacks: Record<string, Stack>;
  /** DescribeStackEvents pages, newest first (for every stack). */
  events: StackEvent[][];
}

export interface ParametersState {
  /** SSM parameter histories by name, oldest first; any other parameter is ParameterNotFound. */
  history: Record<string, ParameterHistory[]>;
}

/** DescribeStacks and DescribeStackEvents answer from `world`. */
export const fakeStacks = (mocks: Mocks, world: StacksState): void => {
  mocks.cfn.on(DescribeStacksCommand).callsFake(async (input: DescribeStacksCommandInput) => {
    const ref = input.StackName ?? '';
    const stack = world.stacks[stackNameOf(ref) ?? ref];
    if (!stack) throw stackMissing(ref);
    return { Stacks: [structuredClone(stack)] };
  });
  mocks.cfn
    .on(DescribeStackEventsCommand)
    .callsFake(async (input: DescribeStackEventsCommandInput) => stackEventPages(world.events)(input));
};

/**
 * A stateful SSM: GetParameter with label selectors, DescribeParameters and GetParameterHistory of the
 * newest versions, LabelParameterVersion adds the label to the history, PutParameter appends a version and,
 * like SSM, keeps the previous version's description when given none.
 */
export const fakeParameters = (mocks: Mocks, world: ParametersState): void => {
  mocks.ssm.on(GetParameterCommand).callsFake(async (input: GetParameterCommandInput) => {
    const [name = '', selector] = (input.Name ?? '').split(':');
    const versions = world.history[name];
    const latest = versions?.at(-1);
    if (!latest) throw awsError('ParameterNotFound', `parameter ${name} not found`);
    const found = selector === undefined ? latest : versions?.find((v) => v.Labels?.includes(selector));
    if (!found) throw awsError('ParameterVersionLabelNotFound', `label ${selector} not found on ${name}`);
    return {
      Parameter: {
        Name: name,
        Type: 'String',
        Value: found.Value,
        Version: found.Version,
        ...(selector ? { Selector: `:${selector}` } : {}),
      },
    };
  });
  mocks.ssm.on(GetParameterHistoryCommand).callsFake(async (input: GetParameterHistoryCommandInput) => {
    const versions = world.history[input.Name ?? ''];
    if (!versions) throw awsError('ParameterNotFound', `parameter ${input.Name} not found`);
    return { Parameters: structuredClone(versions) };
  });
  mocks.ssm.on(LabelParameterVersionCommand).callsFake(async (input: LabelParameterVersionCommandInput) => {
    const found = world.history[input.Name ?? '']?.find((v) => v.Version === input.ParameterVersion);
    if (!found) throw awsError('ParameterVersionNotFound', `no version ${input.ParameterVersion}`);
    found.Labels = [...new Set([...(found.Labels ?? []), ...(input.Labels ?? [])])];
    return { InvalidLabels: [], ParameterVersion: input.ParameterVersion };
  });
  mocks.ssm.on(DescribeParametersCommand).callsFake(async (input: DescribeParametersCommandInput) => {
    const name = input.ParameterFilters?.[0]?.Values?.[0] ?? '';
    const latest = world.history[name]?.at(-1);
    if (!latest) return { Parameters: [] };
    const { Version, Description, LastModifiedDate } = latest;
    return { Parameters: [{ Name: name, Type: 'String', Version, Description, LastModifiedDate }] };
  });
  mocks.ssm.on(PutParameterCommand).callsFake(async (input: PutParameterCommandInput) => {
    const name = input.Name ?? '';
    const versions = world.history[name] ?? [];
    if (versions.length > 0 && !input.Overwrite)
      throw awsError('ParameterAlreadyExists', `The parameter ${name} already exists.`);
    world.history[name] = versions;
    const previous = versions.at(-1);
    const next = (previous?.Version ?? 0) + 1;
    versions.push({
      Name: name,
      Type: 'String',
      Value: input.Value,
      Version: next,
      Labels: [],
      LastModifiedDate: new Date(Date.UTC(2026, 10, 20, 12, next)),
      // An overwrite without a description keeps the previous version's (SSM does; so does moto).
      Description: input.Description ?? previous?.Description,
    } satisfies ParameterHistory);
    return { Version: next, Tier: 'Standard' };
  });
};
