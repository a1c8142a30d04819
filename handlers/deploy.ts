/**
 * Deploy handler: triggered by "CodePipeline Pipeline Execution State Change" events. A successful
 * execution's build is released, recorded as desired for each stage of the pipeline, and deployed.
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
import { type DeploySummary, handlePipelineEvent } from '../shared/triggers/deploy';

const runtime = loadRuntime(bundledConfig, {
  cfn: CloudFormationClient,
  ssm: SSMClient,
  s3: S3Client,
  sns: SNSClient,
  ddb: DynamoDBClient,
});

export const handler = (event: unknown, context?: Context): Promise<DeploySummary> =>
  logInvocation(event, context, async () => {
    const summary = await handlePipelineEvent(runtime, event);
    logger.info('pipeline event handled', { verdict: summary.verdict, stages: summary.stages });
    return summary;
  });
