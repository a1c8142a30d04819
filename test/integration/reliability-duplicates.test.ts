/**
 * Reliability: the same pipeline event delivered several times (EventBridge delivers at least once, Lambda
 * retries), one after another and all at once. Whatever the interleaving, the build is released once,
 * recorded once (one SSM version), deployed by one ExecuteChangeSet, and the ops team hears of it once.
 * The deployer's clients go through the proxy (to count what reached moto); the state is read back from moto.
 */
import { type DeploySummary, handlePipelineEvent } from '../../shared/triggers/deploy';
import {
  changeSetNameOf,
  executedChangeSets,
  forwardedFor,
  provenanceOf,
  proxyOfFile,
  releaseKeys,
} from './helpers/reliability';
import {
  artifactKeyOf,
  inbox,
  objectMetadata,
  parameterHistory,
  sha256Hex,
  stackOf,
  stackStatusEvents,
} from './helpers/world';

jest.setTimeout(60_000);

/** How many times the event is delivered. */
const N = 5;

const aws = proxyOfFile();

type Deliver = () => Promise<DeploySummary>;

const oneAfterAnother = async (deliver: Deliver): Promise<DeploySummary[]> => {
  const summaries: DeploySummary[] = [];
  for (let i = 0; i < N; i++) summaries.push(await deliver());
  return summaries;
};

const allAtOnce = (deliver: Deliver): Promise<DeploySummary[]> =>
  Promise.all(Array.from({ length: N }, () => deliver()));

describe(`the same pipeline event delivered ${N} times`, () => {
  test.each([
    ['one after another', oneAfterAnother],
    ['all at once', allAtOnce],
  ])('%s: one release, one SSM version, one ExecuteChangeSet, at most one message', async (_, deliverAll) => {
    const { world, stage, initialKey, execution, bytes, releaseKey, runtime, event } = await aws.withBuild();

    const summaries = await deliverAll(() => handlePipelineEvent(runtime, structuredClone(event)));

    // Every delivery succeeded; exactly one recorded and deployed, the others found it done.
    expect(summaries.map((s) => s.verdict)).toEqual(Array(N).fill('deployed'));
    const results = summaries.map((s) => s.stages[0]);
    expect(results.every((r) => r?.releaseKey === releaseKey && r.desiredVersion === 2)).toBe(true);
    expect(results.filter((r) => r?.recorded === 'recorded')).toHaveLength(1);
    expect(results.filter((r) => r?.recorded === 'duplicate')).toHaveLength(N - 1);
    expect(results.filter((r) => r?.outcome === 'deploying')).toHaveLength(1);
    expect(results.filter((r) => r?.notified)).toHaveLength(1);

    // One release object for the build (next to the initial release), naming the execution.
    expect(await releaseKeys(world)).toEqual([initialKey, releaseKey].sort());
    expect(await objectMetadata(world, releaseKey)).toMatchObject({
      'pipeline-execution-id': execution.executionId,
      sha256: sha256Hex(bytes),
    });

    // One new SSM version, labelled with the execution.
    const history = await parameterHistory(world, stage.ssmParameter);
    expect(history.map((v) => [v.Version, v.Value])).toEqual([
      [1, initialKey],
      [2, releaseKey],
    ]);
    expect(history[1]?.Labels).toEqual(expect.arrayContaining([`exec-${execution.executionId}`]));
    expect(provenanceOf(history[1] ?? {})).toMatchObject({ execution: execution.executionId });

    // One change set made and executed: one ExecuteChangeSet reached moto, and moto accepted it.
    expect(forwardedFor(aws.proxy, 'cloudformation.ExecuteChangeSet', stage.stack)).toHaveLength(1);
    expect(executedChangeSets(aws.proxy, stage.stack).map(changeSetNameOf)).toEqual([
      `deploy-${stage.name}-v2`,
    ]);
    expect(forwardedFor(aws.proxy, 'cloudformation.CreateChangeSet', stage.stack)).toHaveLength(1);
    const stack = await stackOf(world, stage.stack);
    expect(stack?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    expect(await stackStatusEvents(world, stage.stack, 'UPDATE_COMPLETE')).toHaveLength(1);

    // At most one message about this execution (and here exactly the one that says it is deploying).
    const messages = (await inbox(world)).filter((m) => m.body.includes(execution.executionId));
    expect(messages.length).toBeLessThanOrEqual(1);
    expect(messages.map((m) => m.attributes.outcome)).toEqual(['deploying']);
  });
});
