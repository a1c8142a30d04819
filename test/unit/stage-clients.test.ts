/**
 * The CloudFormation client of a stage: the deployer's own at home, one for its region elsewhere, with the
 * credentials of the role a stage in another account names (STS AssumeRole: a session named for the deployer
 * and the stage, one hour long, renewed before it expires, assumed once for requests that need it at once).
 * STS is loaded only when a role is first assumed.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import {
  assumedRoleCredentials,
  RENEW_BEFORE_MS,
  remoteClients,
  SESSION_SECONDS,
  type StsModule,
} from '../../shared/aws/assumed-role';
import { createClients } from '../../shared/aws/clients';
import { sessionNameOf, stageCfn } from '../../shared/aws/stage-clients';
import { parseConfig } from '../../shared/edge/config';
import { stageStatus } from '../../shared/operations/status';
import { rejectionOf, stageOf } from './helpers/fixtures';

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const ROLE = 'arn:aws:iam::222222222222:role/deployer-target';
const HOME = {
  accountId: '111111111111',
  region: 'us-east-1',
  topicArn: 'arn:aws:sns:us-east-1:111111111111:ops',
  ledgerTable: 'ledger',
};
const HOUR = 3_600_000;

const credentialsUntil = (expiration: Date, key = 'ASIAFIRST') => ({
  Credentials: { AccessKeyId: key, SecretAccessKey: 'secret', SessionToken: 'token', Expiration: expiration },
});

beforeEach(() => {
  sts.reset();
  cfn.reset();
});

/** The STS loader a handler passes, counting its loads. */
const stsLoader = () => {
  const loads = { count: 0 };
  const load = async (): Promise<StsModule> => {
    loads.count += 1;
    return { STSClient, AssumeRoleCommand };
  };
  return { load, loads };
};

describe('assumedRoleCredentials', () => {
  const client = new STSClient({ region: 'us-east-1' });
  const stsOf = async () => ({ client, module: { STSClient, AssumeRoleCommand } });

  it('assumes the role with a session naming the deployer and the stage, for an hour', async () => {
    sts.on(AssumeRoleCommand).resolves(credentialsUntil(new Date(Date.now() + HOUR)));
    const provider = assumedRoleCredentials(stsOf, {
      roleArn: ROLE,
      sessionName: sessionNameOf({ name: 'prod' }),
    });
    await expect(provider()).resolves.toMatchObject({ accessKeyId: 'ASIAFIRST', sessionToken: 'token' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: ROLE, RoleSessionName: 'deployer-prod', DurationSeconds: 3600 },
    ]);
    // Between the 15 minutes STS allows at least and the hour it allows a role assumed by a role.
    expect(SESSION_SECONDS).toBeGreaterThanOrEqual(900);
    expect(SESSION_SECONDS).toBeLessThanOrEqual(3600);
  });

  it('keeps the session until shortly before it expires, then renews it', async () => {
    let now = Date.parse('2026-11-20T10:00:00Z');
    sts
      .on(AssumeRoleCommand)
      .resolvesOnce(credentialsUntil(new Date(now + HOUR), 'ASIAFIRST'))
      .resolvesOnce(credentialsUntil(new Date(now + 2 * HOUR), 'ASIASECOND'));
    const provider = assumedRoleCredentials(
      stsOf,
      { roleArn: ROLE, sessionName: 'deployer-prod' },
      () => now,
    );
    expect((await provider()).accessKeyId).toBe('ASIAFIRST');
    now += HOUR - RENEW_BEFORE_MS - 1;
    expect((await provider()).accessKeyId).toBe('ASIAFIRST');
    now += 2;
    expect((await provider()).accessKeyId).toBe('ASIASECOND');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    // Renewed after the SDK's own five-minute margin has passed? No: before it, or the SDK would ask again.
    expect(RENEW_BEFORE_MS).toBeGreaterThan(5 * 60_000);
  });

  it('assumes once for requests that need the session at the same moment', async () => {
    sts.on(AssumeRoleCommand).resolves(credentialsUntil(new Date(Date.now() + HOUR)));
    const provider = assumedRoleCredentials(stsOf, { roleArn: ROLE, sessionName: 'deployer-prod' });
    await Promise.all([provider(), provider(), provider()]);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
  });

  it('says which role could not be assumed, and tries again on the next request', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(
        Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' }),
      )
      .resolves(credentialsUntil(new Date(Date.now() + HOUR)));
    const provider = assumedRoleCredentials(stsOf, { roleArn: ROLE, sessionName: 'deployer-prod' });
    const error = await rejectionOf(provider());
    expect(error.message).toBe(`cannot assume ${ROLE}: not authorized to perform sts:AssumeRole`);
    await expect(provider()).resolves.toMatchObject({ accessKeyId: 'ASIAFIRST' });
  });
});

describe('remoteClients', () => {
  const home = { region: 'us-east-1', maxAttempts: 5, retryMode: 'standard' as const };

  it('makes one client per region, role and session, and loads STS only when a role is first used', async () => {
    const { load, loads } = stsLoader();
    const pool = remoteClients(home, { cfn: CloudFormationClient, sts: load });
    const role = { roleArn: ROLE, sessionName: 'deployer-prod' };
    const prod = pool.cfn('us-east-1', role);
    expect(pool.cfn('us-east-1', role)).toBe(prod);
    expect(pool.cfn('eu-west-1', role)).not.toBe(prod);
    expect(pool.cfn('us-east-1', { ...role, sessionName: 'deployer-qa' })).not.toBe(prod);
    expect(await pool.cfn('eu-west-1').config.region()).toBe('eu-west-1');
    expect(loads.count).toBe(0);
    sts.on(AssumeRoleCommand).resolves(credentialsUntil(new Date(Date.now() + HOUR)));
    await expect(prod.config.credentials()).resolves.toMatchObject({ accessKeyId: 'ASIAFIRST' });
    expect(loads.count).toBe(1);
    pool.destroy();
  });

  it('says so when a handler was built without STS', async () => {
    const pool = remoteClients(home, { cfn: CloudFormationClient });
    const error = await rejectionOf(
      pool.cfn('us-east-1', { roleArn: ROLE, sessionName: 's' }).config.credentials(),
    );
    expect(error.message).toContain('built without the STS client');
  });
});

describe('stageCfn: the one client for a stage’s stack', () => {
  const config = parseConfig(
    JSON.stringify({
      pipelines: {
        p: {
          stages: {
            dev: {
              stack: 'orders-api-dev',
              ssmParameter: '/deployer/dev/artifact',
              artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
              releasePrefix: 'releases/orders-api/',
            },
            eu: {
              stack: 'orders-api-eu',
              ssmParameter: '/deployer/eu/artifact',
              artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
              releasePrefix: 'releases/orders-api/',
              releaseBucket: 'orders-api-eu-releases',
              region: 'eu-west-1',
            },
            prod: {
              stack: 'orders-api-prod',
              ssmParameter: '/deployer/prod/artifact',
              artifact: { bucket: 'orders-api-artifacts', key: 'builds/{executionId}/app.zip' },
              releasePrefix: 'releases/orders-api/',
              account: '222222222222',
              region: 'eu-central-1',
              releaseBucket: 'orders-api-eu-central-releases',
              assumeRoleArn: ROLE,
            },
          },
        },
      },
    }),
  );
  const runtime = { settings: HOME, clients: createClients(HOME.region, {}) };

  it("uses the deployer's client at home, one for the region elsewhere, with the stage's role in another account", async () => {
    expect(stageCfn(runtime, stageOf(config, 'dev'))).toBe(runtime.clients.cfn);
    const eu = stageCfn(runtime, stageOf(config, 'eu'));
    expect(eu).not.toBe(runtime.clients.cfn);
    expect(await eu.config.region()).toBe('eu-west-1');
    sts.on(AssumeRoleCommand).resolves(credentialsUntil(new Date(Date.now() + HOUR), 'ASIAPROD'));
    const prod = stageCfn(runtime, stageOf(config, 'prod'));
    expect(await prod.config.region()).toBe('eu-central-1');
    expect((await prod.config.credentials()).accessKeyId).toBe('ASIAPROD');
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: 'deployer-prod',
    });
    expect(stageCfn(runtime, stageOf(config, 'prod'))).toBe(prod);
  });

  it('reads the status of a stage in another account there, with its role', async () => {
    sts.on(AssumeRoleCommand).resolves(credentialsUntil(new Date(Date.now() + HOUR), 'ASIAPROD'));
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [] });
    const ssm = mockClient(runtime.clients.ssm);
    const s3 = mockClient(runtime.clients.s3);
    ssm.resolves({ Parameters: [] });
    s3.rejects(
      Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }),
    );
    const status = await stageStatus({ ...runtime, config }, stageOf(config, 'prod'));
    expect(status.stackStatus).toBe('DOES_NOT_EXIST');
    const [read] = cfn.commandCalls(DescribeStacksCommand);
    const client = read?.thisValue as CloudFormationClient;
    expect(await client.config.region()).toBe('eu-central-1');
    expect((await client.config.credentials()).accessKeyId).toBe('ASIAPROD');
    ssm.restore();
    s3.restore();
  });

  it('follows S3 region redirects: a stage in another region has its release bucket there', () => {
    expect(createClients(HOME.region, {}).s3.config.followRegionRedirects).toBe(true);
  });

  afterAll(() => runtime.clients.remote.destroy());
});
