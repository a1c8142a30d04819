/**
 * `approve --break-glass`: deploy a stage's desired release during a freeze. The release is recorded again as
 * a new desired version with provenance `break-glass`, who and why (the history and the ops message say
 * both), and the freeze gate lets exactly that version through: a later build is frozen again. On an approval
 * stage the person's break-glass is the approval too: the change set is made and executed in one move.
 */
import { readDesired } from '../aws/release-history';
import { stackParameterValue } from '../aws/stacks';
import type { Stage } from '../edge/stages';
import { REASON } from '../edge/window-config';
import { RefusedError } from '../errors';
import type { Runtime } from '../runtime';
import { BREAK_GLASS, frozenReason, stageWindowState } from '../stage/freeze-gate';
import { type MoveResult, moveTargetOf, moveTo } from '../stage/moves';
import { observeStage } from '../stage/reconcile';
import { stageOrRefuse } from './refusals';

/** A break-glass reason: what `--reason` must be (the command line checks it first, naming the flag). */
export const reasonProblem = (reason: string): string | undefined =>
  reason.trim() === ''
    ? 'must not be empty: say why this deploy cannot wait for the window'
    : REASON.test(reason)
      ? undefined
      : 'must be at most 200 printable characters on one line';

/** Deploy the desired release of a frozen stage now, recording who and why. Refused (nothing changed) otherwise. */
export const breakGlass = async (
  runtime: Runtime,
  stageName: string,
  by: string,
  reason: string,
): Promise<MoveResult> => {
  const stage = stageOrRefuse(runtime, stageName);
  const problem = reasonProblem(reason);
  if (problem) throw new RefusedError(`--reason ${problem}`);
  const frozen = frozenReason(stageWindowState(runtime, stage));
  if (!frozen) {
    throw new RefusedError(
      `stage ${stage.name} is not frozen: its deploy window is open, so there is no glass to break (${stage.requiresApproval ? `npx deployer approve ${stage.name}` : `npx deployer reconcile ${stage.name}`} deploys it); nothing was changed`,
    );
  }
  const desired = await deployable(runtime, stage);
  const trigger = `break-glass by ${by}: ${JSON.stringify(reason)}`;
  // The person approves by breaking the glass: the change set is executed as on a stage without approval.
  const moving: Stage = stage.requiresApproval ? { ...stage, requiresApproval: false } : stage;
  return moveTo(
    runtime,
    moving,
    { action: BREAK_GLASS, by, reason, from: String(desired.version) },
    trigger,
    async () => {
      const current = await deployable(runtime, stage);
      if (current.version !== desired.version) {
        throw new RefusedError(
          `the desired release of stage ${stage.name} changed meanwhile (version ${current.version}, not ${desired.version}); run the command again for it`,
        );
      }
      return moveTargetOf(stage, current);
    },
  );
};

/** The desired release, refused when there is none, it failed, or the stack already runs it. */
const deployable = async (runtime: Runtime, stage: Stage) => {
  const desired = await readDesired(runtime.clients.ssm, stage);
  if (!desired) throw new RefusedError(`stage ${stage.name} has no desired release; nothing was changed`);
  if (desired.failed) {
    throw new RefusedError(
      `the desired release of stage ${stage.name} (version ${desired.version}) failed to deploy and is not retried, freeze or not: roll back (a rollback passes a freeze) or push a new build; nothing was changed`,
    );
  }
  const { stack, applied } = await observeStage(runtime, stage);
  const live = stack ? stackParameterValue(stack, stage.stackParameter) : undefined;
  const template = desired.provenance.template;
  if (live === desired.key && (!template || applied?.template === template)) {
    throw new RefusedError(
      `stack ${stage.stack} already runs the desired release of stage ${stage.name} (version ${desired.version}); nothing was changed`,
    );
  }
  return desired;
};
