/**
 * Sets up the example service's surroundings on an emulator (or a sandbox account): the artifact bucket
 * with the stage template, builds uploaded the way a buildspec uploads them, the ops topic with a queue
 * subscribed to read the "emails" back, the notification ledger's table, and a first stack. Shared by
 * `npm start` and the integration tests.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, type DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { zipFiles } from './zip';

export const EXAMPLE_TEMPLATE = join(__dirname, '..', '..', 'examples', 'app', 'template.yaml');
const EXAMPLE_SOURCE = join(__dirname, '..', '..', 'examples', 'app', 'src', 'index.js');

/** The example function packaged as a zip; `variant` changes the bytes, as a new commit would. */
export const exampleBuild = (variant: string): Buffer =>
  zipFiles({ 'index.js': `${readFileSync(EXAMPLE_SOURCE, 'utf8')}\n// build: ${variant}\n` });

export const createBucket = async (s3: S3Client, bucket: string): Promise<void> => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
};

export const uploadTemplate = async (
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Buffer = readFileSync(EXAMPLE_TEMPLATE),
): Promise<void> => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256' }));
};

/** The example template as a later build changes it: the service gains a queue. */
export const exampleTemplateWithQueue = (): string =>
  readFileSync(EXAMPLE_TEMPLATE, 'utf8').replace(
    '\nResources:\n',
    '\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      MessageRetentionPeriod: 1209600\n\n',
  );

/** Upload a build as a buildspec would: with its SHA-256 checksum and metadata naming the execution and commit. */
export const uploadBuild = async (
  s3: S3Client,
  build: { bucket: string; key: string; bytes: Buffer; executionId?: string; commitId?: string },
): Promise<void> => {
  await s3.send(
    new PutObjectCommand({
      Bucket: build.bucket,
      Key: build.key,
      Body: build.bytes,
      ChecksumAlgorithm: 'SHA256',
      ContentType: 'application/zip',
      Metadata: {
        ...(build.executionId ? { 'pipeline-execution-id': build.executionId } : {}),
        ...(build.commitId ? { 'commit-id': build.commitId } : {}),
      },
    }),
  );
};

const OBJECT_CREATED_SAMPLE = join(__dirname, '..', '..', 'events', 's3-object-created.json');

/**
 * Upload an object as a CI does (examples/ci: its SHA-256 checksum and the metadata naming the build), and
 * return the S3 "Object Created" event EventBridge delivers for it, made of S3's answer: its ETag, and its
 * version in a versioned bucket.
 */
export const uploadAsCi = async (
  s3: S3Client,
  upload: { bucket: string; key: string; body: Buffer | string; metadata: Record<string, string> },
  where: { account: string; region: string } = { account: '123456789012', region: 'us-east-1' },
): Promise<Record<string, unknown>> => {
  const { bucket, key, body, metadata } = upload;
  const answer = await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ChecksumAlgorithm: 'SHA256',
      Metadata: metadata,
    }),
  );
  const event = JSON.parse(readFileSync(OBJECT_CREATED_SAMPLE, 'utf8'));
  Object.assign(event, {
    id: randomUUID(),
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    resources: [`arn:aws:s3:::${bucket}`],
    ...where,
  });
  event.detail.bucket.name = bucket;
  event.detail.object = {
    key,
    size: Buffer.byteLength(body),
    etag: answer.ETag?.replaceAll('"', ''),
    ...(answer.VersionId && answer.VersionId !== 'null' ? { 'version-id': answer.VersionId } : {}),
    sequencer: randomBytes(9).toString('hex').toUpperCase(),
  };
  return event;
};

/** The ops topic, and a queue subscribed to it that plays the ops team's inbox. */
export const createOpsInbox = async (sns: SNSClient, sqs: SQSClient, name: string) => {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-inbox` }));
  if (!TopicArn || !QueueUrl) throw new Error('the emulator did not create the topic or the queue');
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
  return { topicArn: TopicArn, queueUrl: QueueUrl };
};

/** The notification ledger's table, as template.yaml's LedgerTable makes it: key `id`, TTL on `expiresAt`. */
export const createLedgerTable = async (ddb: DynamoDBClient, name: string): Promise<void> => {
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      SSESpecification: { Enabled: true },
    }),
  );
  await ddb.send(
    new UpdateTimeToLiveCommand({
      TableName: name,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    }),
  );
};

export interface ReceivedNotification {
  subject: string;
  body: string;
  attributes: Record<string, string>;
}

/** Read (and remove) every notification waiting in the inbox queue. */
export const readInbox = async (sqs: SQSClient, queueUrl: string): Promise<ReceivedNotification[]> => {
  const received: ReceivedNotification[] = [];
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    if (!Messages?.length) return received;
    for (const message of Messages) {
      const envelope = JSON.parse(message.Body ?? '{}') as {
        Subject?: string;
        Message?: string;
        MessageAttributes?: Record<string, { Value: string }>;
      };
      received.push({
        subject: envelope.Subject ?? '',
        body: envelope.Message ?? '',
        attributes: Object.fromEntries(
          Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value]),
        ),
      });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
};

/**
 * Record a first release as desired and create the stage stack running it, as an earlier deploy would have
 * (the version's description names that earlier execution and when it started).
 */
export const createStageStack = async (
  clients: { cfn: CloudFormationClient; ssm: SSMClient },
  stage: {
    stack: string;
    ssmParameter: string;
    stageName: string;
    bucket: string;
    templateKey: string;
    releaseKey: string;
    earlier: { pipeline: string; execution: string; startedAt: string };
  },
): Promise<void> => {
  await clients.ssm.send(
    new PutParameterCommand({
      Name: stage.ssmParameter,
      Value: stage.releaseKey,
      Type: 'String',
      Overwrite: true,
      Description: JSON.stringify(stage.earlier),
    }),
  );
  await clients.cfn.send(
    new CreateStackCommand({
      StackName: stage.stack,
      TemplateURL: `https://${stage.bucket}.s3.amazonaws.com/${stage.templateKey}`,
      Capabilities: ['CAPABILITY_IAM'],
      Parameters: [
        { ParameterKey: 'Stage', ParameterValue: stage.stageName },
        { ParameterKey: 'ArtifactBucket', ParameterValue: stage.bucket },
        { ParameterKey: 'ArtifactKey', ParameterValue: stage.releaseKey },
      ],
    }),
  );
};
