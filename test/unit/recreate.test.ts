/**
 * A stack whose creation failed (ROLLBACK_COMPLETE) cannot be updated. With onFailedCreate: recreate the
 * stage deletes it, to create it again from the desired release — never from a release that already
 * failed; with the default (notify) it says so and waits for a person.
 */
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type { DesiredState } from '../../shared/aws/desired-state';
import { nextStepText, reasonText } from '../../shared/messages/reasons';
import { reconcile } from '../../shared/stage/reconcile';
import {
  BUILD_RELEASE_KEY,
  BUILD_SHA256_HEX,
  makeRuntime,
  repoConfigText,
  SAMPLE,
  stageOf,
} from './helpers/fixtures';
import { BUILD_RELEASE, putRelease, TEMPLATE, tamper } from './helpers/releases';
import { givenS3Store, type S3Store } from './helpers/s3-store';

const cfn = mockClient(CloudFormationClient);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

const rolledBack: Stack = {
  StackName: 'orders-api-dev',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/orders-api-dev/0f0f0f0f',
  StackStatus: 'ROLLBACK_COMPLETE',
  CreationTime: new Date('2026-01-01T00:00:00Z'),
  Parameters: [{ ParameterKey: 'ArtifactKey', ParameterValue: 'releases/orders-api/old.zip' }],
};
/** Version 4 pins the artifact and the template it is created from. */
const desired: DesiredState = {
  parameter: '/deployer/orders-api/dev/artifact',
  key: BUILD_RELEASE_KEY,
  version: 4,
  provenance: { artifact: BUILD_SHA256_HEX, template: TEMPLATE.sha256 },
};
const withPolicy = (policy: 'notify' | 'recreate') =>
  makeRuntime(
    repoConfigText().replace(
      '        stackParameter: ArtifactKey\n',
      `        stackParameter: ArtifactKey\n        onFailedCreate: ${policy}\n`,
    ),
  );

let store: S3Store;
beforeEach(() => {
  cfn.reset();
  ssm.reset();
  s3.reset();
  store = givenS3Store(s3);
  putRelease(store, BUILD_RELEASE);
  putRelease(store, TEMPLATE);
  cfn.on(DescribeStacksCommand).resolves({ Stacks: [rolledBack] });
  ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'no such label', $metadata: {} }));
});

it('recreate: deletes the stack with the stage service role, to create it again from the desired release', async () => {
  const runtime = withPolicy('recreate');
  expect(runtime.config.pipelines['orders-api-pipeline']?.stages.dev?.onFailedCreate).toBe('recreate');
  const result = await reconcile(runtime, stageOf(runtime.config, 'dev'), { desired });
  expect(result.outcome).toBe('recreating');
  expect(reasonText(result)).toContain(BUILD_RELEASE_KEY);
  expect(cfn).toHaveReceivedCommandWith(DeleteStackCommand, {
    StackName: 'orders-api-dev',
    RoleARN: 'arn:aws:iam::123456789012:role/orders-api-dev-cloudformation',
    ClientRequestToken: 'recreate-deploy-dev-v4',
  });
  expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
  // The release it will be created from was verified first: the artifact by S3's SHA-256, the template read.
  expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, {
    Bucket: SAMPLE.bucket,
    Key: BUILD_RELEASE_KEY,
    ChecksumMode: 'ENABLED',
  });
  expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: SAMPLE.bucket, Key: TEMPLATE.key });
});

it('recreate: never deletes the stack to recreate it from a release whose bytes were changed', async () => {
  const found = tamper(store, BUILD_RELEASE_KEY);
  const result = await reconcile(withPolicy('recreate'), stageOf(withPolicy('recreate').config, 'dev'), {
    desired,
  });
  expect(result.outcome).toBe('tampered');
  expect(reasonText(result)).toContain(`s3://${SAMPLE.bucket}/${BUILD_RELEASE_KEY}`);
  expect(reasonText(result)).toContain(`recorded ${BUILD_SHA256_HEX}`);
  expect(reasonText(result)).toContain(`found ${Buffer.from(found.sha256 ?? '', 'base64').toString('hex')}`);
  expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
  expect(cfn).not.toHaveReceivedCommand(CreateChangeSetCommand);
});

it('recreate: never deletes the stack when the desired release names no template to create it from', async () => {
  const result = await reconcile(withPolicy('recreate'), stageOf(withPolicy('recreate').config, 'dev'), {
    desired: { ...desired, provenance: { artifact: BUILD_SHA256_HEX } },
  });
  expect(result.outcome).toBe('blocked');
  expect(reasonText(result)).toContain('names no template to create it from');
  expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
});

it('recreate: never deletes to recreate from a release that already failed', async () => {
  ssm.on(GetParameterCommand, { Name: '/deployer/orders-api/dev/artifact:failed-v4' }).resolves({
    Parameter: { Name: '/deployer/orders-api/dev/artifact', Value: BUILD_RELEASE_KEY, Version: 4 },
  });
  const result = await reconcile(withPolicy('recreate'), stageOf(withPolicy('recreate').config, 'dev'), {
    desired,
  });
  expect(result.outcome).toBe('blocked');
  expect(reasonText(result)).toContain('failed to deploy');
  expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
});

it('notify (the default): blocked with the next step, nothing deleted', async () => {
  const result = await reconcile(makeRuntime(), stageOf(makeRuntime().config, 'dev'), { desired });
  expect(result.outcome).toBe('blocked');
  expect(nextStepText(result)).toContain('delete-stack');
  expect(cfn).not.toHaveReceivedCommand(DeleteStackCommand);
});
