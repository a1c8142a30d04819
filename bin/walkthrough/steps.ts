/**
 * The walkthrough's steps (`npm start`), each an event played through the handlers as EventBridge would
 * deliver it, with what it did on the timeline: the first deploy, a stack that finishes, the same event
 * again, a build while the stack is busy, and an update that fails and rolls back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import type { handler as DeployHandler } from '../../handlers/deploy';
import type { handler as NotifyHandler } from '../../handlers/notify';
import type { handler as ReconcileHandler } from '../../handlers/reconcile';
import { buildKeyFor, fillKey } from '../../shared/aws/artifacts';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { type PipelineExecution, parsePipelineEvent } from '../../shared/edge/events';
import type { Stage } from '../../shared/edge/stages';
import type { AwsProxy } from '../support/aws-proxy';
import {
  exampleBuild,
  exampleTemplateWithQueue,
  uploadBuild,
  uploadTemplate,
} from '../support/example-world';
import { describeChangeSet, describeDesired, type Scene, say, showInbox, showStack } from './timeline';

/** The walkthrough's world: the scene, the proxy in front of moto, the example event and the handlers. */
export interface Story extends Scene {
  /** The repository, where events/ holds the sample events. */
  root: string;
  proxy: AwsProxy;
  event: Record<string, unknown>;
  deploy: typeof DeployHandler;
  notify: typeof NotifyHandler;
  reconcile: typeof ReconcileHandler;
}

export const firstDeploy = async (story: Story, execution: PipelineExecution, stages: Stage[]) => {
  const { clients, dev } = story;
  const buildKey = buildKeyFor(dev, execution);
  await uploadBuild(clients.s3, {
    bucket: dev.artifact.bucket,
    key: buildKey,
    bytes: exampleBuild(execution.executionId),
    executionId: execution.executionId,
    ...(execution.commitId ? { commitId: execution.commitId } : {}),
  });
  say(
    `\n1. The pipeline's build uploads s3://${dev.artifact.bucket}/${buildKey}, then the pipeline succeeds`,
  );
  say(`   event: events/pipeline-succeeded.json (${execution.pipeline}, execution ${execution.executionId})`);
  const summary = await story.deploy(story.event);
  say(`\n   The deploy handler: ${summary.verdict}`);
  for (const stage of summary.stages) {
    say(`   stage ${stage.stage}: ${stage.outcome}`);
    say(`     release key  ${stage.releaseKey}`);
    const settings = stages.find((s) => s.name === stage.stage);
    if (settings) await describeDesired(clients, settings.ssmParameter, stage.desiredVersion);
    if (stage.changeSet) await describeChangeSet(clients, settings?.stack ?? stage.stack, stage.changeSet);
    const stack = await describeStack(clients.cfn, stage.stack);
    const live = stack && stackParameterValue(stack, settings?.stackParameter ?? '');
    say(
      `     stack        ${stage.stack} ${stack?.StackStatus ?? 'does not exist'}${live ? `, ${settings?.stackParameter} = ${live}` : ' (created when the change set is executed)'}`,
    );
    if (stage.token) say(`     run          ${stage.token} (the request token its status events carry)`);
  }
  await showInbox(story, 'the ops inbox', 'full');
  return summary.stages.find((s) => s.stage === dev.name)?.token ?? '';
};

/** CloudFormation's "Stack Status Change" event for the dev stack, as AWS would send it. */
const statusEvent = async (story: Story, status: string, token: string): Promise<unknown> => {
  const stack = await describeStack(story.clients.cfn, story.dev.stack);
  const sample = JSON.parse(readFileSync(join(story.root, 'events', 'stack-update-complete.json'), 'utf8'));
  sample.id = randomUUID(); // every event AWS sends has an id of its own
  sample.resources = [stack?.StackId];
  sample.time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  sample.detail['stack-id'] = stack?.StackId;
  sample.detail['status-details'] = { status, 'status-reason': '' };
  sample.detail['client-request-token'] = token;
  return sample;
};

export const stackFinishes = async (
  story: Story,
  step: string,
  token: string,
  status: string,
  deployedBy?: string,
) => {
  say(
    `\n${step}. ${story.dev.stack} finishes: CloudFormation sends "${status}" (events/stack-update-complete.json)`,
  );
  const event = await statusEvent(story, status, token);
  const reported = await story.notify(event);
  const settled = await story.reconcile(event);
  say(
    `   notify handler: ${reported.verdict}; reconcile handler: ${settled.map((r) => `${r.stage} ${r.outcome}`).join(', ')}`,
  );
  if (deployedBy) await showStack(story, `now runs the build of ${deployedBy}`);
  await showInbox(story, 'the ops inbox', step === '2' || step === '5' ? 'full' : 'subjects');
};

export const sameEventAgain = async (story: Story) => {
  say('\n3. EventBridge delivers the same pipeline event again (delivery is at-least-once)');
  const history = await story.clients.ssm.send(
    new GetParameterHistoryCommand({ Name: story.dev.ssmParameter }),
  );
  const summary = await story.deploy(story.event);
  const after = await story.clients.ssm.send(
    new GetParameterHistoryCommand({ Name: story.dev.ssmParameter }),
  );
  for (const stage of summary.stages) say(`   stage ${stage.stage}: ${stage.recorded}, ${stage.outcome}`);
  say(
    `   SSM versions of dev before and after: ${history.Parameters?.length} and ${after.Parameters?.length}`,
  );
  await showInbox(story, 'the ops inbox', 'subjects');
};

/** Another execution of the pipeline, with its own bytes and a later start. */
const nextExecution = async (story: Story, first: PipelineExecution, n: number, template?: string) => {
  const executionId = `${first.executionId.slice(0, -4)}${String(n).padStart(4, '0')}`;
  const event = structuredClone(story.event) as { id: string; detail: Record<string, unknown> };
  event.id = `${event.id.slice(0, -4)}${String(n).padStart(4, '0')}`;
  event.detail['execution-id'] = executionId;
  event.detail['execution-trigger'] = {
    ...(event.detail['execution-trigger'] as object),
    'commit-id': createHash('sha1').update(`commit ${n}`).digest('hex'),
  };
  event.detail['start-time'] = new Date(Date.parse(first.startedAt) + n * 3_600_000).toISOString();
  const execution = parsePipelineEvent(event);
  await uploadBuild(story.clients.s3, {
    bucket: story.dev.artifact.bucket,
    key: buildKeyFor(story.dev, execution),
    bytes: exampleBuild(executionId),
    executionId,
  });
  const templateKey = story.dev.artifact.templateKey;
  if (template && templateKey)
    await uploadTemplate(
      story.clients.s3,
      story.dev.artifact.bucket,
      fillKey(templateKey, execution),
      template,
    );
  return { event, executionId };
};

export const buildWhileBusy = async (story: Story, first: PipelineExecution): Promise<string> => {
  // This build also changes the service's template (it adds a queue): the template travels with the code.
  const { event, executionId } = await nextExecution(story, first, 2, exampleTemplateWithQueue());
  story.proxy.makeBusy(story.dev.stack, 1_000);
  say(
    `\n4. A second build (execution ${executionId}) succeeds while ${story.dev.stack} is UPDATE_IN_PROGRESS;`,
  );
  say('   its template, published beside its artifact, adds a queue to the service');
  const summary = await story.deploy(event);
  for (const stage of summary.stages)
    say(`   stage ${stage.stage}: recorded as desired version ${stage.desiredVersion}; ${stage.outcome}`);
  await showStack(story, 'still runs the first build');
  await showInbox(story, 'the ops inbox', 'subjects');
  story.proxy.makeBusy(story.dev.stack, 0);
  return executionId;
};

export const failedUpdate = async (story: Story, first: PipelineExecution) => {
  const { clients, dev } = story;
  const before = await describeStack(clients.cfn, dev.stack);
  const running = before ? stackParameterValue(before, dev.stackParameter) : undefined;
  const { event, executionId } = await nextExecution(story, first, 3);
  say(`\n6. A third build (execution ${executionId}) is deployed, and its update fails`);
  const summary = await story.deploy(event);
  const deployed = summary.stages.find((s) => s.stage === dev.name);
  say(`   stage ${dev.name}: ${deployed?.outcome} with change set ${deployed?.changeSet}`);
  await showInbox(story, 'the ops inbox', 'subjects');
  // moto applies every update; CloudFormation would have rolled this one back. Play what AWS would do:
  // the stack events of the failure, the stack back on the release it ran, and the status event.
  const token = deployed?.token ?? '';
  const now = Date.now();
  story.proxy.addStackEvents(dev.stack, [
    {
      logicalId: dev.stack,
      type: 'AWS::CloudFormation::Stack',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      token,
      time: new Date(now).toISOString(),
    },
    {
      logicalId: 'Function',
      type: 'AWS::Lambda::Function',
      status: 'UPDATE_FAILED',
      token,
      time: new Date(now - 20_000).toISOString(),
      reason:
        'Resource handler returned message: "Unzipped size must be smaller than 262144000 bytes (Service: Lambda, Status Code: 400)" (HandlerErrorCode: InvalidRequest)',
    },
    {
      logicalId: 'Function',
      type: 'AWS::Lambda::Function',
      status: 'UPDATE_IN_PROGRESS',
      token,
      time: new Date(now - 25_000).toISOString(),
    },
    {
      logicalId: dev.stack,
      type: 'AWS::CloudFormation::Stack',
      status: 'UPDATE_IN_PROGRESS',
      token,
      time: new Date(now - 30_000).toISOString(),
      reason: 'User Initiated',
    },
  ]);
  const stack = await describeStack(clients.cfn, dev.stack);
  await clients.cfn.send(
    new UpdateStackCommand({
      StackName: dev.stack,
      UsePreviousTemplate: true,
      Capabilities: dev.capabilities,
      Parameters: (stack?.Parameters ?? []).map(({ ParameterKey }) =>
        ParameterKey === dev.stackParameter
          ? { ParameterKey, ParameterValue: running }
          : { ParameterKey, UsePreviousValue: true },
      ),
    }),
  );
  say(`   CloudFormation rolls ${dev.stack} back to ${running} and sends "UPDATE_ROLLBACK_COMPLETE"`);
  const rolledBack = await statusEvent(story, 'UPDATE_ROLLBACK_COMPLETE', token);
  const reported = await story.notify(rolledBack);
  const settled = await story.reconcile(rolledBack);
  say(
    `   notify handler: ${reported.verdict}; reconcile handler: ${settled.map((r) => `${r.stage} ${r.outcome}${r.markedFailed ? `, version ${r.markedFailed} marked failed` : ''}`).join(', ')}`,
  );
  const again = await story.reconcile(await statusEvent(story, 'UPDATE_ROLLBACK_COMPLETE', token));
  say(
    `   the next reconcile of dev: ${again.map((r) => r.outcome).join(', ')} (the failed release is not retried)`,
  );
  await showInbox(story, 'the ops inbox', 'full');
};
