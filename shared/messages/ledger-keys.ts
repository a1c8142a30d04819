/**
 * The notification ledger's keys: one builder per kind of message, each the kind and the SHA-256 of what the
 * message is about, so no text from outside reaches the table and every id has the same bounded length.
 */
import { createHash } from 'node:crypto';
import { EventValidationError } from '../errors';

/** What an item of the table is about: the prefix of its id. */
export type LedgerKind =
  | 'notify'
  | 'settle'
  | 'deploy'
  | 'digest'
  | 'storm-call'
  | 'storm-window'
  | 'storm-index'
  | 'storm-stack'
  | 'locked'
  | 'rollout';

/**
 * The id of an item: its kind and the SHA-256 of what it is about, so that no text from outside reaches the
 * table and every id has the same bounded length.
 */
export const ledgerItemId = (kind: LedgerKind, ...parts: (string | number)[]): string =>
  `${kind}#${createHash('sha256').update(JSON.stringify(parts)).digest('hex')}`;

/** The keys of the messages, one builder per kind of message. */
export const ledgerKeys = {
  /** A stack status change or an API call, by its EventBridge event id. */
  stackEvent: (eventId: string) => ledgerItemId('notify', eventId),
  /** What a reconcile trigger (a stack that settled, a schedule run) found to say about one stage. */
  settled: (eventId: string, stage: string, outcome: string, desiredVersion: number | undefined) =>
    ledgerItemId('settle', eventId, stage, outcome, desiredVersion ?? '-'),
  /** A deploy outcome of one pipeline execution in one stage. */
  deployOutcome: (stage: string, executionId: string, outcome: string) =>
    ledgerItemId('deploy', stage, executionId, outcome),
  /** An uploaded build refused for its identity in one stage, by the object (its version, else its ETag). */
  refusedUpload: (stage: string, bucket: string, key: string, version: string) =>
    ledgerItemId('deploy', stage, 'refused-upload', bucket, key, version),
  /** A release held back by a freeze, once per stage and desired version (redeliveries, schedules: quiet). */
  frozen: (stage: string, desiredVersion: number) => ledgerItemId('settle', 'frozen', stage, desiredVersion),
  /** A stage whose lock did not come free, by the lease that held it. */
  locked: (stage: string, since: string) => ledgerItemId('locked', stage, since),
  /** The automatic rollback of one desired version of a stage (by whichever alarm event or schedule run). */
  autoRollback: (stage: string, version: number) => ledgerItemId('deploy', stage, 'auto-rollback', version),
  /** A state of one CodeDeploy deployment (a canary rollout) of one stage, in its account and region. */
  rollout: (account: string, region: string, deploymentId: string, state: string) =>
    ledgerItemId('rollout', account, region, deploymentId, state),
  /** The digest of the API calls folded on one stack in one window. */
  digest: (stack: string, windowStart: number) => ledgerItemId('digest', stack, windowStart),
};

/**
 * The key of a message's chat form: sent once like the email, under a key of its own, so that a chat publish
 * that failed is retried without sending the email again.
 */
export const chatKeyOf = (key: string): string => `${key}#chat`;

/** The EventBridge id of an event that passed validation (its envelope has one). */
export const eventIdOf = (raw: unknown): string => {
  const id = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).id : undefined;
  if (typeof id !== 'string' || id === '') throw new EventValidationError('the event has no id');
  return id;
};
