/**
 * The runtime of a command: the region, the ops topic for commands that tell the ops team, the configuration
 * file (DEPLOYER_CONFIG_FILE or ./deployer.config.yaml) and the SDK clients. Every stage a command names is
 * looked up here first: a stage that is not in the configuration is a usage error (exit 2), like a mistyped
 * command, and never reaches AWS.
 */
import { resolve } from 'node:path';
import { createClients } from '../../shared/aws/clients';
import { loadConfigFile } from '../../shared/edge/config';
import { optionalTopicArn } from '../../shared/edge/settings';
import { assertStagePlaces } from '../../shared/edge/stage-place';
import { allStages, type Stage, stageNamed } from '../../shared/edge/stages';
import type { Runtime } from '../../shared/runtime';
import { regionOf, UsageError } from './args';

export const cliRuntime = (env: NodeJS.ProcessEnv, options: { tellsOps: boolean }): Runtime => {
  const region = regionOf(env);
  const topicArn = env.DEPLOYER_TOPIC_ARN ?? '';
  if (options.tellsOps && !/^arn:aws[a-z-]*:sns:/.test(topicArn)) {
    throw new UsageError(
      'DEPLOYER_TOPIC_ARN is not set: this command tells the ops team what it did (the OpsTopicArn output of the deployer stack)',
    );
  }
  const chatTopicArn = chatTopicOf(env);
  const settings = {
    region,
    accountId: env.DEPLOYER_ACCOUNT_ID ?? '',
    topicArn,
    // The chat topic (the ChatTopicArn output), when chat notifications are on: moves are posted there too.
    ...(chatTopicArn ? { chatTopicArn } : {}),
    // The notification ledger of the deployed stack (its LedgerTableName output); no command needs it yet.
    ledgerTable: env.DEPLOYER_LEDGER_TABLE ?? '',
  };
  const file = resolve(env.DEPLOYER_CONFIG_FILE ?? 'deployer.config.yaml');
  const config = loadConfigFile(file);
  // A stage in another region names a release bucket there; no two stages share a stack where they live.
  assertStagePlaces(config, settings, file);
  return { settings, config, clients: createClients(region, env) };
};

/** DEPLOYER_CHAT_TOPIC_ARN, when set; a malformed one is a usage error (nothing was touched). */
const chatTopicOf = (env: NodeJS.ProcessEnv): string | undefined => {
  try {
    return optionalTopicArn(env, 'DEPLOYER_CHAT_TOPIC_ARN');
  } catch (error) {
    throw new UsageError(
      'DEPLOYER_CHAT_TOPIC_ARN is not an SNS topic ARN (the ChatTopicArn output of the deployer stack)',
      { cause: error },
    );
  }
};

/** The configured stage of this name. */
export const stageArg = (runtime: Runtime, name: string): Stage => {
  const stage = stageNamed(runtime.config, name);
  if (!stage) {
    const known = allStages(runtime.config).map((s) => s.name);
    throw new UsageError(
      `no stage named ${JSON.stringify(name.slice(0, 64))} in the configuration (configured: ${known.join(', ')})`,
    );
  }
  return stage;
};
