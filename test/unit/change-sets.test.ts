import {
  AlreadyExistsException,
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ListChangeSetsCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { awaitChangeSet } from '../../shared/aws/change-set-wait';
import {
  type ChangeSetRequest,
  changeSetParameters,
  createChangeSet,
  deleteChangeSet,
  executeChangeSet,
  isNoChangeError,
  isNoChangeReason,
  pendingChangeSets,
} from '../../shared/aws/change-sets';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { parseConfig } from '../../shared/edge/config';
import { DeployerError } from '../../shared/errors';
import { consoleLink } from '../../shared/messages/notification';
import { stackNextStep } from '../../shared/messages/reasons';
import { classifyStatus } from '../../shared/stack-status';
import { awsError, makeRuntime, rejectionOf, repoConfigText, stageOf } from './helpers/fixtures';
import { TEMPLATE, TEMPLATE_PARAMETERS } from './helpers/releases';
import { runToken } from './helpers/runs';

const cfnMock = mockClient(CloudFormationClient);
const cfn = makeRuntime().clients.cfn;
const config = parseConfig(repoConfigText());
const REF = { stack: 'orders-api-dev', name: 'deploy-dev-v1' };
const ARN = 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-dev-v1/5e5e5e5e';

beforeEach(() => {
  cfnMock.reset();
});

describe('awaitChangeSet', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('returns the planned changes of a change set that is ready at once', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'CREATE_COMPLETE',
      Changes: [
        { ResourceChange: { Action: 'Add', LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue' } },
        { Type: 'Resource' },
      ],
    });
    await expect(awaitChangeSet(cfn, REF, 120)).resolves.toEqual({
      status: 'ready',
      changes: [{ action: 'Add', logicalId: 'Queue', type: 'AWS::SQS::Queue', replacement: 'False' }],
    });
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 1);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v1',
    });
  });

  it('addresses the change set by its ARN once CloudFormation gave one', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    await awaitChangeSet(cfn, { ...REF, id: ARN }, 120);
    expect(cfnMock).toHaveReceivedCommandWith(DescribeChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: ARN,
    });
  });

  it('polls a pending change set until it is complete', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    cfnMock
      .on(DescribeChangeSetCommand)
      .resolvesOnce({ Status: 'CREATE_PENDING' })
      .resolvesOnce({ Status: 'CREATE_IN_PROGRESS' })
      .resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    let settled = false;
    const result = awaitChangeSet(cfn, REF, 120).finally(() => {
      settled = true;
    });
    await jest.advanceTimersByTimeAsync(0);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 1);
    expect(settled).toBe(false);
    // Asked once at once, then at 2 s, then every second.
    await jest.advanceTimersByTimeAsync(1_999);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 1);
    await jest.advanceTimersByTimeAsync(1);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 2);
    await jest.advanceTimersByTimeAsync(10_000);
    await expect(result).resolves.toEqual({ status: 'ready', changes: [] });
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 3);
  });

  it('asks at once, at 2 s (CloudFormation is not ready sooner), then every second: never more than a second past readiness', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const result = awaitChangeSet(cfn, REF, 120);
    await jest.advanceTimersByTimeAsync(0);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 1);
    await jest.advanceTimersByTimeAsync(1_999);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 1);
    await jest.advanceTimersByTimeAsync(1);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 2);
    await jest.advanceTimersByTimeAsync(999);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 2);
    await jest.advanceTimersByTimeAsync(1);
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 3);
    // Ready 3.5 s after creation: seen at the poll at 4 s, half a second later.
    await jest.advanceTimersByTimeAsync(500);
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_COMPLETE', Changes: [] });
    await jest.advanceTimersByTimeAsync(500);
    await expect(result).resolves.toEqual({ status: 'ready', changes: [] });
    expect(cfnMock).toHaveReceivedCommandTimes(DescribeChangeSetCommand, 4);
  });

  it('tells an empty change set from a failed one', async () => {
    cfnMock.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason:
        "The submitted information didn't contain changes. Submit different information to create a change set.",
    });
    await expect(awaitChangeSet(cfn, REF, 120)).resolves.toMatchObject({
      status: 'empty',
    });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: 'Template error: boom' });
    await expect(awaitChangeSet(cfn, REF, 120)).resolves.toEqual({
      status: 'failed',
      reason: 'Template error: boom',
    });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED' });
    await expect(awaitChangeSet(cfn, REF, 120)).resolves.toEqual({
      status: 'failed',
      reason: 'no reason given',
    });
  });

  it('reports a change set that does not exist (ValidationError) as failed, with the message', async () => {
    cfnMock
      .on(DescribeChangeSetCommand)
      .rejects(awsError('ValidationError', 'ChangeSet [deploy-dev-v1] does not exist'));
    await expect(awaitChangeSet(cfn, REF, 120)).resolves.toEqual({
      status: 'failed',
      reason: 'ChangeSet [deploy-dev-v1] does not exist',
    });
  });

  it('gives up after the timeout with a DeployerError', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    cfnMock.on(DescribeChangeSetCommand).resolves({ Status: 'CREATE_IN_PROGRESS' });
    const outcome = rejectionOf(awaitChangeSet(cfn, REF, 10));
    await jest.advanceTimersByTimeAsync(11_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(DeployerError);
    expect(error.message).toBe('change set deploy-dev-v1 on orders-api-dev was not ready after 10s');
  });
});

describe('executeChangeSet and deleteChangeSet', () => {
  const TOKEN = runToken('dev', 1);

  it("execute with the run's unpredictable token as the client request token, by ARN when known", async () => {
    cfnMock.on(ExecuteChangeSetCommand).resolves({});
    await executeChangeSet(cfn, { ...REF, id: ARN }, TOKEN);
    await executeChangeSet(cfn, REF, TOKEN);
    expect(cfnMock).toHaveReceivedNthSpecificCommandWith(1, ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: ARN,
      ClientRequestToken: TOKEN,
    });
    expect(cfnMock).toHaveReceivedNthSpecificCommandWith(2, ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v1',
      ClientRequestToken: TOKEN,
    });
    // Never the change set's name: anyone can predict (and reuse) that.
    expect(cfnMock).not.toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      ClientRequestToken: 'deploy-dev-v1',
    });
  });

  it('delete the change set by ARN when known', async () => {
    cfnMock.on(DeleteChangeSetCommand).resolves({});
    await deleteChangeSet(cfn, { ...REF, id: ARN });
    expect(cfnMock).toHaveReceivedCommandWith(DeleteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: ARN,
    });
  });
});

describe('createChangeSet', () => {
  const dev = stageOf(config, 'dev');
  const TOKEN = runToken('dev', 3);
  const KEY = `releases/orders-api/${'a'.repeat(64)}.zip`;
  const stack = {
    StackName: 'orders-api-dev',
    CreationTime: new Date(),
    StackStatus: 'UPDATE_COMPLETE' as const,
    Parameters: [
      { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/old.zip' },
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'MemorySize', ParameterValue: '256' },
    ],
  };
  const request = (fields: Partial<ChangeSetRequest> = {}): ChangeSetRequest => ({
    stage: dev,
    name: 'deploy-dev-v3',
    token: TOKEN,
    artifactKey: KEY,
    stack,
    template: { kind: 'previous' },
    ...fields,
  });
  const created = () => cfnMock.commandCalls(CreateChangeSetCommand)[0]?.args[0].input;

  beforeEach(() => {
    cfnMock.on(CreateChangeSetCommand).resolves({ Id: ARN });
  });

  it('names the run: ClientToken is its token, and the description ends with it', async () => {
    await expect(createChangeSet(cfn, request())).resolves.toEqual({
      result: 'created',
      ref: { stack: 'orders-api-dev', name: 'deploy-dev-v3', id: ARN },
    });
    expect(created()).toMatchObject({
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v3',
      ChangeSetType: 'UPDATE',
      ClientToken: TOKEN,
      UsePreviousTemplate: true,
      RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
    });
    expect(created()?.TemplateBody).toBeUndefined();
    expect(created()?.TemplateURL).toBeUndefined();
    expect(created()?.Description).toBe(`deployer: stage dev, ArtifactKey=${KEY}, run ${TOKEN}`);
  });

  it('deploys a pinned template as its verified text, with only the parameters it declares', async () => {
    await createChangeSet(
      cfn,
      request({
        template: { kind: 'pinned', sha256: TEMPLATE.sha256, body: TEMPLATE.bytes.toString('utf8') },
        templateParameters: TEMPLATE_PARAMETERS,
      }),
    );
    expect(created()?.TemplateBody).toBe(TEMPLATE.bytes.toString('utf8'));
    expect(created()?.TemplateURL).toBeUndefined();
    expect(created()?.UsePreviousTemplate).toBeUndefined();
    expect(created()?.Parameters).toEqual([
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      { ParameterKey: 'ArtifactKey', ParameterValue: KEY },
    ]);
    expect(created()?.Description).toBe(
      `deployer: stage dev, ArtifactKey=${KEY}, template ${TEMPLATE.sha256.slice(0, 12)}, run ${TOKEN}`,
    );
  });

  it('deploys a pinned template too large for TemplateBody by its URL, and creates a missing stack', async () => {
    const url = `https://orders-api-artifacts.s3.us-east-1.amazonaws.com/${TEMPLATE.key}?versionId=v1`;
    await createChangeSet(
      cfn,
      request({ stack: undefined, template: { kind: 'pinned', sha256: TEMPLATE.sha256, url } }),
    );
    expect(created()).toMatchObject({ ChangeSetType: 'CREATE', TemplateURL: url, ClientToken: TOKEN });
    expect(created()?.TemplateBody).toBeUndefined();
  });

  it('keeps the run token whole when a long release key fills the description', async () => {
    const longKey = `releases/${'k'.repeat(1100)}.zip`;
    await createChangeSet(cfn, request({ artifactKey: longKey }));
    const description = created()?.Description ?? '';
    expect(description.length).toBeLessThanOrEqual(1024);
    expect(description.endsWith(`, run ${TOKEN}`)).toBe(true);
  });

  it("says 'exists' with the found change set's ARN and description, for the caller to check", async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
    cfnMock.on(DescribeChangeSetCommand).resolves({ ChangeSetId: ARN, Description: 'made by someone' });
    await expect(createChangeSet(cfn, request())).resolves.toEqual({
      result: 'exists',
      ref: { stack: 'orders-api-dev', name: 'deploy-dev-v3', id: ARN },
      description: 'made by someone',
    });
  });

  it("says 'empty' when CloudFormation refuses a change set that changes nothing", async () => {
    cfnMock
      .on(CreateChangeSetCommand)
      .rejects(awsError('ValidationError', 'No updates are to be performed.'));
    await expect(createChangeSet(cfn, request())).resolves.toEqual({ result: 'empty' });
  });
});

describe('changeSetParameters', () => {
  const dev = stageOf(config, 'dev');

  it('for a new stack: the overrides and the release key', () => {
    expect(changeSetParameters(dev, 'releases/x.zip', undefined)).toEqual([
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/x.zip' },
    ]);
  });

  it('for an existing stack: its own parameters, previous values kept, overrides ignored when it lacks them', () => {
    const stack = {
      StackName: 'orders-api-dev',
      CreationTime: new Date(),
      StackStatus: 'UPDATE_COMPLETE' as const,
      Parameters: [
        { ParameterKey: 'Memory', ParameterValue: '512' },
        { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/old.zip' },
        { ParameterValue: 'no key' },
      ],
    };
    expect(changeSetParameters(dev, 'releases/x.zip', stack)).toEqual([
      { ParameterKey: 'Memory', UsePreviousValue: true },
      { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/x.zip' },
    ]);
  });

  it('the release key wins over an override of the same parameter', () => {
    const stage = { ...dev, parameterOverrides: { ArtifactKey: 'pinned.zip' } };
    expect(changeSetParameters(stage, 'releases/x.zip', undefined)).toEqual([
      { ParameterKey: 'ArtifactKey', ParameterValue: 'releases/x.zip' },
    ]);
  });
});

describe('no-change detection', () => {
  it("recognises both of CloudFormation's wordings, and nothing else", () => {
    expect(
      isNoChangeReason(
        "The submitted information didn't contain changes. Submit different information to create a change set.",
      ),
    ).toBe(true);
    expect(isNoChangeReason('No updates are to be performed.')).toBe(true);
    expect(isNoChangeReason('Template format error')).toBe(false);
    expect(isNoChangeReason(undefined)).toBe(false);
  });

  it('counts only a ValidationError as a refused empty change set', () => {
    expect(isNoChangeError(awsError('ValidationError', 'No updates are to be performed.'))).toBe(true);
    expect(isNoChangeError(awsError('Throttling', 'No updates are to be performed.'))).toBe(false);
    expect(isNoChangeError('No updates are to be performed.')).toBe(false);
  });
});

describe('pendingChangeSets', () => {
  it('lists our AVAILABLE change sets of this stage across pages, with their versions', async () => {
    cfnMock
      .on(ListChangeSetsCommand)
      .resolvesOnce({
        Summaries: [
          {
            ChangeSetName: 'deploy-prod-v4',
            ChangeSetId: 'arn:cs/deploy-prod-v4',
            ExecutionStatus: 'AVAILABLE',
            Status: 'CREATE_COMPLETE',
          },
          { ChangeSetName: 'manual-fix', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
        ],
        NextToken: 't2',
      })
      .resolves({
        Summaries: [
          { ChangeSetName: 'deploy-prod-v5', ExecutionStatus: 'UNAVAILABLE', Status: 'CREATE_PENDING' },
          { ChangeSetName: 'deploy-prod-v6', ExecutionStatus: 'AVAILABLE' },
        ],
      });
    await expect(pendingChangeSets(cfn, stageOf(config, 'prod'))).resolves.toEqual([
      {
        stack: 'orders-api-prod',
        name: 'deploy-prod-v4',
        id: 'arn:cs/deploy-prod-v4',
        version: 4,
        status: 'CREATE_COMPLETE',
      },
      { stack: 'orders-api-prod', name: 'deploy-prod-v6', version: 6, status: 'UNKNOWN' },
    ]);
    expect(cfnMock).toHaveReceivedCommandTimes(ListChangeSetsCommand, 2);
  });
});

describe('stacks', () => {
  it.each([
    ['CREATE_COMPLETE', 'stable'],
    ['UPDATE_COMPLETE', 'stable'],
    ['UPDATE_ROLLBACK_COMPLETE', 'stable'],
    ['IMPORT_ROLLBACK_COMPLETE', 'stable'],
    ['UPDATE_IN_PROGRESS', 'busy'],
    ['REVIEW_IN_PROGRESS', 'busy'],
    ['IMPORT_IN_PROGRESS', 'busy'],
    ['ROLLBACK_COMPLETE', 'needs-person'],
    ['UPDATE_FAILED', 'needs-person'],
    ['DELETE_COMPLETE', 'needs-person'],
    ['SOMETHING_NEW', 'needs-person'],
  ])('classifies %s as %s', (status, condition) => {
    expect(classifyStatus(status)).toBe(condition);
  });

  it('gives a next step naming the stack and region for every blocking status', () => {
    for (const status of [
      'ROLLBACK_COMPLETE',
      'ROLLBACK_FAILED',
      'UPDATE_ROLLBACK_FAILED',
      'DELETE_FAILED',
      'X',
    ]) {
      expect(stackNextStep(status, 'orders-api-prod', 'eu-west-1')).toContain(
        '--stack-name orders-api-prod --region eu-west-1',
      );
    }
    expect(stackNextStep('UPDATE_ROLLBACK_FAILED', 's', 'r')).toContain('continue-update-rollback');
  });

  it('describes a stack, or undefined when it does not exist', async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolves({ Stacks: [{ StackName: 's', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date() }] });
    await expect(describeStack(cfn, 's')).resolves.toMatchObject({ StackName: 's' });
    cfnMock.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Stack with id s does not exist'));
    await expect(describeStack(cfn, 's')).resolves.toBeUndefined();
  });

  it('reads a stack parameter', () => {
    const stack = {
      StackName: 's',
      StackStatus: 'CREATE_COMPLETE' as const,
      CreationTime: new Date(),
      Parameters: [{ ParameterKey: 'ArtifactKey', ParameterValue: 'k' }],
    };
    expect(stackParameterValue(stack, 'ArtifactKey')).toBe('k');
    expect(stackParameterValue(stack, 'Other')).toBeUndefined();
  });

  it('links to the stack in the console of its region', () => {
    expect(consoleLink('eu-west-1', 'arn:aws:cloudformation:eu-west-1:1:stack/s/id')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/stackinfo?stackId=arn%3Aaws%3Acloudformation%3Aeu-west-1%3A1%3Astack%2Fs%2Fid',
    );
  });
});
