/**
 * What every command shares: the exit codes, the command's shape, and reading its arguments and the person
 * who runs it. A mistake in how a command was called is a UsageError: exit code 2, nothing was touched.
 */
import { userInfo } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** The exit codes of the README's "Operating a stage". */
export const EXIT = { ok: 0, failed: 1, usage: 2, needsPerson: 3, refused: 4 } as const;

/**
 * The command was called wrong, or what it needs around it is missing or invalid: an unknown command or
 * stage, a bad argument, an unset variable, an unreadable or invalid file. Exit code 2.
 */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

export interface Command {
  summary: string;
  usage: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/**
 * A command's positionals and options (strict: an unknown option is a usage error). Every command but invoke
 * takes --json: its result as JSON, for scripts, instead of text for a person.
 */
export const commandArgs = <O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) =>
  parseArgs({ args, allowPositionals: true as const, strict: true as const, options });

export const JSON_OPTION = { json: { type: 'boolean' } } as const;

/** Exactly `count` positionals, or a usage error that says what the command takes. */
export const exactly = (positionals: string[], count: number, takes: string): string[] => {
  if (positionals.length !== count) throw new UsageError(takes);
  return positionals;
};

export const regionOf = (env: NodeJS.ProcessEnv): string => {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('AWS_REGION is not set');
  return region;
};

/** Who runs the command, for the history and the ops message. */
export const whoami = (env: NodeJS.ProcessEnv): string => {
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
