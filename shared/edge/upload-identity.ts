/**
 * Who an uploaded build is, from the object metadata its CI set (`aws s3 cp --metadata build-id=…,
 * commit-id=…,build-started-at=…`): the build id (the execution the deployer records and labels), the commit,
 * and when the build started (what orders builds: an older build never replaces a newer one). Metadata is
 * outside text: each value is checked before it reaches SSM, S3 or a label, and a build without a sound
 * identity is refused with a sentence naming the metadata key.
 */
import { COMMIT_ID, EXECUTION_ID } from '../names';
import { quoted } from './untrusted';

export interface BuildIdentity {
  buildId: string;
  commitId: string;
  /** ISO 8601, UTC, to the millisecond. */
  startedAt: string;
}

export interface IdentityKeys {
  executionMetadataKey: string;
  commitMetadataKey: string;
  startedAtMetadataKey: string;
}

export type IdentityReading = { identity: BuildIdentity } | { problem: string };

/** How far a build's start may lie after its upload (clocks of CI machines drift a little, never more). */
export const START_TIME_TOLERANCE_MS = 10 * 60_000;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

const flag = (key: string) => `metadata ${key} (x-amz-meta-${key})`;
const upload = (key: string, what: string) => `upload the build with --metadata ${key}=<${what}>`;

/**
 * The identity of an uploaded build, or the problem that refuses it. `segment` is the text in the place of
 * `{executionId}` in its key, when the key has one: it must be the metadata's build id. `uploadedAt` is when
 * S3 created the object (the event's time).
 */
export const readBuildIdentity = (
  metadata: Record<string, string> | undefined,
  keys: IdentityKeys,
  context: { segment?: string; uploadedAt: string },
): IdentityReading => {
  const value = (key: string) => (metadata && Object.hasOwn(metadata, key) ? metadata[key] : undefined);
  const buildId = value(keys.executionMetadataKey);
  const buildKey = keys.executionMetadataKey;
  if (buildId === undefined || buildId === '')
    return { problem: `${flag(buildKey)} is missing: ${upload(buildKey, 'the build id')}` };
  if (!EXECUTION_ID.test(buildId))
    return {
      problem: `${flag(buildKey)} ${quoted(buildId, 100)} is not a build id (letters, digits and "-", at most 95, starting with a letter or digit)`,
    };
  if (context.segment !== undefined && context.segment !== buildId)
    return {
      problem: `${flag(buildKey)} ${buildId} differs from the build id the object's key names, ${quoted(context.segment, 100)}: a build is uploaded under its own id`,
    };
  const commitKey = keys.commitMetadataKey;
  const commit = value(commitKey);
  if (commit === undefined || commit === '')
    return { problem: `${flag(commitKey)} is missing: ${upload(commitKey, 'the git commit id')}` };
  if (!COMMIT_ID.test(commit))
    return {
      problem: `${flag(commitKey)} ${quoted(commit, 100)} is not a git commit id (7 to 64 hex digits)`,
    };
  const startKey = keys.startedAtMetadataKey;
  const start = value(startKey);
  if (start === undefined || start === '')
    return {
      problem: `${flag(startKey)} is missing: ${upload(startKey, 'when the build started, ISO 8601 UTC')}`,
    };
  const startedAt = isoUtc(start);
  if (startedAt === undefined)
    return {
      problem: `${flag(startKey)} ${quoted(start, 100)} is not a time in ISO 8601 UTC, such as 2026-11-20T10:09:03Z`,
    };
  if (Date.parse(startedAt) > Date.parse(context.uploadedAt) + START_TIME_TOLERANCE_MS)
    return {
      problem: `${flag(startKey)} ${start} lies after the upload (${context.uploadedAt}): a build cannot start after it was uploaded, and a start in the future would outrank every later build`,
    };
  return { identity: { buildId, commitId: commit.toLowerCase(), startedAt } };
};

/** An ISO 8601 UTC time as the deployer writes it, or undefined for anything else (a 30th of February too). */
const isoUtc = (text: string): string | undefined => {
  if (!ISO_UTC.test(text)) return undefined;
  const time = Date.parse(text);
  if (Number.isNaN(time)) return undefined;
  const written = new Date(time).toISOString();
  return written.slice(0, 19) === text.slice(0, 19) ? written : undefined;
};
