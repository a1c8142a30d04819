/**
 * Writes that must land once, even when AWS's answer is lost.
 *
 * The SDK's retry strategy repeats a failed call. For a read that is harmless; for a write it is not when the
 * failure came *after* AWS acted (a 500, a reset connection, a timeout): the repeat writes a second SSM
 * version, finds its own lock lease "taken", or executes twice. So a guarded write lets the SDK retry only the
 * failures that prove nothing happened (throttling, 503, a refused connection), and turns the others into an
 * `AmbiguousWriteError`. `writeOnce` then reads back whether the write landed — every write carries a token of
 * its own that the read-back recognises — and writes again only when it did not.
 */
import { DeployerError, errorName } from '../errors';

/** The write may or may not have landed: only reading the state back can tell. */
export class AmbiguousWriteError extends DeployerError {
  /**
   * The failure is kept as `failure`, not as `cause`: the SDK's retry classifier follows `cause` and would
   * retry the write after all.
   */
  readonly failure: unknown;
  constructor(failure: unknown) {
    super(`the write may have landed: ${failure instanceof Error ? failure.message : String(failure)}`);
    this.name = 'AmbiguousWriteError';
    this.failure = failure;
  }
}

/** Connection failures that happen after the request may have been sent. */
const LOST_IN_FLIGHT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED']);
/** Error names that say the service failed while handling the request. */
const SERVICE_FAILED = new Set(['InternalError', 'InternalFailure', 'InternalServerError', 'ServiceFailure']);

/**
 * Whether a failed write may have landed. A throttle, a 4xx refusal and a 503 (AWS's "not processed") did
 * not; a 5xx other than 503, a connection lost mid-request or a timeout may have.
 */
export const mayHaveLanded = (error: unknown): boolean => {
  // By shape, not `instanceof Error`: Node's own socket errors may come from another realm (a test runner's).
  if (typeof error !== 'object' || error === null) return false;
  const { $metadata, code, name, message } = error as {
    $metadata?: { httpStatusCode?: number };
    code?: string;
    name?: string;
    message?: string;
  };
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return status !== 503;
  if (name && SERVICE_FAILED.has(name)) return true;
  if (code && LOST_IN_FLIGHT.has(code)) return true;
  return ['TimeoutError', 'RequestTimeout'].includes(name ?? '') || /socket hang up/i.test(message ?? '');
};

type Next = (args: unknown) => Promise<unknown>;
interface GuardableCommand {
  middlewareStack: {
    addRelativeTo(
      middleware: (next: Next) => Next,
      options: { name: string; relation: 'after'; toMiddleware: string },
    ): void;
  };
}

/**
 * Mark a command as a write that must not be repeated blindly. Sits inside the SDK's retry loop, so each
 * attempt's failure is classified before the retry strategy sees it.
 */
export const guardWrite = <C>(command: C): C => {
  (command as unknown as GuardableCommand).middlewareStack.addRelativeTo(
    (next: Next) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (error) {
        throw mayHaveLanded(error) ? new AmbiguousWriteError(error) : error;
      }
    },
    { name: 'deployerSingleWrite', relation: 'after', toMiddleware: 'retryMiddleware' },
  );
  return command;
};

export const isAmbiguous = (error: unknown): error is AmbiguousWriteError =>
  errorName(error) === 'AmbiguousWriteError';

/**
 * When to read back after a lost answer. A connection reset can reach the caller before the request it cut
 * off has landed, so a first "not there" is looked at again a little later before the write is repeated.
 */
const READ_BACK_AFTER_MS = [250, 1_000];

const readBack = async <T>(landed: () => Promise<T | undefined>): Promise<T | undefined> => {
  for (const pause of READ_BACK_AFTER_MS) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    const found = await landed();
    if (found !== undefined) return found;
  }
  return undefined;
};

/** Rounds of write → lost answer → read back before giving up (the invocation is then retried). */
const ROUNDS = 4;

/**
 * Make a guarded write land once: when its answer is lost, `landed` reads the state back and returns the
 * write's result if it is there (recognised by a token of the write's own), or undefined to write again.
 */
export const writeOnce = async <T>(
  what: string,
  write: () => Promise<T>,
  landed: () => Promise<T | undefined>,
): Promise<T> => {
  let last: unknown;
  for (let round = 0; round < ROUNDS; round++) {
    try {
      return await write();
    } catch (error) {
      if (!isAmbiguous(error)) throw error;
      last = error;
    }
    const found = await readBack(landed);
    if (found !== undefined) return found;
  }
  throw new DeployerError(`${what}: the answer was lost ${ROUNDS} times and the write did not land`, {
    cause: last,
  });
};
