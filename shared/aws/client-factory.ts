/**
 * SDK clients, made once per process (each on first use) and passed to the shared functions as their first
 * argument. Retries (throttling, 5xx, dropped connections) are the SDK's standard retry strategy, configured
 * here once. `AWS_ENDPOINT_URL` points every client at an emulator for local runs and tests.
 *
 * A handler names the client classes it needs, so its bundle carries (and its cold start loads) only those.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { DeployerError } from '../errors';
import { type RemoteClients, remoteClients, type StsModule } from './assumed-role';

export interface Clients {
  readonly cfn: CloudFormationClient;
  readonly ssm: SSMClient;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly ddb: DynamoDBClient;
  /** CloudWatch: the alarms of alarm-gated stages at home (elsewhere: remote.cw, see stage-clients.ts). */
  readonly cw: CloudWatchClient;
  /** CodeDeploy: why a canary rollout of a stage at home stopped (elsewhere: remote.codedeploy). */
  readonly codedeploy: CodeDeployClient;
  /** CloudFormation clients for stages in other accounts or regions (see shared/aws/stage-clients.ts). */
  readonly remote: RemoteClients;
}

type ClientConfig = {
  region: string;
  maxAttempts: number;
  retryMode: 'standard';
  endpoint?: string;
  forcePathStyle?: boolean;
  followRegionRedirects?: boolean;
};

/** The client classes a handler uses. */
export interface ClientClasses {
  cfn?: new (config: ClientConfig) => CloudFormationClient;
  ssm?: new (config: ClientConfig) => SSMClient;
  s3?: new (config: ClientConfig) => S3Client;
  sns?: new (config: ClientConfig) => SNSClient;
  ddb?: new (config: ClientConfig) => DynamoDBClient;
  cw?: new (config: ClientConfig) => CloudWatchClient;
  codedeploy?: new (config: ClientConfig) => CodeDeployClient;
  /** Loads STS when a stage's role is first assumed: `() => import('@aws-sdk/client-sts')`. */
  sts?: () => Promise<StsModule>;
}

/** Attempts per call, the first included: the standard strategy backs off exponentially with jitter. */
export const MAX_ATTEMPTS = 5;

export const makeClients = (region: string, env: NodeJS.ProcessEnv, classes: ClientClasses): Clients => {
  const endpoint = env.AWS_ENDPOINT_URL;
  const common: ClientConfig = {
    region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard',
    ...(endpoint ? { endpoint } : {}),
  };
  const made: Partial<Omit<Clients, 'remote'>> = {};
  let remote: RemoteClients | undefined;
  const client = <K extends Exclude<keyof Clients, 'remote'>>(
    name: K,
    config: ClientConfig = common,
  ): Clients[K] => {
    const existing = made[name];
    if (existing) return existing;
    const Class = classes[name];
    if (!Class) throw new DeployerError(`this handler was built without the ${name} client`);
    const created = new Class(config) as Clients[K];
    made[name] = created;
    return created;
  };
  return {
    get cfn() {
      return client('cfn');
    },
    get ssm() {
      return client('ssm');
    },
    // Emulators serve buckets by path, not by virtual host name. A stage in another region has its release
    // bucket there: requests follow S3's redirect to the bucket's region.
    get s3() {
      const fresh = !made.s3;
      const s3 = client('s3', { ...common, forcePathStyle: Boolean(endpoint), followRegionRedirects: true });
      if (fresh) pinBucketOwner(s3, env.DEPLOYER_ACCOUNT_ID);
      return s3;
    },
    get sns() {
      return client('sns');
    },
    get ddb() {
      return client('ddb');
    },
    get cw() {
      return client('cw');
    },
    get codedeploy() {
      return client('codedeploy');
    },
    get remote() {
      remote ??= remoteClients(common, classes);
      return remote;
    },
  };
};

/**
 * Every S3 request names the account that must own its bucket (and a copy's source bucket): a bucket of the
 * same name in another account — after a deletion, or a typo — answers 403 instead of receiving or serving
 * the deployer's releases and locks.
 */
const pinBucketOwner = (s3: S3Client, account: string | undefined): void => {
  if (!account || !/^\d{12}$/.test(account)) return;
  s3.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) {
        request.headers['x-amz-expected-bucket-owner'] = account;
        if (request.headers['x-amz-copy-source'])
          request.headers['x-amz-source-expected-bucket-owner'] = account;
      }
      return next(args);
    },
    { step: 'build', name: 'deployerExpectedBucketOwner' },
  );
};
