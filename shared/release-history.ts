/**
 * The stage's deployment history, read from its SSM parameter's version history (all pages): which
 * release each version holds, who recorded it, its labels, and whether it failed.
 */
import { GetParameterHistoryCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { Stage } from './config';
import { addLabels, type Provenance, parseProvenance } from './desired-state';
import { errorName } from './errors';
import { failedLabel } from './names';

export interface ReleaseVersion {
  version: number;
  key: string;
  labels: string[];
  provenance: Provenance;
  modifiedAt?: string;
  failed: boolean;
}

/** Every version of the stage's parameter, oldest first; empty when the parameter does not exist. */
export const readHistory = async (ssm: SSMClient, stage: Stage): Promise<ReleaseVersion[]> => {
  const versions: ReleaseVersion[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await ssm.send(
        new GetParameterHistoryCommand({ Name: stage.ssmParameter, MaxResults: 50, NextToken }),
      );
      for (const p of page.Parameters ?? []) {
        if (p.Version === undefined || p.Value === undefined) continue;
        const labels = p.Labels ?? [];
        versions.push({
          version: p.Version,
          key: p.Value,
          labels,
          provenance: parseProvenance(p.Description),
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

/** The newest version that holds this release key, or undefined. */
export const latestWithKey = (history: ReleaseVersion[], key: string): ReleaseVersion | undefined =>
  history.findLast((v) => v.key === key);

/** Mark a desired version as failed, so reconcile does not retry the same broken release in a loop. */
export const markFailed = async (ssm: SSMClient, stage: Stage, version: number): Promise<void> => {
  await addLabels(ssm, stage, version, [failedLabel(version)]);
};
