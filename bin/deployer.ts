#!/usr/bin/env node
/**
 * The deployer's command line. Talks to AWS with the usual credential chain, or to the endpoint in
 * AWS_ENDPOINT_URL. Exit codes: 0 done, 1 failed, 2 usage error, 3 the stage needs a person, 4 refused
 * (nothing was changed: the message says why).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Context } from 'aws-lambda';
import { createClients } from '../shared/clients';
import { allStages, loadConfigFile } from '../shared/config';
import { errorMessage } from '../shared/errors';
import { logger } from '../shared/logger';
import {
  approve,
  promote,
  RefusedError,
  reject,
  rollback,
  stageOrRefuse,
  stageStatus,
} from '../shared/operate';
import { reconcile } from '../shared/reconcile';
import { readHistory } from '../shared/release-history';
import { withStageLock } from '../shared/stage-lock';
import { cleanText, shown } from '../shared/untrusted';
import { functionDefinition, readTemplate, TemplateError } from './support/sam-template';

export const EXIT = { ok: 0, failed: 1, usage: 2, needsPerson: 3, refused: 4 } as const;

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

/** The one stage name a command takes. */
const oneStage = (args: string[], command: string): string => {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true });
  const [stageName, ...extra] = positionals;
  if (!stageName || extra.length > 0) throw new UsageError(`${command} takes exactly one stage name`);
  return stageName;
};

/** The runtime for commands; those that change a stage tell the ops team and need the topic. */
const cliRuntime = (env: NodeJS.ProcessEnv, needsTopic: boolean) => {
  const region = regionOf(env);
  const topicArn = env.DEPLOYER_TOPIC_ARN ?? '';
  if (needsTopic && !/^arn:aws[a-z-]*:sns:/.test(topicArn)) {
    throw new UsageError(
      'DEPLOYER_TOPIC_ARN is not set: this command tells the ops team what it did (the OpsTopicArn output of the deployer stack)',
    );
  }
  return {
    settings: {
      region,
      accountId: env.DEPLOYER_ACCOUNT_ID ?? '',
      topicArn,
      // The notification ledger of the deployed stack (its LedgerTableName output); no command needs it yet.
      ledgerTable: env.DEPLOYER_LEDGER_TABLE ?? '',
    },
    config: configOf(env),
    clients: createClients(region, env),
  };
};

/** Who runs the command, for the history and the ops message. */
const whoami = (env: NodeJS.ProcessEnv): string => {
  const name =
    env.DEPLOYER_USER ??
    env.USER ??
    (() => {
      try {
        return userInfo().username;
      } catch {
        return 'unknown';
      }
    })();
  return name.replace(/[^\w.@-]/g, '?').slice(0, 64) || 'unknown';
};

// Keys, commits, names and times below come from SSM and the stacks, which anyone with access can write:
// each is shown as data (untrusted.ts), so that none can break a table row or repaint the terminal.

const short = (key: string | undefined): string => {
  if (!key) return '-';
  const digest = /([0-9a-f]{64})/.exec(key)?.[1];
  return digest ? `${shown(`${key.slice(0, key.indexOf(digest))}${digest.slice(0, 12)}`)}…` : shown(key);
};

/** The short form of a commit from the history. */
const shortCommit = (commit: string | undefined): string | undefined =>
  commit === undefined ? undefined : shown(commit.slice(0, 7));

/** "v12 1a2b3c4 releases/app/3f9a…", leaving out what is not known. */
const releaseCell = (version: number | undefined, commit: string | undefined, key: string): string =>
  [version === undefined ? '' : `v${version}`, shortCommit(commit) ?? '', short(key)]
    .filter(Boolean)
    .join(' ');

const table = (header: string[], rows: string[][]): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
};

/**
 * JSON escapes C0 controls but writes DEL, C1 controls (8-bit ESC sequences), bidi and other format
 * characters and line separators as they are: escape those too, so that --json output is the same data and
 * cannot repaint a terminal either.
 */
const terminalSafeJson = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(
    /[\u007f-\u009f\u2028\u2029\p{Cf}]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

const print = (value: unknown): void => {
  process.stdout.write(`${typeof value === 'string' ? value : terminalSafeJson(value)}\n`);
};

const commands: Record<string, Command> = {
  reconcile: {
    summary: "move a stage's stack to its desired release",
    usage: `usage: deployer reconcile <stage>

Compares the stage's desired release (its SSM parameter) with what its stack runs, and deploys the
difference through a change set (or leaves it for approval). Prints the outcome as JSON.
Exit code 3 when the stack needs a person.`,
    async run(args, env) {
      const stageName = oneStage(args, 'reconcile');
      const runtime = cliRuntime(env, false);
      const stage = stageOrRefuse(runtime, stageName);
      const result = await withStageLock(runtime.clients.s3, stage, 'deployer reconcile (cli)', (lease) =>
        reconcile(runtime, stageName, { lease }),
      );
      print(result);
      if (result.outcome === 'tampered') return EXIT.refused;
      return result.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;
    },
  },

  status: {
    summary: 'what each stage should run, what it runs, and what waits',
    usage: `usage: deployer status [stage] [--json]

For each stage (or one): the desired release (SSM) and the live one (the stack's parameter), each with
its commit, when and by which execution; the stack's status; a pending change set; whether it is in sync;
who holds the stage's lock, since and until when.
Exit code 0 when every stage shown is in sync, 3 when one is not (or its stack needs a person).`,
    async run(args, env) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { json: { type: 'boolean' } },
      });
      if (positionals.length > 1) throw new UsageError('status takes at most one stage name');
      const runtime = cliRuntime(env, false);
      const stages = positionals[0] ? [stageOrRefuse(runtime, positionals[0])] : allStages(runtime.config);
      const statuses = await Promise.all(stages.map((stage) => stageStatus(runtime, stage)));
      if (values.json) print(statuses);
      else {
        print(
          table(
            ['STAGE', 'STACK', 'STATUS', 'DESIRED', 'LIVE', 'IN SYNC', 'PENDING'],
            statuses.map((s) => [
              s.stage,
              s.stack,
              shown(s.stackStatus),
              s.desired ? releaseCell(s.desired.version, s.desired.provenance.commit, s.desired.key) : '-',
              s.live
                ? releaseCell(s.live.release?.version, s.live.release?.provenance.commit, s.live.key)
                : '-',
              s.inSync ? 'yes' : 'NO',
              s.pendingChangeSet ? shown(s.pendingChangeSet.name) : '-',
            ]),
          ),
        );
        for (const s of statuses) {
          const when = s.desired?.provenance.startedAt ?? s.desired?.modifiedAt;
          const by = s.desired?.provenance.execution
            ? `execution ${shown(s.desired.provenance.execution)}`
            : s.desired?.provenance.action
              ? `${shown(s.desired.provenance.action)} by ${shown(String(s.desired.provenance.by))}`
              : 'a person';
          if (s.desired)
            print(
              `${s.stage}: desired since ${when ? shown(when) : '?'} (${by}); ${shown(s.desired.key, 1024)}`,
            );
          // The holder is cleaned text from the lock object (readStageLock): quoted, it stays data.
          const { lock } = s;
          const ended = lock?.expired ? ', expired: the next writer takes it over' : '';
          if (lock)
            print(
              `${s.stage}: locked by ${JSON.stringify(lock.holder)} since ${lock.since} until ${lock.until}${ended} (${lock.location})`,
            );
        }
      }
      return statuses.every((s) => s.inSync) ? EXIT.ok : EXIT.needsPerson;
    },
  },

  history: {
    summary: "a stage's releases, newest first, with labels and failures",
    usage: `usage: deployer history <stage> [--json]

Every version of the stage's SSM parameter (all pages), newest first: the release key, the commit, who
recorded it (pipeline execution, rollback, promotion, rejection) and when, its labels, and whether its
deploy failed or was rejected.`,
    async run(args, env) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { json: { type: 'boolean' } },
      });
      const [stageName, ...extra] = positionals;
      if (!stageName || extra.length > 0) throw new UsageError('history takes exactly one stage name');
      const runtime = cliRuntime(env, false);
      const history = (await readHistory(runtime.clients.ssm, stageOrRefuse(runtime, stageName))).reverse();
      if (values.json) print(history);
      else {
        print(
          table(
            ['VERSION', 'WHEN', 'COMMIT', 'BY', 'RELEASE', 'STATE', 'LABELS'],
            history.map((v) => [
              String(v.version),
              shown((v.provenance.startedAt ?? v.modifiedAt ?? '-').replace(/\.\d+Z$/, 'Z')),
              shortCommit(v.provenance.commit) ?? '-',
              v.provenance.execution
                ? `execution ${shown(v.provenance.execution.slice(0, 8))}`
                : v.provenance.action
                  ? `${shown(v.provenance.action)} by ${shown(String(v.provenance.by))}`
                  : 'by hand',
              short(v.key),
              v.failed ? 'FAILED' : v.labels.some((l) => l.startsWith('rejected-')) ? 'rejected' : '',
              v.labels.map((label) => shown(label)).join(' '),
            ]),
          ),
        );
      }
      return EXIT.ok;
    },
  },

  rollback: {
    summary: 'make an earlier release desired again, and deploy it',
    usage: `usage: deployer rollback <stage> [--to previous|<commit>|<ssm-version>]

Makes an earlier release of the stage desired again (a new version in its history, naming you) and deploys
it through a change set, like any deploy; the ops team is told. --to previous (the default) is the newest
earlier release that differs from the current one and did not fail. Refuses, changing nothing, when that
release's object is gone from S3. Needs DEPLOYER_TOPIC_ARN.`,
    async run(args, env) {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: { to: { type: 'string' } },
      });
      const [stageName, ...extra] = positionals;
      if (!stageName || extra.length > 0) throw new UsageError('rollback takes exactly one stage name');
      const result = await rollback(cliRuntime(env, true), stageName, values.to ?? 'previous', whoami(env));
      print(result);
      if (result.reconcile.outcome === 'tampered') return EXIT.refused;
      return result.reconcile.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;
    },
  },

  approve: {
    summary: 'execute the pending change set of an approval stage',
    usage: `usage: deployer approve <stage>

Executes the stage's pending change set — only if it is the one for the current desired release and the
stack has not changed since it was made. Needs DEPLOYER_TOPIC_ARN.`,
    async run(args, env) {
      print(await approve(cliRuntime(env, true), oneStage(args, 'approve'), whoami(env)));
      return EXIT.ok;
    },
  },

  reject: {
    summary: 'delete the pending change set of an approval stage, keeping what runs',
    usage: `usage: deployer reject <stage>

Deletes the stage's pending change set (only the one for the current desired release) and makes the
release the stack runs now desired again, so the rejected release is not proposed again. Needs
DEPLOYER_TOPIC_ARN.`,
    async run(args, env) {
      print(await reject(cliRuntime(env, true), oneStage(args, 'reject'), whoami(env)));
      return EXIT.ok;
    },
  },

  promote: {
    summary: 'make the release running in one stage desired in another',
    usage: `usage: deployer promote <from-stage> <to-stage>

Build once, deploy many: the release the first stage's stack runs becomes the second stage's desired
release, and is deployed there (or waits for approval). Needs DEPLOYER_TOPIC_ARN. A stage can also do this
on its own: promoteTo in deployer.config.yaml.`,
    async run(args, env) {
      const { positionals } = parseArgs({ args, allowPositionals: true, strict: true });
      const [from, to, ...extra] = positionals;
      if (!from || !to || extra.length > 0)
        throw new UsageError('promote takes a source stage and a target stage');
      const result = await promote(cliRuntime(env, true), from, to, whoami(env));
      print(result);
      if (result.reconcile.outcome === 'tampered') return EXIT.refused;
      return result.reconcile.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;
    },
  },

  invoke: {
    summary: 'run a function of template.yaml in-process on an event, like sam local invoke without Docker',
    usage: `usage: deployer invoke <FunctionLogicalId> -e <event.json> [--env-vars <env.json>] [--template <template.yaml>]

Reads the function's handler and environment from the template (Globals merged with the function's own,
overridden by the env-vars file in SAM's format: {"Parameters": {...}, "<FunctionLogicalId>": {...}}),
loads its bundle from dist/handlers (npm run build), runs it on the event and prints its logs and result.
AWS calls go to AWS, or to AWS_ENDPOINT_URL. Variables the template sets from deployed resources (the
topic ARN, the ledger table) must come from --env-vars.`,
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
  DEPLOYER_TOPIC_ARN    the ops topic (the deployer stack's OpsTopicArn output): rollback, approve,
                        reject and promote tell the ops team what they did
  DEPLOYER_USER         who you are, for the history and the messages (default: $USER)
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
    if (error instanceof RefusedError) {
      process.stderr.write(`deployer: refused: ${cleanText(error.message, 4000)}\n`);
      return EXIT.refused;
    }
    const usageProblem =
      error instanceof UsageError ||
      error instanceof TemplateError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // Error messages may carry AWS's or the history's text: one clean line.
    process.stderr.write(`deployer: ${cleanText(errorMessage(error), 4000)}\n`);
    return usageProblem ? EXIT.usage : EXIT.failed;
  }
};

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
