/**
 * The deployer's trust, unit by unit (issue 9): provenance that must describe its own value, bytes checked
 * against recorded digests, operations that are the deployer's only by its own records, and a stage lock
 * that stays taken reported to the ops team. The SDK is mocked; nothing touches the network.
 */

import { DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { trustProvenance } from '../../shared/aws/provenance';
import { readVerifiedTemplate, verifyObject } from '../../shared/aws/release-integrity';
import { ownRun, type RunRecord } from '../../shared/aws/runs';
import { StageLockedError } from '../../shared/aws/stage-lock';
import { parseConfig } from '../../shared/edge/config';
import { ReleaseIntegrityError } from '../../shared/errors';
import { reportLockedStage } from '../../shared/messages/locked-stage';
import { digestOfReleaseKey, runToken, stageOfRunToken, templateReleaseKey } from '../../shared/names';
import {
  BUILD_BYTES,
  BUILD_RELEASE_KEY,
  BUILD_SHA256_B64,
  BUILD_SHA256_HEX,
  makeRuntime,
  rejectionOf,
  repoConfigText,
  sha256Hex,
  stageOf,
  streamBody,
} from './helpers/fixtures';

const s3 = mockClient(S3Client);
const ddb = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);
const runtime = makeRuntime();
const dev = stageOf(parseConfig(repoConfigText()), 'dev');
const BUCKET = 'orders-api-artifacts';

beforeEach(() => {
  s3.reset();
  ddb.reset();
  sns.reset();
});

describe('provenance that names its value', () => {
  const ours = JSON.stringify({
    execution: 'e1',
    commit: 'abcdef1',
    artifact: BUILD_SHA256_HEX,
    write: 'a'.repeat(24),
  });

  it('is believed when it describes its own value', () => {
    expect(trustProvenance(ours, BUILD_RELEASE_KEY)).toEqual({
      handWritten: false,
      provenance: expect.objectContaining({ execution: 'e1', commit: 'abcdef1' }),
    });
  });

  it('is a hand-written version when it names another value (put-parameter --overwrite kept it)', () => {
    expect(trustProvenance(ours, `releases/orders-api/${'0'.repeat(64)}.zip`)).toEqual({
      handWritten: true,
      provenance: {},
    });
  });

  it('is a hand-written version when it repeats the previous version’s description word for word', () => {
    expect(trustProvenance(ours, BUILD_RELEASE_KEY, ours)).toEqual({ handWritten: true, provenance: {} });
  });

  it('without JSON, or without any field, credits nobody', () => {
    expect(trustProvenance('rolled back by hand', BUILD_RELEASE_KEY).handWritten).toBe(true);
    expect(trustProvenance(undefined, BUILD_RELEASE_KEY).handWritten).toBe(true);
  });
});

describe('bytes, not names', () => {
  it('a release whose S3 SHA-256 is the recorded one verifies with one HeadObject', async () => {
    s3.on(HeadObjectCommand).resolves({ ChecksumSHA256: BUILD_SHA256_B64, ChecksumType: 'FULL_OBJECT' });
    await verifyObject(runtime.clients.s3, BUCKET, BUILD_RELEASE_KEY, BUILD_SHA256_HEX);
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, {
      ChecksumMode: 'ENABLED',
      Key: BUILD_RELEASE_KEY,
    });
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('an overwritten release is refused, naming the object and both digests', async () => {
    const other = Buffer.from('tampered');
    s3.on(HeadObjectCommand).resolves({
      ChecksumSHA256: Buffer.from(sha256Hex(other), 'hex').toString('base64'),
    });
    const error = await rejectionOf(
      verifyObject(runtime.clients.s3, BUCKET, BUILD_RELEASE_KEY, BUILD_SHA256_HEX),
    );
    expect(error).toBeInstanceOf(ReleaseIntegrityError);
    expect(error.message).toBe(
      `release object s3://${BUCKET}/${BUILD_RELEASE_KEY} does not match its recorded SHA-256: recorded ${BUILD_SHA256_HEX}, found ${sha256Hex(other)}`,
    );
  });

  it('an object without an S3 checksum (uploaded without one) is hashed as it streams by', async () => {
    s3.on(HeadObjectCommand).resolves({ ETag: '"e1"' });
    s3.on(GetObjectCommand).resolves({ Body: streamBody(Buffer.from('tampered')) });
    const error = await rejectionOf(
      verifyObject(runtime.clients.s3, BUCKET, BUILD_RELEASE_KEY, BUILD_SHA256_HEX),
    );
    expect(error.message).toContain(`found ${sha256Hex(Buffer.from('tampered'))}`);
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { IfMatch: '"e1"' });

    s3.reset();
    s3.on(HeadObjectCommand).resolves({});
    s3.on(GetObjectCommand).resolves({ Body: streamBody(BUILD_BYTES) });
    await verifyObject(runtime.clients.s3, BUCKET, BUILD_RELEASE_KEY, BUILD_SHA256_HEX);
  });

  it('a release object that is gone is reported as missing', async () => {
    s3.on(HeadObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: {} }));
    const error = await rejectionOf(
      verifyObject(runtime.clients.s3, BUCKET, BUILD_RELEASE_KEY, BUILD_SHA256_HEX),
    );
    expect(error).toMatchObject({ name: 'ReleaseIntegrityError', found: 'missing' });
  });

  it('a pinned template is read whole and checked: its very text, or a refusal', async () => {
    const body = 'Resources: {}\n';
    const key = templateReleaseKey('releases/orders-api/', sha256Hex(Buffer.from(body)));
    s3.on(GetObjectCommand).resolves({ Body: streamBody(Buffer.from(body)), VersionId: 'v1' });
    await expect(
      readVerifiedTemplate(runtime.clients.s3, BUCKET, key, sha256Hex(Buffer.from(body))),
    ).resolves.toEqual({
      body,
      bucket: BUCKET,
      key,
      versionId: 'v1',
    });
    s3.on(GetObjectCommand).resolves({ Body: streamBody(Buffer.from('Resources: { Evil: {} }\n')) });
    await expect(
      readVerifiedTemplate(runtime.clients.s3, BUCKET, key, sha256Hex(Buffer.from(body))),
    ).rejects.toBeInstanceOf(ReleaseIntegrityError);
  });
});

describe('run tokens and records: the deployer’s own operations', () => {
  const token = runToken('dev', 7, '0123456789abcdef01234567');
  const record = (fields: Partial<RunRecord> = {}): RunRecord => ({
    token,
    stage: 'dev',
    stack: dev.stack,
    version: 7,
    artifactKey: BUILD_RELEASE_KEY,
    artifact: BUILD_SHA256_HEX,
    changeSet: 'deploy-dev-v7',
    changeSetId: 'arn:aws:cloudformation:us-east-1:123456789012:changeSet/deploy-dev-v7/1',
    state: 'executing',
    createdAt: '2026-11-20T10:00:00.000Z',
    ...fields,
  });
  const stored = (value: RunRecord) =>
    s3
      .on(GetObjectCommand, { Key: `.deployer/runs/dev/${token}.json` })
      .resolves({ Body: streamBody(Buffer.from(JSON.stringify(value))) });

  it('tokens are readable but unpredictable, and name their stage', () => {
    expect(token).toBe('deploy-dev-v7-0123456789abcdef01234567');
    expect(stageOfRunToken(token)).toBe('dev');
    expect(stageOfRunToken('deploy-dev-v7')).toBeUndefined();
    expect(digestOfReleaseKey(BUILD_RELEASE_KEY)).toBe(BUILD_SHA256_HEX);
    expect(digestOfReleaseKey('build/app.zip')).toBeUndefined();
  });

  it('a recorded, executing run is ours', async () => {
    stored(record());
    await expect(ownRun(runtime.clients.s3, dev, token, 'event-1')).resolves.toMatchObject({ version: 7 });
  });

  it.each([
    ['the old look-alike name', 'deploy-dev-v7'],
    ['a well-formed token nobody recorded', 'deploy-dev-v7-ffffffffffffffffffffffff'],
    ['another stage’s token', 'deploy-prod-v7-0123456789abcdef01234567'],
    ['a console token', 'Console-UpdateStack-1'],
  ])('%s is not ours, and nothing is read for a malformed one', async (_, forged) => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'none', $metadata: {} }));
    await expect(ownRun(runtime.clients.s3, dev, forged, 'event-1')).resolves.toBeUndefined();
  });

  it('a run settled by its own final event is not ours for another event reusing its token', async () => {
    stored(record({ state: 'settled', settledBy: 'event-1', settledStatus: 'UPDATE_COMPLETE' }));
    await expect(ownRun(runtime.clients.s3, dev, token, 'event-1')).resolves.toMatchObject({ version: 7 });
    await expect(ownRun(runtime.clients.s3, dev, token, 'event-2')).resolves.toBeUndefined();
  });

  it('a run recorded but never executed is not the origin of any operation', async () => {
    stored(record({ state: 'created' }));
    await expect(ownRun(runtime.clients.s3, dev, token, 'event-1')).resolves.toBeUndefined();
  });

  it('a record of another stack is not this stage’s', async () => {
    stored(record({ stack: 'someone-elses-stack' }));
    await expect(ownRun(runtime.clients.s3, dev, token, 'event-1')).resolves.toBeUndefined();
  });
});

describe('a stage that stays locked', () => {
  it('is reported once per lease: who holds it, since and until when, where, and how to free it', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(UpdateItemCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm1' });
    const lock = {
      holder: 'deploy 1234',
      since: '2026-11-20T10:00:00.000Z',
      until: '2026-11-20T10:05:30.000Z',
      expired: false,
      location: `s3://${BUCKET}/.deployer/locks/dev.json`,
    };
    await reportLockedStage(
      runtime,
      dev,
      new StageLockedError('stage dev is locked', lock),
      'pipeline p execution e',
    );
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    const message = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(message?.Subject).toBe(`[dev] ${dev.stack} LOCKED`);
    expect(message?.Message).toContain(
      `Locked by:    "deploy 1234" since ${lock.since} until ${lock.until} (${lock.location})`,
    );
    expect(message?.Message).toContain(`delete ${lock.location} to free it now`);
  });

  it('says nothing for any other failure', async () => {
    await reportLockedStage(runtime, dev, new Error('throttled'), 'pipeline p execution e');
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });
});
