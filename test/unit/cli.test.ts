/**
 * The command line in process (bin/deployer.ts `run`): the exit codes of the README for what goes wrong
 * before AWS is asked anything, and `deployer invoke` on bundles made for the test. Nothing here talks to
 * the network.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, run } from '../../bin/deployer';
import { readTemplate } from '../../bin/support/sam-template';
import { ROOT } from './helpers/fixtures';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

/** Run the CLI in this process, its output captured. */
const cli = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> => {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(args, { AWS_REGION: 'us-east-1', LOG_LEVEL: 'SILENT', ...env });
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
};

const REPO_CONFIG = { DEPLOYER_CONFIG_FILE: join(ROOT, 'deployer.config.yaml') };

describe('exit code 2: usage, configuration or environment, before anything is asked of AWS', () => {
  it.each([
    ['no command', [], {}, 'usage: deployer <command>'],
    ['an unknown command', ['deploy'], {}, 'unknown command "deploy"'],
    ['an unknown option', ['status', '--bogus'], REPO_CONFIG, "Unknown option '--bogus'"],
    ['a missing stage', ['history'], REPO_CONFIG, 'history takes exactly one stage name'],
    ['a stage too many', ['promote', 'dev', 'prod', 'qa'], REPO_CONFIG, 'promote takes a source stage'],
    ['no region', ['status'], { AWS_REGION: '' }, 'AWS_REGION is not set'],
    [
      'a stage not in the configuration',
      ['status', 'staging'],
      REPO_CONFIG,
      'no stage named "staging" in the configuration (configured: dev, prod)',
    ],
    [
      'a move without the ops topic',
      ['rollback', 'dev'],
      REPO_CONFIG,
      'DEPLOYER_TOPIC_ARN is not set: this command tells the ops team',
    ],
    [
      'a missing configuration file',
      ['status'],
      { DEPLOYER_CONFIG_FILE: '/nonexistent/deployer.config.yaml' },
      'cannot read configuration file /nonexistent/deployer.config.yaml',
    ],
  ])('%s', async (_, args, env, message) => {
    const ran = await cli(args as string[], env as NodeJS.ProcessEnv);
    expect(ran.code).toBe(EXIT.usage);
    expect(`${ran.stdout}${ran.stderr}`).toContain(message);
  });

  it('an invalid configuration file names the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deployer-cli-'));
    try {
      const file = join(dir, 'deployer.config.yaml');
      writeFileSync(file, 'pipelines:\n  p:\n    stages:\n      dev:\n        stack: "not a stack name"\n');
      const ran = await cli(['status'], { DEPLOYER_CONFIG_FILE: file });
      expect(ran.code).toBe(EXIT.usage);
      expect(ran.stderr).toContain('pipelines.p.stages.dev');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help is no error', async () => {
    const ran = await cli(['rollback', '--help']);
    expect(ran.code).toBe(EXIT.ok);
    expect(ran.stdout).toContain('usage: deployer rollback <stage>');
  });
});

describe('deployer invoke', () => {
  let dir: string;
  const TEMPLATE = `Globals:
  Function:
    Timeout: 30
    Environment:
      Variables:
        DEPLOYER_ACCOUNT_ID: !Ref AWS::AccountId
        TOPIC: !Ref Topic
Resources:
  Topic:
    Type: AWS::SNS::Topic
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: echo.handler
  ThrowingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: throwing.handler
  RefusingFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: refusing.handler
  UnbuiltFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: unbuilt.handler
`;
  const BUNDLES = {
    'echo.js': `exports.handler = async (event, context) => ({
  event, account: process.env.DEPLOYER_ACCOUNT_ID, topic: process.env.TOPIC, arn: context.invokedFunctionArn });`,
    'throwing.js': `exports.handler = async () => { throw new Error('no bucket\\u001b[31m here'); };`,
    'refusing.js': `const e = new Error('environment variable TOPIC is not set'); e.name = 'ConfigError'; throw e;`,
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deployer-invoke-'));
    writeFileSync(join(dir, 'template.yaml'), TEMPLATE);
    mkdirSync(join(dir, 'dist', 'handlers'), { recursive: true });
    for (const [file, text] of Object.entries(BUNDLES))
      writeFileSync(join(dir, 'dist', 'handlers', file), text);
    writeFileSync(join(dir, 'event.json'), JSON.stringify({ id: 'e-1' }));
    writeFileSync(join(dir, 'env.json'), JSON.stringify({ Parameters: { TOPIC: 'arn:topic' } }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const invoke = (fn: string, env: NodeJS.ProcessEnv, envVars = 'env.json') =>
    cli(
      [
        'invoke',
        fn,
        '-e',
        join(dir, 'event.json'),
        '--env-vars',
        join(dir, envVars),
        '-t',
        join(dir, 'template.yaml'),
      ],
      env,
    );

  it('exits 0 with the result when the handler returns, in the account it was given', async () => {
    const ran = await invoke('EchoFunction', { DEPLOYER_ACCOUNT_ID: '210987654321' });
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: EXIT.ok, stderr: '' });
    expect(JSON.parse(ran.stdout)).toEqual({
      event: { id: 'e-1' },
      account: '210987654321',
      topic: 'arn:topic',
      arn: 'arn:aws:lambda:us-east-1:210987654321:function:EchoFunction',
    });
  });

  it('refuses to guess the account: without DEPLOYER_ACCOUNT_ID it exits 2 and says what to set', async () => {
    const ran = await invoke('EchoFunction', { DEPLOYER_ACCOUNT_ID: undefined });
    expect({ code: ran.code, stdout: ran.stdout }).toEqual({ code: EXIT.usage, stdout: '' });
    expect(ran.stderr).toMatch(/^deployer: DEPLOYER_ACCOUNT_ID is not set: set it to the 12-digit account/);
  });

  it('takes the account from the env-vars file too', async () => {
    writeFileSync(
      join(dir, 'account.json'),
      JSON.stringify({ Parameters: { TOPIC: 'arn:topic', DEPLOYER_ACCOUNT_ID: '111122223333' } }),
    );
    const ran = await invoke('EchoFunction', { DEPLOYER_ACCOUNT_ID: undefined }, 'account.json');
    expect(ran.code).toBe(EXIT.ok);
    expect(JSON.parse(ran.stdout)).toMatchObject({ account: '111122223333' });
  });

  it('exits 1 when the handler throws, with its message on one clean line', async () => {
    const ran = await invoke('ThrowingFunction', { DEPLOYER_ACCOUNT_ID: '210987654321' });
    expect(ran).toEqual({
      code: EXIT.failed,
      stdout: '',
      stderr: 'deployer: ThrowingFunction threw: no bucket here\n',
    });
  });

  it('exits 2 when the function refuses its environment as it loads', async () => {
    const ran = await invoke('RefusingFunction', { DEPLOYER_ACCOUNT_ID: '210987654321' });
    expect(ran.code).toBe(EXIT.usage);
    expect(ran.stderr).toBe(
      'deployer: RefusingFunction did not start: environment variable TOPIC is not set\n',
    );
  });

  it('exits 2 for an unknown function, a bundle not built, or an unreadable file', async () => {
    const env = { DEPLOYER_ACCOUNT_ID: '210987654321' };
    const unknown = await invoke('NoSuchFunction', env);
    expect([unknown.code, unknown.stderr]).toEqual([
      EXIT.usage,
      expect.stringContaining('no function "NoSuchFunction"'),
    ]);
    const unbuilt = await invoke('UnbuiltFunction', env);
    expect([unbuilt.code, unbuilt.stderr]).toEqual([
      EXIT.usage,
      expect.stringContaining('run npm run build first'),
    ]);
    const unreadable = await invoke('EchoFunction', env, 'missing.json');
    expect([unreadable.code, unreadable.stderr]).toEqual([
      EXIT.usage,
      expect.stringContaining('cannot read env-vars file'),
    ]);
  });

  it('names a variable the template sets from a deployed resource when --env-vars does not give it', async () => {
    writeFileSync(join(dir, 'empty.json'), '{}');
    const ran = await invoke('EchoFunction', { DEPLOYER_ACCOUNT_ID: '210987654321' }, 'empty.json');
    expect(ran.stderr).toContain(
      'TOPIC is set from a deployed resource in the template; give it with --env-vars',
    );
  });
});

describe('the parsed template kept for the next invoke', () => {
  it('is written under the digest of the text, read back the next time, and not used for another text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deployer-template-cache-'));
    try {
      const template = join(dir, 'template.yaml');
      const cache = join(dir, 'cache');
      writeFileSync(
        template,
        'Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: { Handler: a.handler }\n',
      );
      const first = readTemplate(template, cache);
      const [kept] = readdirSync(cache);
      expect(kept).toMatch(/^template-[0-9a-f]{32}\.json$/);
      // The kept parse is what the next read returns (changed here, so the test sees which was used).
      writeFileSync(join(cache, kept ?? ''), JSON.stringify({ ...first, Marker: 'from the cache' }));
      expect(readTemplate(template, cache)).toMatchObject({ Marker: 'from the cache' });
      // Another text is parsed afresh.
      writeFileSync(
        template,
        'Resources:\n  Other:\n    Type: AWS::Serverless::Function\n    Properties: { Handler: b.handler }\n',
      );
      const second = readTemplate(template, cache);
      expect(second).not.toHaveProperty('Marker');
      expect(Object.keys(second.Resources as object)).toEqual(['Other']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
