/**
 * CloudFormation clients for stacks outside the deployer's own account and region: one per region, role and
 * session, made on first use and kept for the life of the process. A stage in another account is reached
 * with the credentials of the role it names there (STS AssumeRole, with the deployer's own credentials); a
 * stage in another region of the deployer's own account with the deployer's own credentials.
 *
 * STS is loaded only when the first role is assumed: a deployer whose stages all live at home never pays for
 * it at cold start.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import type { AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { DeployerError, errorMessage } from '../errors';

/** What the deployer uses of the STS client package (loaded lazily: see ClientClasses.sts). */
export type StsModule = Pick<typeof import('@aws-sdk/client-sts'), 'STSClient' | 'AssumeRoleCommand'>;

/**
 * How long an assumed session lasts: one hour, the most AWS allows a role assumed with a role's credentials
 * (the functions' and the operators' roles: "role chaining"), and more than one invocation lasts.
 */
export const SESSION_SECONDS = 3600;
/** Renewed this long before it expires: after the SDK's own 5-minute margin, never later than it asks. */
export const RENEW_BEFORE_MS = 10 * 60_000;

/** The role a stage's stack is reached with, and the session name that says who acts, in the target's trail. */
export interface AssumedRole {
  roleArn: string;
  sessionName: string;
}

/** The credentials of one role's session, assumed when first needed and renewed before they expire. */
export const assumedRoleCredentials = (
  sts: () => Promise<{ client: STSClient; module: StsModule }>,
  role: AssumedRole,
  now: () => number = Date.now,
): AwsCredentialIdentityProvider => {
  let current: AwsCredentialIdentity | undefined;
  let assuming: Promise<AwsCredentialIdentity> | undefined;
  const assume = async (): Promise<AwsCredentialIdentity> => {
    const { client, module } = await sts();
    let credentials: AssumeRoleCommandOutput['Credentials'];
    try {
      ({ Credentials: credentials } = await client.send(
        new module.AssumeRoleCommand({
          RoleArn: role.roleArn,
          RoleSessionName: role.sessionName,
          DurationSeconds: SESSION_SECONDS,
        }),
      ));
    } catch (error) {
      throw new DeployerError(`cannot assume ${role.roleArn}: ${errorMessage(error)}`, { cause: error });
    }
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.Expiration)
      throw new DeployerError(`STS answered AssumeRole of ${role.roleArn} without credentials`);
    return {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      ...(credentials.SessionToken ? { sessionToken: credentials.SessionToken } : {}),
      expiration: credentials.Expiration,
    };
  };
  return async () => {
    if (current?.expiration && current.expiration.getTime() - now() > RENEW_BEFORE_MS) return current;
    // Requests that need the session at the same moment wait for one AssumeRole together.
    assuming ??= assume()
      .then((credentials) => {
        current = credentials;
        return credentials;
      })
      .finally(() => {
        assuming = undefined;
      });
    return assuming;
  };
};

/** The configuration the deployer's clients share (region, retries, the emulator's endpoint). */
export interface BaseClientConfig {
  region: string;
  maxAttempts: number;
  retryMode: 'standard';
  endpoint?: string;
}

type RemoteConfig = BaseClientConfig & { credentials?: AwsCredentialIdentityProvider };
type CfnClass = new (config: RemoteConfig) => CloudFormationClient;
type CwClass = new (config: RemoteConfig) => CloudWatchClient;
type CodeDeployClass = new (config: RemoteConfig) => CodeDeployClient;

/** CloudFormation clients for stacks elsewhere, each made once per process. */
export interface RemoteClients {
  /** The client for stacks in `region`, with the credentials of `role` when one is named. */
  cfn(region: string, role?: AssumedRole): CloudFormationClient;
  /** The CloudWatch client for alarms in `region` (an alarm-gated stage elsewhere), likewise. */
  cw(region: string, role?: AssumedRole): CloudWatchClient;
  /** The CodeDeploy client for a stage's canary rollouts in `region`, likewise. */
  codedeploy(region: string, role?: AssumedRole): CodeDeployClient;
  /** Close every client made (tests and the command line end with it). */
  destroy(): void;
}

export const remoteClients = (
  home: BaseClientConfig,
  classes: {
    cfn?: CfnClass | undefined;
    cw?: CwClass | undefined;
    codedeploy?: CodeDeployClass | undefined;
    sts?: (() => Promise<StsModule>) | undefined;
  },
): RemoteClients => {
  const made = new Map<string, CloudFormationClient | CloudWatchClient | CodeDeployClient>();
  let sts: Promise<{ client: STSClient; module: StsModule }> | undefined;
  // One STS client, in the deployer's region and with its own credentials, for every role.
  const stsClient = () => {
    const load = classes.sts;
    if (!load) throw new DeployerError('this handler was built without the STS client');
    sts ??= load().then((module) => ({ client: new module.STSClient(home), module }));
    return sts;
  };
  const remote = <C extends CloudFormationClient | CloudWatchClient | CodeDeployClient>(
    kind: 'cfn' | 'cw' | 'codedeploy',
    Class: (new (config: RemoteConfig) => C) | undefined,
    region: string,
    role: AssumedRole | undefined,
  ): C => {
    const key = JSON.stringify([kind, region, role?.roleArn, role?.sessionName]);
    const found = made.get(key);
    if (found) return found as C;
    if (!Class) throw new DeployerError(`this handler was built without the ${kind} client`);
    const client = new Class({
      ...home,
      region,
      ...(role ? { credentials: assumedRoleCredentials(stsClient, role) } : {}),
    });
    made.set(key, client);
    return client;
  };
  return {
    cfn: (region, role) => remote('cfn', classes.cfn, region, role),
    cw: (region, role) => remote('cw', classes.cw, region, role),
    codedeploy: (region, role) => remote('codedeploy', classes.codedeploy, region, role),
    destroy() {
      for (const client of made.values()) client.destroy();
      made.clear();
      void sts?.then(({ client }) => client.destroy()).catch(() => undefined);
      sts = undefined;
    },
  };
};
