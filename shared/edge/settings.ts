/**
 * The environment a handler runs in, read once at cold start. A missing or malformed variable fails fast
 * with an error that names it. The variables are declared once, in template.yaml.
 */
import { ConfigError, EventValidationError } from '../errors';

export interface Settings {
  /** The region the deployer runs in; events from other regions are rejected. */
  region: string;
  /** The account the deployer runs in; events from other accounts are rejected. */
  accountId: string;
  /** The SNS topic that receives the ops notifications. */
  topicArn: string;
  /**
   * The SNS topic that receives the same notifications in their chat form (Amazon Q Developer in chat
   * applications: Slack, Microsoft Teams), when chat notifications are on.
   */
  chatTopicArn?: string;
  /** The DynamoDB table of the notification ledger: which messages went out (shared/messages/ledger.ts). */
  ledgerTable: string;
  /** A configuration file to use instead of the bundled deployer.config.yaml (local runs, tests). */
  configFile?: string;
  /** The deployer's own IAM roles: their API calls are already reported as deploy outcomes. */
  ownRoles?: string[];
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ACCOUNT = /^\d{12}$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

const required = (env: NodeJS.ProcessEnv, name: string, pattern: RegExp, what: string): string => {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError(`environment variable ${name} is not set (${what})`);
  if (!pattern.test(value)) throw new ConfigError(`environment variable ${name} is not ${what}`);
  return value;
};

const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

const roleList = (env: NodeJS.ProcessEnv): string[] | undefined => {
  const value = env.DEPLOYER_ROLE_NAMES;
  if (!value) return undefined;
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const bad = names.find((n) => !ROLE_NAME.test(n));
  if (bad !== undefined)
    throw new ConfigError(
      `environment variable DEPLOYER_ROLE_NAMES holds an invalid role name ${JSON.stringify(bad.slice(0, 80))}`,
    );
  return names;
};

/** Events from another account or region than the deployer's are not ours to act on. */
export const assertSameAccountAndRegion = (
  settings: Settings,
  event: { account: string; region: string },
): void => {
  if (event.account !== settings.accountId || event.region !== settings.region) {
    throw new EventValidationError(
      `event from account ${event.account} in ${event.region}; this deployer serves ${settings.accountId} in ${settings.region}`,
    );
  }
};

/** An SNS topic ARN from an optional variable: undefined when unset or empty, an error when malformed. */
export const optionalTopicArn = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (!TOPIC_ARN.test(value)) throw new ConfigError(`environment variable ${name} is not an SNS topic ARN`);
  return value;
};

export const readSettings = (env: NodeJS.ProcessEnv = process.env): Settings => {
  const configFile = env.DEPLOYER_CONFIG_FILE;
  const ownRoles = roleList(env);
  const chatTopicArn = optionalTopicArn(env, 'DEPLOYER_CHAT_TOPIC_ARN');
  return {
    region: required(env, 'AWS_REGION', REGION, 'an AWS region such as eu-west-1'),
    accountId: required(env, 'DEPLOYER_ACCOUNT_ID', ACCOUNT, 'a 12-digit AWS account id'),
    topicArn: required(env, 'DEPLOYER_TOPIC_ARN', TOPIC_ARN, 'an SNS topic ARN'),
    ...(chatTopicArn ? { chatTopicArn } : {}),
    ledgerTable: required(env, 'DEPLOYER_LEDGER_TABLE', TABLE_NAME, 'a DynamoDB table name'),
    ...(configFile ? { configFile } : {}),
    ...(ownRoles ? { ownRoles } : {}),
  };
};
