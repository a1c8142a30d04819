/**
 * Stages in other accounts and regions, checked against one samconfig environment's parameters (see
 * scope-check.ts): a stage in another account is in TargetAccountIds and assumes a role of TargetRoleArns; a
 * stage in another region of the deployer's account is in StageRegions; a stage in another region names a
 * releaseBucket there, covered by StageReleaseObjectArns. Each would be an IAM denial (or a Lambda that
 * cannot read its code) in production.
 */
import { allStages, type DeployerConfig, type Stage } from '../../shared/edge/stages';

type Parameters = Record<string, string>;

/** The pseudo parameter under which environments() gives an environment's region (samconfig `region`). */
export const REGION_PARAMETER = 'AWS::Region';

const listOf = (p: Parameters, name: string): string[] =>
  (p[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** A stage whose stack is in another region than the environment deploys the deployer to. */
export const inOtherRegion = (stage: Pick<Stage, 'region'>, p: Parameters): boolean =>
  stage.region !== undefined && stage.region !== p[REGION_PARAMETER];

/** Whether an object ARN pattern (arn:aws:s3:::<bucket>/<prefix>*) covers the stage's release objects. */
const covers = (arn: string, bucket: string, prefix: string): boolean => {
  const match = /^arn:aws[a-z-]*:s3:::([^/]+)\/(.*)\*$/.exec(arn);
  return match !== null && match[1] === bucket && prefix.startsWith(match[2] ?? '');
};

export const placeProblems = (config: DeployerConfig, env: string, p: Parameters): string[] => {
  const problems: string[] = [];
  const say = (stage: string, field: string, text: string) =>
    problems.push(`samconfig.toml [${env}]: pipelines.*.stages.${stage}.${field}: ${text}`);
  const region = p[REGION_PARAMETER];
  const accounts = listOf(p, 'TargetAccountIds');
  const roles = listOf(p, 'TargetRoleArns');
  const regions = listOf(p, 'StageRegions');
  const releases = listOf(p, 'StageReleaseObjectArns');
  for (const stage of allStages(config)) {
    if (stage.account !== undefined) {
      if (!accounts.includes(stage.account))
        say(
          stage.name,
          'account',
          `${stage.account} is not in TargetAccountIds (its events would be refused)`,
        );
      if (stage.assumeRoleArn !== undefined && !roles.includes(stage.assumeRoleArn))
        say(stage.name, 'assumeRoleArn', `${stage.assumeRoleArn} is not in TargetRoleArns`);
    }
    if (stage.region === undefined) continue;
    if (region === undefined) {
      say(
        stage.name,
        'region',
        'the environment names no region (samconfig.toml `region`) to check it against',
      );
      continue;
    }
    if (!inOtherRegion(stage, p)) continue;
    if (stage.account === undefined && !regions.includes(stage.region))
      say(stage.name, 'region', `${stage.region} is not in StageRegions`);
    if (stage.releaseBucket === undefined)
      say(
        stage.name,
        'releaseBucket',
        `is required in ${stage.region} (the deployer runs in ${region}): Lambda reads code only from a bucket in the function's region`,
      );
    else if (!releases.some((arn) => covers(arn, stage.releaseBucket ?? '', stage.releasePrefix)))
      say(
        stage.name,
        'releaseBucket',
        `s3://${stage.releaseBucket}/${stage.releasePrefix} is not covered by StageReleaseObjectArns`,
      );
  }
  return problems;
};
