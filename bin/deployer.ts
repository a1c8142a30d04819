/**
 * The deployer's command line. Talks to AWS with the usual credential chain, or to the endpoint in
 * AWS_ENDPOINT_URL. The configuration is ./deployer.config.yaml, or the file in DEPLOYER_CONFIG_FILE.
 *
 *   node dist/bin/deployer.js reconcile <stage>    move the stage's stack to its desired release
 */
import { resolve } from 'node:path';
import { createClients } from '../shared/clients';
import { allStages, loadConfigFile } from '../shared/config';
import { errorMessage } from '../shared/errors';
import { logger } from '../shared/logger';
import { reconcile } from '../shared/reconcile';

const USAGE = `usage: deployer <command> [arguments]

commands:
  reconcile <stage>   compare the stage's desired release (SSM) with its stack, and deploy the
                      difference through a change set (or leave it for approval)

environment:
  AWS_REGION            region of the stages (required)
  DEPLOYER_CONFIG_FILE  configuration file (default: ./deployer.config.yaml)
  AWS_ENDPOINT_URL      talk to an emulator instead of AWS
`;

/** Exit codes scripts can rely on. */
const EXIT = { ok: 0, failed: 1, usage: 2, needsPerson: 3 } as const;

const fail = (message: string, code: number): number => {
  process.stderr.write(`deployer: ${message}\n`);
  return code;
};

export const run = async (argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || args.includes('--help')) {
    process.stdout.write(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  if (command !== 'reconcile')
    return fail(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`, EXIT.usage);
  const [stageName, ...extra] = args;
  if (!stageName || extra.length > 0)
    return fail(`reconcile takes exactly one stage name\n\n${USAGE}`, EXIT.usage);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) return fail('AWS_REGION is not set', EXIT.usage);
  const config = loadConfigFile(resolve(env.DEPLOYER_CONFIG_FILE ?? 'deployer.config.yaml'));
  if (!allStages(config).some((s) => s.name === stageName)) {
    const known = allStages(config)
      .map((s) => s.name)
      .join(', ');
    return fail(`no stage named ${JSON.stringify(stageName)} (configured: ${known})`, EXIT.usage);
  }
  logger.setLogLevel((env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN');
  const runtime = {
    settings: { region, accountId: env.DEPLOYER_ACCOUNT_ID ?? '', topicArn: env.DEPLOYER_TOPIC_ARN ?? '' },
    config,
    clients: createClients(region, env),
  };
  const result = await reconcile(runtime, stageName);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;
};

if (require.main === module) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = fail(errorMessage(error), EXIT.failed);
    },
  );
}
