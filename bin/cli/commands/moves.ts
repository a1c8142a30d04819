/**
 * The moves a person makes on a stage — rollback, approve, reject, promote — and `reconcile`, which redoes
 * what a lost event would have done. Each says in words what it did, the release now desired, the outcome,
 * the change set and the next step; --json gives the result to scripts. Exit code 3 when the stage needs a
 * person afterwards, 4 when the deployer refused (nothing was changed).
 */

import { shown } from '../../../shared/edge/untrusted';
import * as operate from '../../../shared/operations/index';
import type { ReconcileResult } from '../../../shared/outcomes';
import { reconcileStage } from '../../../shared/stage/transaction';
import { type Command, commandArgs, EXIT, exactly, JSON_OPTION, UsageError, whoami } from '../args';
import {
  moveJson,
  moveText,
  outcomeFields,
  reconcileJson,
  reconcileText,
  recordedMoveText,
} from '../outcomes';
import { print } from '../render';
import { cliRuntime, stageArg } from '../runtime';

/** The exit code for what reconcile left behind. */
const exitFor = (result: ReconcileResult): number =>
  result.outcome === 'tampered' ? EXIT.refused : result.outcome === 'blocked' ? EXIT.needsPerson : EXIT.ok;

const MOVES_TELL = 'Needs DEPLOYER_TOPIC_ARN: the ops team is told, like for any deploy. --json for scripts.';

export const reconcile: Command = {
  summary: "move a stage's stack to its desired release",
  usage: `usage: deployer reconcile <stage> [--json]

Compares the stage's desired release (its SSM parameter) with what its stack runs, and deploys the
difference through a change set (or leaves it for approval). Says what it found and did (--json for scripts).
Exit code 3 when the stack needs a person.`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, JSON_OPTION);
    const [stageName = ''] = exactly(positionals, 1, 'reconcile takes exactly one stage name');
    const runtime = cliRuntime(env, { tellsOps: false });
    const result = await reconcileStage(runtime, stageArg(runtime, stageName), 'deployer reconcile (cli)');
    print(values.json ? reconcileJson(result) : reconcileText(result));
    return exitFor(result);
  },
};

export const rollback: Command = {
  summary: 'make an earlier release desired again, and deploy it',
  usage: `usage: deployer rollback <stage> [--to previous|<commit>|<ssm-version>] [--json]

Makes an earlier release of the stage desired again (a new version in its history, naming you) and deploys
it through a change set, like any deploy. --to previous (the default) is the newest earlier release that
differs from the current one and did not fail. Refuses, changing nothing, when that release's object is gone
from S3 or no longer matches its digest. ${MOVES_TELL}`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, { ...JSON_OPTION, to: { type: 'string' } });
    const [stageName = ''] = exactly(positionals, 1, 'rollback takes exactly one stage name');
    const runtime = cliRuntime(env, { tellsOps: true });
    const stage = stageArg(runtime, stageName);
    const result = await operate.rollback(runtime, stage.name, values.to ?? 'previous', whoami(env));
    print(values.json ? moveJson(result) : recordedMoveText(`rolled back stage ${stage.name}`, result));
    return exitFor(result.reconcile);
  },
};

export const approve: Command = {
  summary: 'execute the pending change set of an approval stage',
  usage: `usage: deployer approve <stage> [--json]
       deployer approve <stage> --break-glass --reason "why it cannot wait" [--json]

Executes the stage's pending change set — only if it is the one the deployer made for the current desired
release, the release still verifies, and the stack has not changed since it was made. Refused while the
stage is frozen (deployWindows). --break-glass deploys the desired release of a frozen stage now (any
stage; on an approval stage it approves too): it is recorded as a new version naming you and your reason
(at most 200 characters), and said in the ops message. Refused (exit 4) on a stage that is not frozen.
${MOVES_TELL}`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, {
      ...JSON_OPTION,
      'break-glass': { type: 'boolean' },
      reason: { type: 'string' },
    });
    const [stageName = ''] = exactly(positionals, 1, 'approve takes exactly one stage name');
    const reason = breakGlassReason(values['break-glass'] === true, values.reason);
    const runtime = cliRuntime(env, { tellsOps: true });
    const stage = stageArg(runtime, stageName);
    if (reason !== undefined) {
      const moved = await operate.breakGlass(runtime, stage.name, whoami(env), reason);
      const headline = `broke the glass on stage ${stage.name}: the desired release is deployed during the freeze, recorded as yours with your reason`;
      print(values.json ? moveJson(moved) : recordedMoveText(headline, moved));
      return exitFor(moved.reconcile);
    }
    const result = await operate.approve(runtime, stage.name, whoami(env));
    // What approve did is a deploy of the pending change set: said as a reconcile that executed it would say it.
    const executed = outcomeFields({
      outcome: 'deploying',
      stage: stage.name,
      stack: stage.stack,
      fresh: true,
      ...(result.changeSet ? { changeSet: result.changeSet } : {}),
    });
    print(
      values.json
        ? result
        : moveText(`approved stage ${stage.name}`, { ...result, notified: true }, executed),
    );
    return EXIT.ok;
  },
};

/** --break-glass needs --reason, and --reason needs --break-glass: a usage error (exit 2) names the flag. */
export const breakGlassReason = (breakGlass: boolean, reason: string | undefined): string | undefined => {
  if (!breakGlass) {
    if (reason !== undefined) throw new UsageError('--reason: only with --break-glass');
    return undefined;
  }
  if (reason === undefined)
    throw new UsageError('--reason: required with --break-glass (say why it cannot wait)');
  const problem = operate.reasonProblem(reason);
  if (problem) throw new UsageError(`--reason: ${problem}`);
  return reason;
};

export const reject: Command = {
  summary: 'delete the pending change set of an approval stage, keeping what runs',
  usage: `usage: deployer reject <stage> [--json]

Deletes the stage's pending change set (only the one for the current desired release), labels its version
rejected, and makes the release the stack runs now desired again, so the rejected release is not proposed
again. ${MOVES_TELL}`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, JSON_OPTION);
    const [stageName = ''] = exactly(positionals, 1, 'reject takes exactly one stage name');
    const runtime = cliRuntime(env, { tellsOps: true });
    const stage = stageArg(runtime, stageName);
    const result = await operate.reject(runtime, stage.name, whoami(env));
    const headline = `rejected stage ${stage.name}: ${shown(result.changeSet)} deleted; the release the stack runs is desired again`;
    print(values.json ? moveJson(result) : recordedMoveText(headline, result));
    return exitFor(result.reconcile);
  },
};

export const promote: Command = {
  summary: 'make the release running in one stage desired in another',
  usage: `usage: deployer promote <from-stage> <to-stage> [--json]

Build once, deploy many: the release the first stage's stack runs becomes the second stage's desired
release, and is deployed there (or waits for approval). A stage can also do this on its own: promoteTo in
deployer.config.yaml. ${MOVES_TELL}`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, JSON_OPTION);
    const [fromName = '', toName = ''] = exactly(
      positionals,
      2,
      'promote takes a source stage and a target stage',
    );
    const runtime = cliRuntime(env, { tellsOps: true });
    const [from, to] = [stageArg(runtime, fromName), stageArg(runtime, toName)];
    const result: operate.MoveResult = await operate.promote(runtime, from.name, to.name, whoami(env));
    print(
      values.json
        ? moveJson(result)
        : recordedMoveText(`promoted from stage ${from.name} to stage ${to.name}`, result),
    );
    return exitFor(result.reconcile);
  },
};
