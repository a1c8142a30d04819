/**
 * Upload pipelines in the configuration (`source: upload`): the metadata key that names a build is resolved
 * by the source, an upload key is made of characters that read the same URL-encoded or not, and no object
 * can be claimed by two upload pipelines (or be a stage's template and a build at once). Also the key
 * matching the trigger uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../shared/edge/config';
import { allStages } from '../../shared/edge/stages';
import { isUploadKey, keyShape, matchKey, shapesOverlap } from '../../shared/edge/upload-keys';
import { ConfigError } from '../../shared/errors';
import { ROOT, repoConfigText, thrownBy } from './helpers/fixtures';

const EXAMPLE_CONFIG = join(ROOT, 'examples', 'ci', 'deployer.config.yaml');

interface StageSketch {
  key: string;
  templateKey?: string;
  bucket?: string;
  executionMetadataKey?: string;
}

/** A configuration of upload pipelines: pipeline → stage → keys. */
const uploadConfig = (
  pipelines: Record<string, Record<string, StageSketch>>,
  /** null: no source (a CodePipeline pipeline, the default). */
  source: string | null = 'upload',
): string => {
  let n = 0;
  return JSON.stringify({
    pipelines: Object.fromEntries(
      Object.entries(pipelines).map(([pipeline, stages]) => [
        pipeline,
        {
          ...(source ? { source } : {}),
          stages: Object.fromEntries(
            Object.entries(stages).map(([stage, { bucket, ...keys }]) => {
              n += 1;
              return [
                stage,
                {
                  stack: `orders-api-${stage}`,
                  ssmParameter: `/deployer/orders-api/${stage}/artifact`,
                  artifact: { bucket: bucket ?? 'orders-api-artifacts', ...keys },
                  releasePrefix: 'releases/orders-api/',
                  parameterOverrides: { N: String(n) },
                },
              ];
            }),
          ),
        },
      ]),
    ),
  });
};

const configError = (text: string): string => {
  const error = thrownBy(() => parseConfig(text, 'deployer.config.yaml'));
  expect(error).toBeInstanceOf(ConfigError);
  return error.message;
};

describe('source and the metadata keys it implies', () => {
  it('defaults to codepipeline, whose builds name their execution in pipeline-execution-id', () => {
    const config = parseConfig(repoConfigText());
    expect(Object.values(config.pipelines).map((p) => p.source)).toEqual(['codepipeline']);
    for (const stage of allStages(config)) {
      expect(stage.artifact).toMatchObject({
        executionMetadataKey: 'pipeline-execution-id',
        commitMetadataKey: 'commit-id',
        startedAtMetadataKey: 'build-started-at',
      });
    }
  });

  it('reads build-id for an upload pipeline, and a key a stage names for either source', () => {
    const config = parseConfig(
      uploadConfig({
        ci: {
          dev: { key: 'ci/{executionId}/app.zip' },
          prod: { key: 'ci/{executionId}/app.zip', executionMetadataKey: 'job-id' },
        },
      }),
    );
    const [dev, prod] = allStages(config);
    expect(config.pipelines.ci?.source).toBe('upload');
    expect(dev?.artifact.executionMetadataKey).toBe('build-id');
    expect(prod?.artifact.executionMetadataKey).toBe('job-id');
  });

  it('refuses an unknown source, naming the field', () => {
    expect(configError(uploadConfig({ ci: { dev: { key: 'ci/app.zip' } } }, 'jenkins'))).toContain(
      'deployer.config.yaml: pipelines.ci.source: ',
    );
  });

  it('takes the example upload configuration of examples/ci', () => {
    const config = parseConfig(readFileSync(EXAMPLE_CONFIG, 'utf8'), EXAMPLE_CONFIG);
    const [stage] = allStages(config);
    expect(config.pipelines[stage?.pipeline ?? '']?.source).toBe('upload');
    expect(stage?.artifact.executionMetadataKey).toBe('build-id');
  });
});

describe('upload keys in the configuration', () => {
  it.each([
    'ci/{executionId}/app,1.zip',
    'ci/{executionId}/app+1.zip',
    'ci/{executionId}/{executionId}.zip',
    'ci/{pipeline}/app=1.zip',
  ])('refuses %s: a key that is not letters, digits, ".", "_", "-", "/" and one {executionId}', (key) => {
    expect(configError(uploadConfig({ ci: { dev: { key } } }))).toContain(
      "pipelines.ci.stages.dev.artifact.key: an upload pipeline's key may use only letters, digits",
    );
  });

  it('refuses a pipeline name that makes {pipeline} a character an upload key may not have', () => {
    expect(
      configError(uploadConfig({ 'ci@x': { dev: { key: 'ci/{pipeline}/{executionId}/app.zip' } } })),
    ).toContain('pipelines.ci@x.stages.dev.artifact.key: ');
  });

  it('lets a CodePipeline pipeline keep any key it had', () => {
    expect(() =>
      parseConfig(uploadConfig({ p: { dev: { key: 'builds/{executionId}/{executionId}+x.zip' } } }, null)),
    ).not.toThrow();
  });

  it('refuses two upload pipelines whose keys could name the same object, naming both', () => {
    const message = configError(
      uploadConfig({
        web: { dev: { key: 'ci/web/{executionId}/app.zip' } },
        api: { 'api-dev': { key: 'ci/{executionId}/{pipeline}/app.zip' } },
      }),
    );
    // ci/web/api/app.zip is both web's build "api" and api's build "web".
    expect(message).toContain(
      'pipelines.api.stages.api-dev.artifact.key: could name the same object as pipelines.web.stages.dev.artifact.key',
    );
  });

  it("refuses an upload pipeline's build key that is another upload pipeline's template key", () => {
    const message = configError(
      uploadConfig({
        web: { dev: { key: 'ci/web/{executionId}/app.zip', templateKey: 'ci/shared/template.yaml' } },
        api: { 'api-dev': { key: 'ci/shared/template.yaml' } },
      }),
    );
    expect(message).toContain('pipelines.api.stages.api-dev.artifact.key: could name the same object as');
  });

  it('refuses a template key that could be taken for the build', () => {
    const message = configError(
      uploadConfig({ ci: { dev: { key: 'ci/{executionId}/app', templateKey: 'ci/template/app' } } }),
    );
    expect(message).toContain(
      'pipelines.ci.stages.dev.artifact.templateKey: could name the same object as pipelines.ci.stages.dev.artifact.key',
    );
  });

  it('lets the stages of one pipeline share a build key and a template key, and other buckets use any key', () => {
    const shared = { key: 'ci/{executionId}/app.zip', templateKey: 'ci/{executionId}/template.yaml' };
    expect(() =>
      parseConfig(
        uploadConfig({
          ci: { dev: shared, prod: shared },
          other: { 'o-dev': { key: 'ci/{executionId}/app.zip', bucket: 'other-artifacts' } },
        }),
      ),
    ).not.toThrow();
  });
});

describe('matchKey', () => {
  const shape = keyShape('ci/{pipeline}/{executionId}/app.zip', 'orders');

  it('finds the build id in the place of {executionId}', () => {
    expect(matchKey(shape, 'ci/orders/8412345678-1/app.zip')).toEqual({ segment: '8412345678-1' });
  });

  it.each([
    'ci/orders/8412345678-1/template.yaml',
    'ci/orders//app.zip',
    'ci/orders/a/b/app.zip',
    'ci/other/1/app.zip',
    'ci/orders/1/app.zip.bak',
  ])('is not %s', (key) => {
    expect(matchKey(shape, key)).toBeUndefined();
  });

  it('takes any text of one segment for the caller to judge (it is refused when it is no build id)', () => {
    expect(matchKey(shape, 'ci/orders/not a build id!/app.zip')).toEqual({ segment: 'not a build id!' });
  });

  it('matches a fixed key exactly', () => {
    const fixed = keyShape('ci/{pipeline}/latest/app.zip', 'orders');
    expect(matchKey(fixed, 'ci/orders/latest/app.zip')).toEqual({});
    expect(matchKey(fixed, 'ci/orders/latest/app.zip2')).toBeUndefined();
  });
});

describe('shapesOverlap', () => {
  const overlap = (a: string, b: string) => shapesOverlap(keyShape(a, 'p'), keyShape(b, 'p'));

  it.each([
    ['ci/{executionId}/app.zip', 'ci/{executionId}/app.zip'],
    ['ci/{executionId}/app.zip', 'ci/7/app.zip'],
    ['ci/a{executionId}', 'ci/{executionId}b'],
    ['ci/web/{executionId}/app.zip', 'ci/{executionId}/api/app.zip'],
  ])('%s and %s can name one object', (a, b) => {
    expect(overlap(a, b)).toBe(true);
    expect(overlap(b, a)).toBe(true);
  });

  it.each([
    ['ci/{executionId}/app.zip', 'ci/{executionId}/template.yaml'],
    ['ci/{executionId}/app.zip', 'ci/app.zip'],
    ['ci/{executionId}/app.zip', 'ci/a/b/app.zip'],
    ['web/{executionId}', 'api/{executionId}'],
    ['ci/x{executionId}', 'ci/y{executionId}'],
  ])('%s and %s cannot', (a, b) => {
    expect(overlap(a, b)).toBe(false);
    expect(overlap(b, a)).toBe(false);
  });

  it('agrees with matching for a fixed key', () => {
    expect(isUploadKey('ci/{pipeline}/{executionId}/app.zip', 'p')).toBe(true);
    expect(isUploadKey('ci/../app.zip', 'p')).toBe(false);
  });
});
