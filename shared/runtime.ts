/**
 * Everything a trigger needs, made once per process: settings from the environment, the validated
 * configuration, and the SDK clients.
 */
import { type ClientClasses, type Clients, makeClients } from './aws/client-factory';
import { readSettings, type Settings } from './edge/settings';
import { assertStagePlaces } from './edge/stage-place';
import type { DeployerConfig } from './edge/stages';

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
 * validated by the build: see bundled-config.ts), unless DEPLOYER_CONFIG_FILE names another file (local
 * runs, tests), which is read and validated here: only then is the schema loaded.
 */
export const loadRuntime = (
  bundledConfig: () => DeployerConfig,
  classes: ClientClasses,
  env: NodeJS.ProcessEnv = process.env,
): Runtime => {
  const settings = readSettings(env);
  const config = settings.configFile
    ? (require('./edge/config') as typeof import('./edge/config')).loadConfigFile(settings.configFile)
    : bundledConfig();
  // What only the deployer's own account and region can tell about the stages, before any AWS call.
  assertStagePlaces(config, settings, settings.configFile ?? 'deployer.config.yaml');
  return { settings, config, clients: makeClients(settings.region, env, classes) };
};
