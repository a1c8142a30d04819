/**
 * The deployer's own record of each operation it starts on a stage's stack: the change set it made (by ARN),
 * for which desired version and release, and the unpredictable request token it executes it with. A change
 * set name or a request token is chosen by whoever calls CloudFormation; an operation is the deployer's only
 * when it matches one of these records, which only the deployer writes (under its state prefix, see the
 * README's security model).
 *
 * Records are written by the holder of the stage's lock, so plain (idempotent) writes suffice.
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { built } from '../edge/schema';
import { stateBucketOf } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { runToken, stageOfRunToken } from '../names';
import { archiveOutcome } from './history-archive';
import { readStateObject, writeStateObject } from './state-objects';

const recordSchema = built(() =>
  z.object({
    token: z.string(),
    stage: z.string(),
    stack: z.string(),
    version: z.number(),
    artifactKey: z.string(),
    artifact: z.optional(z.string()),
    template: z.optional(z.string()),
    /** The parameters the pinned template declares (CloudFormation's GetTemplateSummary of its text). */
    parameters: z.optional(z.array(z.string())),
    changeSet: z.string(),
    changeSetId: z.optional(z.string()),
    state: z.enum(['created', 'executing', 'settled']),
    createdAt: z.string(),
    /** When the change this run deploys began (provenance.ts buildStartOf): where its lead time starts. */
    startedAt: z.optional(z.string()),
    /** The stack status event that ended the operation (its EventBridge id), once one did. */
    settledBy: z.optional(z.string()),
    settledStatus: z.optional(z.string()),
    /** When that event says the stack reached its final status. */
    settledAt: z.optional(z.string()),
  }),
);
export type RunRecord = z.output<ReturnType<typeof recordSchema>>;

/** Where a run's record lives: beside the stage's lock, under the deployer's own state prefix. */
export const runRecordKey = (stage: Stage, token: string): string =>
  `.deployer/runs/${stage.name}/${token}.json`;

/** A new, unpredictable token for an operation on a desired version. */
export const newRunToken = (stage: Stage, version: number): string =>
  runToken(stage.name, version, randomBytes(12).toString('hex'));

export const writeRun = (s3: S3Client, stage: Stage, record: RunRecord): Promise<void> =>
  writeStateObject(s3, stateBucketOf(stage), runRecordKey(stage, record.token), record);

/**
 * The record of the run a token names, when the token is well formed, names this stage and the deployer
 * recorded it; undefined for any other token (someone else's operation, or a forged token).
 */
export const readRun = async (s3: S3Client, stage: Stage, token: string): Promise<RunRecord | undefined> => {
  if (stageOfRunToken(token) !== stage.name) return undefined;
  const record = await readStateObject(s3, stateBucketOf(stage), runRecordKey(stage, token), recordSchema());
  return record?.token === token && record.stage === stage.name && record.stack === stage.stack
    ? record
    : undefined;
};

/** The token a change set of the deployer's carries in its description ("… run <token>"). */
export const tokenInDescription = (description: string | undefined): string | undefined =>
  /\brun (deploy-[a-z][a-z0-9-]{0,31}-v[1-9][0-9]{0,15}-[0-9a-f]{24})\b/.exec(description ?? '')?.[1];

/**
 * What the deployer last applied to a stage's stack: the desired version, artifact and template of the change
 * set it last executed (or found empty). The artifact key is visible on the stack itself; the template is
 * not, so this record is how a release that changes only the template is told apart from one in sync. It
 * also keeps the parameters that template declares: the next change set with the same template passes them
 * without asking CloudFormation again.
 */
const appliedSchema = built(() =>
  z.object({
    version: z.number(),
    key: z.string(),
    template: z.optional(z.string()),
    parameters: z.optional(z.array(z.string())),
    token: z.optional(z.string()),
  }),
);
export type Applied = z.output<ReturnType<typeof appliedSchema>>;

const appliedKey = (stage: Stage): string => `.deployer/applied/${stage.name}.json`;

export const readApplied = (s3: S3Client, stage: Stage): Promise<Applied | undefined> =>
  readStateObject(s3, stateBucketOf(stage), appliedKey(stage), appliedSchema());

export const writeApplied = (s3: S3Client, stage: Stage, applied: Applied): Promise<void> =>
  writeStateObject(s3, stateBucketOf(stage), appliedKey(stage), applied);

/**
 * The deployer's run behind a stack operation's request token, when there is one: recorded by the deployer
 * and not yet settled by another event. A token seen once can be reused by anyone on their own UpdateStack;
 * once the run's own final status settled it, a later event with the same token is not the deployer's.
 */
export const ownRun = async (
  s3: S3Client,
  stage: Stage,
  token: string | undefined,
  eventId: string,
): Promise<RunRecord | undefined> => {
  if (!token) return undefined;
  const record = await readRun(s3, stage, token);
  if (!record || record.state === 'created') return undefined;
  return record.state === 'settled' && record.settledBy !== eventId ? undefined : record;
};

/**
 * Mark a run settled by the final status event that ended it (`settledAt`: the event's time), and archive
 * how it ended beside its version (history-archive.ts) first: a settled run is an archived one.
 */
export const settleRun = async (
  s3: S3Client,
  stage: Stage,
  record: RunRecord,
  settled: { eventId: string; status: string; settledAt: string },
): Promise<void> => {
  const { eventId, status, settledAt } = settled;
  await archiveOutcome(s3, stage, { version: record.version, token: record.token, status, settledAt });
  await writeRun(s3, stage, {
    ...record,
    state: 'settled',
    settledBy: eventId,
    settledStatus: status,
    settledAt,
  });
};
