/**
 * Notify handler: triggered by CloudFormation's "AWS API Call via CloudTrail" and "CloudFormation Stack
 * Status Change" events. Reports who started what on which stack, and how it ended, to the ops team.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { bundledConfig } from '../shared/edge/bundled-config';
import { logger, logInvocation } from '../shared/logger';
import { loadRuntime } from '../shared/runtime';
import { handleStackNotification, type NotifySummary } from '../shared/triggers/notify';

const runtime = loadRuntime(bundledConfig, {
  cfn: CloudFormationClient,
  ssm: SSMClient,
  sns: SNSClient,
  ddb: DynamoDBClient,
  // Loaded only when a stage in another account is first reached (its role assumed).
  sts: () => import('@aws-sdk/client-sts'),
  // Run records: whether an operation's request token is the deployer's own.
  s3: S3Client,
});

export const handler = (event: unknown, context?: Context): Promise<NotifySummary> =>
  logInvocation(event, context, async () => {
    const summary = await handleStackNotification(runtime, event);
    logger.info('stack event handled', { ...summary });
    return summary;
  });
