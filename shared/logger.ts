/**
 * One structured JSON logger for the whole deployer (Powertools for AWS Lambda). Per-event keys are added
 * with `logger.appendKeys` by the handlers; errors are passed whole so their `cause` is written out.
 * LOG_LEVEL (DEBUG, INFO, WARN, ERROR, SILENT) sets the level; the service name is fixed here.
 */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'deployer' });
export type { Logger };
