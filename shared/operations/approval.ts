/**
 * Approval stages: a person executes (approve) or discards (reject) the change set the deployer made for the
 * current desired release. Only that change set — recorded by its ARN when the deployer made it from the
 * verified release — is ever executed, and only after its contents and the release's bytes are checked again.
 */
import {
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { plannedChanges } from '../aws/change-set-wait';
import { type ChangeSetRef, deleteChangeSet, isReadyToExecute, pendingChangeSets } from '../aws/change-sets';
import { addLabels, type DesiredState } from '../aws/desired-state';
import { latestWithKey, readDesired, readHistory } from '../aws/release-history';
import { type RunRecord, readRun, tokenInDescription } from '../aws/runs';
import { describeStack, stackParameterValue } from '../aws/stacks';
import { stageCfn } from '../aws/stage-clients';
import type { Stage } from '../edge/stages';
import { RefusedError } from '../errors';
import { frozenText } from '../messages/reasons';
import { changeSetName, rejectedLabel } from '../names';
import type { ReconcileResult } from '../outcomes';
import type { Runtime } from '../runtime';
import { awaitsCreation } from '../stack-status';
import { executeRun } from '../stage/change-set-runs';
import { frozenFor } from '../stage/freeze-gate';
import { type MoveResult, moveTargetOf, moveTo, verifyMoveTarget } from '../stage/moves';
import { newsReport, runStageTransaction } from '../stage/transaction';
import { stageOrRefuse } from './refusals';

/** The pending change set of the current desired release, checked to be the deployer's and unchanged. */
const currentPending = async (runtime: Runtime, stage: Stage) => {
  if (!stage.requiresApproval)
    throw new RefusedError(`stage ${stage.name} does not require approval: its deploys run on their own`);
  const desired = await readDesired(runtime.clients.ssm, stage);
  if (!desired) throw new RefusedError(`stage ${stage.name} has no desired release`);
  const cfn = stageCfn(runtime, stage);
  const pending = await pendingChangeSets(cfn, stage);
  const wanted = changeSetName(stage.name, desired.version);
  const current = pending.find((p) => p.name === wanted && isReadyToExecute(p));
  if (!current) {
    const others = pending.map((p) => p.name).join(', ');
    throw new RefusedError(
      `no pending change set for the current desired release (version ${desired.version}, ${wanted})${others ? `; ${others} is for an older release and will not be executed` : ''}`,
    );
  }
  const [described, stack] = await Promise.all([
    cfn.send(
      new DescribeChangeSetCommand({ StackName: stage.stack, ChangeSetName: current.id ?? current.name }),
    ),
    describeStack(cfn, stage.stack),
  ]);
  if (described.ExecutionStatus !== 'AVAILABLE') {
    throw new RefusedError(
      `change set ${current.name} cannot be executed: it is ${described.ExecutionStatus}`,
    );
  }
  const changedSince =
    stack?.LastUpdatedTime &&
    described.CreationTime &&
    stack.LastUpdatedTime.getTime() > described.CreationTime.getTime();
  if (changedSince) {
    throw new RefusedError(
      `stack ${stage.stack} changed after change set ${current.name} was made; it is stale (the next reconcile makes a new one)`,
    );
  }
  const run = await ourRun(runtime, stage, described, desired);
  const ref: ChangeSetRef = {
    stack: stage.stack,
    name: current.name,
    ...(described.ChangeSetId ? { id: described.ChangeSetId } : {}),
  };
  return { desired, changeSet: ref, run, stack, changes: described.Changes };
};

/**
 * The run record of the deployer's that made exactly this change set (by ARN) for the desired release, with
 * the artifact parameter set to the desired key and the pinned template. Anything else is refused: a change
 * set deleted and made again under the same name has another ARN, even when its description was copied.
 */
const ourRun = async (
  runtime: Runtime,
  stage: Stage,
  described: DescribeChangeSetCommandOutput,
  desired: { version: number; key: string; provenance: { template?: string } },
): Promise<RunRecord> => {
  const name = described.ChangeSetName ?? '?';
  const token = tokenInDescription(described.Description);
  const run = token ? await readRun(runtime.clients.s3, stage, token) : undefined;
  if (!run || run.changeSetId === undefined || run.changeSetId !== described.ChangeSetId) {
    throw new RefusedError(
      `change set ${name} (${described.ChangeSetId ?? 'no ARN'}) is not the one the deployer made for version ${desired.version}: it was replaced or made by someone else, and is not executed (the next reconcile makes the deployer's own)`,
    );
  }
  const artifact = described.Parameters?.find((p) => p.ParameterKey === stage.stackParameter)?.ParameterValue;
  if (run.version !== desired.version || run.artifactKey !== desired.key || artifact !== desired.key) {
    throw new RefusedError(
      `change set ${name} sets ${stage.stackParameter} to ${artifact ?? 'nothing'}, not the desired release ${desired.key} (version ${desired.version}): it is not executed`,
    );
  }
  if (run.template !== desired.provenance.template) {
    throw new RefusedError(
      `change set ${name} was made from template ${run.template ?? "(the stack's own)"}, not the pinned ${desired.provenance.template ?? "(the stack's own)"}: it is not executed`,
    );
  }
  return run;
};

/** A plain approval deploys nothing during a freeze: only `--break-glass` does, saying who and why. */
const refuseWhenFrozen = (runtime: Runtime, stage: Stage, desired: Pick<DesiredState, 'provenance'>) => {
  const frozen = frozenFor(runtime, stage, desired);
  if (frozen) {
    throw new RefusedError(
      `${frozenText(frozen)}. The change set was not executed; to deploy during the freeze: npx deployer approve ${stage.name} --break-glass --reason "why it cannot wait"`,
    );
  }
};

/**
 * Execute the pending change set of an approval stage, as one stage transaction: under the lock, check it is
 * the deployer's own for the current desired release, verify the release once more, execute it with its
 * run's token, and tell the ops team.
 */
export const approve = async (runtime: Runtime, stageName: string, by: string) => {
  const stage = stageOrRefuse(runtime, stageName);
  const trigger = `approval by ${by}`;
  const done = await runStageTransaction(runtime, stage, {
    holder: `approve by ${by}`,
    trigger,
    act: async (lease): Promise<ReconcileResult> => {
      const { desired, changeSet, run, stack, changes } = await currentPending(runtime, stage);
      refuseWhenFrozen(runtime, stage, desired);
      const creating = !stack || awaitsCreation(stack.StackStatus);
      await verifyMoveTarget(
        runtime,
        stage,
        moveTargetOf(stage, desired),
        trigger,
        'the change set was not executed',
      );
      await executeRun(runtime, stage, changeSet, run, lease);
      return {
        outcome: 'deploying',
        stage: stage.name,
        stack: stage.stack,
        desired,
        changeSet: changeSet.name,
        token: run.token,
        action: creating ? 'create' : 'update',
        changes: plannedChanges(changes),
        fresh: true,
      };
    },
    report: (result) => ({ report: newsReport(stage, result, trigger) }),
  });
  if (!done.done) throw new Error('approve acts on the stack');
  const { desired, changeSet } = done.result;
  return {
    stage: stage.name,
    action: 'approve',
    version: desired?.version,
    key: desired?.key,
    changeSet,
  };
};

/**
 * Delete the pending change set of an approval stage, and make what the stage runs now desired again, so
 * no later reconcile proposes the rejected release again. The rejected version is labelled for the history.
 */
export const reject = async (
  runtime: Runtime,
  stageName: string,
  by: string,
): Promise<MoveResult & { changeSet: string }> => {
  const stage = stageOrRefuse(runtime, stageName);
  // Refused before the lock when there is nothing to reject; checked again under it.
  const { desired, changeSet } = await currentPending(runtime, stage);
  const trigger = `the rejection by ${by} of version ${desired.version}`;
  const moved = await moveTo(
    runtime,
    stage,
    { action: 'reject', by, from: String(desired.version) },
    trigger,
    async () => {
      const found = await currentPending(runtime, stage);
      const running = found.stack ? stackParameterValue(found.stack, stage.stackParameter) : undefined;
      if (!running) {
        // The first release of a stage: nothing runs that could stay desired instead.
        throw new RefusedError(
          `stack ${stage.stack} runs no release yet, so there is nothing to keep instead of version ${found.desired.version}; delete the stack (or leave the change set) to stop this first deploy`,
        );
      }
      // What runs stays: as its history entry has it, or (a stack deployed by hand) as its key promises.
      const kept = latestWithKey(await readHistory(runtime.clients.ssm, stage), running);
      const target = moveTargetOf(stage, kept ?? { version: 0, key: running, provenance: {} });
      await verifyMoveTarget(runtime, stage, target, trigger);
      await deleteChangeSet(stageCfn(runtime, stage), found.changeSet);
      await addLabels(runtime.clients.ssm, stage, found.desired.version, [
        rejectedLabel(found.desired.version),
      ]);
      // Reported in the thread of the rejected release, where its approval was asked for.
      return { ...target, replaces: found.desired.key };
    },
  );
  return { ...moved, changeSet: changeSet.name };
};
