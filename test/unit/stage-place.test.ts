/**
 * Stages in other accounts and regions: what the configuration schema checks when it is parsed (the role's
 * account, the stack unique where it lives), what only the deployer's own account and region tell at load
 * (a release bucket in a far region, two stages on one stack), and which stack events are the deployer's.
 */
import { parseConfig, validateConfig } from '../../shared/edge/config';
import {
  assertStagePlaces,
  regionOfStageNamed,
  stackEventRefusal,
  stageAt,
  stagePlace,
  stagePlaceProblems,
  stateBucketOf,
} from '../../shared/edge/stage-place';
import { allStages, type DeployerConfig } from '../../shared/edge/stages';
import { ConfigError } from '../../shared/errors';
import { loadRuntime } from '../../shared/runtime';
import { stageOf, thrownBy } from './helpers/fixtures';

type Raw = Record<string, unknown>;

const HOME = { accountId: '111111111111', region: 'us-east-1' };
const TARGET = '222222222222';
const ROLE = `arn:aws:iam::${TARGET}:role/deployer-target`;
const CFN_ROLE = `arn:aws:iam::${TARGET}:role/orders-api-prod-cloudformation`;

const stage = (stack: string, extra: Raw = {}): Raw => ({
  stack,
  ssmParameter: `/deployer/${stack}/artifact`,
  artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
  releasePrefix: 'releases/orders-api/',
  ...extra,
});

const configOf = (stages: Record<string, Raw>): Raw => ({ pipelines: { p: { stages } } });
const parse = (stages: Record<string, Raw>): DeployerConfig => parseConfig(JSON.stringify(configOf(stages)));
const problemOf = (stages: Record<string, Raw>): string => {
  const error = thrownBy(() => parse(stages));
  expect(error).toBeInstanceOf(ConfigError);
  return error.message;
};

const far = { account: TARGET, assumeRoleArn: ROLE, roleArn: CFN_ROLE };

describe('the configuration of a stage elsewhere', () => {
  it('takes a stage in another account with its role there, and a stage in another region alone', () => {
    const config = parse({
      dev: stage('orders-api-dev'),
      prod: stage('orders-api-prod', far),
      eu: stage('orders-api-eu', { region: 'eu-west-1', releaseBucket: 'orders-api-eu-releases' }),
    });
    expect(allStages(config).map((s) => [s.name, s.account, s.region, s.assumeRoleArn])).toEqual([
      ['dev', undefined, undefined, undefined],
      ['prod', TARGET, undefined, ROLE],
      ['eu', undefined, 'eu-west-1', undefined],
    ]);
  });

  it.each([
    [{ account: TARGET, roleArn: CFN_ROLE }, 'stages.prod.assumeRoleArn: is required with account'],
    [{ assumeRoleArn: ROLE }, 'stages.prod.account: is required with assumeRoleArn'],
    [
      { ...far, assumeRoleArn: 'arn:aws:iam::333333333333:role/deployer-target' },
      "stages.prod.assumeRoleArn: is a role of account 333333333333, not of the stage's account 222222222222",
    ],
    [
      { ...far, roleArn: 'arn:aws:iam::111111111111:role/orders-api-prod-cloudformation' },
      "stages.prod.roleArn: is a role of account 111111111111, not of the stage's account 222222222222",
    ],
    [{ ...far, account: '2222' }, 'stages.prod.account: a 12-digit AWS account id'],
    [{ region: 'Europe' }, 'stages.prod.region: an AWS region such as eu-west-1'],
    [
      { ...far, assumeRoleArn: `arn:aws:iam::${TARGET}:user/x` },
      'stages.prod.assumeRoleArn: an IAM role ARN',
    ],
  ])('names the field of a stage elsewhere that cannot work: %j', (extra, problem) => {
    expect(problemOf({ prod: stage('orders-api-prod', extra) })).toContain(`pipelines.p.${problem}`);
  });

  it('takes one stack name in two accounts, and in two regions, as two stacks', () => {
    const config = parse({
      dev: stage('orders-api'),
      prod: stage('orders-api', { ...far, ssmParameter: '/deployer/prod/artifact' }),
      eu: stage('orders-api', { region: 'eu-west-1', ssmParameter: '/deployer/eu/artifact' }),
    });
    expect(allStages(config)).toHaveLength(3);
  });

  it('refuses two stages on one stack in the same account and region', () => {
    expect(
      problemOf({
        prod: stage('orders-api', far),
        qa: stage('orders-api', { ...far, ssmParameter: '/deployer/qa/artifact' }),
      }),
    ).toContain(
      'pipelines.p.stages.qa.stack: the same stack (same account and region) is the stack of stage prod',
    );
  });
});

describe('at load: what the deployer’s own account and region tell', () => {
  it('places stages without account or region at home', () => {
    const config = parse({ dev: stage('orders-api-dev'), prod: stage('orders-api-prod', far) });
    expect(stagePlace(HOME, stageOf(config, 'dev'))).toEqual({
      account: HOME.accountId,
      region: HOME.region,
    });
    expect(stagePlace(HOME, stageOf(config, 'prod'))).toEqual({
      account: TARGET,
      region: HOME.region,
    });
  });

  it('requires a release bucket of a stage in another region (Lambda reads code only in its region)', () => {
    const config = parse({ eu: stage('orders-api-eu', { region: 'eu-west-1' }) });
    expect(stagePlaceProblems(config, HOME)).toEqual([
      expect.stringContaining('pipelines.p.stages.eu.releaseBucket: is required for a stage in eu-west-1'),
    ]);
    // At home the region is no other region: nothing to say.
    expect(stagePlaceProblems(config, { ...HOME, region: 'eu-west-1' })).toEqual([]);
  });

  it('refuses a stage naming the home account on the stack of a stage at home', () => {
    const config = parse({
      dev: stage('orders-api'),
      twin: stage('orders-api', {
        account: HOME.accountId,
        assumeRoleArn: `arn:aws:iam::${HOME.accountId}:role/deployer-target`,
        ssmParameter: '/deployer/twin/artifact',
      }),
    });
    expect(stagePlaceProblems(config, HOME)).toEqual([
      `pipelines.p.stages.twin.stack: orders-api in account ${HOME.accountId} in us-east-1 is already the stack of stage dev`,
    ]);
  });

  it('fails the runtime at load, before any AWS call, naming the file and the field', () => {
    const raw = configOf({ eu: stage('orders-api-eu', { region: 'eu-west-1' }) });
    const env = {
      AWS_REGION: HOME.region,
      DEPLOYER_ACCOUNT_ID: HOME.accountId,
      DEPLOYER_TOPIC_ARN: `arn:aws:sns:us-east-1:${HOME.accountId}:ops`,
      DEPLOYER_LEDGER_TABLE: 'ledger',
    };
    const error = thrownBy(() => loadRuntime(() => validateConfig(raw, 'deployer.config.yaml'), {}, env));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('deployer.config.yaml: pipelines.p.stages.eu.releaseBucket: is required');
    expect(() => assertStagePlaces(parse({ dev: stage('orders-api-dev') }), HOME)).not.toThrow();
  });

  it("keeps a stage's lock and records in the artifact bucket, at home, whatever its release bucket", () => {
    const config = parse({
      eu: stage('orders-api-eu', { region: 'eu-west-1', releaseBucket: 'orders-api-eu-releases' }),
    });
    expect(stateBucketOf(stageOf(config, 'eu'))).toBe('orders-api-artifacts');
    expect(regionOfStageNamed(config, HOME, 'eu')).toBe('eu-west-1');
    expect(regionOfStageNamed(config, HOME, 'nobody')).toBe(HOME.region);
  });
});

describe('stack events: from home, or from a stage’s account and region about its stack', () => {
  const config = parse({
    dev: stage('orders-api'),
    prod: stage('orders-api', { ...far, ssmParameter: '/deployer/prod/artifact' }),
  });
  const from = (account: string, region: string, stack?: string) =>
    stackEventRefusal(config, HOME, { account, region, stack });

  it('accepts any stack from home, and the stage’s stack from where the stage lives', () => {
    expect(from(HOME.accountId, HOME.region, 'someone-elses')).toBeUndefined();
    expect(from(TARGET, HOME.region, 'orders-api')).toBeUndefined();
    // A change set named by ARN alone: its stack is checked once it is known.
    expect(from(TARGET, HOME.region)).toBeUndefined();
  });

  it.each([
    [
      'an account no stage lives in',
      '999999999999',
      HOME.region,
      'orders-api',
      'no stage lives in that account and region',
    ],
    [
      'the stage’s account, another stack',
      TARGET,
      HOME.region,
      'orders-api-other',
      'not the stack of a stage configured there',
    ],
    [
      'the stage’s account, another region',
      TARGET,
      'eu-west-1',
      'orders-api',
      'no stage lives in that account and region',
    ],
    [
      'the home account, another region',
      HOME.accountId,
      'eu-west-1',
      'orders-api',
      'no stage lives in that account and region',
    ],
  ])('refuses %s', (_what, account, region, stack, refusal) => {
    expect(from(account, region, stack)).toContain(refusal);
  });

  it('finds the stage by its stack where it lives: one name, two accounts, two stages', () => {
    expect(
      stageAt(config, HOME, { account: HOME.accountId, region: HOME.region, stack: 'orders-api' })?.name,
    ).toBe('dev');
    expect(stageAt(config, HOME, { account: TARGET, region: HOME.region, stack: 'orders-api' })?.name).toBe(
      'prod',
    );
    expect(
      stageAt(config, HOME, { account: TARGET, region: 'eu-west-1', stack: 'orders-api' }),
    ).toBeUndefined();
  });
});
