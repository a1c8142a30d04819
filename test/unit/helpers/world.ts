/**
 * A mocked AWS "world" for the deploy path: the build (and the stage's configured template) exist in an
 * in-memory S3 (see s3-store.ts: the stage lock, the deployer's run records and its release copies land
 * there too), SSM holds no desired state yet, the stacks exist and run an older release, CloudFormation
 * computes change sets at once, SNS accepts messages. Tests change single answers on top of it.
 *
 * The SDK modules are passed in so that a test that loads the handler in an isolated module registry can
 * mock that registry's classes; everyone else uses the default, the modules this file imports.
 */
import * as cfnSdk from '@aws-sdk/client-cloudformation';
import * as ddbSdk from '@aws-sdk/client-dynamodb';
import * as s3Sdk from '@aws-sdk/client-s3';
import * as snsSdk from '@aws-sdk/client-sns';
import * as ssmSdk from '@aws-sdk/client-ssm';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { awsError, BUILD_BYTES, BUILD_SHA256_B64, SAMPLE } from './fixtures';
import { CONFIGURED_TEMPLATE_KEY, releaseObject, TEMPLATE, TEMPLATE_PARAMETERS } from './releases';
import { givenS3Store, type S3Store } from './s3-store';

export interface Sdk {
  cfn: typeof cfnSdk;
  s3: typeof s3Sdk;
  sns: typeof snsSdk;
  ssm: typeof ssmSdk;
  ddb: typeof ddbSdk;
}

export interface Mocks {
  cfn: AwsClientStub<cfnSdk.CloudFormationClient>;
  s3: AwsClientStub<s3Sdk.S3Client>;
  sns: AwsClientStub<snsSdk.SNSClient>;
  ssm: AwsClientStub<ssmSdk.SSMClient>;
  ddb: AwsClientStub<ddbSdk.DynamoDBClient>;
}

export const SDK: Sdk = { cfn: cfnSdk, s3: s3Sdk, sns: snsSdk, ssm: ssmSdk, ddb: ddbSdk };

/** Mock every client class of these SDK modules. */
export const mockAll = (sdk: Sdk = SDK): Mocks => ({
  cfn: mockClient(sdk.cfn.CloudFormationClient),
  s3: mockClient(sdk.s3.S3Client),
  sns: mockClient(sdk.sns.SNSClient),
  ssm: mockClient(sdk.ssm.SSMClient),
  ddb: mockClient(sdk.ddb.DynamoDBClient),
});

/**
 * Reset every mock. The notification ledger (DynamoDB) is left empty: every claim is free, and every API
 * call is the first of its storm window (each answer carries a window count of 1). Tests of the ledger
 * itself set their own answers.
 */
export const resetAll = (mocks: Mocks): void => {
  for (const mock of Object.values(mocks)) mock.reset();
  mocks.ddb.resolves({ Attributes: { count: { N: '1' } } });
};

/** True when no client was sent any command. */
export const expectNoAwsCall = (mocks: Mocks): void => {
  for (const mock of Object.values(mocks)) expect(mock).not.toHaveReceivedAnyCommand();
};

/** An older release: real bytes under the key they hash to, so that it verifies. */
export const OLD_RELEASE = releaseObject('PK\u0003\u0004 an older Lambda package');
export const OLD_KEY = OLD_RELEASE.key;

/** A stack as DescribeStacks returns it, running `artifactKey`. */
export const stackNamed = (
  name: string,
  artifactKey = OLD_KEY,
  status = 'UPDATE_COMPLETE',
): cfnSdk.Stack => ({
  StackName: name,
  StackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/0f0f0f0f`,
  StackStatus: status as cfnSdk.StackStatus,
  CreationTime: new Date('2026-01-01T00:00:00Z'),
  Parameters: [
    { ParameterKey: 'ArtifactKey', ParameterValue: artifactKey },
    { ParameterKey: 'Stage', ParameterValue: 'x' },
    { ParameterKey: 'ArtifactBucket', ParameterValue: SAMPLE.bucket },
  ],
});

/** The build object of the sample execution, as HeadObject describes it. */
export const buildHead = (): s3Sdk.HeadObjectCommandOutput => ({
  $metadata: { httpStatusCode: 200 },
  ContentLength: BUILD_BYTES.length,
  ContentType: 'application/zip',
  ETag: '"etag-build"',
  ChecksumSHA256: BUILD_SHA256_B64,
});

export const notFound = (): Error =>
  Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });

export interface WorldOptions {
  /**
   * The objects of the artifact bucket, by key (written without a SHA-256 checksum when the key is listed in
   * `unchecked`). Default: the sample build (with its checksum) and the configured stage template.
   */
  objects?: Record<string, Buffer | string>;
  /** Keys of `objects` that S3 keeps no SHA-256 for (uploaded without one). Default: the configured template. */
  unchecked?: string[];
  /** The key each stack runs. Default: OLD_KEY. */
  liveKey?: string;
}

/** The default objects of the artifact bucket: the sample build and the stage's configured template. */
export const defaultObjects = (): Record<string, Buffer | string> => ({
  [SAMPLE.buildKey]: BUILD_BYTES,
  [CONFIGURED_TEMPLATE_KEY]: TEMPLATE.bytes,
});

/** Set up the default world on (reset) mocks; returns its S3 store. */
export const givenWorld = (mocks: Mocks, options: WorldOptions = {}, sdk: Sdk = SDK): S3Store => {
  const store = givenS3Store(mocks.s3, sdk.s3);
  const unchecked = new Set(options.unchecked ?? [CONFIGURED_TEMPLATE_KEY]);
  for (const [key, body] of Object.entries(options.objects ?? defaultObjects())) {
    store.put(SAMPLE.bucket, key, body, {
      checksum: !unchecked.has(key),
      ...(key.endsWith('.zip') ? { contentType: 'application/zip' } : {}),
    });
  }
  // Nothing recorded yet: the parameters do not exist, and no version carries a label (GetParameter is how
  // recordDesired reads the newest value and how reconcile asks for the failed label).
  mocks.ssm.on(sdk.ssm.GetParameterCommand).callsFake(async (input: ssmSdk.GetParameterCommandInput) => {
    const [name, label] = (input.Name ?? '').split(':');
    if (label !== undefined)
      throw awsError('ParameterVersionLabelNotFound', `label ${label} not found on ${name}`);
    throw awsError('ParameterNotFound', `parameter ${name} not found`);
  });
  mocks.ssm.on(sdk.ssm.DescribeParametersCommand).resolves({ Parameters: [] });
  mocks.ssm.on(sdk.ssm.PutParameterCommand).resolves({ Version: 1, Tier: 'Standard' });
  mocks.ssm.on(sdk.ssm.LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 1 });
  mocks.cfn.on(sdk.cfn.DescribeStacksCommand).callsFake(async (input: cfnSdk.DescribeStacksCommandInput) => ({
    Stacks: [stackNamed(input.StackName ?? '?', options.liveKey)],
  }));
  mocks.cfn.on(sdk.cfn.GetTemplateSummaryCommand).resolves({
    Parameters: TEMPLATE_PARAMETERS.map((ParameterKey) => ({ ParameterKey, ParameterType: 'String' })),
  });
  mocks.cfn
    .on(sdk.cfn.CreateChangeSetCommand)
    .callsFake(async (input: cfnSdk.CreateChangeSetCommandInput) => ({
      Id: `arn:aws:cloudformation:us-east-1:123456789012:changeSet/${input.ChangeSetName}/1`,
    }));
  mocks.cfn.on(sdk.cfn.DescribeChangeSetCommand).resolves({
    Status: 'CREATE_COMPLETE',
    ExecutionStatus: 'AVAILABLE',
    Changes: [
      {
        Type: 'Resource',
        ResourceChange: {
          Action: 'Modify',
          LogicalResourceId: 'OrdersFunction',
          ResourceType: 'AWS::Lambda::Function',
          Replacement: 'False',
        },
      },
    ],
  });
  mocks.cfn.on(sdk.cfn.ExecuteChangeSetCommand).resolves({});
  mocks.cfn.on(sdk.cfn.DeleteChangeSetCommand).resolves({});
  mocks.cfn.on(sdk.cfn.ListChangeSetsCommand).resolves({ Summaries: [] });
  mocks.sns.on(sdk.sns.PublishCommand).resolves({ MessageId: 'message-1' });
  return store;
};

/**
 * The newest version of a stage's parameter, as DescribeParameters (number, description, time) and
 * GetParameter (value) answer for it: what recordDesired reads.
 */
export const givenLatestVersion = (
  mocks: Mocks,
  parameter: string,
  latest: { version: number; value: string; description?: string; modifiedAt?: Date },
  sdk: Sdk = SDK,
): void => {
  mocks.ssm
    .on(sdk.ssm.DescribeParametersCommand, {
      ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [parameter] }],
    })
    .resolves({
      Parameters: [
        {
          Name: parameter,
          Version: latest.version,
          ...(latest.description !== undefined ? { Description: latest.description } : {}),
          LastModifiedDate: latest.modifiedAt ?? new Date('2026-11-20T10:00:00Z'),
        },
      ],
    });
  mocks.ssm.on(sdk.ssm.GetParameterCommand, { Name: parameter }).resolves({
    Parameter: { Name: parameter, Type: 'String', Value: latest.value, Version: latest.version },
  });
};
