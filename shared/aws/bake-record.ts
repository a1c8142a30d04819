/**
 * The bake of an alarm-gated stage's release: written when a run of the deployer settles successfully on the
 * stage (which version, which run, settled when, baking until when, watched by which alarms), and ended once —
 * passed (then promoted) or rolled back. One object per stage, beside its lock and run records, written only
 * by the holder of the stage's lock.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import { built } from '../edge/schema';
import { stateBucketOf } from '../edge/stage-place';
import type { Stage } from '../edge/stages';
import { readStateObject, writeStateObject } from './state-objects';

const bakeSchema = built(() =>
  z.object({
    stage: z.string(),
    version: z.number(),
    key: z.string(),
    /** The run whose stack settled, and how (its archived outcome is marked failed on a rollback). */
    token: z.string(),
    status: z.string(),
    settledAt: z.string(),
    /** settledAt + bakeMinutes. */
    until: z.string(),
    alarms: z.array(z.string()),
    /**
     * baking; passed (then promoted); rolled-back (an alarm tripped it: its last good release made desired);
     * no-good-release (an alarm tripped it, and the stage had no earlier good release to go back to).
     */
    state: z.enum(['baking', 'passed', 'rolled-back', 'no-good-release']),
    /** When the bake ended, and by what (the alarm that rolled it back, or "the schedule"). */
    endedAt: z.optional(z.string()),
    endedBy: z.optional(z.string()),
    /** The alarm's reason and when it went to ALARM (outside text: quoted wherever a person reads it). */
    reason: z.optional(z.string()),
    trippedAt: z.optional(z.string()),
    /** The ops team was told of the rollback (or of the missing good release): written after the message. */
    reported: z.optional(z.boolean()),
    /** The passed release was handed to the stage's promoteTo stages (written after the promotions). */
    promotedAt: z.optional(z.string()),
  }),
);
export type BakeRecord = z.output<ReturnType<typeof bakeSchema>>;

const bakeKey = (stage: Pick<Stage, 'name'>): string => `.deployer/bake/${stage.name}.json`;

/** The stage's latest bake, or undefined when none was recorded (or the object is not one of ours). */
export const readBake = async (s3: S3Client, stage: Stage): Promise<BakeRecord | undefined> => {
  const record = await readStateObject(s3, stateBucketOf(stage), bakeKey(stage), bakeSchema());
  return record?.stage === stage.name ? record : undefined;
};

export const writeBake = (s3: S3Client, stage: Stage, record: BakeRecord): Promise<void> =>
  writeStateObject(s3, stateBucketOf(stage), bakeKey(stage), record);
