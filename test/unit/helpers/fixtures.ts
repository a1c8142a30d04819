/**
 * Shared fixtures for the unit tests: the repository's configuration and sample events, a Runtime whose
 * SDK clients are real instances (their `send` is intercepted by aws-sdk-client-mock in each test file),
 * SDK-shaped errors and S3 bodies. Nothing here talks to the network.
 */
import 'aws-sdk-client-mock-jest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import type * as z from 'zod/mini';
import { createClients } from '../../../shared/aws/clients';
import { parseConfig } from '../../../shared/edge/config';
import {
  type PipelineExecution,
  parsePipelineEvent,
  type pipelineEventSchema,
} from '../../../shared/edge/events';
import { type DeployerConfig, type Stage, stageNamed } from '../../../shared/edge/stages';
import type { Runtime } from '../../../shared/runtime';

export const ROOT = join(__dirname, '..', '..', '..');
export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:deployer-ops`;
export const LEDGER_TABLE = 'deployer-ledger';

/** Values of events/pipeline-succeeded.json, spelled out once for assertions. */
export const SAMPLE = {
  pipeline: 'orders-api-pipeline',
  executionId: '3f8e2a14-9c1b-4d8e-a2f6-1b7c9e0d5a42',
  commitId: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
  startTime: '2026-11-20T10:09:03.512Z',
  buildKey: 'builds/3f8e2a14-9c1b-4d8e-a2f6-1b7c9e0d5a42/app.zip',
  bucket: 'orders-api-artifacts',
} as const;

export type EventName =
  | 'pipeline-succeeded'
  | 'pipeline-succeeded-legacy'
  | 'pipeline-started'
  | 'pipeline-failed';

/**
 * A pipeline event as the schema takes it in: a schema change breaks every fixture that builds one. Tests
 * that damage a sample on purpose, beyond what the schema's types allow, say so with `loose`.
 */
export type SampleEvent = z.input<ReturnType<typeof pipelineEventSchema>>;

/** An object of a sample, loosened to be damaged on purpose (a wrong type, a missing required field). */
export const loose = (value: object): Record<string, unknown> => value as Record<string, unknown>;

const sampleTexts = new Map<string, string>();

/** A fresh copy of events/<name>.json, typed by the caller: each test may change its copy freely. */
export const readEventSample = <T>(name: string): T => {
  let text = sampleTexts.get(name);
  if (text === undefined) {
    text = readFileSync(join(ROOT, 'events', `${name}.json`), 'utf8');
    sampleTexts.set(name, text);
  }
  return structuredClone(JSON.parse(text) as T);
};

/** A fresh copy of a pipeline sample event. */
export const loadEvent = (name: EventName): SampleEvent => readEventSample<SampleEvent>(name);

/** The parsed execution of a sample event, optionally changed first. */
export const executionOf = (
  name: EventName = 'pipeline-succeeded',
  change: (event: SampleEvent) => void = () => {},
): PipelineExecution => {
  const event = loadEvent(name);
  change(event);
  return parsePipelineEvent(event);
};

let repoConfig: string | undefined;
/** The text of the repository's deployer.config.yaml. */
export const repoConfigText = (): string => {
  repoConfig ??= readFileSync(join(ROOT, 'deployer.config.yaml'), 'utf8');
  return repoConfig;
};

/** A Runtime built directly: real SDK clients (mocked per test file), a parsed configuration. */
export const makeRuntime = (configText: string = repoConfigText()): Runtime => ({
  settings: { region: REGION, accountId: ACCOUNT, topicArn: TOPIC_ARN, ledgerTable: LEDGER_TABLE },
  config: parseConfig(configText, 'test configuration'),
  clients: createClients(REGION, {}),
});

/** A stage of a configuration, or a failing test. */
export const stageOf = (config: DeployerConfig, name: string): Stage => {
  const stage = stageNamed(config, name);
  if (!stage) throw new Error(`test setup: no stage ${name}`);
  return stage;
};

/** An error shaped like the ones the SDK throws for an AWS error code. */
export const awsError = (name: string, message: string, httpStatusCode = 400): Error =>
  Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });

/** The message of the error a promise rejects with (or a failing test when it resolves). */
export const rejectionOf = async (promise: Promise<unknown>): Promise<Error> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected the promise to reject, but it resolved');
};

/** The error a function throws (or a failing test when it returns). */
export const thrownBy = (run: () => unknown): Error => {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected the call to throw, but it returned');
};

export const sha256Hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
export const sha256Base64 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('base64');

/** The bytes of the pretend build, and their digests. */
export const BUILD_BYTES = Buffer.from('PK\u0003\u0004 pretend Lambda package bytes');
export const BUILD_SHA256_HEX = sha256Hex(BUILD_BYTES);
export const BUILD_SHA256_B64 = sha256Base64(BUILD_BYTES);
/** The release key the repository's configuration gives BUILD_BYTES. */
export const BUILD_RELEASE_KEY = `releases/orders-api/${BUILD_SHA256_HEX}.zip`;

/** A GetObject body as the SDK returns it in Node: a Readable with the SdkStream methods mixed in. */
export const streamBody = (...chunks: Buffer[]): NonNullable<GetObjectCommandOutput['Body']> => {
  const all = Buffer.concat(chunks);
  return Object.assign(Readable.from(chunks), {
    transformToByteArray: async () => new Uint8Array(all),
    transformToString: async (encoding?: string) => all.toString((encoding ?? 'utf8') as BufferEncoding),
    transformToWebStream: (): ReadableStream => {
      throw new Error('not used by the deployer');
    },
  });
};

/** An object in a test's fake S3 bucket (the lease and line tests keep their objects so). */
export interface StoredObject {
  body: string;
  etag: string;
  lastModified: Date;
}

/** S3 dates objects in whole seconds. */
export const s3Time = (ms = Date.now()): Date => new Date(Math.floor(ms / 1000) * 1000);

/** A body as S3 would store it: its ETag is the MD5 of its bytes. */
export const storedObject = (body: string, lastModified = s3Time()): StoredObject => ({
  body,
  etag: `"${createHash('md5').update(body).digest('hex')}"`,
  lastModified,
});

/** An S3 error as the SDK throws it, with its HTTP status (and how many attempts the SDK made). */
export const s3Error = (name: string, status: number, attempts = 1): Error =>
  Object.assign(new Error(name), { name, $fault: 'client', $metadata: { httpStatusCode: status, attempts } });

/** What GetObject answers for a stored object. */
export const getObjectReply = (object: StoredObject): GetObjectCommandOutput => ({
  Body: streamBody(Buffer.from(object.body)),
  ETag: object.etag,
  LastModified: object.lastModified,
  ContentLength: Buffer.byteLength(object.body),
  $metadata: {},
});
