/**
 * What a CloudFormation stack status means to the deployer: every rule about stack statuses, here once, as
 * plain answers (no AWS calls, no words). The adapters, the stage transaction, the operations, the triggers
 * and the messages all ask here; the messages put the answers into words.
 */

/** Stable stacks can be updated; busy ones end in an event; the rest wait for a person. */
export type StackCondition = 'stable' | 'busy' | 'needs-person';

const STABLE = new Set([
  'CREATE_COMPLETE',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'IMPORT_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
]);

/** Stack statuses that open an operation: a walk back through a stack's events stops there. */
const OPERATION_STARTS = new Set([
  'CREATE_IN_PROGRESS',
  'UPDATE_IN_PROGRESS',
  'DELETE_IN_PROGRESS',
  'IMPORT_IN_PROGRESS',
]);

/**
 * An operation runs (every *_IN_PROGRESS, REVIEW_IN_PROGRESS and UPDATE_COMPLETE_CLEANUP_IN_PROGRESS
 * included): the stack will end it in a status event of its own.
 */
export const isBusyStatus = (status: string): boolean => status.endsWith('_IN_PROGRESS');

/** Final statuses: an operation ended. */
export const isFinalStatus = (status: string): boolean => !isBusyStatus(status);

/** Outcomes that mean an operation failed: the messages then look for the root cause. */
export const isFailureStatus = (status: string): boolean =>
  status.endsWith('_FAILED') || status.endsWith('ROLLBACK_COMPLETE');

/**
 * Stable stacks can be updated; busy ones will end in an event that reconciles again; the rest
 * (ROLLBACK_COMPLETE, *_FAILED, …) cannot be updated until a person acts.
 */
export const classifyStatus = (status: string): StackCondition => {
  if (STABLE.has(status)) return 'stable';
  if (isBusyStatus(status)) return 'busy';
  return 'needs-person';
};

/**
 * REVIEW_IN_PROGRESS: the stack exists only as the target of CREATE change sets. Nothing ends that state by
 * itself, and the stack was never created: it is created like a missing one.
 */
export const awaitsCreation = (status: string | undefined): boolean => status === 'REVIEW_IN_PROGRESS';

/** ROLLBACK_COMPLETE: the stack's creation failed; it cannot be updated, only deleted (and created again). */
export const isFailedCreation = (status: string): boolean => status === 'ROLLBACK_COMPLETE';

/** DELETE_COMPLETE: the stack is gone and runs nothing (DescribeStacks by its id still answers). */
export const isDeletedStatus = (status: string | undefined): boolean => status === 'DELETE_COMPLETE';

/** A deploy that completed: the release it deployed may be handed on (auto-promotion). */
export const isSuccessfulDeploy = (status: string): boolean =>
  status === 'UPDATE_COMPLETE' || status === 'CREATE_COMPLETE';

/** The stack's own status that opens an operation (its first event). */
export const isOperationStart = (status: string): boolean => OPERATION_STARTS.has(status);
