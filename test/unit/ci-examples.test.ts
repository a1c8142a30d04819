/**
 * The CI examples (examples/ci/) keep the upload contract: each names its build with its CI's own variables,
 * and its shell lines, run here with sample values of those variables, upload the template first and then the
 * artifact, to keys of the example upload configuration (examples/ci/deployer.config.yaml), with the three
 * metadata keys the deployer reads — and the deployer accepts the identity they give. An example that drifts
 * from the contract fails here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../shared/edge/config';
import { allStages } from '../../shared/edge/stages';
import { readBuildIdentity } from '../../shared/edge/upload-identity';
import { keyShape, matchKey } from '../../shared/edge/upload-keys';
import { claimOf } from '../../shared/triggers/upload';
import { ROOT } from './helpers/fixtures';

const DIR = join(ROOT, 'examples', 'ci');
const config = parseConfig(readFileSync(join(DIR, 'deployer.config.yaml'), 'utf8'), 'examples/ci');
const [stage] = allStages(config);
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
/** A build that started an hour ago, in milliseconds since 1970, as Jenkins and CodeBuild give it. */
const STARTED_MS = Date.now() - 3_600_000;
const startedAtSecond = new Date(Math.floor(STARTED_MS / 1000) * 1000).toISOString();

interface Example {
  ci: string;
  file: string;
  /** The CI's variables, as it sets them for the build. */
  env: Record<string, string>;
  /** GitHub's `${{ github.x }}` expressions, as the runner fills them in. */
  expressions?: Record<string, string>;
  buildId: string;
  /** When the example says the build started (undefined: the clock of its first step). */
  startedAt?: string;
}

const EXAMPLES: Example[] = [
  {
    ci: 'Jenkins',
    file: 'jenkins/Jenkinsfile',
    env: {
      BUILD_TAG: 'jenkins-orders/api main-42',
      GIT_COMMIT: COMMIT,
      BUILD_STARTED_MS: String(STARTED_MS),
    },
    buildId: 'jenkins-orders-api-main-42',
    startedAt: startedAtSecond,
  },
  {
    ci: 'Jenkins, a job name longer than a build id may be',
    file: 'jenkins/Jenkinsfile',
    env: {
      BUILD_TAG: `jenkins-${'team/'.repeat(30)}orders-api-1234`,
      GIT_COMMIT: COMMIT,
      BUILD_STARTED_MS: String(STARTED_MS),
    },
    buildId: `${'-team'.repeat(30)}-orders-api-1234`.slice(-95).replace(/^-+/, ''),
    startedAt: startedAtSecond,
  },
  {
    ci: 'CircleCI',
    file: 'circleci/config.yml',
    env: {
      CIRCLE_WORKFLOW_ID: '6e1a7c2d-4b3f-4e5a-9c8d-7b6a5f4e3d2c',
      CIRCLE_BUILD_NUM: '1234',
      CIRCLE_SHA1: COMMIT,
    },
    buildId: '6e1a7c2d-4b3f-4e5a-9c8d-7b6a5f4e3d2c-1234',
  },
  {
    ci: 'GitHub Actions',
    file: 'github-actions/deploy.yml',
    env: {},
    expressions: { run_id: '8412345678', run_attempt: '2', sha: COMMIT },
    buildId: '8412345678-2',
  },
  {
    ci: 'CodeBuild',
    file: 'codebuild/buildspec.yml',
    env: {
      CODEBUILD_BUILD_ID: 'orders_api-build:7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      CODEBUILD_RESOLVED_SOURCE_VERSION: COMMIT,
      CODEBUILD_START_TIME: String(STARTED_MS),
    },
    buildId: 'orders-api-build-7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    startedAt: startedAtSecond,
  },
];

interface Upload {
  source: string;
  bucket: string;
  key: string;
  metadata: Record<string, string>;
}

/** The example's shell text: GitHub's expressions filled in, continued lines joined. */
const shellOf = (example: Example): string =>
  readFileSync(join(DIR, example.file), 'utf8')
    .replace(/\$\{\{\s*github\.(\w+)\s*\}\}/g, (all, name: string) => example.expressions?.[name] ?? all)
    .replace(/\\\n\s*/g, ' ');

/** Run the example's naming lines with the CI's variables, and print each upload it makes. */
const runUploads = (example: Example): Upload[] => {
  const shell = shellOf(example);
  const bucket = /ARTIFACT_BUCKET(?:\s*=\s*|:\s*)'?([a-z0-9.-]+)'?/.exec(shell)?.[1];
  const assignments = [...shell.matchAll(/^\s*(DEPLOY_[A-Z_]+=.+)$/gm)].map((m) => m[1]);
  const uploads = [...shell.matchAll(/aws s3 cp (\S+) ("s3:\/\/[^"]+") .*?--metadata ("[^"]+")/g)];
  expect(bucket).toBeDefined();
  expect(uploads).toHaveLength(2);
  const script = [
    'set -eu',
    `ARTIFACT_BUCKET='${bucket}'`,
    ...assignments,
    ...uploads.map(([, source, url, metadata]) => `printf '%s\\t%s\\t%s\\n' '${source}' ${url} ${metadata}`),
  ].join('\n');
  // A POSIX shell, as Jenkins' sh steps use: the examples' naming lines need nothing of bash.
  const run = spawnSync('sh', ['-c', script], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...example.env },
    encoding: 'utf8',
  });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [source = '', url = '', metadata = ''] = line.split('\t');
      const [, into = '', key = ''] = /^s3:\/\/([^/]+)\/(.+)$/.exec(url) ?? [];
      return {
        source,
        bucket: into,
        key,
        metadata: Object.fromEntries(
          metadata.split(',').map((pair) => pair.split('=', 2) as [string, string]),
        ),
      };
    });
};

describe.each(EXAMPLES)('examples/ci: $ci', (example) => {
  it('parses (YAML) and builds the example service', () => {
    const text = readFileSync(join(DIR, example.file), 'utf8');
    if (example.file.endsWith('.yml')) expect(() => parse(text)).not.toThrow();
    expect(text).toContain('(cd examples/app/src && zip -X -r ../../../app.zip .)');
    expect(existsSync(join(ROOT, 'examples', 'app', 'template.yaml'))).toBe(true);
  });

  it('uploads the template, then the artifact, to keys of the example upload configuration', () => {
    const [template, artifact] = runUploads(example);
    if (!stage || !template || !artifact) throw new Error('test setup: no stage or no uploads');
    expect(template.source).toBe('examples/app/template.yaml');
    expect(artifact.source).toBe('app.zip');
    for (const upload of [template, artifact]) expect(upload.bucket).toBe(stage.artifact.bucket);
    // The artifact's upload is the trigger; the template's is not.
    const claim = claimOf(config, artifact.bucket, artifact.key);
    expect(claim?.stages).toEqual([{ stage, segment: example.buildId }]);
    expect(claimOf(config, template.bucket, template.key)).toBeUndefined();
    const templateKey = keyShape(stage.artifact.templateKey ?? '', stage.pipeline);
    expect(matchKey(templateKey, template.key)).toEqual({ segment: example.buildId });
  });

  it('sets build-id, commit-id and build-started-at on both, and the deployer accepts the identity', () => {
    const uploads = runUploads(example);
    if (!stage) throw new Error('test setup: no stage');
    const { executionMetadataKey, commitMetadataKey, startedAtMetadataKey } = stage.artifact;
    expect([executionMetadataKey, commitMetadataKey, startedAtMetadataKey]).toEqual([
      'build-id',
      'commit-id',
      'build-started-at',
    ]);
    for (const upload of uploads) {
      expect(Object.keys(upload.metadata).sort()).toEqual(['build-id', 'build-started-at', 'commit-id']);
      const reading = readBuildIdentity(upload.metadata, stage.artifact, {
        segment: example.buildId,
        uploadedAt: new Date().toISOString(),
      });
      expect(reading).toEqual({
        identity: {
          buildId: example.buildId,
          commitId: COMMIT,
          startedAt:
            example.startedAt ?? expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/),
        },
      });
    }
  });
});

describe('examples/ci: each CI names its build with its own variables', () => {
  it.each([
    ['jenkins/Jenkinsfile', ['$BUILD_TAG', '$GIT_COMMIT', 'currentBuild.startTimeInMillis']],
    ['circleci/config.yml', ['CIRCLE_WORKFLOW_ID', 'CIRCLE_BUILD_NUM', 'CIRCLE_SHA1']],
    ['github-actions/deploy.yml', ['github.run_id', 'github.run_attempt', 'github.sha']],
    [
      'codebuild/buildspec.yml',
      ['$CODEBUILD_BUILD_ID', '$CODEBUILD_RESOLVED_SOURCE_VERSION', 'CODEBUILD_START_TIME'],
    ],
  ])('%s', (file, variables) => {
    const text = readFileSync(join(DIR, file), 'utf8');
    for (const variable of variables) expect(text).toContain(variable);
  });
});
