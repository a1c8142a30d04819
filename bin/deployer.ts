#!/usr/bin/env node
/**
 * The deployer's command line: `npx deployer <command>`. Talks to AWS with the usual credential chain, or to
 * the endpoint in AWS_ENDPOINT_URL. The commands live in bin/cli/ (commands/ for the operating commands,
 * invoke.ts for the local Lambda run); this file picks one and turns its end into the exit code:
 * 0 done, 1 failed, 2 usage, configuration or environment error, 3 the stage needs a person, 4 refused
 * (nothing was changed: the message says why).
 */
import { cleanText } from '../shared/edge/untrusted';
import { errorMessage, errorName } from '../shared/errors';
import { type Command, EXIT } from './cli/args';

export { EXIT, UsageError } from './cli/args';

/**
 * Each command's module is loaded when it runs, and only then: `invoke` loads no SDK client of its own (the
 * handler's bundle loads the ones it uses), and `status` loads nothing of `invoke`.
 */
const operating = () => import('./cli/commands/index');
const commands: Record<string, () => Promise<Command>> = {
  reconcile: async () => (await operating()).reconcile,
  status: async () => (await operating()).status,
  history: async () => (await operating()).history,
  metrics: async () => (await operating()).metrics,
  rollback: async () => (await operating()).rollback,
  approve: async () => (await operating()).approve,
  reject: async () => (await operating()).reject,
  promote: async () => (await operating()).promote,
  invoke: async () => (await import('./cli/invoke')).invoke,
};

const usage = async (): Promise<string> =>
  `usage: deployer <command> [arguments]   (deployer <command> --help for more)

commands:
${(
  await Promise.all(
    Object.entries(commands).map(async ([name, load]) => `  ${name.padEnd(10)} ${(await load()).summary}`),
  )
).join('\n')}

environment:
  AWS_REGION            region of the stages (required)
  DEPLOYER_CONFIG_FILE  configuration file (default: ./deployer.config.yaml)
  AWS_ENDPOINT_URL      talk to an emulator instead of AWS
  DEPLOYER_TOPIC_ARN    the ops topic (the deployer stack's OpsTopicArn output): rollback, approve,
                        reject and promote tell the ops team what they did
  DEPLOYER_CHAT_TOPIC_ARN  the chat topic (the ChatTopicArn output), when chat notifications are on:
                        those messages go to Slack or Teams too (Amazon Q Developer)
  DEPLOYER_USER         who you are, for the history and the messages (default: $USER)
  DEPLOYER_ACCOUNT_ID   invoke: the account the events come from (12 digits)
  LOG_LEVEL             the handlers' log level (default WARN for commands, INFO for invoke)

exit codes: 0 done, 1 failed, 2 usage, configuration or environment error, 3 a stage needs a person,
4 refused (nothing was changed)
`;

/**
 * Mistakes in how the command was run, and a configuration, template or environment it cannot use: exit 2.
 * The SDK's "no credentials" is one too: nothing was tried.
 */
const isUsageProblem = (error: unknown): boolean =>
  ['UsageError', 'TemplateError', 'ConfigError'].includes(errorName(error) ?? '') ||
  errorName(error) === 'CredentialsProviderError' ||
  Boolean((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));

/** Run the CLI; returns the exit code. */
export const run = async (argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> => {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`deployer: unknown command ${JSON.stringify(name)}\n\n${await usage()}`);
    return EXIT.usage;
  }
  const command = await load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  // The commands log through the deployer's logger, at WARN unless asked; `invoke` leaves the logger to the
  // handler's own bundle (and loads none here).
  if (name !== 'invoke') (await operating()).setLogLevel(env);
  try {
    return await command.run(args, env);
  } catch (error) {
    // Error messages may carry AWS's or the history's text: one clean line.
    const message = cleanText(errorMessage(error), 4000);
    if (errorName(error) === 'RefusedError') {
      process.stderr.write(`deployer: refused: ${message}\n`);
      return EXIT.refused;
    }
    process.stderr.write(`deployer: ${message}\n`);
    return isUsageProblem(error) ? EXIT.usage : EXIT.failed;
  }
};

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
