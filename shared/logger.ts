/**
 * One structured JSON logger for the whole deployer (Powertools for AWS Lambda). Errors are passed whole so
 * their `cause` is written out. LOG_LEVEL (DEBUG, INFO, WARN, ERROR, SILENT) sets the level; the service name
 * is fixed here. Error stacks name the TypeScript sources (shared/source-maps.ts), read only when an error is
 * logged.
 *
 * Correlation keys are put on every line here, never by hand at each call:
 * - `eventId`, the EventBridge envelope's id, for the whole invocation: `logInvocation` in each handler
 *   (Powertools `appendKeys`, with `resetKeys` before and after, so no key outlives its invocation);
 * - `stage`, for the work on one stage: `withLogKeys({ stage }, …)`. Stages are worked on concurrently
 *   inside one invocation, where an `appendKeys` of one stage would label the lines of another; these keys
 *   live in the async context of the work instead.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import type { Context } from 'aws-lambda';
import { publishMetrics } from './metrics';
import { mapErrorStacks } from './source-maps';

type LogKeys = Record<string, string | number | boolean | undefined>;

const scoped = new AsyncLocalStorage<LogKeys>();

/** The Powertools logger, with the keys of the work it logs from put first on each line. */
class DeployerLogger extends Logger {
  protected override processLogItem(
    level: number,
    input: LogItemMessage,
    extraInput: LogItemExtraInput,
  ): void {
    for (const item of extraInput) stacksOf(item);
    const keys = scoped.getStore();
    // Powertools merges each extra item into the line, in order: the call's own attributes come last and win.
    super.processLogItem(level, input, keys ? ([keys, ...extraInput] as LogItemExtraInput) : extraInput);
  }
}

/** Errors logged (as an item, or as an attribute of one) get stacks that name our source files. */
const stacksOf = (item: unknown): void => {
  if (item instanceof Error) mapErrorStacks(item);
  else if (typeof item === 'object' && item !== null)
    for (const value of Object.values(item)) if (value instanceof Error) mapErrorStacks(value);
};

export const logger: Logger = new DeployerLogger({ serviceName: 'deployer' });
export type { Logger };

/** Run `work` with `keys` on every line it logs (nested calls add to the keys around them). */
export const withLogKeys = <T>(keys: LogKeys, work: () => Promise<T>): Promise<T> =>
  scoped.run({ ...scoped.getStore(), ...keys }, work);

/** The envelope's id of an event not yet validated: only a plain string id, shortened. */
const eventIdOf = (event: unknown): string | undefined => {
  const id = typeof event === 'object' && event !== null ? (event as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id.slice(0, 128) : undefined;
};

/**
 * One handler invocation: the Lambda context and the event's id on every line of it, and none of either
 * left for the next invocation, whether this one returns or throws. The metrics it recorded are written at
 * its end (shared/metrics.ts), whether it returns or throws.
 */
export const logInvocation = async <T>(
  event: unknown,
  context: Context | undefined,
  work: () => Promise<T>,
): Promise<T> => {
  logger.resetKeys();
  if (context) logger.addContext(context);
  logger.appendKeys({ eventId: eventIdOf(event) });
  try {
    return await work();
  } finally {
    publishMetrics();
    logger.resetKeys();
  }
};
