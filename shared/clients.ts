/**
 * The SDK clients, made once per process and passed to the shared functions as their first argument.
 * Retries (throttling, 5xx, dropped connections) are the SDK's standard retry strategy, configured here once.
 * `AWS_ENDPOINT_URL` (read by the SDK itself) points every client at an emulator for local runs and tests.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';

export interface Clients {
  cfn: CloudFormationClient;
  ssm: SSMClient;
  s3: S3Client;
  sns: SNSClient;
}

/** Attempts per call, the first included: the standard strategy backs off exponentially with jitter. */
export const MAX_ATTEMPTS = 5;

export const createClients = (region: string, env: NodeJS.ProcessEnv = process.env): Clients => {
  const common = { region, maxAttempts: MAX_ATTEMPTS, retryMode: 'standard' as const };
  return {
    cfn: new CloudFormationClient(common),
    ssm: new SSMClient(common),
    // Emulators serve buckets by path, not by virtual host name.
    s3: new S3Client({ ...common, forcePathStyle: Boolean(env.AWS_ENDPOINT_URL) }),
    sns: new SNSClient(common),
  };
};
