/**
 * The operating commands, in one bundle of their own (dist/bin/cli/commands/index.js): bin/deployer.ts
 * loads it only when one of them runs, so `deployer invoke` never parses them or the SDK clients they use.
 */
import { logger } from '../../../shared/logger';

export { history, status } from './inspect';
export { metrics } from './metrics';
export { approve, promote, reconcile, reject, rollback } from './moves';

/** The commands log through the deployer's logger: WARN unless LOG_LEVEL says otherwise. */
export const setLogLevel = (env: NodeJS.ProcessEnv): void => {
  logger.setLogLevel((env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN');
};
