/**
 * Auto-promotion: hand a release that completed on a stage to the stages configured to receive it — when its
 * deploy settles, or, on an alarm-gated stage, when its bake passes (alarm.ts).
 */
import type { Stage } from '../edge/stages';
import { RefusedError } from '../errors';
import { logger } from '../logger';
import { promote } from '../operations/promote';
import type { Runtime } from '../runtime';

/** Promote this version of the stage to each stage of its promoteTo; the stages it was promoted to. */
export const autoPromote = async (runtime: Runtime, stage: Stage, version: number): Promise<string[]> => {
  const promoted: string[] = [];
  for (const target of stage.promoteTo) {
    try {
      await promote(runtime, stage.name, target, `auto-promotion of ${stage.name}`, { version });
      promoted.push(target);
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      logger.info('nothing to promote', { from: stage.name, to: target, reason: error.message });
    }
  }
  return promoted;
};
