/**
 * A mocked AWS "world" for the deploy path: the build exists in S3, SSM holds no desired state yet, the
 * stacks exist and run an older release, CloudFormation computes change sets at once, SNS accepts messages.
 * Tests change single answers on top of it.
 *
 * The SDK modules are passed in so that a test that loads the handler in an isolated module registry can
 * mock that registry's classes; everyone else uses the default, the modules this file imports.
 */
import * as cfnSdk from '@aws-sdk/client-cloudformation';
import * as s3Sdk from '@aws-sdk/client-s3';
import * as snsSdk from '@aws-sdk/client-sns';
import * as ssmSdk from '@aws-sdk/client-ssm';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { BUILD_BYTES, BUILD_SHA256_B64, SAMPLE } from './fixtures';

export interface Sdk {
  cfn: typeof cfnSdk;
  s3: typeof s3Sdk;
  sns: typeof snsSdk;
  ssm: typeof ssmSdk;
}

export interface Mocks {
  cfn: AwsClientStub<cfnSdk.CloudFormationClient>;
  s3: AwsClientStub<s3Sdk.S3Client>;
  sns: AwsClientStub<snsSdk.SNSClient>;
  ssm: AwsClientStub<ssmSdk.SSMClient>;
}

export const SDK: Sdk = { cfn: cfnSdk, s3: s3Sdk, sns: snsSdk, ssm: ssmSdk };

/** Mock every client class of these SDK modules. */
export const mockAll = (sdk: Sdk = SDK): Mocks => ({
  cfn: mockClient(sdk.cfn.CloudFormationClient),
  s3: mockClient(sdk.s3.S3Client),
  sns: mockClient(sdk.sns.SNSClient),
  ssm: mockClient(sdk.ssm.SSMClient),
});

export const resetAll = (mocks: Mocks): void => {
  for (const mock of Object.values(mocks)) mock.reset();
};

/** True when no client was sent any command. */
export const expectNoAwsCall = (mocks: Mocks): void => {
  for (const mock of Object.values(mocks)) expect(mock).not.toHaveReceivedAnyCommand();
};

export const OLD_KEY = `releases/orders-api/${'0'.repeat(64)}.zip`;

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
  /** The S3 objects HeadObject finds, by key; every other key is NotFound. Default: the sample build. */
  objects?: Record<string, s3Sdk.HeadObjectCommandOutput>;
  /** The key each stack runs. Default: OLD_KEY. */
  liveKey?: string;
}

/** Set up the default world on (reset) mocks. */
export const givenWorld = (mocks: Mocks, options: WorldOptions = {}, sdk: Sdk = SDK): void => {
  const objects = options.objects ?? { [SAMPLE.buildKey]: buildHead() };
  mocks.s3.on(sdk.s3.HeadObjectCommand).callsFake(async (input: s3Sdk.HeadObjectCommandInput) => {
    const found = objects[input.Key ?? ''];
    if (!found) throw notFound();
    return found;
  });
  mocks.s3.on(sdk.s3.CopyObjectCommand).resolves({});
  // No version carries a failed label (GetParameter is how reconcile asks).
  mocks.ssm
    .on(sdk.ssm.GetParameterCommand)
    .rejects(
      Object.assign(new Error('label not found'), { name: 'ParameterVersionLabelNotFound', $metadata: {} }),
    );
  mocks.ssm.on(sdk.ssm.DescribeParametersCommand).resolves({ Parameters: [] });
  mocks.ssm.on(sdk.ssm.PutParameterCommand).resolves({ Version: 1, Tier: 'Standard' });
  mocks.ssm.on(sdk.ssm.LabelParameterVersionCommand).resolves({ InvalidLabels: [], ParameterVersion: 1 });
  mocks.cfn.on(sdk.cfn.DescribeStacksCommand).callsFake(async (input: cfnSdk.DescribeStacksCommandInput) => ({
    Stacks: [stackNamed(input.StackName ?? '?', options.liveKey)],
  }));
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
};
