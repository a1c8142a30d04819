/**
 * The configuration shipped inside each function's bundle. `npm run build` (scripts/build.mjs) validates
 * deployer.config.yaml with the schema (config.ts) and puts in place of this module one that returns the
 * validated configuration as data: a function loads neither a YAML parser nor the schema at cold start, and
 * a configuration the schema refuses fails the build, naming the field, instead of every cold start. Run as
 * TypeScript (tests, local runs), this module validates deployer.config.json (the YAML compiled; `npm test`
 * fails when it is older than the YAML) when first asked.
 */
import compiled from '../../deployer.config.json';
import type { DeployerConfig } from './stages';

export const bundledConfig = (): DeployerConfig =>
  (require('./config') as typeof import('./config')).validateConfig(
    compiled,
    'deployer.config.yaml (compiled to deployer.config.json)',
  );
