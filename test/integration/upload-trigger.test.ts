/**
 * Builds uploaded by a CI, end to end on moto: the build (and the template before it) is put into the bucket
 * with the metadata a CI sets, S3's "Object Created" event is made from what moto answered (its version id
 * and ETag), and the event is delivered to the real deploy handler, loaded as Lambda loads it. What the
 * deployer did is read back: the desired version in SSM, the release object, the stack's parameter, the
 * ops inbox.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetTemplateCommand } from '@aws-sdk/client-cloudformation';
import { parse, stringify } from 'yaml';
import { exampleBuild, exampleTemplateWithQueue, uploadAsCi } from '../../bin/support/example-world';
import type * as DeployHandlerModule from '../../handlers/deploy';
import { parseConfig } from '../../shared/edge/config';
import { loadAsLambda, releaseKeyOf, worldsOfFile } from './helpers/file-setup';
import {
  ACCOUNT,
  artifactKeyOf,
  changeSetsOf,
  enableVersioning,
  hoursAfterBase,
  inbox,
  objectExists,
  parameterHistory,
  REGION,
  readObject,
  stackOf,
  stageOf,
  type World,
} from './helpers/world';

jest.setTimeout(90_000);

const worlds = worldsOfFile();
const restores: (() => void)[] = [];
afterAll(() => {
  for (const restore of restores) restore();
});

type Handler = (typeof DeployHandlerModule)['handler'];

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');
const newCommit = () => randomBytes(20).toString('hex');

interface UploadWorld {
  world: World;
  handler: Handler;
  /** The dev stage's build key and template key, with {pipeline} filled in. */
  keyOf: (buildId: string) => string;
  templateKeyOf: (buildId: string) => string;
}

/**
 * A world whose pipeline takes uploaded builds (source: upload), its dev stack running an initial release,
 * and the deploy handler loaded for it. `key` is the build key ({executionId} or a fixed key).
 */
const uploadWorld = async (options: { key?: string; versioned?: boolean } = {}): Promise<UploadWorld> => {
  const key = options.key ?? 'ci/{pipeline}/{executionId}/app.zip';
  const templateKey = key.replace('app.zip', 'template.yaml');
  const { world } = await worlds.withStack([{ name: 'dev', artifactKey: key }]);
  if (options.versioned) await enableVersioning(world);
  const config = parse(world.configText) as {
    pipelines: Record<
      string,
      { source?: string; stages: Record<string, { artifact: Record<string, string> }> }
    >;
  };
  const pipeline = config.pipelines[world.pipeline];
  if (!pipeline) throw new Error('test setup: the world has no pipeline');
  pipeline.source = 'upload';
  for (const stage of Object.values(pipeline.stages)) stage.artifact.templateKey = templateKey;
  world.configText = stringify(config);
  world.runtime = { ...world.runtime, config: parseConfig(world.configText, `upload world ${world.id}`) };
  const lambda = loadAsLambda(
    world,
    () => (require('../../handlers/deploy') as typeof DeployHandlerModule).handler,
  );
  restores.push(lambda.restore);
  const fill = (template: string, buildId: string) =>
    template.replaceAll('{pipeline}', world.pipeline).replaceAll('{executionId}', buildId);
  return {
    world,
    handler: lambda.loaded,
    keyOf: (buildId) => fill(key, buildId),
    templateKeyOf: (buildId) => fill(templateKey, buildId),
  };
};

interface Build {
  buildId: string;
  commit: string;
  startedAt: string;
  bytes: Buffer;
}

const newBuild = (hours: number): Build => {
  const buildId = `ci-${randomUUID()}`;
  // A CI writes the start to the second (see examples/ci).
  const startedAt = hoursAfterBase(hours).replace(/\.\d+Z$/, '.000Z');
  return { buildId, commit: newCommit(), startedAt, bytes: exampleBuild(buildId) };
};

/** The metadata a CI sets on its uploads (see examples/ci). */
const identityOf = (build: Build): Record<string, string> => ({
  'build-id': build.buildId,
  'commit-id': build.commit,
  'build-started-at': build.startedAt.replace(/\.\d+Z$/, 'Z'),
});

/** Put an object as a CI does, and the "Object Created" event S3 sends for it, made of moto's answer. */
const put = (world: World, key: string, body: Buffer | string, metadata: Record<string, string>) =>
  uploadAsCi(
    world.clients.s3,
    { bucket: world.bucket, key, body, metadata },
    { account: ACCOUNT, region: REGION },
  );

/** A CI's upload of a build: the template first (the example's, or `template`), then the artifact. */
const uploadBuild = async (u: UploadWorld, build: Build, template?: string) => {
  const templateEvent = await put(
    u.world,
    u.templateKeyOf(build.buildId),
    template ?? readFileSync(join(__dirname, '..', '..', 'examples', 'app', 'template.yaml')),
    identityOf(build),
  );
  const event = await put(u.world, u.keyOf(build.buildId), build.bytes, identityOf(build));
  return { event, templateEvent };
};

const history = async (u: UploadWorld) => parameterHistory(u.world, stageOf(u.world).ssmParameter);
const provenanceOf = (version: { Description?: string } | undefined) =>
  JSON.parse(version?.Description ?? '{}') as Record<string, string>;

describe('an uploaded build', () => {
  let u: UploadWorld;
  let first: Build;
  let firstEvent: Record<string, unknown>;
  beforeAll(async () => {
    u = await uploadWorld();
    first = newBuild(1);
  });

  test('is deployed: recorded under its build id, commit and start; released; the stack runs it; the ops team told', async () => {
    const dev = stageOf(u.world);
    const { event } = await uploadBuild(u, first, exampleTemplateWithQueue());
    firstEvent = event;

    const summary = await u.handler(event);

    const releaseKey = releaseKeyOf(first.bytes);
    expect(summary).toMatchObject({ verdict: 'deployed', executionId: first.buildId });
    expect(summary.stages).toEqual([
      expect.objectContaining({ stage: dev.name, outcome: 'deploying', recorded: 'recorded', releaseKey }),
    ]);
    const latest = (await history(u)).at(-1);
    expect(latest?.Value).toBe(releaseKey);
    expect(provenanceOf(latest)).toMatchObject({
      pipeline: u.world.pipeline,
      execution: first.buildId,
      commit: first.commit,
      startedAt: first.startedAt,
      artifact: sha256(first.bytes),
    });
    expect((await readObject(u.world, releaseKey)).equals(first.bytes)).toBe(true);
    const stack = await stackOf(u.world, dev.stack);
    expect(artifactKeyOf(stack)).toBe(releaseKey);
    const [message, ...more] = await inbox(u.world);
    expect(more).toEqual([]);
    expect(message?.subject).toBe(`[${dev.name}] ${dev.stack} DEPLOYING ${first.commit.slice(0, 7)}`);
    expect(message?.body).toContain(`uploaded build ${first.buildId}`);
  });

  test('brought its template: the version pins it, and the stack was updated with it', async () => {
    const dev = stageOf(u.world);
    expect(provenanceOf((await history(u)).at(-1)).template).toBe(sha256(exampleTemplateWithQueue()));
    const { TemplateBody } = await u.world.clients.cfn.send(new GetTemplateCommand({ StackName: dev.stack }));
    expect(TemplateBody).toContain('AWS::SQS::Queue');
  });

  test('the same event delivered again: nothing recorded again, nothing said again', async () => {
    const before = await history(u);

    const summary = await u.handler(firstEvent);

    expect(summary.stages[0]).toMatchObject({ recorded: 'duplicate', releaseKey: releaseKeyOf(first.bytes) });
    expect(await history(u)).toHaveLength(before.length);
    expect(await inbox(u.world)).toEqual([]);
  });

  test('the same build id uploaded again (a rebuild of it): the build recorded first stays, nothing said', async () => {
    const dev = stageOf(u.world);
    const before = await history(u);
    const rebuilt = { ...first, bytes: exampleBuild(`${first.buildId} rebuilt`) };

    const { event } = await uploadBuild(u, rebuilt);
    const summary = await u.handler(event);

    expect(summary.stages[0]).toMatchObject({ recorded: 'duplicate', outcome: 'superseded' });
    expect(await history(u)).toHaveLength(before.length);
    expect(artifactKeyOf(await stackOf(u.world, dev.stack))).toBe(releaseKeyOf(first.bytes));
    expect(await inbox(u.world)).toEqual([]);
  });

  test('an older build arriving after a newer one is not recorded and does not replace it', async () => {
    const dev = stageOf(u.world);
    const newer = newBuild(3);
    const older = newBuild(2);
    const newerUpload = await uploadBuild(u, newer);
    expect((await u.handler(newerUpload.event)).stages[0]?.outcome).toBe('deploying');
    await inbox(u.world);
    const versions = (await history(u)).length;

    const olderUpload = await uploadBuild(u, older);
    const summary = await u.handler(olderUpload.event);

    expect(summary.stages[0]).toMatchObject({ outcome: 'superseded' });
    expect(await history(u)).toHaveLength(versions);
    expect((await history(u)).at(-1)?.Value).toBe(releaseKeyOf(newer.bytes));
    expect(artifactKeyOf(await stackOf(u.world, dev.stack))).toBe(releaseKeyOf(newer.bytes));
    expect(await inbox(u.world)).toEqual([]);
  });

  test('the template upload is ignored: nothing recorded, nothing said', async () => {
    const build = newBuild(4);
    const { templateEvent } = await uploadBuild(u, build);
    const versions = (await history(u)).length;

    const summary = await u.handler(templateEvent);

    expect(summary).toMatchObject({ verdict: 'ignored', reason: 'not a build key of an upload pipeline' });
    expect(await history(u)).toHaveLength(versions);
    expect(await inbox(u.world)).toEqual([]);
  });
});

describe('an upload without a sound identity', () => {
  test('is refused with nothing written, and the ops team is told once', async () => {
    const u = await uploadWorld();
    const dev = stageOf(u.world);
    const build = newBuild(1);
    const { 'build-id': _, ...withoutBuildId } = identityOf(build);
    const event = await put(u.world, u.keyOf(build.buildId), build.bytes, withoutBuildId);
    const versions = (await history(u)).length;
    const changeSets = (await changeSetsOf(u.world, dev.stack)).length;
    const running = artifactKeyOf(await stackOf(u.world, dev.stack));

    const summary = await u.handler(event);
    const again = await u.handler(event);

    for (const refused of [summary, again]) {
      expect(refused.verdict).toBe('rejected');
      expect(refused.reason).toContain('metadata build-id (x-amz-meta-build-id) is missing');
    }
    expect(await history(u)).toHaveLength(versions);
    expect(await objectExists(u.world, releaseKeyOf(build.bytes))).toBe(false);
    expect(await changeSetsOf(u.world, dev.stack)).toHaveLength(changeSets);
    expect(artifactKeyOf(await stackOf(u.world, dev.stack))).toBe(running);
    const messages = await inbox(u.world);
    expect(messages.map((m) => m.subject)).toEqual([`[${dev.name}] ${dev.stack} FAILED`]);
    expect(messages[0]?.body).toContain('metadata build-id (x-amz-meta-build-id) is missing');
    expect(summary.stages[0]).toMatchObject({ outcome: 'failed', notified: true });
    expect(again.stages[0]).toMatchObject({ outcome: 'failed', notified: false });
  });
});

describe('a fixed build key in a versioned bucket', () => {
  test("each event deploys its own version's bytes, though a later upload overwrote the key", async () => {
    const u = await uploadWorld({ key: 'ci/{pipeline}/app.zip', versioned: true });
    const dev = stageOf(u.world);
    const first = newBuild(1);
    const second = newBuild(2);
    const firstUpload = await uploadBuild(u, first);
    const secondUpload = await uploadBuild(u, second);
    expect(firstUpload.event.detail).not.toEqual(secondUpload.event.detail);

    const one = await u.handler(firstUpload.event);

    expect(one.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: releaseKeyOf(first.bytes) });
    expect((await readObject(u.world, releaseKeyOf(first.bytes))).equals(first.bytes)).toBe(true);
    expect(artifactKeyOf(await stackOf(u.world, dev.stack))).toBe(releaseKeyOf(first.bytes));

    const two = await u.handler(secondUpload.event);

    expect(two.stages[0]).toMatchObject({ outcome: 'deploying', releaseKey: releaseKeyOf(second.bytes) });
    expect(artifactKeyOf(await stackOf(u.world, dev.stack))).toBe(releaseKeyOf(second.bytes));
    expect((await history(u)).map((v) => provenanceOf(v).execution).slice(-2)).toEqual([
      first.buildId,
      second.buildId,
    ]);
  });
});
