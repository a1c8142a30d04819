/**
 * Where a stage's stack may live: the deployer's own account and region, another region of it, or another
 * account (whose role the deployer assumes). The rules the configuration schema checks at parse time; what
 * needs the deployer's own account and region is checked at load (shared/edge/stage-place.ts).
 */

export const ACCOUNT_ID = /^\d{12}$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The account an IAM role ARN names. */
export const accountOfRoleArn = (arn: string): string | undefined =>
  /^arn:[^:]+:iam::(\d{12}):/.exec(arn)?.[1];

/** A stage's placement fields, as the schema reads them. */
export interface PlaceFields {
  account?: string | undefined;
  assumeRoleArn?: string | undefined;
  roleArn?: string | undefined;
}

/**
 * A stage in another account: the role the deployer assumes there is required and must be of that account,
 * and so must the CloudFormation service role its change sets pass. Each problem names its field.
 */
export const placeIssues = (stage: PlaceFields): { field: string; message: string }[] => {
  const issues: { field: string; message: string }[] = [];
  if (stage.account === undefined) {
    if (stage.assumeRoleArn !== undefined)
      issues.push({
        field: 'account',
        message: 'is required with assumeRoleArn: the account the stage lives in',
      });
    return issues;
  }
  if (stage.assumeRoleArn === undefined)
    issues.push({
      field: 'assumeRoleArn',
      message: `is required with account: the role in account ${stage.account} the deployer assumes (targets/template.yaml)`,
    });
  for (const field of ['assumeRoleArn', 'roleArn'] as const) {
    const arn = stage[field];
    const account = arn === undefined ? undefined : accountOfRoleArn(arn);
    if (account !== undefined && account !== stage.account)
      issues.push({
        field,
        message: `is a role of account ${account}, not of the stage's account ${stage.account}`,
      });
  }
  return issues;
};
