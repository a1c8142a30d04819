/**
 * Where each stage's stack lives, now that the deployer's own account and region are known: its account and
 * region (the deployer's unless the stage names others), which stage a stack event from some account and
 * region is about, and whether such an event is the deployer's to act on at all.
 *
 * Stack events (status changes, CloudTrail calls) are accepted from the deployer's own account and region,
 * and from a configured stage's account and region for that stage's stack only. Every other source is turned
 * away: an account nobody configured, another stack of a target account, the right account in a wrong region.
 */
import { ConfigError } from '../errors';
import type { Settings } from './settings';
import { allStages, type DeployerConfig, type Stage, stageNamed } from './stages';

/** The deployer's own account and region. */
export type Home = Pick<Settings, 'accountId' | 'region'>;

export interface Place {
  account: string;
  region: string;
}

/** The account and region of a stage's stack. */
export const stagePlace = (home: Home, stage: Pick<Stage, 'account' | 'region'>): Place => ({
  account: stage.account ?? home.accountId,
  region: stage.region ?? home.region,
});

/**
 * Where the deployer keeps a stage's own state (its lock, run records and what it last applied): the artifact
 * bucket, at home, even when the stage's releases go to a bucket in the stage's region.
 */
export const stateBucketOf = (stage: Pick<Stage, 'artifact'>): string => stage.artifact.bucket;

/** The stage's region: where its stack is, its console link points, and its release bucket must be. */
export const stageRegion = (home: Home, stage: Pick<Stage, 'region'>): string => stage.region ?? home.region;

/** The region of the stage of this name, for a message about it (the deployer's for any other name). */
export const regionOfStageNamed = (config: DeployerConfig, home: Home, name: string): string => {
  const stage = stageNamed(config, name);
  return stage ? stageRegion(home, stage) : home.region;
};

const samePlace = (a: Place, b: Place): boolean => a.account === b.account && a.region === b.region;

/** Whether the place is the deployer's own account and region. */
export const isHome = (home: Home, place: Place): boolean =>
  samePlace(place, { account: home.accountId, region: home.region });

/** The stages whose stacks live in this account and region. */
export const stagesAt = (config: DeployerConfig, home: Home, place: Place): Stage[] =>
  allStages(config).filter((stage) => samePlace(stagePlace(home, stage), place));

/** The stage whose stack this is: the stack's name, in the account and region the event came from. */
export const stageAt = (
  config: DeployerConfig,
  home: Home,
  where: Place & { stack: string },
): Stage | undefined => stagesAt(config, home, where).find((stage) => stage.stack === where.stack);

/**
 * Why a stack event from this account and region (naming this stack, when the event names one) is not the
 * deployer's to act on; undefined when it is.
 */
export const stackEventRefusal = (
  config: DeployerConfig,
  home: Home,
  event: Place & { stack?: string | undefined },
): string | undefined => {
  if (isHome(home, event)) return undefined;
  const from = `event from account ${event.account} in ${event.region}`;
  const there = stagesAt(config, home, event);
  if (there.length === 0)
    return `${from}: this deployer serves ${home.accountId} in ${home.region}, and no stage lives in that account and region`;
  if (event.stack !== undefined && !there.some((stage) => stage.stack === event.stack))
    return `${from} names stack ${event.stack}, which is not the stack of a stage configured there (${there.map((s) => s.stack).join(', ')})`;
  return undefined;
};

/**
 * What only the deployer's own account and region can tell about the configuration, checked when it loads
 * (before any AWS call): a stage in another region names a release bucket there (Lambda reads a function's
 * code only from a bucket in the function's region), and no two stages share a stack in the same account and
 * region once the stages without `account`/`region` are placed at home.
 */
export const stagePlaceProblems = (config: DeployerConfig, home: Home): string[] => {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const stage of allStages(config)) {
    const place = stagePlace(home, stage);
    const path = `pipelines.${stage.pipeline}.stages.${stage.name}`;
    if (place.region !== home.region && stage.releaseBucket === undefined)
      problems.push(
        `${path}.releaseBucket: is required for a stage in ${place.region} (the deployer runs in ${home.region}): Lambda reads code only from a bucket in the function's region; name a bucket of the deployer's account in ${place.region}`,
      );
    const key = JSON.stringify([place.account, place.region, stage.stack]);
    const other = owners.get(key);
    if (other !== undefined)
      problems.push(
        `${path}.stack: ${stage.stack} in account ${place.account} in ${place.region} is already the stack of stage ${other}`,
      );
    owners.set(key, stage.name);
  }
  return problems;
};

/** Throw a ConfigError naming every problem stagePlaceProblems finds. */
export const assertStagePlaces = (config: DeployerConfig, home: Home, source = 'configuration'): void => {
  const problems = stagePlaceProblems(config, home);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`).join('\n'));
};
