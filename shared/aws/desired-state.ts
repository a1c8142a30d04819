/**
 * Desired state in SSM Parameter Store. One parameter per stage holds the release key the stage should
 * run; its version history is the deployment history. Each version's description records which execution
 * (and commit) made it, so that an older execution arriving late never overwrites a newer one and a
 * duplicate delivery makes no new version. Labels on the version name the execution and the commit.
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  LabelParameterVersionCommand,
  PutParameterCommand,
  type SSMClient,
  UnlabelParameterVersionCommand,
} from '@aws-sdk/client-ssm';
import type { PipelineExecution } from '../edge/events';
import type { Stage } from '../edge/stages';
import { errorName } from '../errors';
import { logger } from '../logger';
import { commitLabel, executionLabel } from '../names';
import type { Release } from './artifacts';
import { archiveRecorded } from './history-archive';
import { type Provenance, parseProvenance, trustProvenance } from './provenance';
import { guardWrite, writeOnce } from './single-writes';

/** Where desired versions are kept: SSM, and the deployer's archive of them beyond SSM's 100 (S3). */
export interface DesiredStores {
  ssm: SSMClient;
  s3: S3Client;
}

/** What the stage should run, as read from its parameter. */
export interface DesiredState {
  parameter: string;
  key: string;
  version: number;
  /** Who made this version and what it pins; empty for a version written by hand. */
  provenance: Provenance;
}

export type RecordResult =
  | { outcome: 'recorded'; version: number; provenance: Provenance; archived: Promise<void> }
  | { outcome: 'duplicate'; version: number; announced: boolean; provenance: Provenance }
  | { outcome: 'superseded'; version: number; by: Provenance };

const isParameterMissing = (error: unknown): boolean =>
  ['ParameterNotFound', 'ParameterVersionNotFound'].includes(errorName(error) ?? '');

/** What DescribeParameters says of the newest version: its number, description and when it was written. */
const describeLatest = async (ssm: SSMClient, stage: Stage) => {
  const { Parameters } = await ssm.send(
    new DescribeParametersCommand({
      ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [stage.ssmParameter] }],
    }),
  );
  return Parameters?.[0];
};

const getLatest = async (ssm: SSMClient, stage: Stage) => {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: stage.ssmParameter }))).Parameter;
  } catch (error) {
    if (isParameterMissing(error)) return undefined;
    throw error;
  }
};

/**
 * The newest version, its value and the provenance it may be credited with, or undefined for a parameter not
 * yet created. Value and description come from two calls made together; a write landing between them is
 * read again.
 */
const readLatest = async (ssm: SSMClient, stage: Stage) => {
  for (let attempt = 1; ; attempt++) {
    const [described, parameter] = await Promise.all([describeLatest(ssm, stage), getLatest(ssm, stage)]);
    if (described?.Version === undefined || parameter?.Value === undefined) return undefined;
    if (described.Version !== parameter.Version && attempt < 3) continue;
    const { provenance, handWritten } = trustProvenance(described.Description, parameter.Value);
    return latestVersion(
      described.Version,
      parameter.Value,
      provenance,
      handWritten,
      described.LastModifiedDate,
    );
  }
};

/** A version written by hand has no recorded start: it counts from when it was written. */
const latestVersion = (
  version: number,
  key: string,
  provenance: Provenance,
  handWritten: boolean,
  writtenAt: Date | undefined,
) => {
  const startedAt = provenance.startedAt ?? writtenAt?.toISOString();
  return {
    version,
    key,
    handWritten,
    writtenAt,
    provenance: { ...provenance, ...(startedAt ? { startedAt } : {}) },
  };
};

/**
 * Pins the stage's configured template when nothing else names one; told whether this is the stage's very
 * first version. Returns the template's SHA-256, or undefined to keep the stack's own template.
 */
export type TemplatePin = (firstVersion: boolean) => Promise<string | undefined>;

/**
 * Record a release as the stage's desired artifact, unless this execution is already recorded (a duplicate
 * delivery) or a newer execution already is (this one arrived late). The version pins the release's
 * template: the one built with it, else the template the stage already deploys, else (the stage's first
 * release) the one `firstTemplate` pins. `beforeWrite` hears which template the version will pin, just
 * before it is written.
 */
export const recordDesired = async (
  stores: DesiredStores,
  stage: Stage,
  release: Release,
  execution: PipelineExecution,
  firstTemplate: TemplatePin = async () => undefined,
  beforeWrite: (template: string | undefined) => void = () => {},
): Promise<RecordResult> => {
  const { ssm } = stores;
  let latest = await readLatest(ssm, stage);
  if (latest?.provenance.execution === execution.executionId && !latest.handWritten) {
    // The labels are put on once the ops team was told (see deploy.ts): a version without them is a
    // delivery that did not finish, and its retry must still report.
    const labelled = await labelledVersion(ssm, stage, executionLabel(execution.executionId));
    if (labelled === undefined || labelled === latest.version) {
      const announced = labelled === latest.version;
      return { outcome: 'duplicate', version: latest.version, announced, provenance: latest.provenance };
    }
    // The execution's label sits on an older version: the newest copied its description (a hand write of a
    // version whose provenance names no digest, as the deployer wrote before it pinned them).
    latest = latestVersion(latest.version, latest.key, {}, true, latest.writtenAt);
  }
  if (
    latest?.provenance.startedAt &&
    Date.parse(latest.provenance.startedAt) > Date.parse(execution.startedAt)
  ) {
    return { outcome: 'superseded', version: latest.version, by: latest.provenance };
  }
  const template =
    release.template?.sha256 ?? latest?.provenance.template ?? (await firstTemplate(latest === undefined));
  const provenance: Provenance = {
    pipeline: execution.pipeline,
    execution: execution.executionId,
    ...(release.commitId ? { commit: release.commitId } : {}),
    startedAt: execution.startedAt,
    artifact: release.sha256,
    ...(template ? { template } : {}),
  };
  // The caller may start on the pinned template (reading it) while the version is written.
  beforeWrite(template);
  const written = await writeDesired(
    stores,
    stage,
    release.key,
    provenance,
    latest !== undefined,
    latest?.version,
  );
  if (latest && written.version !== latest.version + 1) {
    logger.warn('another writer recorded a version of this stage at the same time', {
      parameter: stage.ssmParameter,
      expected: latest.version + 1,
      got: written.version,
    });
  }
  return { outcome: 'recorded', ...written };
};

/**
 * Write a new desired version, once. The provenance gets a token of this write, so that a write whose answer
 * was lost is recognised when read back instead of being written a second time. SSM keeps 100 versions of a
 * parameter and refuses to drop the oldest while it carries labels: then the oldest version's labels are
 * removed (it is about to disappear anyway), so the deployer keeps deploying past version 100. A caller that
 * read the newest version (`newest`) frees the oldest first, when the write is sure to need it: no write
 * refused on every deploy past version 100. Otherwise a refused write frees it and is made again. Once written,
 * the version is archived beyond SSM's 100 (history-archive.ts): `archived` is that write, still going.
 */
export const writeDesired = async (
  { ssm, s3 }: DesiredStores,
  stage: Stage,
  key: string,
  fields: Provenance,
  overwrite: boolean,
  newest?: number,
): Promise<{ version: number; provenance: Provenance; archived: Promise<void> }> => {
  const provenance: Provenance = { ...fields, write: randomBytes(12).toString('hex') };
  const recordedAt = new Date().toISOString();
  const put = () =>
    ssm.send(
      guardWrite(
        new PutParameterCommand({
          Name: stage.ssmParameter,
          Value: key,
          Type: 'String',
          Description: JSON.stringify(provenance),
          Overwrite: overwrite,
        }),
      ),
    );
  const putOnce = () =>
    writeOnce(
      `recording ${key} in ${stage.ssmParameter}`,
      async () => (await put()).Version,
      async () => {
        const latest = await describeLatest(ssm, stage);
        return parseProvenance(latest?.Description).write === provenance.write ? latest?.Version : undefined;
      },
    );
  if (newest !== undefined && newest >= SSM_VERSIONS_KEPT) await unlabelOldest(ssm, stage);
  let version: number | undefined;
  try {
    version = await putOnce();
  } catch (error) {
    if (errorName(error) !== 'ParameterMaxVersionLimitExceeded') throw error;
    await unlabelOldest(ssm, stage);
    version = await putOnce();
  }
  if (version === undefined) throw new Error(`PutParameter on ${stage.ssmParameter} returned no version`);
  // Not on the deploy's path: the stage transaction awaits it before it lets the lock go (it never rejects).
  const archived = archiveRecorded(s3, stage, { version, key, provenance, recordedAt });
  return { version, provenance, archived };
};

/** How many versions of a parameter SSM keeps. */
const SSM_VERSIONS_KEPT = 100;

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

/** The version that carries this label (a label sits on one version at a time), or undefined. */
const labelledVersion = async (ssm: SSMClient, stage: Stage, label: string): Promise<number | undefined> => {
  try {
    const response = await ssm.send(new GetParameterCommand({ Name: `${stage.ssmParameter}:${label}` }));
    return response?.Parameter?.Version;
  } catch (error) {
    if (isParameterMissing(error) || errorName(error) === 'ParameterVersionLabelNotFound') return undefined;
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
