/**
 * Everything a trigger needs, made once per process: settings from the environment, the validated
 * configuration, and the SDK clients.
 */
import { type ClientClasses, type Clients, makeClients } from './aws/client-factory';
import { type DeployerConfig, loadConfigFile, validateConfig } from './edge/config';
import { readSettings, type Settings } from './edge/settings';
import { assertStagePlaces } from './edge/stage-place';

export interface Runtime {
  settings: Settings;
  config: DeployerConfig;
  clients: Clients;
  /** What time it is: the one injectable clock (tests pass a fake one); Date.now when absent. */
  now?: () => number;
}

/** The runtime's clock, in milliseconds since the epoch. */
export const nowOf = (runtime: Pick<Runtime, 'now'>): number => (runtime.now ? runtime.now() : Date.now());

/**
 * Build the runtime from the environment. The configuration is the bundled one (deployer.config.yaml,
 * compiled to JSON), unless DEPLOYER_CONFIG_FILE names another file (local runs, tests).
 */
export const loadRuntime = (
  bundledConfig: unknown,
  classes: ClientClasses,
  env: NodeJS.ProcessEnv = process.env,
): Runtime => {
  const settings = readSettings(env);
  const config = settings.configFile
    ? loadConfigFile(settings.configFile)
    : validateConfig(bundledConfig, 'deployer.config.yaml (bundled as deployer.config.json)');
  // What only the deployer's own account and region can tell about the stages, before any AWS call.
  assertStagePlaces(config, settings, settings.configFile ?? 'deployer.config.yaml');
  return { settings, config, clients: makeClients(settings.region, env, classes) };
};
