/**
 * The SDK clients, made once per process and passed to the shared functions as their first argument.
 * Retries (throttling, 5xx, dropped connections) are the SDK's standard retry strategy, configured here once.
 * `AWS_ENDPOINT_URL` points every client at an emulator for local runs and tests.
 *
 * Each client is created on first use, and its SDK package is loaded only then: a handler that never
 * talks to S3 never pays for loading the S3 client at cold start.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';

export interface Clients {
  readonly cfn: CloudFormationClient;
  readonly ssm: SSMClient;
  readonly s3: S3Client;
  readonly sns: SNSClient;
}

/** Attempts per call, the first included: the standard strategy backs off exponentially with jitter. */
export const MAX_ATTEMPTS = 5;

export const createClients = (region: string, env: NodeJS.ProcessEnv = process.env): Clients => {
  const endpoint = env.AWS_ENDPOINT_URL;
  const common = {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard' as const,
    ...(endpoint ? { endpoint } : {}),
  };
  const made: Partial<Record<keyof Clients, unknown>> = {};
  const once = <T>(name: keyof Clients, make: () => T): T => {
    made[name] ??= make();
    return made[name] as T;
  };
  // require() inside the getters keeps each SDK package out of the cold start until it is used.
  return {
    get cfn() {
      return once('cfn', () => {
        const { CloudFormationClient } =
          require('@aws-sdk/client-cloudformation') as typeof import('@aws-sdk/client-cloudformation');
        return new CloudFormationClient(common);
      });
    },
    get ssm() {
      return once('ssm', () => {
        const { SSMClient } = require('@aws-sdk/client-ssm') as typeof import('@aws-sdk/client-ssm');
        return new SSMClient(common);
      });
    },
    get s3() {
      return once('s3', () => {
        const { S3Client } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
        // Emulators serve buckets by path, not by virtual host name.
        return new S3Client({ ...common, forcePathStyle: Boolean(endpoint) });
      });
    },
    get sns() {
      return once('sns', () => {
        const { SNSClient } = require('@aws-sdk/client-sns') as typeof import('@aws-sdk/client-sns');
        return new SNSClient(common);
      });
    },
  };
};
