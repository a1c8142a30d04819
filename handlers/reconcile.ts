/**
 * Reconcile handler: triggered when a stack reaches a final status (so a release recorded while it was
 * busy is deployed now) and by a slow schedule (the safety net for a lost event).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { isAlarmEvent } from '../shared/edge/alarm-events';
import { bundledConfig } from '../shared/edge/bundled-config';
import { logger, logInvocation } from '../shared/logger';
import { loadRuntime } from '../shared/runtime';
import { handleAlarmEvent } from '../shared/triggers/alarm';
import { handleReconcileTrigger, type SettleSummary } from '../shared/triggers/reconcile';

const runtime = loadRuntime(bundledConfig, {
  cfn: CloudFormationClient,
  ssm: SSMClient,
  s3: S3Client,
  sns: SNSClient,
  ddb: DynamoDBClient,
  cw: CloudWatchClient,
  // Loaded only when a stage in another account is first reached (its role assumed).
  sts: () => import('@aws-sdk/client-sts'),
});

export const handler = (event: unknown, context?: Context): Promise<SettleSummary[]> =>
  logInvocation(event, context, async () => {
    // An alarm's state change may roll back a baking release; the rest reconciles.
    const summaries = isAlarmEvent(event)
      ? await handleAlarmEvent(runtime, event)
      : await handleReconcileTrigger(runtime, event);
    logger.info('reconcile trigger handled', { summaries });
    return summaries;
  });
