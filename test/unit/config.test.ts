import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile, parseConfig, validateConfig } from '../../shared/edge/config';
import {
  allStages,
  type DeployerConfig,
  releaseBucketOf,
  stageNamed,
  stagesOfPipeline,
} from '../../shared/edge/stages';
import { ConfigError, PermanentError } from '../../shared/errors';
import { ROOT, repoConfigText, stageOf, thrownBy } from './helpers/fixtures';

type Raw = Record<string, unknown>;

const devStage = (): Raw => ({
  stack: 'orders-api-dev',
  ssmParameter: '/deployer/orders-api/dev/artifact',
  artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
  releasePrefix: 'releases/orders-api/',
});

/** A minimal valid configuration with one pipeline and one stage "dev", the stage changed by `patch`. */
const withDev = (patch: Raw = {}): Raw => ({
  pipelines: { 'orders-api-pipeline': { stages: { dev: { ...devStage(), ...patch } } } },
});

/** The ConfigError that parsing this configuration (given as an object, written as JSON) fails with. */
const configErrorOf = (raw: unknown, source?: string): ConfigError => {
  const error = thrownBy(() => parseConfig(JSON.stringify(raw), source));
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
};

const DEV_PATH = 'pipelines.orders-api-pipeline.stages.dev';

describe('the repository configuration', () => {
  let config: DeployerConfig;
  beforeAll(() => {
    config = parseConfig(repoConfigText(), 'deployer.config.yaml');
  });

  it('loads, with the pipeline and both stages of the example service', () => {
    expect(Object.keys(config.pipelines)).toEqual(['orders-api-pipeline']);
    expect(allStages(config).map((s) => [s.pipeline, s.name, s.stack])).toEqual([
      ['orders-api-pipeline', 'dev', 'orders-api-dev'],
      ['orders-api-pipeline', 'prod', 'orders-api-prod'],
    ]);
    expect(config.settings.changeSetTimeoutSeconds).toBe(120);
  });

  it('applies defaults: stackParameter, requiresApproval and the metadata keys', () => {
    const dev = stageOf(config, 'dev');
    const prod = stageOf(config, 'prod');
    // prod does not name its stack parameter: the default is ArtifactKey.
    expect(prod.stackParameter).toBe('ArtifactKey');
    expect(dev.requiresApproval).toBe(false);
    expect(prod.requiresApproval).toBe(true);
    expect(dev.artifact.executionMetadataKey).toBe('pipeline-execution-id');
    expect(dev.artifact.commitMetadataKey).toBe('commit-id');
    expect(dev.capabilities).toEqual(['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND']);
    expect(dev.tags).toEqual({ service: 'orders-api', stage: 'dev' });
  });

  it('loads from its file too', () => {
    const fromFile = loadConfigFile(join(ROOT, 'deployer.config.yaml'));
    expect(fromFile).toEqual(config);
  });
});

describe('parseConfig defaults', () => {
  it('fills every optional field of a minimal stage', () => {
    const config = parseConfig(JSON.stringify(withDev()));
    const dev = stageOf(config, 'dev');
    expect(config.settings).toEqual({ changeSetTimeoutSeconds: 120 });
    expect(dev).toMatchObject({
      stackParameter: 'ArtifactKey',
      requiresApproval: false,
      parameterOverrides: {},
      capabilities: [],
      tags: {},
      artifact: {
        bucket: 'orders-api-artifacts',
        key: 'builds/{executionId}/app.zip',
        executionMetadataKey: 'pipeline-execution-id',
        commitMetadataKey: 'commit-id',
      },
    });
    expect(dev.roleArn).toBeUndefined();
    expect(dev.template).toBeUndefined();
  });

  it('keeps explicit values instead of defaults', () => {
    const config = parseConfig(
      JSON.stringify({
        settings: { changeSetTimeoutSeconds: 30 },
        ...withDev({
          stackParameter: 'CodeKey',
          requiresApproval: true,
          artifact: {
            bucket: 'orders-api-artifacts',
            key: 'builds/app.zip',
            executionMetadataKey: 'build-execution',
            commitMetadataKey: 'git-sha',
          },
        }),
      }),
    );
    const dev = stageOf(config, 'dev');
    expect(config.settings.changeSetTimeoutSeconds).toBe(30);
    expect(dev.stackParameter).toBe('CodeKey');
    expect(dev.requiresApproval).toBe(true);
    expect(dev.artifact.executionMetadataKey).toBe('build-execution');
    expect(dev.artifact.commitMetadataKey).toBe('git-sha');
  });
});

describe('invalid configurations fail with a ConfigError naming the field and the problem', () => {
  it('is a PermanentError (never retried)', () => {
    expect(configErrorOf(withDev({ stack: '1-bad' }))).toBeInstanceOf(PermanentError);
  });

  it.each<[string, Raw, string, string]>([
    [
      'a stack name starting with a digit',
      withDev({ stack: '1-orders' }),
      `${DEV_PATH}.stack`,
      'a CloudFormation stack name',
    ],
    [
      'a stack name with "_"',
      withDev({ stack: 'orders_api' }),
      `${DEV_PATH}.stack`,
      'a CloudFormation stack name',
    ],
    [
      'a stack name of 129 characters',
      withDev({ stack: `a${'b'.repeat(128)}` }),
      `${DEV_PATH}.stack`,
      'at most 128 characters',
    ],
    [
      'a missing artifact.bucket',
      withDev({ artifact: { key: 'builds/{executionId}/app.zip' } }),
      `${DEV_PATH}.artifact.bucket`,
      'an S3 bucket name',
    ],
    [
      'an SSM parameter under /aws',
      withDev({ ssmParameter: '/aws/service/orders' }),
      `${DEV_PATH}.ssmParameter`,
      'must not start with /aws or /ssm',
    ],
    [
      'an SSM parameter under /ssm (any case)',
      withDev({ ssmParameter: '/SSM/orders' }),
      `${DEV_PATH}.ssmParameter`,
      'must not start with /aws or /ssm',
    ],
    [
      'an SSM parameter without a leading "/"',
      withDev({ ssmParameter: 'deployer/dev' }),
      `${DEV_PATH}.ssmParameter`,
      'an SSM parameter name starting with "/"',
    ],
    [
      'a releasePrefix without a trailing slash',
      withDev({ releasePrefix: 'releases/orders-api' }),
      `${DEV_PATH}.releasePrefix`,
      'must end with "/"',
    ],
    [
      'a releasePrefix with a placeholder',
      withDev({ releasePrefix: 'releases/{pipeline}/' }),
      `${DEV_PATH}.releasePrefix`,
      'contain no placeholders',
    ],
    [
      'an unknown key placeholder {branch}',
      withDev({ artifact: { bucket: 'orders-api-artifacts', key: 'builds/{branch}/app.zip' } }),
      `${DEV_PATH}.artifact.key`,
      'may use only the placeholders {executionId} and {pipeline}',
    ],
    [
      'a build key with ".."',
      withDev({ artifact: { bucket: 'orders-api-artifacts', key: 'builds/../app.zip' } }),
      `${DEV_PATH}.artifact.key`,
      'no ".."',
    ],
    [
      'a roleArn that is not an IAM role ARN',
      withDev({ roleArn: 'arn:aws:iam::12345:role/deployer' }),
      `${DEV_PATH}.roleArn`,
      'an IAM role ARN',
    ],
    [
      'a roleArn naming a user',
      withDev({ roleArn: 'arn:aws:iam::123456789012:user/dana' }),
      `${DEV_PATH}.roleArn`,
      'an IAM role ARN',
    ],
    [
      'an unknown capability',
      withDev({ capabilities: ['CAPABILITY_EVERYTHING'] }),
      `${DEV_PATH}.capabilities.0`,
      'CAPABILITY_IAM',
    ],
    [
      'a tag key under aws:',
      withDev({ tags: { 'aws:owner': 'x' } }),
      `${DEV_PATH}.tags.aws:owner`,
      'a tag key',
    ],
    [
      'requiresApproval as a string',
      withDev({ requiresApproval: 'yes' }),
      `${DEV_PATH}.requiresApproval`,
      'boolean',
    ],
    [
      'an upper-case stage name',
      { pipelines: { 'orders-api-pipeline': { stages: { Dev: devStage() } } } },
      'pipelines.orders-api-pipeline.stages.Dev',
      'a stage name',
    ],
    [
      'a pipeline without stages',
      { pipelines: { 'orders-api-pipeline': { stages: {} } } },
      'pipelines.orders-api-pipeline.stages',
      'a pipeline needs at least one stage',
    ],
    [
      'a change set timeout below 10 seconds',
      { settings: { changeSetTimeoutSeconds: 5 }, ...withDev() },
      'settings.changeSetTimeoutSeconds',
      '>=10',
    ],
  ])('%s', (_what, raw, path, problem) => {
    const { message } = configErrorOf(raw);
    expect(message).toContain(`${path}: `);
    expect(message).toContain(problem);
  });

  it('names an unknown field of a stage', () => {
    const { message } = configErrorOf(withDev({ colour: 'blue' }));
    expect(message).toContain(`${DEV_PATH}: `);
    expect(message).toContain('colour');
  });

  it('names an unknown top-level field', () => {
    const { message } = configErrorOf({ ...withDev(), pipeline: {} });
    expect(message).toContain('(top level)');
    expect(message).toContain('"pipeline"');
  });

  it('names the missing artifact section', () => {
    const stage = devStage();
    delete stage.artifact;
    const { message } = configErrorOf({ pipelines: { p: { stages: { dev: stage } } } });
    expect(message).toContain('pipelines.p.stages.dev.artifact: ');
  });

  it('rejects the same stage name in two pipelines, naming both', () => {
    const { message } = configErrorOf({
      pipelines: {
        'orders-api-pipeline': { stages: { dev: devStage() } },
        'billing-pipeline': {
          stages: {
            dev: { ...devStage(), stack: 'billing-dev', ssmParameter: '/deployer/billing/dev/artifact' },
          },
        },
      },
    });
    expect(message).toContain('pipelines.billing-pipeline.stages.dev: ');
    expect(message).toContain('stage names must be unique across pipelines');
    // The message must say where the name is already used: the other pipeline.
    expect(message).toContain('orders-api-pipeline');
  });

  it('rejects two stages sharing a stack, naming the first stage', () => {
    const { message } = configErrorOf({
      pipelines: {
        'orders-api-pipeline': {
          stages: {
            dev: devStage(),
            qa: { ...devStage(), ssmParameter: '/deployer/orders-api/qa/artifact' },
          },
        },
      },
    });
    expect(message).toContain('pipelines.orders-api-pipeline.stages.qa.stack: ');
    expect(message).toContain('the same stack (same account and region) is the stack of stage dev');
  });

  it('rejects two stages sharing an SSM parameter', () => {
    const { message } = configErrorOf({
      pipelines: {
        'orders-api-pipeline': { stages: { dev: devStage(), qa: { ...devStage(), stack: 'orders-api-qa' } } },
      },
    });
    expect(message).toContain('pipelines.orders-api-pipeline.stages.qa.ssmParameter: ');
    expect(message).toContain('the same parameter already belongs to stage dev');
  });

  it('lists every problem, each on its own line, prefixed by the source', () => {
    const { message } = configErrorOf(
      withDev({ stack: '1-bad', releasePrefix: 'no-slash' }),
      'deployer.config.yaml',
    );
    const lines = message.split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.startsWith('deployer.config.yaml: ')).toBe(true);
  });

  it('rejects text that is not YAML', () => {
    const error = thrownBy(() => parseConfig('pipelines: [unclosed\n  - {', 'broken.yaml'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^broken\.yaml: not valid YAML: /);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('rejects YAML with a duplicated key', () => {
    const text = 'pipelines:\n  p:\n    stages: {}\n  p:\n    stages: {}\n';
    const error = thrownBy(() => parseConfig(text));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('not valid YAML');
  });

  it('rejects YAML that is a scalar, not a mapping', () => {
    const { message } = thrownBy(() => parseConfig('just some words')) as ConfigError;
    expect(message).toContain('(top level)');
  });

  it('rejects an empty file (no pipelines)', () => {
    const error = thrownBy(() => parseConfig(''));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('pipelines');
  });

  it('fails to load a file that does not exist, naming it', () => {
    const path = join(ROOT, 'no-such-config.yaml');
    const error = thrownBy(() => loadConfigFile(path));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(`cannot read configuration file ${path}`);
  });
});

describe('stage lookups', () => {
  const config = parseConfig(repoConfigText());

  it('finds stages by name and by pipeline', () => {
    expect(stageNamed(config, 'prod')?.stack).toBe('orders-api-prod');
    expect(stageNamed(config, 'staging')).toBeUndefined();
    expect(stagesOfPipeline(config, 'orders-api-pipeline')?.map((s) => s.name)).toEqual(['dev', 'prod']);
  });

  it('knows no pipeline by an inherited property name', () => {
    expect(stagesOfPipeline(config, 'unknown-pipeline')).toBeUndefined();
    expect(stagesOfPipeline(config, 'constructor')).toBeUndefined();
    expect(stagesOfPipeline(config, '__proto__')).toBeUndefined();
  });

  it('releases into the artifact bucket unless a releaseBucket is set', () => {
    const plain = stageOf(parseConfig(JSON.stringify(withDev())), 'dev');
    const separate = stageOf(
      parseConfig(JSON.stringify(withDev({ releaseBucket: 'orders-releases' }))),
      'dev',
    );
    expect(releaseBucketOf(plain)).toBe('orders-api-artifacts');
    expect(releaseBucketOf(separate)).toBe('orders-releases');
  });
});

describe('the configuration the functions bundle', () => {
  it('deployer.config.json is deployer.config.yaml compiled (run npm run build after editing the YAML)', () => {
    const { parse } = require('yaml') as typeof import('yaml');
    const root = ROOT;
    const fromYaml: unknown = parse(readFileSync(join(root, 'deployer.config.yaml'), 'utf8'));
    const compiled: unknown = JSON.parse(readFileSync(join(root, 'deployer.config.json'), 'utf8'));
    expect(compiled).toEqual(fromYaml);
  });

  it('validates the compiled form exactly as the YAML it came from', () => {
    const root = ROOT;
    const compiled: unknown = JSON.parse(readFileSync(join(root, 'deployer.config.json'), 'utf8'));
    expect(validateConfig(compiled, 'deployer.config.json')).toEqual(
      loadConfigFile(join(root, 'deployer.config.yaml')),
    );
  });
});
