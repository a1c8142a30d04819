import {
  AlreadyExistsException,
  CloudFormationClient,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  InvalidChangeSetStatusException,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { DesiredState } from '../../shared/desired-state';
import { DeployerError, PermanentError } from '../../shared/errors';
import { reconcile } from '../../shared/reconcile';
import type { Runtime } from '../../shared/runtime';
import { awsError, BUILD_RELEASE_KEY, makeRuntime, rejectionOf, repoConfigText } from './helpers/fixtures';

const cfn = mockClient(CloudFormationClient);
const ssm = mockClient(SSMClient);

const OLD_KEY = `releases/orders-api/${'0'.repeat(64)}.zip`;
const EMPTY_REASON =
  "The submitted information didn't contain changes. Submit different information to create a change set.";
const CHANGES = [
  {
    Type: 'Resource' as const,
    ResourceChange: {
      Action: 'Modify' as const,
      LogicalResourceId: 'OrdersFunction',
      ResourceType: 'AWS::Lambda::Function',
      Replacement: 'False' as const,
    },
  },
];

/** A stack as DescribeStacks returns it; `artifactKey: null` leaves the ArtifactKey parameter out. */
const stackNamed = (
  name: string,
  status = 'UPDATE_COMPLETE',
  artifactKey: string | null = OLD_KEY,
): Stack => ({
  StackName: name,
  StackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/0f0f0f0f`,
  StackStatus: status as Stack['StackStatus'],
  CreationTime: new Date('2026-01-01T00:00:00Z'),
  Parameters: [
    ...(artifactKey === null ? [] : [{ ParameterKey: 'ArtifactKey', ParameterValue: artifactKey }]),
    { ParameterKey: 'Stage', ParameterValue: 'old-stage-value' },
    { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
    { ParameterKey: 'MemorySize', ParameterValue: '256' },
  ],
});

const desired = (stage: 'dev' | 'prod', version = 5, key = BUILD_RELEASE_KEY): DesiredState => ({
  parameter: `/deployer/orders-api/${stage}/artifact`,
  key,
  version,
});

const givenStack = (stack: Stack | undefined): void => {
  if (stack) cfn.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
  else
    cfn
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id orders-api-dev does not exist'));
};

/** The ARN CloudFormation gives a change set: after CreateChangeSet, the deployer addresses it by this. */
const arnOf = (name: string): string =>
  `arn:aws:cloudformation:us-east-1:123456789012:changeSet/${name}/7a7a7a7a-0000-4000-8000-000000000000`;

const givenChangeSetReady = (): void => {
  cfn
    .on(CreateChangeSetCommand)
    .callsFake(async (input: CreateChangeSetCommandInput) => ({ Id: arnOf(input.ChangeSetName ?? '') }));
  cfn
    .on(DescribeChangeSetCommand)
    .resolves({ Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', Changes: CHANGES });
  cfn.on(ExecuteChangeSetCommand).resolves({});
  cfn.on(DeleteChangeSetCommand).resolves({});
  cfn.on(ListChangeSetsCommand).resolves({ Summaries: [] });
};

let runtime: Runtime;
beforeEach(() => {
  cfn.reset();
  ssm.reset();
  // A safety net: a test that forgets to describe its change set gets a quick FAILED, never a 120 s wait.
  cfn
    .on(DescribeChangeSetCommand)
    .resolves({ Status: 'FAILED', StatusReason: 'test did not set up DescribeChangeSet' });
  runtime = makeRuntime();
});

describe('reconcile: before the stack is looked at', () => {
  it('throws a PermanentError for an unknown stage', async () => {
    const error = await rejectionOf(reconcile(runtime, 'staging'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('no stage named "staging"');
    expect(cfn).not.toHaveReceivedAnyCommand();
  });

  it('does nothing when nothing was ever desired', async () => {
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const result = await reconcile(runtime, 'dev');
    expect(result).toEqual({
      outcome: 'nothing-desired',
      stage: 'dev',
      stack: 'orders-api-dev',
      fresh: true,
    });
    expect(cfn).not.toHaveReceivedAnyCommand();
  });

  it('reads the desired state from SSM when the caller does not pass it', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: OLD_KEY, Version: 2 } });
    givenStack(stackNamed('orders-api-dev'));
    const result = await reconcile(runtime, 'dev');
    expect(result.outcome).toBe('in-sync');
    expect(result.desired).toEqual({
      parameter: '/deployer/orders-api/dev/artifact',
      key: OLD_KEY,
      version: 2,
    });
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/deployer/orders-api/dev/artifact' });
  });
});

describe('reconcile: the stack does not exist', () => {
  it('creates it from the template through a CREATE change set, then executes it', async () => {
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({
      outcome: 'deploying',
      action: 'create',
      changeSet: 'deploy-dev-v5',
      fresh: true,
    });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v5',
      ChangeSetType: 'CREATE',
      TemplateURL: 'https://orders-api-artifacts.s3.us-east-1.amazonaws.com/templates/orders-api.yaml',
      RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
      Capabilities: ['CAPABILITY_IAM'],
    });
    const input = cfn.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(input?.UsePreviousTemplate).toBeUndefined();
    // A new stack gets the overrides and the release key, nothing "previous".
    expect(input?.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'ArtifactKey', ParameterValue: BUILD_RELEASE_KEY },
        { ParameterKey: 'Stage', ParameterValue: 'dev' },
        { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      ]),
    );
    expect(input?.Parameters).toHaveLength(3);
    expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v5'),
      ClientRequestToken: 'deploy-dev-v5',
    });
  });

  it('treats a REVIEW_IN_PROGRESS stack (only pending CREATE change sets) like a missing one', async () => {
    givenStack(stackNamed('orders-api-dev', 'REVIEW_IN_PROGRESS', null));
    givenChangeSetReady();
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({
      outcome: 'deploying',
      action: 'create',
      stackStatus: 'REVIEW_IN_PROGRESS',
      stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-dev/0f0f0f0f',
    });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'CREATE',
      TemplateURL: 'https://orders-api-artifacts.s3.us-east-1.amazonaws.com/templates/orders-api.yaml',
    });
  });

  it('url-encodes the template key', async () => {
    const text = repoConfigText().replaceAll(
      'key: templates/orders-api.yaml',
      'key: templates/v=2/orders+api.yaml',
    );
    runtime = makeRuntime(text);
    givenStack(undefined);
    givenChangeSetReady();
    await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      TemplateURL:
        'https://orders-api-artifacts.s3.us-east-1.amazonaws.com/templates/v%3D2/orders%2Bapi.yaml',
    });
  });

  it('is blocked when the stage names no template', async () => {
    const text = repoConfigText().replace(
      '        template:\n          bucket: orders-api-artifacts\n          key: templates/orders-api.yaml\n',
      '',
    );
    runtime = makeRuntime(text);
    expect(runtime.config.pipelines['orders-api-pipeline']?.stages.dev?.template).toBeUndefined();
    givenStack(undefined);
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toContain('does not exist');
    expect(result.nextStep).toContain('template');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('lets other DescribeStacks errors through', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Template format error'));
    await expect(reconcile(runtime, 'dev', { desired: desired('dev') })).rejects.toThrow(
      'Template format error',
    );
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });
});

describe('reconcile: stack status', () => {
  it.each([
    'UPDATE_IN_PROGRESS',
    'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
    'CREATE_IN_PROGRESS',
    'UPDATE_ROLLBACK_IN_PROGRESS',
    'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
    'DELETE_IN_PROGRESS',
  ])('waits while the stack is %s, without a change set', async (status) => {
    givenStack(stackNamed('orders-api-dev', status));
    givenChangeSetReady();
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({ outcome: 'waiting', stackStatus: status, live: OLD_KEY, fresh: true });
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it.each<[string, string]>([
    ['ROLLBACK_COMPLETE', 'delete-stack'],
    ['ROLLBACK_FAILED', 'delete-stack'],
    ['UPDATE_ROLLBACK_FAILED', 'continue-update-rollback'],
    ['DELETE_FAILED', 'delete-stack'],
    ['UPDATE_FAILED', 'describe-stack-events'],
  ])('is blocked on %s, with a next step, without a change set', async (status, command) => {
    givenStack({
      ...stackNamed('orders-api-dev', status),
      StackStatusReason: 'Resource OrdersFunction failed',
    });
    givenChangeSetReady();
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toBe(`stack orders-api-dev is ${status}: Resource OrdersFunction failed`);
    expect(result.nextStep).toContain(command);
    expect(result.nextStep).toContain('--stack-name orders-api-dev --region us-east-1');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('is in sync when the stack runs the desired release', async () => {
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', BUILD_RELEASE_KEY));
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({
      outcome: 'in-sync',
      live: BUILD_RELEASE_KEY,
      stackStatus: 'UPDATE_COMPLETE',
    });
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('is blocked, without a change set, when the desired version is labelled as failed', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    ssm.on(GetParameterCommand, { Name: '/deployer/orders-api/dev/artifact:failed-v5' }).resolves({
      Parameter: { Name: '/deployer/orders-api/dev/artifact', Value: BUILD_RELEASE_KEY, Version: 5 },
    });
    const result = await reconcile(runtime, 'dev', { desired: desired('dev', 5) });
    expect(result).toMatchObject({ outcome: 'blocked', fresh: false });
    expect(result.reason).toContain('failed to deploy');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('deploys a desired version that carries no failed label', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, 'dev', { desired: desired('dev', 5) });
    expect(result.outcome).toBe('deploying');
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, {
      Name: '/deployer/orders-api/dev/artifact:failed-v5',
    });
  });

  it('is blocked when the stack has no artifact parameter', async () => {
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', null));
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toBe(
      'stack orders-api-dev has no parameter ArtifactKey to receive the release key',
    );
    expect(result.nextStep).toContain('stackParameter');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });
});

describe('reconcile: the stack runs another release', () => {
  it.each(['UPDATE_COMPLETE', 'CREATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE'])(
    'updates a %s stack through a change set and executes it',
    async (status) => {
      givenStack(stackNamed('orders-api-dev', status));
      givenChangeSetReady();
      const result = await reconcile(runtime, 'dev', { desired: desired('dev', 12) });
      expect(result).toMatchObject({
        outcome: 'deploying',
        action: 'update',
        changeSet: 'deploy-dev-v12',
        live: OLD_KEY,
        fresh: true,
        changes: [
          {
            action: 'Modify',
            logicalId: 'OrdersFunction',
            type: 'AWS::Lambda::Function',
            replacement: 'False',
          },
        ],
      });
      expect(cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);
    },
  );

  it('asks for the change set with the previous template, the release key, overrides, role, capabilities and tags', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    await reconcile(runtime, 'dev', { desired: desired('dev', 12) });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    const input = cfn.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;
    expect(input).toMatchObject<CreateChangeSetCommandInput>({
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v12',
      ChangeSetType: 'UPDATE',
      UsePreviousTemplate: true,
      RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
      Capabilities: ['CAPABILITY_IAM'],
      Tags: [
        { Key: 'service', Value: 'orders-api' },
        { Key: 'stage', Value: 'dev' },
      ],
    });
    expect(input?.TemplateURL).toBeUndefined();
    expect(input?.Parameters).toEqual([
      { ParameterKey: 'ArtifactKey', ParameterValue: BUILD_RELEASE_KEY },
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      { ParameterKey: 'MemorySize', UsePreviousValue: true },
    ]);
    expect(input?.Description).toContain(BUILD_RELEASE_KEY);
    // Once CloudFormation named the change set by its ARN, the deployer addresses exactly that one.
    expect(cfn).toHaveReceivedCommandWith(DescribeChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v12'),
    });
    expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v12'),
      ClientRequestToken: 'deploy-dev-v12',
    });
  });

  it('deletes an empty change set (FAILED with "didn\'t contain changes") and reports no change', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: EMPTY_REASON });
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({ outcome: 'no-change', reason: EMPTY_REASON, changeSet: 'deploy-dev-v5' });
    expect(cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v5'),
    });
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('reports no change when CreateChangeSet refuses with "No updates are to be performed."', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(CreateChangeSetCommand).rejects(awsError('ValidationError', 'No updates are to be performed.'));
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('no-change');
    expect(cfn).not.toHaveReceivedCommand(DescribeChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('lets other CreateChangeSet errors through', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn
      .on(CreateChangeSetCommand)
      .rejects(awsError('InsufficientCapabilitiesException', 'Requires CAPABILITY_NAMED_IAM'));
    await expect(reconcile(runtime, 'dev', { desired: desired('dev') })).rejects.toThrow(
      'CAPABILITY_NAMED_IAM',
    );
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('is blocked when the change set fails for another reason, and keeps it for inspection', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason: 'Parameter validation failed: parameter value x for parameter name MemorySize',
    });
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(result.reason).toBe(
      'change set deploy-dev-v5 failed: Parameter validation failed: parameter value x for parameter name MemorySize',
    );
    expect(result.nextStep).toBeDefined();
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
  });

  it('carries on with a change set another reconcile already created (AlreadyExistsException)', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(CreateChangeSetCommand).rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result.outcome).toBe('deploying');
    // Without an ARN from CreateChangeSet, the change set is addressed by stack and name.
    expect(cfn).toHaveReceivedCommandWith(DescribeChangeSetCommand, { ChangeSetName: 'deploy-dev-v5' });
    expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v5',
      ClientRequestToken: 'deploy-dev-v5',
    });
  });

  it('reports a change set found, not made, that then fails as not fresh', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(CreateChangeSetCommand).rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
    cfn.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: 'Template error' });
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({ outcome: 'blocked', fresh: false });
  });

  it('waits when ExecuteChangeSet finds the change set already executed (InvalidChangeSetStatusException)', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(ExecuteChangeSetCommand).rejects(
      new InvalidChangeSetStatusException({
        message: 'ChangeSet is in EXECUTE_IN_PROGRESS',
        $metadata: {},
      }),
    );
    const result = await reconcile(runtime, 'dev', { desired: desired('dev') });
    expect(result).toMatchObject({ outcome: 'waiting', fresh: false, changeSet: 'deploy-dev-v5' });
  });

  it('lets other ExecuteChangeSet errors through', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(ExecuteChangeSetCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(reconcile(runtime, 'dev', { desired: desired('dev') })).rejects.toThrow('Rate exceeded');
  });
});

describe('reconcile: an approval stage', () => {
  it('leaves the change set for approval, with its changes, and does not execute it', async () => {
    givenStack(stackNamed('orders-api-prod'));
    givenChangeSetReady();
    const result = await reconcile(runtime, 'prod', { desired: desired('prod', 3) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      changeSet: 'deploy-prod-v3',
      fresh: true,
      changes: [expect.objectContaining({ logicalId: 'OrdersFunction' })],
    });
    expect(cfn).toHaveReceivedCommandWith(ListChangeSetsCommand, { StackName: 'orders-api-prod' });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('finds the change set already waiting for this version instead of making another', async () => {
    givenStack(stackNamed('orders-api-prod'));
    givenChangeSetReady();
    cfn.on(ListChangeSetsCommand).resolves({
      Summaries: [
        { ChangeSetName: 'deploy-prod-v3', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
      ],
    });
    const result = await reconcile(runtime, 'prod', { desired: desired('prod', 3) });
    expect(result).toMatchObject({ outcome: 'pending-approval', changeSet: 'deploy-prod-v3', fresh: false });
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('deletes pending change sets of older versions, leaving foreign and unavailable ones alone', async () => {
    givenStack(stackNamed('orders-api-prod'));
    givenChangeSetReady();
    cfn
      .on(ListChangeSetsCommand)
      .resolvesOnce({
        Summaries: [
          { ChangeSetName: 'deploy-prod-v1', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
          { ChangeSetName: 'someone-elses-change', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
        ],
        NextToken: 'page-2',
      })
      .resolves({
        Summaries: [
          { ChangeSetName: 'deploy-prod-v2', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
          { ChangeSetName: 'deploy-prod-v0', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
          { ChangeSetName: 'deploy-prod-v2b', ExecutionStatus: 'UNAVAILABLE', Status: 'FAILED' },
          { ChangeSetName: 'deploy-dev-v1', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
        ],
      });
    const result = await reconcile(runtime, 'prod', { desired: desired('prod', 3) });
    expect(result.outcome).toBe('pending-approval');
    expect(cfn).toHaveReceivedCommandTimes(ListChangeSetsCommand, 2);
    expect(cfn).toHaveReceivedNthSpecificCommandWith(2, ListChangeSetsCommand, { NextToken: 'page-2' });
    const deleted = cfn.commandCalls(DeleteChangeSetCommand).map((c) => c.args[0].input.ChangeSetName);
    expect(deleted.sort()).toEqual(['deploy-prod-v1', 'deploy-prod-v2']);
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, { ChangeSetName: 'deploy-prod-v3' });
  });

  it('on a REVIEW_IN_PROGRESS stack, replaces an outdated pending CREATE change set', async () => {
    givenStack(stackNamed('orders-api-prod', 'REVIEW_IN_PROGRESS', null));
    givenChangeSetReady();
    cfn.on(ListChangeSetsCommand).resolves({
      Summaries: [
        {
          ChangeSetName: 'deploy-prod-v1',
          ChangeSetId: arnOf('deploy-prod-v1'),
          ExecutionStatus: 'AVAILABLE',
          Status: 'CREATE_COMPLETE',
        },
      ],
    });
    const result = await reconcile(runtime, 'prod', { desired: desired('prod', 2) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      action: 'create',
      changeSet: 'deploy-prod-v2',
    });
    expect(cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, { ChangeSetName: arnOf('deploy-prod-v1') });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'CREATE',
      ChangeSetName: 'deploy-prod-v2',
    });
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('creates a missing stack through a change set that waits for approval', async () => {
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, 'prod', { desired: desired('prod', 1) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      action: 'create',
      changeSet: 'deploy-prod-v1',
    });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, { ChangeSetType: 'CREATE' });
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });
});

describe('reconcile: a change set that takes too long', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('fails with a (retried) DeployerError after changeSetTimeoutSeconds, without executing', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    runtime = makeRuntime(
      repoConfigText().replace('changeSetTimeoutSeconds: 120', 'changeSetTimeoutSeconds: 10'),
    );
    expect(runtime.config.settings.changeSetTimeoutSeconds).toBe(10);
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const outcome = rejectionOf(reconcile(runtime, 'dev', { desired: desired('dev') }));
    await jest.advanceTimersByTimeAsync(11_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(DeployerError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect(error.message).toBe('change set deploy-dev-v5 on orders-api-dev was not ready after 10s');
    expect(cfn.commandCalls(DescribeChangeSetCommand).length).toBeGreaterThan(1);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });
});
