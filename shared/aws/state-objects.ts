/**
 * The deployer's own state objects in S3 (run records, the applied record, bakes, the history archive): JSON
 * read back through a schema. One rule for all of them: an object that is gone, is not JSON or does not match
 * its schema is not a record of the deployer's (undefined); any other failure is an error.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type * as z from 'zod/mini';
import { isMissingObject } from '../errors';

/** The object at `key`, parsed by `schema`; undefined when it is gone or is not what it should be. */
export const readStateObject = async <T>(
  s3: S3Client,
  bucket: string,
  key: string,
  schema: z.ZodMiniType<T>,
): Promise<T | undefined> => {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const parsed = schema.safeParse(JSON.parse((await response.Body?.transformToString()) ?? ''));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (isMissingObject(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
};

/** Write a state object as JSON (a plain put: the stage's lock, or create-only calls, order the writers). */
export const writeStateObject = async (
  s3: S3Client,
  bucket: string,
  key: string,
  value: unknown,
): Promise<void> => {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: 'application/json',
    }),
  );
};
