import {
  AlreadyExistsException,
  CloudFormationClient,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandInput,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  GetTemplateSummaryCommand,
  InvalidChangeSetStatusException,
  ListChangeSetsCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  ParameterNotFound,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { DesiredState } from '../../shared/aws/desired-state';
import type { Provenance } from '../../shared/aws/provenance';
import { DeployerError, PermanentError } from '../../shared/errors';
import { nextStepText, reasonText } from '../../shared/messages/reasons';
import { stageOrRefuse } from '../../shared/operations/refusals';
import type { Runtime } from '../../shared/runtime';
import { reconcile } from '../../shared/stage/reconcile';
import {
  awsError,
  BUILD_BYTES,
  BUILD_RELEASE_KEY,
  BUILD_SHA256_HEX,
  makeRuntime,
  rejectionOf,
  repoConfigText,
  SAMPLE,
  sha256Hex,
  stageOf,
  streamBody,
  thrownBy,
} from './helpers/fixtures';
import {
  BUILD_RELEASE,
  CONFIGURED_TEMPLATE_KEY,
  putRelease,
  releaseObject,
  TEMPLATE,
  TEMPLATE_PARAMETERS,
  TEMPLATE_WITH_QUEUE,
  tamper,
  templateObject,
} from './helpers/releases';
import {
  appliedOf,
  givenApplied,
  givenRun,
  runRecordOf,
  runRecordsOf,
  runToken,
  runTokenPattern,
} from './helpers/runs';
import { givenS3Store, type S3Store } from './helpers/s3-store';

const cfn = mockClient(CloudFormationClient);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

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
const TEMPLATE_TEXT = TEMPLATE.bytes.toString('utf8');

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

/**
 * A desired version as the deployer records it: its provenance names the artifact's digest, and pins no
 * template unless given one (the stack then keeps its own).
 */
const desired = (
  stage: 'dev' | 'prod',
  version = 5,
  key = BUILD_RELEASE_KEY,
  provenance: Provenance = { artifact: BUILD_SHA256_HEX },
): DesiredState => ({
  parameter: `/deployer/orders-api/${stage}/artifact`,
  key,
  version,
  provenance,
});

/** A desired version that pins a released template (what creating a stack needs). */
const pinned = (stage: 'dev' | 'prod', version = 5, template = TEMPLATE): DesiredState =>
  desired(stage, version, BUILD_RELEASE_KEY, { artifact: BUILD_SHA256_HEX, template: template.sha256 });

const givenStack = (stack: Stack | undefined): void => {
  if (stack) cfn.on(DescribeStacksCommand).resolves({ Stacks: [stack] });
  else
    cfn
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id orders-api-dev does not exist'));
};

/** The ARN CloudFormation gives a change set: after CreateChangeSet, the deployer addresses it by this. */
const arnOf = (name: string, id = '7a7a7a7a-0000-4000-8000-000000000000'): string =>
  `arn:aws:cloudformation:us-east-1:123456789012:changeSet/${name}/${id}`;

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
  cfn.on(GetTemplateSummaryCommand).resolves({
    Parameters: TEMPLATE_PARAMETERS.map((ParameterKey) => ({ ParameterKey, ParameterType: 'String' })),
  });
};

const createInput = (n = 0) => cfn.commandCalls(CreateChangeSetCommand)[n]?.args[0].input;
const executeInput = () => cfn.commandCalls(ExecuteChangeSetCommand)[0]?.args[0].input;
const s3Keys = (command: typeof GetObjectCommand | typeof HeadObjectCommand | typeof PutObjectCommand) =>
  s3.commandCalls(command).map((c) => c.args[0].input.Key);

let runtime: Runtime;
let store: S3Store;
beforeEach(() => {
  cfn.reset();
  ssm.reset();
  s3.reset();
  // A safety net: a test that forgets to describe its change set gets a quick FAILED, never a 120 s wait.
  cfn
    .on(DescribeChangeSetCommand)
    .resolves({ Status: 'FAILED', StatusReason: 'test did not set up DescribeChangeSet' });
  // The release bucket holds the verified release and the released templates.
  store = givenS3Store(s3);
  putRelease(store, BUILD_RELEASE);
  putRelease(store, TEMPLATE);
  putRelease(store, TEMPLATE_WITH_QUEUE);
  runtime = makeRuntime();
});

describe('reconcile: before the stack is looked at', () => {
  it('an unknown stage is refused before any AWS call (the CLI names the stages there are)', async () => {
    const error = thrownBy(() => stageOrRefuse(runtime, 'staging'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain('no stage named "staging"');
    expect(cfn).not.toHaveReceivedAnyCommand();
  });

  it('does nothing when nothing was ever desired', async () => {
    ssm
      .on(GetParameterHistoryCommand)
      .rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'));
    expect(result).toEqual({
      outcome: 'nothing-desired',
      stage: 'dev',
      stack: 'orders-api-dev',
      fresh: true,
    });
    expect(cfn).not.toHaveReceivedAnyCommand();
    expect(s3).not.toHaveReceivedAnyCommand();
  });

  it("reads the desired state from the parameter's history when the caller does not pass it", async () => {
    const description = JSON.stringify({ execution: 'exec-2', artifact: '0'.repeat(64) });
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        { Name: '/deployer/orders-api/dev/artifact', Value: OLD_KEY, Version: 2, Description: description },
      ],
    });
    givenStack(stackNamed('orders-api-dev'));
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'));
    expect(result.outcome).toBe('in-sync');
    expect(result.desired).toEqual({
      parameter: '/deployer/orders-api/dev/artifact',
      key: OLD_KEY,
      version: 2,
      provenance: { execution: 'exec-2', artifact: '0'.repeat(64) },
      failed: false,
    });
    expect(ssm).toHaveReceivedCommandWith(GetParameterHistoryCommand, {
      Name: '/deployer/orders-api/dev/artifact',
    });
  });

  it('takes the failed mark from the history it read: blocked, no change set, no label lookup', async () => {
    ssm.on(GetParameterHistoryCommand).resolves({
      Parameters: [
        {
          Name: '/deployer/orders-api/dev/artifact',
          Value: BUILD_RELEASE_KEY,
          Version: 5,
          Labels: ['failed-v5'],
          Description: JSON.stringify({ execution: 'exec-5', artifact: BUILD_SHA256_HEX }),
        },
      ],
    });
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'));
    expect(result).toMatchObject({ outcome: 'blocked', fresh: false });
    expect(reasonText(result)).toContain('failed to deploy');
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });
});

describe('reconcile: the stack does not exist', () => {
  it('creates it from the pinned template (its verified text) through a CREATE change set, then executes it', async () => {
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev') });
    expect(result).toMatchObject({
      outcome: 'deploying',
      action: 'create',
      changeSet: 'deploy-dev-v5',
      template: TEMPLATE.key,
      fresh: true,
    });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v5',
      ChangeSetType: 'CREATE',
      TemplateBody: TEMPLATE_TEXT,
      RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
    });
    const input = createInput();
    expect(input?.UsePreviousTemplate).toBeUndefined();
    // Never the configured template object, which anyone who can write the bucket can replace.
    expect(input?.TemplateURL).toBeUndefined();
    expect(s3Keys(GetObjectCommand)).not.toContain(CONFIGURED_TEMPLATE_KEY);
    // The release was verified first: the artifact by S3's SHA-256, the template read whole and hashed.
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: SAMPLE.bucket,
      Key: BUILD_RELEASE_KEY,
      ChecksumMode: 'ENABLED',
    });
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: SAMPLE.bucket, Key: TEMPLATE.key });
    // A new stack gets the overrides and the release key, nothing "previous".
    expect(input?.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'ArtifactKey', ParameterValue: BUILD_RELEASE_KEY },
        { ParameterKey: 'Stage', ParameterValue: 'dev' },
        { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      ]),
    );
    expect(input?.Parameters).toHaveLength(3);
    // Executed with the run's unpredictable token, which is also the create's ClientToken.
    expect(result.token).toMatch(runTokenPattern('dev', 5));
    expect(input?.ClientToken).toBe(result.token);
    expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v5'),
      ClientRequestToken: result.token,
    });
  });

  it('records what it started before executing it, and what it applied after', async () => {
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev') });
    const token = result.token ?? '';
    expect(runRecordOf(store, 'dev', token)).toMatchObject({
      token,
      stage: 'dev',
      stack: 'orders-api-dev',
      version: 5,
      artifactKey: BUILD_RELEASE_KEY,
      artifact: BUILD_SHA256_HEX,
      template: TEMPLATE.sha256,
      changeSet: 'deploy-dev-v5',
      changeSetId: arnOf('deploy-dev-v5'),
      state: 'executing',
    });
    expect(appliedOf(store, 'dev')).toEqual({
      version: 5,
      key: BUILD_RELEASE_KEY,
      template: TEMPLATE.sha256,
      token,
    });
    // The run is recorded as CloudFormation makes the change set (together: nothing runs on the stack
    // until the execute), 'executing' with the change set's ARN before it is executed, and the applied
    // record written once it was.
    const runKey = `.deployer/runs/dev/${token}.json`;
    const puts = s3.commandCalls(PutObjectCommand);
    const runPuts = puts.filter((c) => c.args[0].input.Key === runKey);
    const states = runPuts.map((c) => JSON.parse(String(c.args[0].input.Body)));
    expect(states.map((r) => r.state)).toEqual(['created', 'executing']);
    expect(states[1]?.changeSetId).toEqual(expect.stringMatching(/^arn:aws:cloudformation:/));
    const [created, executing] = runPuts;
    const createCall = cfn.commandCalls(CreateChangeSetCommand)[0];
    const executeCall = cfn.commandCalls(ExecuteChangeSetCommand)[0];
    const appliedCall = puts.find((c) => c.args[0].input.Key === '.deployer/applied/dev.json');
    if (!created || !executing || !createCall || !executeCall || !appliedCall)
      throw new Error('a call is missing');
    expect(created.calledBefore(executeCall)).toBe(true);
    expect(executing.calledBefore(executeCall)).toBe(true);
    expect(appliedCall.calledAfter(executeCall)).toBe(true);
  });

  it('treats a REVIEW_IN_PROGRESS stack (only pending CREATE change sets) like a missing one', async () => {
    givenStack(stackNamed('orders-api-dev', 'REVIEW_IN_PROGRESS', null));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev') });
    expect(result).toMatchObject({
      outcome: 'deploying',
      action: 'create',
      stackStatus: 'REVIEW_IN_PROGRESS',
      stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-dev/0f0f0f0f',
    });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'CREATE',
      TemplateBody: TEMPLATE_TEXT,
    });
  });

  it('passes a pinned template too large for TemplateBody by the URL of the version it verified, url-encoded', async () => {
    runtime = makeRuntime(
      repoConfigText().replace(
        'releasePrefix: releases/orders-api/',
        'releasePrefix: releases/v=2/orders+api/',
      ),
    );
    const prefix = 'releases/v=2/orders+api/';
    const artifact = releaseObject(BUILD_BYTES, prefix);
    const big = templateObject(`${TEMPLATE_TEXT}# ${'x'.repeat(60_000)}\n`, prefix);
    putRelease(store, artifact);
    s3.on(GetObjectCommand, { Key: big.key }).resolves({
      Body: streamBody(big.bytes),
      ContentLength: big.bytes.length,
      VersionId: 'v/1+2',
    });
    givenStack(undefined);
    givenChangeSetReady();
    await reconcile(runtime, stageOf(runtime.config, 'dev'), {
      desired: desired('dev', 5, artifact.key, { artifact: artifact.sha256, template: big.sha256 }),
    });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      TemplateURL: `https://orders-api-artifacts.s3.us-east-1.amazonaws.com/releases/v%3D2/orders%2Bapi/templates/${big.sha256}.template?versionId=v%2F1%2B2`,
    });
    expect(createInput()?.TemplateBody).toBeUndefined();
  });

  it.each([
    ['the stage configures no template', true],
    ['a template is configured but the desired version pins none', false],
  ])('is blocked when %s: nothing is created from an unpinned template', async (_what, removeTemplate) => {
    const text = removeTemplate
      ? repoConfigText().replace(
          '        template:\n          bucket: orders-api-artifacts\n          key: templates/orders-api.yaml\n',
          '',
        )
      : repoConfigText();
    runtime = makeRuntime(text);
    expect(runtime.config.pipelines['orders-api-pipeline']?.stages.dev?.template === undefined).toBe(
      removeTemplate,
    );
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(reasonText(result)).toContain('does not exist');
    expect(reasonText(result)).toContain('names no template to create it from');
    expect(nextStepText(result)).toContain('template');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(s3Keys(GetObjectCommand)).not.toContain(CONFIGURED_TEMPLATE_KEY);
  });

  it.each<[string, (s: S3Store) => void, string]>([
    [
      'replaced',
      (s) => s.put(SAMPLE.bucket, TEMPLATE.key, TEMPLATE_WITH_QUEUE.bytes),
      `found ${TEMPLATE_WITH_QUEUE.sha256}`,
    ],
    ['gone', (s) => s.delete(SAMPLE.bucket, TEMPLATE.key), 'is missing'],
  ])(
    'refuses to create from a pinned template that was %s: tampered, nothing made',
    async (_what, change, found) => {
      change(store);
      givenStack(undefined);
      givenChangeSetReady();
      const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev') });
      expect(result.outcome).toBe('tampered');
      expect(reasonText(result)).toContain(`s3://${SAMPLE.bucket}/${TEMPLATE.key}`);
      expect(reasonText(result)).toContain(TEMPLATE.sha256);
      expect(reasonText(result)).toContain(found);
      expect(nextStepText(result)).toContain(TEMPLATE.key);
      expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
      expect(runRecordsOf(store, 'dev')).toEqual([]);
    },
  );

  it('lets other DescribeStacks errors through', async () => {
    cfn.on(DescribeStacksCommand).rejects(awsError('ValidationError', 'Template format error'));
    await expect(
      reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') }),
    ).rejects.toThrow('Template format error');
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
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
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
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(reasonText(result)).toBe(`stack orders-api-dev is ${status}: Resource OrdersFunction failed`);
    expect(nextStepText(result)).toContain(command);
    expect(nextStepText(result)).toContain('--stack-name orders-api-dev --region us-east-1');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('is in sync when the stack runs the desired release', async () => {
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', BUILD_RELEASE_KEY));
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result).toMatchObject({
      outcome: 'in-sync',
      live: BUILD_RELEASE_KEY,
      stackStatus: 'UPDATE_COMPLETE',
    });
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('with a pinned template, is in sync only when the deployer applied that template too', async () => {
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', BUILD_RELEASE_KEY));
    givenApplied(store, 'dev', { version: 4, key: BUILD_RELEASE_KEY, template: TEMPLATE.sha256 });
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev') });
    expect(result.outcome).toBe('in-sync');
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: '.deployer/applied/dev.json' });
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it.each<[string, (() => void) | undefined]>([
    [
      'another template was applied',
      () => givenApplied(store, 'dev', { version: 4, key: BUILD_RELEASE_KEY, template: TEMPLATE.sha256 }),
    ],
    ['nothing is on record as applied', undefined],
  ])('deploys a release that changes only the template when %s (same artifact key)', async (_what, given) => {
    given?.();
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', BUILD_RELEASE_KEY));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), {
      desired: pinned('dev', 5, TEMPLATE_WITH_QUEUE),
    });
    expect(result).toMatchObject({
      outcome: 'deploying',
      action: 'update',
      template: TEMPLATE_WITH_QUEUE.key,
    });
    expect(createInput()?.TemplateBody).toBe(TEMPLATE_WITH_QUEUE.bytes.toString('utf8'));
    expect(appliedOf(store, 'dev')).toMatchObject({ version: 5, template: TEMPLATE_WITH_QUEUE.sha256 });
  });

  it('is blocked, without a change set, when the desired version is labelled as failed', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    ssm.on(GetParameterCommand, { Name: '/deployer/orders-api/dev/artifact:failed-v5' }).resolves({
      Parameter: { Name: '/deployer/orders-api/dev/artifact', Value: BUILD_RELEASE_KEY, Version: 5 },
    });
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev', 5) });
    expect(result).toMatchObject({ outcome: 'blocked', fresh: false });
    expect(reasonText(result)).toContain('failed to deploy');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('deploys a desired version that carries no failed label', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev', 5) });
    expect(result.outcome).toBe('deploying');
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, {
      Name: '/deployer/orders-api/dev/artifact:failed-v5',
    });
  });

  it('is blocked when the stack has no artifact parameter', async () => {
    givenStack(stackNamed('orders-api-dev', 'UPDATE_COMPLETE', null));
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(reasonText(result)).toBe(
      'stack orders-api-dev has no parameter ArtifactKey to receive the release key',
    );
    expect(nextStepText(result)).toContain('stackParameter');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });
});

describe('reconcile: the release is verified before it is deployed', () => {
  it.each([
    ['S3 keeps the SHA-256 of the new bytes', true],
    ['S3 keeps no SHA-256 (the bytes are hashed as they stream by)', false],
  ])(
    'refuses an artifact whose bytes were replaced (%s): tampered, nothing made',
    async (_what, checksum) => {
      tamper(store, BUILD_RELEASE_KEY, { checksum, bytes: 'PK evil' });
      givenStack(stackNamed('orders-api-dev'));
      givenChangeSetReady();
      const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
      expect(result.outcome).toBe('tampered');
      expect(reasonText(result)).toBe(
        `release object s3://${SAMPLE.bucket}/${BUILD_RELEASE_KEY} does not match its recorded SHA-256: recorded ${BUILD_SHA256_HEX}, found ${sha256Hex(Buffer.from('PK evil'))}`,
      );
      expect(nextStepText(result)).toContain(`s3://${SAMPLE.bucket}/${BUILD_RELEASE_KEY}`);
      expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
      expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
      expect(runRecordsOf(store, 'dev')).toEqual([]);
    },
  );

  it('deploys an artifact S3 keeps no SHA-256 for once its streamed bytes hash to the digest', async () => {
    store.put(SAMPLE.bucket, BUILD_RELEASE_KEY, BUILD_BYTES, { checksum: false });
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result.outcome).toBe('deploying');
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Key: BUILD_RELEASE_KEY });
  });

  it('checks the artifact against the digest its provenance records, not only the one in its name', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), {
      desired: desired('dev', 5, BUILD_RELEASE_KEY, { artifact: 'e'.repeat(64) }),
    });
    expect(result.outcome).toBe('tampered');
    expect(reasonText(result)).toContain(`recorded ${'e'.repeat(64)}, found ${BUILD_SHA256_HEX}`);
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('is blocked on a desired key that names no digest (a hand-written key): it cannot be verified', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), {
      desired: desired('dev', 5, 'releases/orders-api/hotfix.zip', {}),
    });
    expect(result.outcome).toBe('blocked');
    expect(reasonText(result)).toContain('is not a content-named release key');
    expect(nextStepText(result)).toContain('npx deployer rollback dev');
    expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  });

  it('skips the artifact check the caller has just made (artifactVerified), never the template', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), {
      desired: pinned('dev'),
      artifactVerified: true,
    });
    expect(result.outcome).toBe('deploying');
    expect(s3Keys(HeadObjectCommand)).not.toContain(BUILD_RELEASE_KEY);
    expect(s3Keys(GetObjectCommand)).toContain(TEMPLATE.key);
  });
});

describe('reconcile: the stack runs another release', () => {
  it.each(['UPDATE_COMPLETE', 'CREATE_COMPLETE', 'UPDATE_ROLLBACK_COMPLETE', 'IMPORT_COMPLETE'])(
    'updates a %s stack through a change set and executes it',
    async (status) => {
      givenStack(stackNamed('orders-api-dev', status));
      givenChangeSetReady();
      const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), {
        desired: desired('dev', 12),
      });
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

  it('without a pinned template: the previous template, the release key, overrides, role, capabilities and tags', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev', 12) });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    const input = createInput();
    expect(input).toMatchObject<CreateChangeSetCommandInput>({
      StackName: 'orders-api-dev',
      ChangeSetName: 'deploy-dev-v12',
      ChangeSetType: 'UPDATE',
      UsePreviousTemplate: true,
      RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
      Tags: [
        { Key: 'service', Value: 'orders-api' },
        { Key: 'stage', Value: 'dev' },
      ],
    });
    expect(input?.TemplateURL).toBeUndefined();
    expect(input?.TemplateBody).toBeUndefined();
    expect(cfn).not.toHaveReceivedCommand(GetTemplateSummaryCommand);
    expect(input?.Parameters).toEqual([
      { ParameterKey: 'ArtifactKey', ParameterValue: BUILD_RELEASE_KEY },
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      { ParameterKey: 'MemorySize', UsePreviousValue: true },
    ]);
    expect(input?.Description).toContain(BUILD_RELEASE_KEY);
    // The run's token: the create's ClientToken, named at the end of the description, and the execution's.
    const token = result.token ?? '';
    expect(token).toMatch(runTokenPattern('dev', 12));
    expect(input?.ClientToken).toBe(token);
    expect(input?.Description?.endsWith(`, run ${token}`)).toBe(true);
    // Once CloudFormation named the change set by its ARN, the deployer addresses exactly that one.
    expect(cfn).toHaveReceivedCommandWith(DescribeChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v12'),
    });
    expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v12'),
      ClientRequestToken: token,
    });
    // Not the change set's predictable name, which anyone can put on their own UpdateStack.
    expect(executeInput()?.ClientRequestToken).not.toBe('deploy-dev-v12');
  });

  it('with a pinned template: deploys its verified text with the parameters it declares', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: pinned('dev', 12) });
    const input = createInput();
    expect(input).toMatchObject({ ChangeSetType: 'UPDATE', TemplateBody: TEMPLATE_TEXT });
    expect(input?.UsePreviousTemplate).toBeUndefined();
    expect(cfn).toHaveReceivedCommandWith(GetTemplateSummaryCommand, { TemplateBody: TEMPLATE_TEXT });
    // MemorySize is not declared by the template: it is not passed.
    expect(input?.Parameters).toEqual([
      { ParameterKey: 'Stage', ParameterValue: 'dev' },
      { ParameterKey: 'ArtifactBucket', ParameterValue: 'orders-api-artifacts' },
      { ParameterKey: 'ArtifactKey', ParameterValue: BUILD_RELEASE_KEY },
    ]);
    expect(input?.Description).toContain(`template ${TEMPLATE.sha256.slice(0, 12)}`);
  });

  it('deletes an empty change set (FAILED with "didn\'t contain changes") and reports no change', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(DescribeChangeSetCommand).resolves({ Status: 'FAILED', StatusReason: EMPTY_REASON });
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result).toMatchObject({
      outcome: 'no-change',
      why: { code: 'nothing-to-change', detail: EMPTY_REASON },
      changeSet: 'deploy-dev-v5',
    });
    expect(cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, {
      StackName: 'orders-api-dev',
      ChangeSetName: arnOf('deploy-dev-v5'),
    });
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    // The release is what the stack runs now: on record as applied.
    expect(appliedOf(store, 'dev')).toMatchObject({ version: 5, key: BUILD_RELEASE_KEY });
  });

  it('reports no change when CreateChangeSet refuses with "No updates are to be performed."', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(CreateChangeSetCommand).rejects(awsError('ValidationError', 'No updates are to be performed.'));
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
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
    await expect(
      reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') }),
    ).rejects.toThrow('CAPABILITY_NAMED_IAM');
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('is blocked when the change set fails for another reason, and keeps it for inspection', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(DescribeChangeSetCommand).resolves({
      Status: 'FAILED',
      StatusReason: 'Parameter validation failed: parameter value x for parameter name MemorySize',
    });
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result.outcome).toBe('blocked');
    expect(reasonText(result)).toBe(
      'change set deploy-dev-v5 failed: Parameter validation failed: parameter value x for parameter name MemorySize',
    );
    expect(nextStepText(result)).toBeDefined();
    expect(result.token).toMatch(runTokenPattern('dev', 5));
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    expect(cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
  });

  describe('a change set of that name is already on the stack (AlreadyExistsException)', () => {
    /** The earlier reconcile of ours that made deploy-dev-v5 (its answer lost, or it died before executing). */
    const EARLIER = runToken('dev', 5, 'earlier');
    const ourEarlierRun = (fields: { artifactKey?: string; changeSetId?: string } = {}) =>
      givenRun(store, {
        token: EARLIER,
        stage: 'dev',
        version: 5,
        artifactKey: fields.artifactKey ?? BUILD_RELEASE_KEY,
        artifact: BUILD_SHA256_HEX,
        state: 'created',
        ...(fields.changeSetId ? { changeSetId: fields.changeSetId } : {}),
      });
    const description = (token: string) =>
      `deployer: stage dev, ArtifactKey=${BUILD_RELEASE_KEY}, run ${token}`;

    // A change set found and recorded by an earlier run of ours is carried on with, not made again.
    it('carries on with the one another reconcile of ours made (its run is on record)', async () => {
      givenStack(stackNamed('orders-api-dev'));
      givenChangeSetReady();
      ourEarlierRun();
      cfn
        .on(CreateChangeSetCommand)
        .rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
      cfn.on(DescribeChangeSetCommand).resolves({
        Status: 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
        Changes: CHANGES,
        Description: description(EARLIER),
      });
      const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
      expect(result.outcome).toBe('deploying');
      // Without an ARN from CloudFormation, the change set is addressed by stack and name.
      expect(cfn).toHaveReceivedCommandWith(DescribeChangeSetCommand, { ChangeSetName: 'deploy-dev-v5' });
      // Executed with the earlier run's token: the run on record is the one that made it.
      expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
        StackName: 'orders-api-dev',
        ChangeSetName: 'deploy-dev-v5',
        ClientRequestToken: EARLIER,
      });
      expect(result.token).toBe(EARLIER);
      expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
      expect(cfn).not.toHaveReceivedCommand(DeleteChangeSetCommand);
      expect(runRecordOf(store, 'dev', EARLIER)?.state).toBe('executing');
    });

    it('addresses the found change set by the ARN CloudFormation describes it with', async () => {
      const arn = arnOf('deploy-dev-v5', 'earlier0-0000-4000-8000-000000000000');
      givenStack(stackNamed('orders-api-dev'));
      givenChangeSetReady();
      ourEarlierRun({ changeSetId: arn });
      cfn
        .on(CreateChangeSetCommand)
        .rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
      cfn.on(DescribeChangeSetCommand).resolves({
        ChangeSetId: arn,
        Status: 'CREATE_COMPLETE',
        ExecutionStatus: 'AVAILABLE',
        Changes: CHANGES,
        Description: description(EARLIER),
      });
      await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
      expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
        ChangeSetName: arn,
        ClientRequestToken: EARLIER,
      });
    });

    it.each<[string, () => string]>([
      ['a token the deployer never recorded', () => runToken('dev', 5, 'forged')],
      [
        'the token of our run for another release',
        () => {
          ourEarlierRun({ artifactKey: OLD_KEY });
          return EARLIER;
        },
      ],
      [
        'a copy of our run token on a change set with another ARN',
        () => {
          ourEarlierRun({ changeSetId: arnOf('deploy-dev-v5', 'ours') });
          return EARLIER;
        },
      ],
      ['no run token at all', () => 'made by hand'],
    ])(
      'deletes and makes again a change set of its name that the deployer did not make (%s)',
      async (_what, tokenOf) => {
        const foreign = arnOf('deploy-dev-v5', 'foreign0-0000-4000-8000-000000000000');
        const claimed = tokenOf();
        givenStack(stackNamed('orders-api-dev'));
        givenChangeSetReady();
        cfn
          .on(CreateChangeSetCommand)
          .rejectsOnce(new AlreadyExistsException({ message: 'exists', $metadata: {} }))
          .callsFake(async (input: CreateChangeSetCommandInput) => ({
            Id: arnOf(input.ChangeSetName ?? ''),
          }));
        cfn.on(DescribeChangeSetCommand).callsFake(async (input: DescribeChangeSetCommandInput) =>
          input.ChangeSetName === 'deploy-dev-v5'
            ? {
                ChangeSetId: foreign,
                Status: 'CREATE_COMPLETE',
                ExecutionStatus: 'AVAILABLE',
                Description: description(claimed),
              }
            : { Status: 'CREATE_COMPLETE', ExecutionStatus: 'AVAILABLE', Changes: CHANGES },
        );
        const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
        expect(result).toMatchObject({ outcome: 'deploying', fresh: true });
        expect(cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, { ChangeSetName: foreign });
        expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 2);
        expect(cfn).not.toHaveReceivedCommandWith(ExecuteChangeSetCommand, { ChangeSetName: foreign });
        expect(cfn).toHaveReceivedCommandWith(ExecuteChangeSetCommand, {
          ChangeSetName: arnOf('deploy-dev-v5'),
          ClientRequestToken: result.token,
        });
        expect(result.token).not.toBe(claimed);
        expect(result.token).not.toBe(EARLIER);
        expect(runRecordOf(store, 'dev', result.token ?? '')?.state).toBe('executing');
      },
    );

    // A failed change set found again (not made) was reported when it failed: not news for every schedule tick.
    it('reports a change set found, not made, that then fails as not fresh', async () => {
      givenStack(stackNamed('orders-api-dev'));
      givenChangeSetReady();
      ourEarlierRun();
      cfn
        .on(CreateChangeSetCommand)
        .rejects(new AlreadyExistsException({ message: 'exists', $metadata: {} }));
      cfn.on(DescribeChangeSetCommand).resolves({
        Status: 'FAILED',
        StatusReason: 'Template error',
        Description: description(EARLIER),
      });
      const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
      expect(result).toMatchObject({ outcome: 'blocked', fresh: false });
    });
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
    const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') });
    expect(result).toMatchObject({ outcome: 'waiting', fresh: false, changeSet: 'deploy-dev-v5' });
    expect(appliedOf(store, 'dev')).toBeUndefined();
  });

  it('lets other ExecuteChangeSet errors through', async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    cfn.on(ExecuteChangeSetCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(
      reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') }),
    ).rejects.toThrow('Rate exceeded');
    expect(appliedOf(store, 'dev')).toBeUndefined();
  });

  it("confirms the caller's lease (fencing) right before executing, and stops when it is lost", async () => {
    givenStack(stackNamed('orders-api-dev'));
    givenChangeSetReady();
    const confirmed: number[] = [];
    const lease = {
      confirm: jest.fn(async () => {
        confirmed.push(cfn.commandCalls(ExecuteChangeSetCommand).length);
      }),
    };
    await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev'), lease });
    expect(lease.confirm).toHaveBeenCalledTimes(1);
    expect(confirmed).toEqual([0]);
    expect(cfn).toHaveReceivedCommandTimes(ExecuteChangeSetCommand, 1);

    cfn.resetHistory();
    const lost = { confirm: jest.fn(async () => Promise.reject(new DeployerError('lock lost'))) };
    await expect(
      reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev', 6), lease: lost }),
    ).rejects.toThrow('lock lost');
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });
});

describe('reconcile: an approval stage', () => {
  it('leaves the change set for approval, with its changes, and does not execute it', async () => {
    givenStack(stackNamed('orders-api-prod'));
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'prod'), { desired: desired('prod', 3) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      changeSet: 'deploy-prod-v3',
      fresh: true,
      changes: [expect.objectContaining({ logicalId: 'OrdersFunction' })],
    });
    expect(cfn).toHaveReceivedCommandWith(ListChangeSetsCommand, { StackName: 'orders-api-prod' });
    expect(cfn).toHaveReceivedCommandTimes(CreateChangeSetCommand, 1);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
    // Its run is on record (with the change set's ARN) for approve to check, not yet executing.
    expect(runRecordOf(store, 'prod', result.token ?? '')).toMatchObject({
      version: 3,
      changeSetId: arnOf('deploy-prod-v3'),
      state: 'created',
    });
  });

  it('finds the change set already waiting for this version instead of making another', async () => {
    givenStack(stackNamed('orders-api-prod'));
    givenChangeSetReady();
    cfn.on(ListChangeSetsCommand).resolves({
      Summaries: [
        { ChangeSetName: 'deploy-prod-v3', ExecutionStatus: 'AVAILABLE', Status: 'CREATE_COMPLETE' },
      ],
    });
    const result = await reconcile(runtime, stageOf(runtime.config, 'prod'), { desired: desired('prod', 3) });
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
    const result = await reconcile(runtime, stageOf(runtime.config, 'prod'), { desired: desired('prod', 3) });
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
    const result = await reconcile(runtime, stageOf(runtime.config, 'prod'), { desired: pinned('prod', 2) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      action: 'create',
      changeSet: 'deploy-prod-v2',
    });
    expect(cfn).toHaveReceivedCommandWith(DeleteChangeSetCommand, { ChangeSetName: arnOf('deploy-prod-v1') });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'CREATE',
      ChangeSetName: 'deploy-prod-v2',
      TemplateBody: TEMPLATE_TEXT,
    });
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });

  it('creates a missing stack through a change set that waits for approval', async () => {
    givenStack(undefined);
    givenChangeSetReady();
    const result = await reconcile(runtime, stageOf(runtime.config, 'prod'), { desired: pinned('prod', 1) });
    expect(result).toMatchObject({
      outcome: 'pending-approval',
      action: 'create',
      changeSet: 'deploy-prod-v1',
    });
    expect(cfn).toHaveReceivedCommandWith(CreateChangeSetCommand, {
      ChangeSetType: 'CREATE',
      TemplateBody: TEMPLATE_TEXT,
    });
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
    const outcome = rejectionOf(
      reconcile(runtime, stageOf(runtime.config, 'dev'), { desired: desired('dev') }),
    );
    await jest.advanceTimersByTimeAsync(11_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(DeployerError);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect(error.message).toBe('change set deploy-dev-v5 on orders-api-dev was not ready after 10s');
    expect(cfn.commandCalls(DescribeChangeSetCommand).length).toBeGreaterThan(1);
    expect(cfn).not.toHaveReceivedCommand(ExecuteChangeSetCommand);
  });
});
