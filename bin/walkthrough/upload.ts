/**
 * The walkthrough's upload step (`npm start`): a CI that is not CodePipeline (GitHub Actions, here) uploads a
 * build, template first, with the metadata that names it; S3's "Object Created" events go through the deploy
 * function's code with the example upload configuration (examples/ci/deployer.config.yaml): the template's
 * upload is ignored, the artifact's deploys a stage. Then an upload without that metadata is refused, with
 * nothing recorded, and the ops team is told.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { loadConfigFile } from '../../shared/edge/config';
import { readSettings } from '../../shared/edge/settings';
import { allStages } from '../../shared/edge/stages';
import { logger } from '../../shared/logger';
import type { Runtime } from '../../shared/runtime';
import { handleDeployEvent } from '../../shared/triggers/deploy-event';
import { exampleBuild, uploadAsCi } from '../support/example-world';
import type { Story } from './steps';
import { describeDesired, say, showInbox } from './timeline';

type Scene = Pick<Story, 'root' | 'clients' | 'sqs' | 'queueUrl' | 'dev'>;

/** Step `step`: an uploaded build deployed, and one without its identity refused. */
export const uploadedBuildStep = async (story: Scene, step = '7'): Promise<void> => {
  const config = loadConfigFile(join(story.root, 'examples', 'ci', 'deployer.config.yaml'));
  const [stage] = allStages(config);
  if (!stage) throw new Error('examples/ci/deployer.config.yaml has no stage');
  const runtime: Runtime = {
    settings: readSettings(process.env),
    config,
    clients: story.clients,
  };
  const bucket = stage.artifact.bucket;
  const buildId = '8412345678-1';
  const prefix = `ci-builds/${stage.pipeline}/${buildId}`;
  const metadata = {
    'build-id': buildId,
    'commit-id': '5d41402abc4b2a76b9719d911017c592aa0c1e3f',
    'build-started-at': new Date(Date.now() - 120_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  say(
    `\n${step}. A CI without CodePipeline (GitHub Actions: examples/ci/github-actions/deploy.yml) uploads a build`,
  );
  say(
    `   pipeline ${stage.pipeline} (source: upload) of examples/ci/deployer.config.yaml deploys stage ${stage.name}`,
  );
  say(
    `   metadata: ${Object.entries(metadata)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  const template = readFileSync(join(story.root, 'examples', 'app', 'template.yaml'));
  const { s3 } = story.clients;
  const templateEvent = await uploadAsCi(s3, {
    bucket,
    key: `${prefix}/template.yaml`,
    body: template,
    metadata,
  });
  const buildEvent = await uploadAsCi(s3, {
    bucket,
    key: `${prefix}/app.zip`,
    body: exampleBuild(buildId),
    metadata,
  });

  const first = await handleDeployEvent(runtime, templateEvent);
  say(`\n   S3 "Object Created" for ${prefix}/template.yaml (first): ${first.verdict}, ${first.reason}`);
  const summary = await handleDeployEvent(runtime, buildEvent);
  say(`   S3 "Object Created" for ${prefix}/app.zip (events/s3-object-created.json): ${summary.verdict}`);
  for (const deployed of summary.stages) {
    say(`   stage ${deployed.stage}: ${deployed.outcome}`);
    say(`     release key  ${deployed.releaseKey}`);
    await describeDesired(story.clients, stage.ssmParameter, deployed.desiredVersion);
    const stack = await describeStack(story.clients.cfn, deployed.stack);
    const live = stack && stackParameterValue(stack, stage.stackParameter);
    say(
      `     stack        ${deployed.stack} ${stack?.StackStatus ?? 'does not exist'}${live ? `, ${stage.stackParameter} = ${live}` : ''}`,
    );
  }
  await showInbox(story, 'the ops inbox', 'subjects');

  const bare = '8412345678-2';
  say(
    `\n   Another upload, ci-builds/${stage.pipeline}/${bare}/app.zip, without its metadata (a CI step forgot --metadata):`,
  );
  const refusedEvent = await uploadAsCi(s3, {
    bucket,
    key: `ci-builds/${stage.pipeline}/${bare}/app.zip`,
    body: exampleBuild(bare),
    metadata: {},
  });
  // The refusal is logged as an error; the timeline says it instead.
  const level = logger.getLevelName();
  logger.setLogLevel('SILENT');
  const refused = await handleDeployEvent(runtime, refusedEvent).finally(() => logger.setLogLevel(level));
  say(`   ${refused.verdict}: ${refused.reason}`);
  say('   nothing recorded: no SSM version, no release, no change set');
  await showInbox(story, 'the ops inbox', 'full');
};
