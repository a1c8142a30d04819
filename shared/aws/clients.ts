/**
 * All the SDK clients, for the command line, the benchmark and the tests. Handlers name only the clients
 * they use (see client-factory.ts), to keep the others out of their bundles.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type ClientClasses, type Clients, makeClients } from './client-factory';

export type { Clients } from './client-factory';
export { MAX_ATTEMPTS } from './client-factory';

export const ALL_CLIENTS: ClientClasses = {
  cfn: CloudFormationClient,
  ssm: SSMClient,
  s3: S3Client,
  sns: SNSClient,
  ddb: DynamoDBClient,
  cw: CloudWatchClient,
  codedeploy: CodeDeployClient,
  sts: () => import('@aws-sdk/client-sts'),
};

export const createClients = (region: string, env: NodeJS.ProcessEnv = process.env): Clients =>
  makeClients(region, env, ALL_CLIENTS);
