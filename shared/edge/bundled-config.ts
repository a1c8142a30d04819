/**
 * The configuration shipped inside each function's bundle: deployer.config.yaml compiled to JSON by
 * `npm run build` (scripts/build.mjs). esbuild inlines JSON natively (so `sam build` needs no loader), and
 * the function validates it at cold start without loading a YAML parser. `npm test` fails when the JSON
 * is older than the YAML.
 */
import compiled from '../../deployer.config.json';

export const bundledConfig: unknown = compiled;
