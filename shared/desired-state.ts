/**
 * Desired state in SSM Parameter Store. One parameter per stage holds the release key the stage should
 * run; its version history is the deployment history. Each version's description records which execution
 * (and commit) made it, so that an older execution arriving late never overwrites a newer one and a
 * duplicate delivery makes no new version. Labels on the version name the execution and the commit.
 */
import {
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  PutParameterCommand,
  type SSMClient,
  UnlabelParameterVersionCommand,
} from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import type { Release } from './artifacts';
import type { Stage } from './config';
import { errorName } from './errors';
import type { PipelineExecution } from './events';
import { logger } from './logger';
import { commitLabel, executionLabel, failedLabel } from './names';
import './schema';

/** What the stage should run, as read from its parameter. */
export interface DesiredState {
  parameter: string;
  key: string;
  version: number;
}

/** Who made a version: kept as JSON in the version's description. */
const provenanceSchema = z.looseObject({
  pipeline: z.optional(z.string()),
  execution: z.optional(z.string()),
  commit: z.optional(z.string()),
  startedAt: z.optional(z.string()),
  /** Set when a person made this version: rollback, promote or reject. */
  action: z.optional(z.string()),
  by: z.optional(z.string()),
  /** The version or stage it came from (a rollback's target version, a promotion's source stage). */
  from: z.optional(z.string()),
});
export type Provenance = z.output<typeof provenanceSchema>;

export type RecordResult =
  | { outcome: 'recorded'; version: number }
  | { outcome: 'duplicate'; version: number; announced: boolean }
  | { outcome: 'superseded'; version: number; by: Provenance };

/** Parse a version's description; a description written by a person (not JSON) yields no provenance. */
export const parseProvenance = (description: string | undefined): Provenance => {
  if (!description?.startsWith('{')) return {};
  try {
    const parsed = provenanceSchema.safeParse(JSON.parse(description));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
};

const isParameterMissing = (error: unknown): boolean =>
  ['ParameterNotFound', 'ParameterVersionNotFound'].includes(errorName(error) ?? '');

/** The stage's desired release, or undefined when nothing was ever recorded for it. */
export const readDesired = async (ssm: SSMClient, stage: Stage): Promise<DesiredState | undefined> => {
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: stage.ssmParameter }));
    if (Parameter?.Value === undefined || Parameter.Version === undefined) return undefined;
    return { parameter: stage.ssmParameter, key: Parameter.Value, version: Parameter.Version };
  } catch (error) {
    if (isParameterMissing(error)) return undefined;
    throw error;
  }
};

/** Whether a desired version carries the label that marks its deploy as failed. */
export const isFailed = (ssm: SSMClient, stage: Stage, version: number): Promise<boolean> =>
  hasLabel(ssm, stage, version, failedLabel(version));

/** The newest version's number and provenance, in one call, or undefined for a parameter not yet created. */
const readLatest = async (ssm: SSMClient, stage: Stage) => {
  const { Parameters } = await ssm.send(
    new DescribeParametersCommand({
      ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [stage.ssmParameter] }],
    }),
  );
  const latest = Parameters?.[0];
  if (latest?.Version === undefined) return undefined;
  const provenance = parseProvenance(latest.Description);
  // A version written by hand has no recorded start: it counts from when it was written.
  const startedAt = provenance.startedAt ?? latest.LastModifiedDate?.toISOString();
  return { version: latest.Version, provenance: { ...provenance, ...(startedAt ? { startedAt } : {}) } };
};

/**
 * Record a release as the stage's desired artifact, unless this execution is already recorded (a duplicate
 * delivery) or a newer execution already is (this one arrived late).
 */
export const recordDesired = async (
  ssm: SSMClient,
  stage: Stage,
  release: Release,
  execution: PipelineExecution,
): Promise<RecordResult> => {
  const latest = await readLatest(ssm, stage);
  if (latest?.provenance.execution === execution.executionId) {
    // The labels are put on once the ops team was told (see deploy.ts): a version without them is a
    // delivery that did not finish, and its retry must still report.
    const announced = await hasLabel(ssm, stage, latest.version, executionLabel(execution.executionId));
    return { outcome: 'duplicate', version: latest.version, announced };
  }
  if (
    latest?.provenance.startedAt &&
    Date.parse(latest.provenance.startedAt) > Date.parse(execution.startedAt)
  ) {
    return { outcome: 'superseded', version: latest.version, by: latest.provenance };
  }
  const provenance: Provenance = {
    pipeline: execution.pipeline,
    execution: execution.executionId,
    ...(release.commitId ? { commit: release.commitId } : {}),
    startedAt: execution.startedAt,
  };
  const Version = await writeDesired(ssm, stage, release.key, provenance, latest !== undefined);
  if (latest && Version !== latest.version + 1) {
    logger.warn('another writer recorded a version of this stage at the same time', {
      parameter: stage.ssmParameter,
      expected: latest.version + 1,
      got: Version,
    });
  }
  return { outcome: 'recorded', version: Version };
};

/**
 * Write a new desired version. SSM keeps 100 versions of a parameter and refuses to drop the oldest while it
 * carries labels: then the oldest version's labels are removed (it is about to disappear anyway) and the
 * write is made again, so the deployer keeps deploying past version 100.
 */
export const writeDesired = async (
  ssm: SSMClient,
  stage: Stage,
  key: string,
  provenance: Provenance,
  overwrite: boolean,
): Promise<number> => {
  const put = () =>
    ssm.send(
      new PutParameterCommand({
        Name: stage.ssmParameter,
        Value: key,
        Type: 'String',
        Description: JSON.stringify(provenance),
        Overwrite: overwrite,
      }),
    );
  let written: Awaited<ReturnType<typeof put>>;
  try {
    written = await put();
  } catch (error) {
    if (errorName(error) !== 'ParameterMaxVersionLimitExceeded') throw error;
    await unlabelOldest(ssm, stage);
    written = await put();
  }
  if (written?.Version === undefined)
    throw new Error(`PutParameter on ${stage.ssmParameter} returned no version`);
  return written.Version;
};

/** Remove the labels of the parameter's oldest version (history pages come oldest first). */
const unlabelOldest = async (ssm: SSMClient, stage: Stage): Promise<void> => {
  const { Parameters } = await ssm.send(
    new GetParameterHistoryCommand({ Name: stage.ssmParameter, MaxResults: 1 }),
  );
  const oldest = Parameters?.[0];
  if (oldest?.Version === undefined || !oldest.Labels?.length) return;
  await ssm.send(
    new UnlabelParameterVersionCommand({
      Name: stage.ssmParameter,
      ParameterVersion: oldest.Version,
      Labels: oldest.Labels,
    }),
  );
  logger.info('freed the oldest SSM version of its labels to stay within 100 versions', {
    parameter: stage.ssmParameter,
    version: oldest.Version,
    labels: oldest.Labels,
  });
};

/** Whether the version carries this label (a label sits on one version at a time). */
const hasLabel = async (ssm: SSMClient, stage: Stage, version: number, label: string): Promise<boolean> => {
  try {
    const response = await ssm.send(new GetParameterCommand({ Name: `${stage.ssmParameter}:${label}` }));
    return response?.Parameter?.Version === version;
  } catch (error) {
    if (isParameterMissing(error) || errorName(error) === 'ParameterVersionLabelNotFound') return false;
    throw error;
  }
};

/**
 * Label a recorded version with its execution and commit. The deploy path does this last, once the ops
 * team was told, so the labels also say "this delivery finished".
 */
export const labelRecorded = (
  ssm: SSMClient,
  stage: Stage,
  version: number,
  executionId: string,
  commitId: string | undefined,
): Promise<void> =>
  addLabels(ssm, stage, version, [executionLabel(executionId), ...(commitId ? [commitLabel(commitId)] : [])]);

/** Put labels on one version of the stage's parameter (each label moves there from any other version). */
export const addLabels = async (
  ssm: SSMClient,
  stage: Stage,
  version: number,
  labels: string[],
): Promise<void> => {
  const { InvalidLabels } = await ssm.send(
    new LabelParameterVersionCommand({ Name: stage.ssmParameter, ParameterVersion: version, Labels: labels }),
  );
  if (InvalidLabels?.length)
    logger.warn('SSM refused labels', { parameter: stage.ssmParameter, labels: InvalidLabels });
};
