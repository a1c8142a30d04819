/**
 * Notify handler: triggered by CloudFormation's "AWS API Call via CloudTrail" and "CloudFormation Stack
 * Status Change" events, and by CodeDeploy's "CodeDeploy Deployment State-change Notification" (a stage's
 * canary rollout). Reports who started what on which stack, how it ended, and how a rollout went.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { bundledConfig } from '../shared/edge/bundled-config';
import { isDeploymentEvent } from '../shared/edge/deployment-events';
import { logger, logInvocation } from '../shared/logger';
import { loadRuntime } from '../shared/runtime';
import { handleDeploymentStateChange, type RolloutSummary } from '../shared/triggers/codedeploy';
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
  // Why a stage's canary rollout stopped (GetDeployment).
  codedeploy: CodeDeployClient,
});

export const handler = (event: unknown, context?: Context): Promise<NotifySummary | RolloutSummary> =>
  logInvocation(event, context, async () => {
    const summary = isDeploymentEvent(event)
      ? await handleDeploymentStateChange(runtime, event)
      : await handleStackNotification(runtime, event);
    logger.info('event handled', { ...summary });
    return summary;
  });
