/**
 * The deployer's few error types. Each sets `name` and keeps the original error as `cause`.
 *
 * Two families matter to callers:
 * - `PermanentError`s describe input that will never succeed (a bad event, a missing artifact, an invalid
 *   configuration). Handlers report them once and return, so the platform does not retry them.
 * - Everything else (SDK faults after the SDK's own retries) is thrown, so Lambda retries the event; every
 *   step is idempotent, so a retry converges.
 */
export class DeployerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeployerError';
  }
}

/** Input that cannot succeed however often it is retried. */
export class PermanentError extends DeployerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** The configuration file or the environment is invalid. Thrown at load (cold start). */
export class ConfigError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** An event that does not have the shape AWS sends, or that comes from somewhere we do not serve. */
export class EventValidationError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventValidationError';
  }
}

/** The build artifact of an execution cannot be found, or the object found belongs to another execution. */
export class ArtifactError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ArtifactError';
  }
}

/**
 * A release object does not hold the bytes the deployer recorded for it (anyone who can write the bucket can
 * replace an object), or is gone. Nothing is deployed from it.
 */
export class ReleaseIntegrityError extends PermanentError {
  readonly location: string;
  readonly recorded: string;
  readonly found: string;
  constructor(location: string, recorded: string, found: string) {
    super(
      found === 'missing'
        ? `release object ${location} is missing: it cannot be verified against its recorded SHA-256 ${recorded}`
        : `release object ${location} does not match its recorded SHA-256: recorded ${recorded}, found ${found}`,
    );
    this.name = 'ReleaseIntegrityError';
    this.location = location;
    this.recorded = recorded;
    this.found = found;
  }
}

/** A person's move that the deployer refuses: nothing was changed, and the message says why (CLI exit 4). */
export class RefusedError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefusedError';
  }
}

export const isPermanent = (error: unknown): error is PermanentError => error instanceof PermanentError;

/** The `name` of an SDK exception (ServiceException sets it to the AWS error code), or undefined. */
export const errorName = (error: unknown): string | undefined =>
  error instanceof Error ? error.name : undefined;

/** S3's ways of saying an object (or the version asked for) is not there. */
export const isMissingObject = (error: unknown): boolean =>
  ['NotFound', 'NoSuchKey', 'NoSuchVersion'].includes(errorName(error) ?? '');

export const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
