/**
 * The walkthrough's freeze step (`npm start`): the dev stage gets a year-end freeze (its own deployWindows),
 * and the runtime's clock is set inside it. A build the pipeline delivers then is recorded as desired and not
 * deployed, with one message saying when the window opens; `deployer approve dev --break-glass --reason …`
 * deploys it anyway, recorded in the history with who and why, and said in the ops message.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildKeyFor } from '../../shared/aws/artifacts';
import { readHistory } from '../../shared/aws/release-history';
import { loadConfigFile } from '../../shared/edge/config';
import { parsePipelineEvent } from '../../shared/edge/events';
import { readSettings } from '../../shared/edge/settings';
import { deployWindowsSchema } from '../../shared/edge/window-config';
import { breakGlass } from '../../shared/operations/index';
import type { Runtime } from '../../shared/runtime';
import { handlePipelineEvent } from '../../shared/triggers/deploy';
import { exampleBuild, uploadBuild } from '../support/example-world';
import { type Scene, say, showInbox, showStack } from './timeline';

/** Berlin office hours Monday to Thursday, and the year-end freeze of the README. */
const WINDOWS = deployWindowsSchema.parse({
  timeZone: 'Europe/Berlin',
  allow: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '17:00' }],
  freeze: [{ from: '2026-12-18T17:00', to: '2027-01-07T09:00', reason: 'year-end freeze' }],
});
/** Tuesday 22 December 2026, 11:00 in Berlin: office hours, but inside the freeze. */
const IN_FREEZE = Date.parse('2026-12-22T10:00:00Z');

/**
 * Step `step`: a build during a freeze, then break-glass. Needs the scene (its dev stack exists and runs a
 * release) and the repository root (events/, deployer.config.yaml); the environment the walkthrough set
 * (the ops topic and the ledger) is read as the handlers read it.
 */
export const freezeAndBreakGlass = async (scene: Scene, root: string, step: string) => {
  const { clients, dev } = scene;
  say(`\n${step}. A freeze: the dev stage may deploy Mon–Thu 09:00–17:00 Europe/Berlin, not 18 Dec – 7 Jan`);
  const config = loadConfigFile(join(root, 'deployer.config.yaml'));
  const stages = config.pipelines[dev.pipeline]?.stages ?? {};
  const own = stages[dev.name];
  if (own) stages[dev.name] = { ...own, deployWindows: WINDOWS };
  const runtime: Runtime = { settings: readSettings(process.env), config, clients, now: () => IN_FREEZE };
  say('   the clock (injected into the runtime): 2026-12-22 11:00 Europe/Berlin');

  const event = JSON.parse(readFileSync(join(root, 'events', 'pipeline-succeeded.json'), 'utf8'));
  const started = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  event.id = randomUUID();
  event.time = started;
  event.detail['execution-id'] = randomUUID();
  event.detail['start-time'] = started;
  const execution = parsePipelineEvent(event);
  const buildKey = buildKeyFor(dev, execution);
  await uploadBuild(clients.s3, {
    bucket: dev.artifact.bucket,
    key: buildKey,
    bytes: exampleBuild(`freeze-${execution.executionId}`),
    executionId: execution.executionId,
    ...(execution.commitId ? { commitId: execution.commitId } : {}),
  });
  say(`   the pipeline's build uploads s3://${dev.artifact.bucket}/${buildKey}, then the pipeline succeeds`);
  const summary = await handlePipelineEvent(runtime, event);
  for (const stage of summary.stages.filter((s) => s.stage === dev.name))
    say(`   stage ${stage.stage}: ${stage.outcome} (recorded as desired version ${stage.desiredVersion})`);
  await showStack(scene, 'still runs the release before the freeze');
  await showInbox(scene, 'the ops inbox', 'full');

  say(`\n   The same event again: nothing new is said`);
  await handlePipelineEvent(runtime, event);
  await showInbox(scene, 'the ops inbox', 'subjects');

  say(`\n   npx deployer approve ${dev.name} --break-glass --reason "payment outage fix INC-4711" (as kim)`);
  const moved = await breakGlass(runtime, dev.name, 'kim', 'payment outage fix INC-4711');
  say(`   recorded version ${moved.version}; outcome: ${moved.reconcile.outcome}`);
  await showStack(scene, 'now runs the build, during the freeze');
  const entry = (await readHistory(clients.ssm, dev)).at(-1);
  say(
    `   history: version ${entry?.version} ${entry?.provenance.action} by ${entry?.provenance.by}, because ${JSON.stringify(entry?.provenance.reason)}`,
  );
  await showInbox(scene, 'the ops inbox', 'full');
};
