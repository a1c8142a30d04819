/**
 * The configuration file shipped inside each handler's bundle (esbuild's text loader inlines it), so a
 * deployed function always runs with the configuration it was built with.
 */
import text from '../deployer.config.yaml';

export const bundledConfig: string = text;
