/**
 * `sam build` ships deployer.config.yaml as it is: every function is built by the Makefile (SAM's makefile
 * build method), whose target compiles the YAML into the bundle. SAM CLI is not needed here: the targets are
 * run the way SAM runs them, in a copy of the sources with ARTIFACTS_DIR set.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTemplate } from '../../bin/support/sam-template';

const ROOT = join(__dirname, '..', '..');
/** What a function needs in its environment to load (as template.yaml sets it). */
const FUNCTION_ENV = {
  AWS_REGION: 'us-east-1',
  DEPLOYER_ACCOUNT_ID: '123456789012',
  DEPLOYER_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:ops',
  DEPLOYER_LEDGER_TABLE: 'deployer-ledger',
  LOG_LEVEL: 'SILENT',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

interface FunctionResource {
  Type: string;
  Metadata?: { BuildMethod?: string; BuildProperties?: unknown };
  Properties: { Handler: string };
}

const functions = Object.entries(
  readTemplate(join(ROOT, 'template.yaml')).Resources as unknown as Record<string, FunctionResource>,
)
  .filter(([, resource]) => resource.Type === 'AWS::Serverless::Function')
  .map(([logicalId, resource]) => ({
    logicalId,
    metadata: resource.Metadata,
    bundle: resource.Properties.Handler.replace(/\.[^.]+$/, ''),
  }));

/** What `make <target>` would run, without running it. */
const dryRun = (target: string, cwd = ROOT): string =>
  execFileSync('make', ['--no-print-directory', '-n', target, 'ARTIFACTS_DIR=/artifacts'], {
    cwd,
    encoding: 'utf8',
  }).trim();

/** A copy of what SAM copies into its scratch directory, node_modules linked rather than copied. */
const sourceCopy = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'deployer-sam-build-'));
  for (const entry of ['Makefile', 'scripts', 'handlers', 'shared', 'bin', 'package.json', 'tsconfig.json']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  for (const file of ['template.yaml', 'samconfig.toml', 'deployer.config.yaml', 'deployer.config.json']) {
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
};

describe('template.yaml and the Makefile', () => {
  it('has three functions', () => {
    expect(functions.map((f) => f.logicalId)).toEqual([
      'DeployFunction',
      'NotifyFunction',
      'ReconcileFunction',
    ]);
  });

  it.each(functions)("$logicalId is built by the Makefile, not by SAM's own esbuild", ({ metadata }) => {
    expect(metadata).toEqual({ BuildMethod: 'makefile' });
  });

  it.each(functions)(
    'build-$logicalId bundles its handler into ARTIFACTS_DIR with the configuration compiled',
    ({ logicalId, bundle }) => {
      expect(existsSync(join(ROOT, 'handlers', `${bundle}.ts`))).toBe(true);
      expect(dryRun(`build-${logicalId}`)).toBe(
        `node scripts/build.mjs --function handlers/${bundle}.ts "/artifacts"`,
      );
    },
  );
});

describe('npm run build', () => {
  it('bundles bin/*.ts as entries: exactly the command line and npm start, their modules in subfolders', () => {
    expect(readdirSync(join(ROOT, 'bin')).filter((file) => file.endsWith('.ts'))).toEqual([
      'deployer.ts',
      'start.ts',
    ]);
  });
});

describe('make build-<Function> as sam build runs it', () => {
  let dir: string;
  beforeEach(() => {
    dir = sourceCopy();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the YAML as edited, even when deployer.config.json is stale', () => {
    const yaml = join(dir, 'deployer.config.yaml');
    writeFileSync(
      yaml,
      readFileSync(yaml, 'utf8').replace(/changeSetTimeoutSeconds: \d+/, 'changeSetTimeoutSeconds: 177'),
    );
    const json = readFileSync(join(dir, 'deployer.config.json'), 'utf8');
    expect(json).not.toContain('177');
    const artifacts = join(dir, 'artifacts');

    const make = spawnSync('make', ['build-DeployFunction', `ARTIFACTS_DIR=${artifacts}`], {
      cwd: dir,
      encoding: 'utf8',
    });

    expect({ status: make.status, stderr: make.stderr }).toEqual({ status: 0, stderr: '' });
    expect(readdirSync(artifacts).sort()).toEqual(['deploy.js', 'deploy.js.map', 'sts.js']);
    expect(readFileSync(join(artifacts, 'deploy.js'), 'utf8')).toContain('changeSetTimeoutSeconds:177');
    // STS ships beside the bundle and is read only when a stage elsewhere is first reached.
    const loaded = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(artifacts, 'deploy.js'))});
         const loaded = Object.keys(require.cache).map((f) => require('path').basename(f));
         const sts = require(${JSON.stringify(join(artifacts, 'sts.js'))});
         process.stdout.write(JSON.stringify({ loaded, sts: [typeof sts.STSClient, typeof sts.AssumeRoleCommand] }));`,
      ],
      { encoding: 'utf8', env: { ...process.env, ...FUNCTION_ENV } },
    );
    expect(loaded.stderr).toBe('');
    expect(JSON.parse(loaded.stdout)).toEqual({ loaded: ['deploy.js'], sts: ['function', 'function'] });
    expect(readFileSync(join(artifacts, 'deploy.js'), 'utf8')).toContain('require("./sts.js")');
    // Of each SDK client the bundle holds the commands the function sends, not every command of its service
    // (a client's CommonJS build holds them all): CreateChangeSet and GetParameter, not CreateStack or SSM's
    // SendCommand; sts.js holds AssumeRole, not GetCallerIdentity.
    const operations = (file: string, names: string[]) =>
      names.filter((name) => readFileSync(join(artifacts, file), 'utf8').includes(`"${name}"`));
    expect(
      operations('deploy.js', ['CreateChangeSet', 'GetParameter', 'CreateStack', 'SendCommand']),
    ).toEqual(['CreateChangeSet', 'GetParameter']);
    expect(operations('sts.js', ['AssumeRole', 'GetCallerIdentity'])).toEqual(['AssumeRole']);
    // The sources are left as they were: SAM builds in a copy, and so may a person in the checkout.
    expect(readFileSync(join(dir, 'deployer.config.json'), 'utf8')).toBe(json);
  }, 120_000);

  it('fails loudly, shipping nothing, when the schema refuses the YAML: the functions carry only a validated configuration', () => {
    const yaml = join(dir, 'deployer.config.yaml');
    writeFileSync(
      yaml,
      readFileSync(yaml, 'utf8').replace(/changeSetTimeoutSeconds: \d+/, 'changeSetTimeoutSeconds: 5'),
    );
    const artifacts = join(dir, 'artifacts');

    const make = spawnSync('make', ['build-DeployFunction', `ARTIFACTS_DIR=${artifacts}`], {
      cwd: dir,
      encoding: 'utf8',
    });

    expect(make.status).not.toBe(0);
    expect(make.stderr).toContain('deployer.config.yaml: settings.changeSetTimeoutSeconds:');
    expect(existsSync(join(artifacts, 'deploy.js'))).toBe(false);
  }, 120_000);

  it('fails loudly, shipping nothing, when the YAML reaches outside the IAM scope of samconfig.toml', () => {
    const yaml = join(dir, 'deployer.config.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/stack: orders-api-dev/, 'stack: billing-dev'));
    const artifacts = join(dir, 'artifacts');

    const make = spawnSync('make', ['build-NotifyFunction', `ARTIFACTS_DIR=${artifacts}`], {
      cwd: dir,
      encoding: 'utf8',
    });

    expect(make.status).not.toBe(0);
    expect(make.stderr).toContain("deployer.config.yaml reaches outside what the deployer's IAM allows");
    expect(make.stderr).toContain('billing-dev');
    expect(existsSync(join(artifacts, 'notify.js'))).toBe(false);
  }, 120_000);
});
