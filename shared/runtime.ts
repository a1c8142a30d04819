/**
 * Everything a trigger needs, made once per process: settings from the environment, the validated
 * configuration, and the SDK clients.
 */
import { type Clients, createClients } from './clients';
import { type DeployerConfig, loadConfigFile, parseConfig } from './config';
import { readSettings, type Settings } from './settings';

export interface Runtime {
  settings: Settings;
  config: DeployerConfig;
  clients: Clients;
}

/**
 * Build the runtime from the environment. The configuration is the bundled deployer.config.yaml, unless
 * DEPLOYER_CONFIG_FILE names another file (local runs, tests).
 */
export const loadRuntime = (bundledConfig: string, env: NodeJS.ProcessEnv = process.env): Runtime => {
  const settings = readSettings(env);
  const config = settings.configFile
    ? loadConfigFile(settings.configFile)
    : parseConfig(bundledConfig, 'deployer.config.yaml');
  return { settings, config, clients: createClients(settings.region, env) };
};
