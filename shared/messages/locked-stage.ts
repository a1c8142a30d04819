/**
 * A stage whose lock did not come free: the writer gives up (the event is delivered again), and the ops team
 * hears once per lease who holds it, since and until when, and how to free it.
 */

import { StageLockedError } from '../aws/stage-lock';
import { stageRegion } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { logger } from '../logger';
import type { Runtime } from '../runtime';
import { deployMessage } from './deploy-messages';
import { sendOnce } from './ledger';
import { ledgerKeys } from './ledger-keys';

/** Tell the ops team (once per lease) that a stage's lock stayed taken, then let the error go on. */
export const reportLockedStage = async (
  runtime: Runtime,
  stage: Stage,
  error: unknown,
  trigger: string,
): Promise<void> => {
  if (!(error instanceof StageLockedError)) return;
  const { lock } = error;
  logger.error('stage stayed locked', { stage: stage.name, lock, trigger });
  const message = deployMessage(
    {
      outcome: 'locked',
      stage: stage.name,
      stack: stage.stack,
      trigger,
      error: error.message,
      ...(lock ? { lock } : {}),
    },
    stageRegion(runtime.settings, stage),
  );
  await sendOnce(runtime, ledgerKeys.locked(stage.name, lock?.since ?? 'unknown'), message);
};
