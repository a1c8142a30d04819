/**
 * `deployer invoke`: `sam local invoke` without Docker. Reads the function from template.yaml as SAM does
 * (its handler; its environment: Globals, the function's own, then the env-vars file), loads the built bundle
 * (dist/handlers beside the template, made by npm run build) and runs it in this process on the event.
 *
 * It guesses nothing: the account the events come from is DEPLOYER_ACCOUNT_ID (in the environment or the
 * env-vars file), and variables the template sets from deployed resources must come from --env-vars.
 * Exit code 0 when the handler returned, 1 when it threw, 2 when it could not be run as asked (arguments,
 * files, the template, the environment, credentials, or a function that refused its configuration at start).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { cleanText } from '../../shared/edge/untrusted';
import { errorMessage, errorName } from '../../shared/errors';
import { type FunctionDefinition, functionDefinition, readTemplate } from '../support/sam-template';
import { type Command, commandArgs, EXIT, exactly, regionOf, UsageError } from './args';
import { print } from './render';

export const invoke: Command = {
  summary: 'run a function of template.yaml in-process on an event, like sam local invoke without Docker',
  usage: `usage: deployer invoke <FunctionLogicalId> -e <event.json> [--env-vars <env.json>] [--template <template.yaml>]

Reads the function's handler and environment from the template (Globals merged with the function's own,
overridden by the env-vars file in SAM's format: {"Parameters": {...}, "<FunctionLogicalId>": {...}}),
loads its bundle from dist/handlers beside the template (npm run build), runs it on the event and prints
its logs and result. AWS calls go to AWS, or to AWS_ENDPOINT_URL, with the usual credentials.
Needs AWS_REGION, and DEPLOYER_ACCOUNT_ID (the 12-digit account the events come from) in the environment
or the env-vars file. Variables the template sets from deployed resources (the topic ARN, the ledger
table) must come from --env-vars.
Exit code 0 when the handler returned, 1 when it threw, 2 when it could not be run as asked.`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, {
      event: { type: 'string', short: 'e' },
      'env-vars': { type: 'string', short: 'n' },
      template: { type: 'string', short: 't' },
    });
    const [logicalId = ''] = exactly(positionals, 1, 'invoke takes exactly one function name');
    if (!values.event) throw new UsageError('invoke needs an event file: -e events/<name>.json');
    const event = readJson(values.event, 'event file');
    const envVars = values['env-vars'] ? readEnvVars(values['env-vars']) : undefined;
    const region = regionOf(env);
    const templatePath = resolve(values.template ?? 'template.yaml');
    const cacheDir = join(dirname(templatePath), 'dist', '.templates');
    const fn = functionDefinition(readTemplate(templatePath, cacheDir), logicalId, {
      region,
      accountId: env.DEPLOYER_ACCOUNT_ID ?? '',
      ...(envVars ? { envVars } : {}),
    });
    const accountId = fn.environment.DEPLOYER_ACCOUNT_ID;
    if ('DEPLOYER_ACCOUNT_ID' in fn.environment && !accountId) {
      throw new UsageError(
        'DEPLOYER_ACCOUNT_ID is not set: set it to the 12-digit account the events come from (in the environment, or under "Parameters" in the --env-vars file; an emulator such as moto uses 123456789012). invoke does not guess it: the function rejects events of any other account.',
      );
    }
    const bundle = join(dirname(templatePath), 'dist', 'handlers', `${bundleName(fn)}.js`);
    if (!existsSync(bundle)) throw new UsageError(`${bundle} does not exist: run npm run build first`);
    for (const name of fn.unresolved) {
      process.stderr.write(
        `deployer: ${name} is set from a deployed resource in the template; give it with --env-vars\n`,
      );
    }
    await checkCredentials();
    Object.assign(process.env, fn.environment, { AWS_REGION: region, AWS_LAMBDA_FUNCTION_NAME: logicalId });
    const started = Date.now();
    const handler = loadHandler(fn, bundle);
    let result: unknown;
    try {
      result = await handler(event, lambdaContext(fn, region, accountId || '000000000000', started));
    } catch (error) {
      process.stderr.write(`deployer: ${logicalId} threw: ${cleanText(errorMessage(error), 4000)}\n`);
      return EXIT.failed;
    }
    print(result);
    return EXIT.ok;
  },
};

/** The bundle's file name: the esbuild entry point's, or the handler's file ("deploy.handler": deploy). */
const bundleName = (fn: FunctionDefinition): string =>
  basename(fn.entryPoint ?? fn.handler.slice(0, fn.handler.lastIndexOf('.')), '.ts');

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Load the bundle as Lambda does at a cold start. A function that refuses its configuration or environment
 * there (a ConfigError of the bundle's own, so recognised by name) was not given what it needs: exit code 2.
 */
const loadHandler = (fn: FunctionDefinition, bundle: string): Handler => {
  let module: Record<string, unknown>;
  try {
    module = require(bundle) as Record<string, unknown>;
  } catch (error) {
    if (errorName(error) === 'ConfigError')
      throw new UsageError(`${fn.logicalId} did not start: ${errorMessage(error)}`, { cause: error });
    throw error;
  }
  const exported = fn.handler.slice(fn.handler.lastIndexOf('.') + 1);
  const handler = module[exported];
  if (typeof handler !== 'function') throw new UsageError(`${bundle} exports no function ${exported}`);
  return handler as Handler;
};

/**
 * The SDK's credential chain, asked once before the handler runs: without credentials nothing could work.
 * Only the chain is loaded, not a client: the handler's bundle loads the SDK clients it uses, once.
 */
const checkCredentials = async (): Promise<void> => {
  // Keys in the environment are what the chain would find first: nothing to load.
  if (process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY) return;
  try {
    const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
    await defaultProvider()();
  } catch (error) {
    throw new UsageError(
      `no AWS credentials (${errorMessage(error)}): use your usual ones, or for an emulator any pair, such as AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`,
      { cause: error },
    );
  }
};

const readJson = (path: string, what: string): unknown => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${errorMessage(error)}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} ${path} is not JSON: ${errorMessage(error)}`);
  }
};

const readEnvVars = (path: string): Record<string, unknown> => {
  const envVars = readJson(path, 'env-vars file');
  if (typeof envVars !== 'object' || envVars === null || Array.isArray(envVars))
    throw new UsageError(`env-vars file ${path} must hold a JSON object`);
  return envVars as Record<string, unknown>;
};

const lambdaContext = (
  fn: FunctionDefinition,
  region: string,
  account: string,
  started: number,
): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: fn.logicalId,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${fn.logicalId}`,
  memoryLimitInMB: String(fn.memoryMb),
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${fn.logicalId}`,
  logStreamName: 'local',
  getRemainingTimeInMillis: () => Math.max(0, started + fn.timeoutSeconds * 1000 - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});
