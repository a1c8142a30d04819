/**
 * The rollout trigger (dispatched by the notify function): CodeDeploy's deployment state changes of a stage's
 * canary or linear rollout (SAM's DeploymentPreference) become one message each — started, succeeded, stopped
 * or rolled back, with the alarm that stopped it — in the chat thread of the release being rolled out.
 *
 * Which stage: the one whose stack CloudFormation says made the event's CodeDeploy application AND deployment
 * group (ListStackResources of each stage's stack in the event's account and region, read once per
 * invocation). A name is chosen by whoever creates an application, and SAM's names only look like their
 * stack's, so no name pattern decides; and GetDeployment, CodeDeploy's own record of the deployment, must
 * name the same application and group as the event.
 *
 * A rollout that stopped, failed or rolled back fails its release: when the stack operation it belongs to is
 * one of the deployer's runs, that run's desired version is marked failed (so reconcile does not retry it)
 * and its failed outcome is archived under the run's own archive key. CloudFormation then sees its alias
 * update fail and rolls the stack back; the reconcile trigger settles the same run under the same key (the
 * archive object is rewritten, not added), so `deployer metrics` and the Deploys/Failures metrics count the
 * release once.
 */

import {
  currentOperationToken,
  type DeploymentFacts,
  readDeployment,
  type StackDeploymentGroups,
  stackDeploymentGroups,
} from '../aws/deployments';
import { archiveOutcome } from '../aws/history-archive';
import { markFailed, readHistory } from '../aws/release-history';
import { ownRun, type RunRecord } from '../aws/runs';
import { stageCfn, stageCodeDeploy } from '../aws/stage-clients';
import { acceptDeploymentEvent, type DeploymentStateChange } from '../edge/deployment-events';
import { stagesAt } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { logger } from '../logger';
import { sendOnce } from '../messages/ledger';
import { eventIdOf, ledgerKeys } from '../messages/ledger-keys';
import { rolloutMessage } from '../messages/rollout-messages';
import { isFailedRollout, type RolloutReport, rolloutOutcome } from '../messages/rollout-report';
import { countNotifications } from '../metrics';
import type { Runtime } from '../runtime';

export interface RolloutSummary {
  verdict: 'notified' | 'ignored' | 'rejected';
  reason?: string;
  stage?: string;
  deployment?: string;
  subject?: string;
  /** The desired version marked failed by this rollout's stop, failure or rollback. */
  markedFailed?: number;
}

/** Deployments made to undo another: the stack's rollback message reports them; only their failure is news. */
const ROLLBACK_CREATORS = new Set(['CloudFormationRollback', 'codeDeployRollback']);

/** Handle one "CodeDeploy Deployment State-change Notification". */
export const handleDeploymentStateChange = async (
  runtime: Runtime,
  raw: unknown,
): Promise<RolloutSummary> => {
  const accepted = acceptDeploymentEvent(runtime, raw);
  if ('rejected' in accepted) return { verdict: 'rejected', reason: accepted.rejected };
  const { event } = accepted;
  const stage = await stageOfDeployment(runtime, event);
  if (!stage) return ignored(event, 'not a deployment group of a configured stage (by its stack resources)');
  if (stage.mute) return ignored(event, `stage ${stage.name} is muted`);
  const facts = await readDeployment(stageCodeDeploy(runtime, stage), event.deploymentId);
  if (facts.application !== event.application || facts.group !== event.deploymentGroup) {
    const reason = `deployment ${event.deploymentId} is not of ${event.application}/${event.deploymentGroup} (GetDeployment)`;
    logger.error('rejected deployment event', { reason });
    return { verdict: 'rejected', reason };
  }
  const outcome = rolloutOutcome(event.state, facts);
  if (ROLLBACK_CREATORS.has(facts.creator ?? '') && !isFailedRollout(outcome))
    return ignored(event, `a rollback deployment (${facts.creator}): the stack's own message reports it`);

  const eventId = eventIdOf(raw);
  const run = await runInFlight(runtime, stage, eventId);
  const markedFailed =
    isFailedRollout(outcome) && run ? await failRun(runtime, stage, run, event, facts) : undefined;
  const history = await readHistory(runtime.clients.ssm, stage);
  const version = run ? history.find((v) => v.version === run.version) : history.at(-1);
  const report: RolloutReport = {
    change: event,
    stage,
    outcome,
    facts,
    ...(version
      ? {
          release: {
            key: version.key,
            version: version.version,
            ...(version.provenance.commit ? { commit: version.provenance.commit } : {}),
          },
        }
      : {}),
    ...(markedFailed !== undefined ? { markedFailed: true } : {}),
  };
  const message = rolloutMessage(report);
  const key = ledgerKeys.rollout(event.account, event.region, event.deploymentId, event.state);
  const sent = await sendOnce(runtime, key, message);
  const summary = {
    stage: stage.name,
    deployment: event.deploymentId,
    ...(markedFailed !== undefined ? { markedFailed } : {}),
  };
  if (sent !== 'sent') return { verdict: 'ignored', reason: 'already reported', ...summary };
  logger.info('rollout reported', { ...summary, state: event.state, subject: message.subject });
  countNotifications(stage.name, 1);
  return { verdict: 'notified', subject: message.subject, ...summary };
};

const ignored = (event: DeploymentStateChange, reason: string): RolloutSummary => {
  logger.info('deployment event not reported', { reason, deployment: event.deploymentId });
  return { verdict: 'ignored', reason, deployment: event.deploymentId };
};

/**
 * The stage whose stack made the event's application and deployment group, among the stages that live in the
 * event's account and region; undefined when none did (or, never expected, more than one).
 */
export const stageOfDeployment = async (
  runtime: Runtime,
  event: DeploymentStateChange,
): Promise<Stage | undefined> => {
  // Each stage's stack is listed once in this invocation.
  const listed = new Map<string, Promise<StackDeploymentGroups>>();
  const groupsOf = (stage: Stage) => {
    let found = listed.get(stage.name);
    if (!found) {
      found = stackDeploymentGroups(stageCfn(runtime, stage), stage.stack);
      listed.set(stage.name, found);
    }
    return found;
  };
  const candidates = stagesAt(runtime.config, runtime.settings, event);
  const owners: Stage[] = [];
  for (const stage of candidates) {
    const { applications, groups } = await groupsOf(stage);
    if (applications.has(event.application) && groups.has(event.deploymentGroup)) owners.push(stage);
  }
  if (owners.length > 1)
    logger.error('more than one stage claims the deployment group; none is reported', {
      stages: owners.map((s) => s.name),
    });
  return owners.length === 1 ? owners[0] : undefined;
};

/** The deployer's run the stack is executing now (its newest operation's token, by the deployer's record). */
const runInFlight = async (
  runtime: Runtime,
  stage: Stage,
  eventId: string,
): Promise<RunRecord | undefined> => {
  const token = await currentOperationToken(stageCfn(runtime, stage), stage.stack);
  return ownRun(runtime.clients.s3, stage, token, eventId);
};

/**
 * The rollout failed the run's release: mark its desired version failed and archive the failed outcome under
 * the run's key (the stack's rollback settles the same key later: one failed deploy, not two).
 */
const failRun = async (
  runtime: Runtime,
  stage: Stage,
  run: RunRecord,
  event: DeploymentStateChange,
  facts: DeploymentFacts,
): Promise<number> => {
  await markFailed(runtime.clients.ssm, stage, run.version);
  if (run.state !== 'settled') {
    const status = facts.rollback ? 'CODEDEPLOY_ROLLBACK_COMPLETE' : 'CODEDEPLOY_FAILED';
    await archiveOutcome(runtime.clients.s3, stage, {
      version: run.version,
      token: run.token,
      status,
      settledAt: event.time,
    });
  }
  logger.warn('the rollout failed its release; marked so it is not retried', {
    stage: stage.name,
    version: run.version,
    deployment: event.deploymentId,
  });
  return run.version;
};
