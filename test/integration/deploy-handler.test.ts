/**
 * The real Lambda handler module (handlers/deploy.ts), loaded the way Lambda loads it: settings from the
 * environment at module load, the configuration from DEPLOYER_CONFIG_FILE.
 */
import type * as DeployHandlerModule from '../../handlers/deploy';
import { loadAsLambda, uploadedBuild, worldsOfFile } from './helpers/file-setup';
import {
  artifactKeyOf,
  hoursAfterBase,
  inbox,
  newExecution,
  parameterHistory,
  pipelineEvent,
  readObject,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(60_000);

const worlds = worldsOfFile();
let world: World;
let handler: (typeof DeployHandlerModule)['handler'];
let restore = () => {};

beforeAll(async () => {
  ({ world } = await worlds.withStack([{ name: 'dev' }, { name: 'prod', requiresApproval: true }]));
  const lambda = loadAsLambda(
    world,
    () => (require('../../handlers/deploy') as typeof DeployHandlerModule).handler,
  );
  handler = lambda.loaded;
  restore = lambda.restore;
});

afterAll(() => restore());

describe('handlers/deploy.ts handler', () => {
  test('deploys every stage of the pipeline named in the configuration file', async () => {
    const dev = stageOf(world, 'dev');
    const prod = stageOf(world, 'prod');
    const { execution, bytes, releaseKey } = await uploadedBuild(world, 0, 'dev');

    const summary = await handler(pipelineEvent(world, execution));

    expect(summary.verdict).toBe('deployed');
    expect(summary.stages).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ stage: dev.name, outcome: 'deploying', releaseKey, desiredVersion: 2 }),
        expect.objectContaining({
          stage: prod.name,
          outcome: 'pending-approval',
          releaseKey,
          desiredVersion: 1,
        }),
      ]),
    );
    expect((await readObject(world, releaseKey)).equals(bytes)).toBe(true);
    expect((await parameterHistory(world, dev.ssmParameter)).at(-1)?.Value).toBe(releaseKey);
    expect((await parameterHistory(world, prod.ssmParameter)).map((v) => v.Value)).toEqual([releaseKey]);
    const devStack = await stackOf(world, dev.stack);
    expect(devStack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(devStack)).toBe(releaseKey);
    // prod's stack waits for the approval of its CREATE change set.
    expect((await stackOf(world, prod.stack))?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    const subjects = (await inbox(world)).map((m) => m.subject).sort();
    const short = execution.commitId.slice(0, 7);
    expect(subjects).toEqual(
      [
        `[${dev.name}] ${dev.stack} DEPLOYING ${short}`,
        `[${prod.name}] ${prod.stack} APPROVAL NEEDED ${short}`,
      ].sort(),
    );
  });

  test('rejects an event from another account without touching anything', async () => {
    const dev = stageOf(world, 'dev');
    const { execution } = await uploadedBuild(world, 5, 'dev');
    const event = { ...pipelineEvent(world, execution), account: '210987654321' };
    const before = await parameterHistory(world, dev.ssmParameter);

    const summary = await handler(event);

    expect(summary).toMatchObject({ verdict: 'rejected', stages: [] });
    expect(summary.reason).toContain('210987654321');
    expect(await parameterHistory(world, dev.ssmParameter)).toHaveLength(before.length);
    expect(await inbox(world)).toEqual([]);
  });

  test('ignores a pipeline that is not configured', async () => {
    const execution = newExecution(hoursAfterBase(6));
    const summary = await handler(pipelineEvent({ pipeline: `unknown-${world.id}` }, execution));
    expect(summary).toMatchObject({ verdict: 'ignored', reason: 'pipeline not configured' });
    expect(await inbox(world)).toEqual([]);
  });
});
