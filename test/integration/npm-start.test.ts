/**
 * `npm start` end to end: the bundled walkthrough (dist/bin/start.js, built by scripts/build.mjs) starts
 * its own moto, deploys the example event, prints what happened, and stops moto again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exampleBuild } from '../../bin/support/example-world';
import { loadConfigFile } from '../../shared/edge/config';
import { parsePipelineEvent } from '../../shared/edge/events';
import { stagesOfPipeline } from '../../shared/edge/stages';
import { CLI_TEST_TIMEOUT_MS, cleanEnv, runProcess, withBuildLock } from '../support/checkout-build';
import { EXAMPLE_EVENT_FILE, sha256Hex } from './helpers/world';

/** A bound for a loaded machine, not a speed requirement: a build, or the whole walkthrough on moto. */
const RUN_TIMEOUT_MS = 300_000;
jest.setTimeout(CLI_TEST_TIMEOUT_MS);

const ROOT = join(__dirname, '..', '..');

/** Run a command in the repository with a clean environment: no emulator or deployer settings leak in. */
const run = (command: string, args: string[], timeoutMs: number) =>
  runProcess(command, args, cleanEnv(), timeoutMs);

describe('npm start', () => {
  test('builds, walks through a deploy on its own moto, and leaves nothing running', async () => {
    // The checkout's build lock, from the build until the walkthrough ends: no other test file's build
    // rewrites dist/ while this one loads its bundles from there.
    const { build, start } = await withBuildLock(async () => {
      const build = await run(process.execPath, ['scripts/build.mjs'], RUN_TIMEOUT_MS);
      if (build.code !== 0) return { build, start: undefined };
      return { build, start: await run(process.execPath, ['dist/bin/start.js'], RUN_TIMEOUT_MS) };
    });
    // stderr rides along so that a failure shows why.
    expect({ code: build.code, stderr: build.stderr }).toMatchObject({ code: 0 });
    if (!start) throw new Error('the build failed, so the walkthrough did not run');

    const output = start.stdout;
    expect({ code: start.code, signal: start.signal, stderr: start.stderr }).toMatchObject({ code: 0 });
    expect(start.stderr).not.toContain('npm start failed');

    // What the walkthrough deploys: the example event, the example build, deployer.config.yaml.
    const execution = parsePipelineEvent(JSON.parse(readFileSync(EXAMPLE_EVENT_FILE, 'utf8')));
    const stages = stagesOfPipeline(loadConfigFile(join(ROOT, 'deployer.config.yaml')), execution.pipeline);
    const dev = stages?.find((s) => s.name === 'dev');
    if (!dev) throw new Error('deployer.config.yaml has no dev stage for the example pipeline');
    const releaseKey = `${dev.releasePrefix}${sha256Hex(exampleBuild(execution.executionId))}.zip`;
    const short = execution.commitId?.slice(0, 7);

    expect(output).toContain('The deploy handler: deployed');
    expect(output).toMatch(new RegExp(`release key\\s+${releaseKey.replaceAll('.', '\\.')}`));
    expect(output).toMatch(/change set\s+deploy-dev-v2 \(CREATE_COMPLETE, EXECUTE_COMPLETE\)/);
    expect(output).toMatch(/change set\s+deploy-prod-v1 \(CREATE_COMPLETE, AVAILABLE\)/);
    expect(output).toMatch(new RegExp(`stack\\s+${dev.stack} UPDATE_COMPLETE, ArtifactKey = ${releaseKey}`));
    expect(output).toContain(`Subject: [dev] ${dev.stack} DEPLOYING ${short}`);
    expect(output).toContain(`Subject: [prod] orders-api-prod APPROVAL NEEDED ${short}`);
    // The rest of the story: a duplicate changes nothing, a build during a busy stack waits and is
    // deployed when the stack settles, a failed update is reported with its root cause and not retried.
    expect(output).toContain('SSM versions of dev before and after: 2 and 2');
    expect(output).toMatch(/stage dev: recorded as desired version 3; waiting/);
    expect(output).toContain(`Subject: [dev] ${dev.stack} WAITING`);
    expect(output).toContain('reconcile handler: dev deploying');
    expect(output).toContain(`Subject: [dev] ${dev.stack} UPDATE_ROLLBACK_COMPLETE`);
    expect(output).toMatch(/Root cause:\s+Function \(AWS::Lambda::Function\) UPDATE_FAILED/);
    expect(output).toMatch(/version 4 marked failed/);
    expect(output).toContain('the next reconcile of dev: blocked (the failed release is not retried)');
    expect(output).toContain('moto stopped; nothing left running.');

    // The moto it started is gone: nothing answers on its port any more.
    const endpoint = /on moto at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(endpoint).toBeDefined();
    await expect(fetch(`${endpoint}/moto-api/data.json`)).rejects.toThrow();
  });
});
