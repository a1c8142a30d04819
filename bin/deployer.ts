#!/usr/bin/env node
/**
 * The deployer's command line. Talks to AWS with the usual credential chain, or to the endpoint in
 * AWS_ENDPOINT_URL. Exit codes: 0 done, 1 failed, 2 usage error, 3 the stage needs a person.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Context } from 'aws-lambda';
import { createClients } from '../shared/clients';
import { allStages, loadConfigFile } from '../shared/config';
import { errorMessage } from '../shared/errors';
import { logger } from '../shared/logger';
import { reconcile } from '../shared/reconcile';
import { withStageLock } from '../shared/stage-lock';
import { functionDefinition, readTemplate, TemplateError } from './support/sam-template';

export const EXIT = { ok: 0, failed: 1, usage: 2, needsPerson: 3 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface Command {
  summary: string;
  usage: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

const ROOT = join(__dirname, '..', '..');

const regionOf = (env: NodeJS.ProcessEnv): string => {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('AWS_REGION is not set');
  return region;
};

const configOf = (env: NodeJS.ProcessEnv) =>
  loadConfigFile(resolve(env.DEPLOYER_CONFIG_FILE ?? 'deployer.config.yaml'));

const print = (value: unknown): void => {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
};

const commands: Record<string, Command> = {
  reconcile: {
    summary: "move a stage's stack to its desired release",
    usage: `usage: deployer reconcile <stage>

Compares the stage's desired release (its SSM parameter) with what its stack runs, and deploys the
difference through a change set (or leaves it for approval). Prints the outcome as JSON.
Exit code 3 when the stack needs a person.`,
    async run(args, env) {
      const { positionals } = parseArgs({ args, allowPositionals: true, strict: true });
      const [stageName, ...extra] = positionals;
      if (!stageName || extra.length > 0) throw new UsageError('reconcile takes exactly one stage name');
      const config = configOf(env);
      const stages = allStages(config);
      if (!stages.some((s) => s.name === stageName)) {
        throw new UsageError(
          `no stage named ${JSON.stringify(stageName)} (configured: ${stages.map((s) => s.name).join(', ')})`,
        );
      }
      const region = regionOf(env);
      const runtime = {
        settings: {
          region,
          accountId: env.DEPLOYER_ACCOUNT_ID ?? '',
          topicArn: env.DEPLOYER_TOPIC_ARN ?? '',
        },
        config,
        clients: createClients(region, env),
      };
      const stage = stages.find((s) => s.name === stageName);
      if (!stage) throw new UsageError(`no stage named ${JSON.stringify(stageName)}`);
      const result = await withStageLock(runtime.clients.s3, stage, 'deployer reconcile (cli)', () =>
        reconcile(runtime, stageName),
      );
      print(result);
      return result.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;
    },
  },

  invoke: {
    summary: 'run a function of template.yaml in-process on an event, like sam local invoke without Docker',
    usage: `usage: deployer invoke <FunctionLogicalId> -e <event.json> [--env-vars <env.json>] [--template <template.yaml>]

Reads the function's handler and environment from the template (Globals merged with the function's own,
overridden by the env-vars file in SAM's format: {"Parameters": {...}, "<FunctionLogicalId>": {...}}),
loads its bundle from dist/handlers (npm run build), runs it on the event and prints its logs and result.
AWS calls go to AWS, or to AWS_ENDPOINT_URL. Variables the template sets from deployed resources (the
topic ARN) must come from --env-vars.`,
    async run(args, env) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          event: { type: 'string', short: 'e' },
          'env-vars': { type: 'string', short: 'n' },
          template: { type: 'string', short: 't' },
        },
      });
      const [logicalId, ...extra] = positionals;
      if (!logicalId || extra.length > 0) throw new UsageError('invoke takes exactly one function name');
      if (!values.event) throw new UsageError('invoke needs an event file: -e events/<name>.json');
      return invoke(
        logicalId,
        { event: values.event, envVars: values['env-vars'], template: values.template },
        env,
      );
    },
  },
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

const invoke = async (
  logicalId: string,
  files: { event: string; envVars: string | undefined; template: string | undefined },
  env: NodeJS.ProcessEnv,
): Promise<number> => {
  const event = readJson(files.event, 'event file');
  const envVars = files.envVars ? readJson(files.envVars, 'env-vars file') : undefined;
  if (envVars !== undefined && (typeof envVars !== 'object' || envVars === null || Array.isArray(envVars))) {
    throw new UsageError(`env-vars file ${files.envVars} must hold a JSON object`);
  }
  const region = regionOf(env);
  const template = readTemplate(files.template ?? join(ROOT, 'template.yaml'));
  const fn = functionDefinition(template, logicalId, {
    region,
    accountId: env.DEPLOYER_ACCOUNT_ID ?? '123456789012',
    ...(envVars ? { envVars: envVars as Record<string, unknown> } : {}),
  });
  const [file, exported] = [
    fn.handler.slice(0, fn.handler.lastIndexOf('.')),
    fn.handler.slice(fn.handler.lastIndexOf('.') + 1),
  ];
  const bundle = join(ROOT, 'dist', 'handlers', `${basename(fn.entryPoint ?? file, '.ts')}.js`);
  if (!existsSync(bundle)) throw new UsageError(`${bundle} does not exist: run npm run build first`);
  for (const name of fn.unresolved) {
    process.stderr.write(
      `deployer: ${name} is set from a deployed resource in the template; give it with --env-vars\n`,
    );
  }
  Object.assign(process.env, fn.environment, { AWS_REGION: region, AWS_LAMBDA_FUNCTION_NAME: logicalId });
  const started = Date.now();
  const module = require(bundle) as Record<string, unknown>;
  const handler = module[exported];
  if (typeof handler !== 'function') throw new UsageError(`${bundle} exports no function ${exported}`);
  const result: unknown = await handler(
    event,
    lambdaContext(fn.logicalId, region, fn.timeoutSeconds, fn.memoryMb, started),
  );
  print(result);
  return EXIT.ok;
};

const lambdaContext = (
  name: string,
  region: string,
  timeout: number,
  memory: number,
  started: number,
): Context => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: name,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${region}:123456789012:function:${name}`,
  memoryLimitInMB: String(memory),
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${name}`,
  logStreamName: 'local',
  getRemainingTimeInMillis: () => Math.max(0, started + timeout * 1000 - Date.now()),
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

const usage = (): string =>
  `usage: deployer <command> [arguments]   (deployer <command> --help for more)

commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

environment:
  AWS_REGION            region of the stages (required)
  DEPLOYER_CONFIG_FILE  configuration file (default: ./deployer.config.yaml)
  AWS_ENDPOINT_URL      talk to an emulator instead of AWS
  LOG_LEVEL             the handlers' log level (default WARN for commands, INFO for invoke)
`;

/** Run the CLI; returns the exit code. */
export const run = async (argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`deployer: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  if (name !== 'invoke') logger.setLogLevel((env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN');
  try {
    return await command.run(args, env);
  } catch (error) {
    const usageProblem =
      error instanceof UsageError ||
      error instanceof TemplateError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`deployer: ${errorMessage(error)}\n`);
    return usageProblem ? EXIT.usage : EXIT.failed;
  }
};

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
