/**
 * Operating a stage, for a person at 3 a.m.: what runs where (status), how it delivered (metrics) and the
 * moves that change it — roll back, approve or reject a pending change set, promote a release. The command
 * line's one door into them.
 */

export { RefusedError } from '../errors';
export type { MoveResult } from '../stage/moves';
export { approve, reject } from './approval';
export { breakGlass, reasonProblem } from './break-glass';
export {
  type MetricsWindow,
  parseSince,
  type StageMetrics,
  stageMetrics,
  windowEndingAt,
} from './metrics';
export { promote } from './promote';
export { stageOrRefuse } from './refusals';
export { findRollbackTarget, rollback } from './rollback';
export { type StageStatus, stageStatus } from './status';
