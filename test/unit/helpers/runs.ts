/**
 * The deployer's own records of what it started (shared/aws/runs.ts), in an S3 store: run records under
 * `.deployer/runs/<stage>/<token>.json` and the applied record `.deployer/applied/<stage>.json`. A stack
 * operation is the deployer's only when its request token names one of these records.
 */
import type { Applied, RunRecord } from '../../../shared/aws/runs';
import { SAMPLE, sha256Hex } from './fixtures';
import type { S3Store } from './s3-store';

/** A well-formed run token, as the deployer makes them (`deploy-<stage>-v<N>-<24 hex>`), the same per seed. */
export const runToken = (stage: string, version: number, seed = 'run'): string =>
  `deploy-${stage}-v${version}-${sha256Hex(Buffer.from(`${stage}/${version}/${seed}`)).slice(0, 24)}`;

/** Any run token the deployer could make for this stage and version (its random part unknown). */
export const runTokenPattern = (stage: string, version: number): RegExp =>
  new RegExp(`^deploy-${stage}-v${version}-[0-9a-f]{24}$`);

export const runRecordKey = (stage: string, token: string): string => `.deployer/runs/${stage}/${token}.json`;
export const appliedKey = (stage: string): string => `.deployer/applied/${stage}.json`;

export interface RunFields extends Partial<RunRecord> {
  stage: string;
  version: number;
  artifactKey: string;
}

/** Record a run of the deployer's in the store (state 'executing' unless told), and return the record. */
export const givenRun = (store: S3Store, fields: RunFields, bucket: string = SAMPLE.bucket): RunRecord => {
  const token = fields.token ?? runToken(fields.stage, fields.version);
  const record: RunRecord = {
    stack: `orders-api-${fields.stage}`,
    changeSet: `deploy-${fields.stage}-v${fields.version}`,
    state: 'executing',
    createdAt: '2026-11-20T11:00:00.000Z',
    ...fields,
    token,
  };
  store.put(bucket, runRecordKey(fields.stage, token), JSON.stringify(record), {
    contentType: 'application/json',
  });
  return record;
};

/** The run record a token names, as the store holds it now. */
export const runRecordOf = (
  store: S3Store,
  stage: string,
  token: string,
  bucket: string = SAMPLE.bucket,
): RunRecord | undefined => store.json<RunRecord>(bucket, runRecordKey(stage, token));

/** Every run record of a stage in the store. */
export const runRecordsOf = (store: S3Store, stage: string, bucket: string = SAMPLE.bucket): RunRecord[] =>
  store
    .keys(bucket, `.deployer/runs/${stage}/`)
    .map((key) => store.json<RunRecord>(bucket, key))
    .filter((r): r is RunRecord => r !== undefined);

export const givenApplied = (
  store: S3Store,
  stage: string,
  applied: Applied,
  bucket: string = SAMPLE.bucket,
): void => {
  store.put(bucket, appliedKey(stage), JSON.stringify(applied), { contentType: 'application/json' });
};

export const appliedOf = (
  store: S3Store,
  stage: string,
  bucket: string = SAMPLE.bucket,
): Applied | undefined => store.json<Applied>(bucket, appliedKey(stage));
