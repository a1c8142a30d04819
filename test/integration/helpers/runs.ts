/**
 * The deployer's run records, read back from the world's bucket: the request token of the change set the
 * deployer executed for a desired version (what a status event of that operation carries).
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { RunRecord } from '../../../shared/aws/runs';
import { stageOf, type World } from './world';

/** Every run record of a stage, oldest first. */
export const runRecords = async (world: World, stageRole = 'dev'): Promise<RunRecord[]> => {
  const stage = stageOf(world, stageRole);
  const listing = await world.clients.s3.send(
    new ListObjectsV2Command({ Bucket: world.bucket, Prefix: `.deployer/runs/${stage.name}/` }),
  );
  const records = await Promise.all(
    (listing.Contents ?? []).map(async ({ Key }) => {
      const object = await world.clients.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key }));
      return JSON.parse((await object.Body?.transformToString()) ?? '{}') as RunRecord;
    }),
  );
  return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
};

/** The token of the run that executed (or made) the change set for a desired version. */
export const runTokenOf = async (world: World, stageRole: string, version: number): Promise<string> => {
  const records = (await runRecords(world, stageRole)).filter((r) => r.version === version);
  const run = records.findLast((r) => r.state !== 'created') ?? records.at(-1);
  if (!run) throw new Error(`no run of the deployer for version ${version} of stage ${stageRole}`);
  return run.token;
};
