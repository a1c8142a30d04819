/**
 * Deploy handler: triggered by "CodePipeline Pipeline Execution State Change" events and by S3 "Object
 * Created" events of builds a CI uploaded. A successful execution's build, or an uploaded build, is
 * released, recorded as desired for each stage of its pipeline, and deployed.
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
import type { DeploySummary } from '../shared/triggers/deploy';
import { handleDeployEvent } from '../shared/triggers/deploy-event';

const runtime = loadRuntime(bundledConfig, {
  cfn: CloudFormationClient,
  ssm: SSMClient,
  s3: S3Client,
  sns: SNSClient,
  ddb: DynamoDBClient,
  // Loaded only when a stage in another account is first reached (its role assumed).
  sts: () => import('@aws-sdk/client-sts'),
});

export const handler = (event: unknown, context?: Context): Promise<DeploySummary> =>
  logInvocation(event, context, async () => {
    const summary = await handleDeployEvent(runtime, event);
    logger.info('deploy event handled', { verdict: summary.verdict, stages: summary.stages });
    return summary;
  });
