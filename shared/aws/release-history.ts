/**
 * The stage's deployment history, read from its SSM parameter's version history (all pages): which
 * release each version holds, who recorded it, its labels, and whether it failed.
 */
import { GetParameterCommand, GetParameterHistoryCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Stage } from '../edge/stages';
import { errorName } from '../errors';
import { logger } from '../logger';
import { failedLabel } from '../names';
import { addLabels, type DesiredState } from './desired-state';
import { type Provenance, trustProvenance } from './provenance';

export interface ReleaseVersion {
  version: number;
  key: string;
  labels: string[];
  /** Who made it and what it pins; empty for a version written by hand (see trustProvenance). */
  provenance: Provenance;
  /** Written by hand (for example `aws ssm put-parameter --overwrite`): credited to nobody. */
  handWritten: boolean;
  modifiedAt?: string;
  failed: boolean;
  /** Kept only by the deployer's archive (SSM no longer keeps it): no labels, and no more than it says. */
  archived?: true;
  /** How the deployer's runs of this version ended, when the archive was read for them. */
  runs?: SettledRun[];
}

/** A run of the deployer that a stack's final status ended. */
export interface SettledRun {
  token: string;
  status: string;
  settledAt: string;
  failed: boolean;
}

/** Every version of the stage's parameter, oldest first; empty when the parameter does not exist. */
export const readHistory = async (ssm: SSMClient, stage: Stage): Promise<ReleaseVersion[]> => {
  const versions: ReleaseVersion[] = [];
  let NextToken: string | undefined;
  let previousDescription: string | undefined;
  try {
    do {
      const page = await ssm.send(
        new GetParameterHistoryCommand({ Name: stage.ssmParameter, MaxResults: 50, NextToken }),
      );
      for (const p of page.Parameters ?? []) {
        if (p.Version === undefined || p.Value === undefined) continue;
        const labels = p.Labels ?? [];
        // Pages come oldest first, so the previous version's description is at hand.
        const trusted = trustProvenance(p.Description, p.Value, previousDescription);
        previousDescription = p.Description;
        versions.push({
          version: p.Version,
          key: p.Value,
          labels,
          ...trusted,
          ...(p.LastModifiedDate ? { modifiedAt: p.LastModifiedDate.toISOString() } : {}),
          failed: labels.includes(failedLabel(p.Version)),
        });
      }
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if (errorName(error) === 'ParameterNotFound') return [];
    throw error;
  }
  return versions.sort((a, b) => a.version - b.version);
};

/** The stage's desired release (its newest version), or undefined when nothing was ever recorded for it. */
export const readDesired = async (
  ssm: SSMClient,
  stage: Stage,
): Promise<(DesiredState & { failed: boolean }) | undefined> => {
  const latest = (await readHistory(ssm, stage)).at(-1);
  if (!latest) return undefined;
  const { version, key, provenance, failed } = latest;
  return { parameter: stage.ssmParameter, version, key, provenance, failed };
};

/** The newest version that holds this release key, or undefined. */
export const latestWithKey = (history: ReleaseVersion[], key: string): ReleaseVersion | undefined =>
  history.findLast((v) => v.key === key);

/** Whether a desired version carries the label that marks its deploy as failed (one call, by label). */
export const isFailed = async (ssm: SSMClient, stage: Stage, version: number): Promise<boolean> => {
  try {
    const response = await ssm.send(
      new GetParameterCommand({ Name: `${stage.ssmParameter}:${failedLabel(version)}` }),
    );
    return response?.Parameter?.Version === version;
  } catch (error) {
    if (
      ['ParameterNotFound', 'ParameterVersionNotFound', 'ParameterVersionLabelNotFound'].includes(
        errorName(error) ?? '',
      )
    )
      return false;
    throw error;
  }
};

/** Mark a desired version as failed, so reconcile does not retry the same broken release in a loop. */
export const markFailed = async (ssm: SSMClient, stage: Stage, version: number): Promise<boolean> => {
  try {
    await addLabels(ssm, stage, version, [failedLabel(version)]);
    return true;
  } catch (error) {
    // A version SSM no longer keeps (past its 100) cannot be retried anyway: nothing to mark.
    if (!['ParameterVersionNotFound', 'ParameterNotFound'].includes(errorName(error) ?? '')) throw error;
    logger.warn('the failed version is no longer in SSM; nothing to mark', { stage: stage.name, version });
    return false;
  }
};
