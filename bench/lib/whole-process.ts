/**
 * Whole processes on the emulator's own pace: `deployer invoke DeployFunction` against the same handler
 * bundle run directly (the CLI's overhead), and against `aws cloudformation deploy` (our peer).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXAMPLE_TEMPLATE, exampleBuild, uploadBuild } from '../../bin/support/example-world';
import { describeStack, stackParameterValue } from '../../shared/aws/stacks';
import { awsEnv, handlerEnv, runHandler, runProcess, scratchFile, writeEvent } from './processes';
import { goal, median, ms, pairedRatio, say, table } from './report';
import { newBuild, REGION, ROOT, stageOf, type World } from './world';

const exec = promisify(execFile);

export const benchWholeProcess = async (
  world: World,
  endpoint: string,
  stageName: string,
  runs: number,
): Promise<void> => {
  const stage = stageOf(world, stageName);
  const env = { ...handlerEnv(world, endpoint), DEPLOYER_CONFIG_FILE: world.configFile };
  const envVars = scratchFile('env.json');
  writeFileSync(
    envVars,
    JSON.stringify({
      Parameters: {
        DEPLOYER_TOPIC_ARN: world.topicArn,
        DEPLOYER_LEDGER_TABLE: world.ledgerTable,
        LOG_LEVEL: 'WARN',
      },
    }),
  );
  const invoke: number[] = [];
  const direct: number[] = [];
  const awscli: number[] = [];
  for (let i = 0; i < runs; i++) {
    const viaInvoke = await newBuild(world, stageName);
    const run = await runProcess(
      [
        join(ROOT, 'dist', 'bin', 'deployer.js'),
        'invoke',
        'DeployFunction',
        '-e',
        writeEvent(viaInvoke.event),
        '--env-vars',
        envVars,
      ],
      env,
      'deployer invoke',
    );
    invoke.push(run.exitedAt - run.spawnedAt);
    const viaDirect = await newBuild(world, stageName);
    const ran = await runHandler(join(ROOT, 'dist', 'handlers', 'deploy.js'), viaDirect.event, env);
    direct.push(ran.exitedAt - ran.spawnedAt);

    const key = `${stage.releasePrefix}awscli-${Date.now()}-${i}.zip`;
    await uploadBuild(world.direct.s3, {
      bucket: stage.artifact.bucket,
      key,
      bytes: exampleBuild(`awscli ${i}`),
    });
    const t = performance.now();
    await exec(
      'aws',
      [
        'cloudformation',
        'deploy',
        '--stack-name',
        stage.stack,
        '--template-file',
        EXAMPLE_TEMPLATE,
        '--capabilities',
        'CAPABILITY_IAM',
        '--parameter-overrides',
        `ArtifactKey=${key}`,
        `Stage=${stage.name}`,
        `ArtifactBucket=${stage.artifact.bucket}`,
        '--region',
        REGION,
        '--endpoint-url',
        endpoint,
      ],
      { env: { ...awsEnv(endpoint) } },
    );
    awscli.push(performance.now() - t);
    const stack = await describeStack(world.direct.cfn, stage.stack);
    if (!stack || stackParameterValue(stack, 'ArtifactKey') !== key)
      throw new Error('aws cloudformation deploy did not update the stack');
  }
  const overhead = pairedRatio(invoke, direct);
  const peer = pairedRatio(invoke, awscli);
  say(
    `### Whole processes on the emulator's own pace (${runs} interleaved runs each; medians, ratio of pairs)\n`,
  );
  table(
    ['command', 'median', 'runs'],
    [
      [
        'deployer invoke DeployFunction -e event.json',
        ms(median(invoke)),
        invoke.map((v) => v.toFixed(0)).join(', '),
      ],
      [
        'the same handler bundle run directly (node, require, handler(event))',
        ms(median(direct)),
        direct.map((v) => v.toFixed(0)).join(', '),
      ],
      [
        'aws cloudformation deploy --parameter-overrides ArtifactKey=…',
        ms(median(awscli)),
        awscli.map((v) => v.toFixed(0)).join(', '),
      ],
      ['ratio invoke / direct', overhead.toFixed(2), ''],
      ['ratio invoke / awscli', peer.toFixed(2), ''],
    ],
  );
  goal({
    metric: '`deployer invoke` against the same handler run directly',
    goal: '≤ 1.2×',
    ours: ms(median(invoke)),
    floor: ms(median(direct)),
    ratio: overhead.toFixed(2),
    met: overhead <= 1.2,
  });
};
