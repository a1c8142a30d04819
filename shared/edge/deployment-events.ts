/**
 * The schema of CodeDeploy's "CodeDeploy Deployment State-change Notification" (source aws.codedeploy), the
 * event of a stage's canary or linear rollout (SAM's DeploymentPreference makes a CodeDeploy application and
 * deployment group in the stage's stack). Its detail: `region`, `deploymentId` (d-XXXXXXXXX),
 * `instanceGroupId`, `application`, `deploymentGroup` and `state` (START, SUCCESS, FAILURE, STOP, READY, …).
 *
 * Accepted from the deployer's own account and region, and from a configured stage's account and region
 * (then only about that stage's deployment groups: the trigger maps it to a stage by the stacks that live
 * there, see triggers/codedeploy.ts); any other account or region is turned away, as for stack events.
 */
import * as z from 'zod/mini';
import { EventValidationError } from '../errors';
import { logger } from '../logger';
import type { DeployerConfig } from './config';
import { describeIssues, envelope, shaped } from './events';
import { built } from './schema';
import type { Settings } from './settings';
import { stackEventRefusal } from './stage-place';

export const DEPLOYMENT_DETAIL_TYPE = 'CodeDeploy Deployment State-change Notification';

/** CodeDeploy's deployment ids: "d-" and nine upper-case letters or digits. */
export const DEPLOYMENT_ID = /^d-[A-Z0-9]{9}$/;
/**
 * Application and deployment group names: CodeDeploy takes up to 100 characters; the names CloudFormation
 * makes for SAM (`<stack>-ServerlessDeploymentApplication-<suffix>`) use letters, digits and hyphens. Only
 * these reach an API call (GetDeployment takes the id alone) or an ARN in a message.
 */
export const CODEDEPLOY_NAME = /^[A-Za-z0-9._+=,@-]{1,100}$/;
const STATE = /^[A-Z_]{1,32}$/;
const RESOURCE_ARN = /^arn:aws[a-z-]*:codedeploy:([a-z0-9-]+):(\d{12}):/;

export const deploymentEventSchema = built(() =>
  z.extend(envelope(), {
    'detail-type': z.literal(DEPLOYMENT_DETAIL_TYPE),
    source: z.literal('aws.codedeploy'),
    detail: z.looseObject({
      region: shaped(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region'),
      deploymentId: shaped(DEPLOYMENT_ID, 'must be a CodeDeploy deployment id (d-XXXXXXXXX)'),
      application: shaped(CODEDEPLOY_NAME, 'must be a CodeDeploy application name'),
      deploymentGroup: shaped(CODEDEPLOY_NAME, 'must be a CodeDeploy deployment group name'),
      state: shaped(STATE, 'must be a deployment state such as SUCCESS'),
      instanceGroupId: z.optional(shaped(/^[A-Za-z0-9-]{1,64}$/, 'must be an instance group id')),
    }),
  }),
);

export interface DeploymentStateChange {
  deploymentId: string;
  application: string;
  deploymentGroup: string;
  state: string;
  time: string;
  region: string;
  account: string;
}

/** Whether an event (not yet validated) says it is a CodeDeploy deployment state change. */
export const isDeploymentEvent = (raw: unknown): boolean =>
  typeof raw === 'object' &&
  raw !== null &&
  (raw as Record<string, unknown>)['detail-type'] === DEPLOYMENT_DETAIL_TYPE;

/** Validate a deployment state change; an EventValidationError names what is wrong. */
export const parseDeploymentEvent = (raw: unknown): DeploymentStateChange => {
  const parsed = deploymentEventSchema().safeParse(raw);
  if (!parsed.success)
    throw new EventValidationError(`malformed CodeDeploy deployment event: ${describeIssues(parsed.error)}`, {
      cause: parsed.error,
    });
  const { detail, time, region, account, resources } = parsed.data;
  if (detail.region !== region)
    throw new EventValidationError(
      `the event says region ${detail.region} in its detail and ${region} in its envelope`,
    );
  // The application and group ARNs it names must be of the account and region it came from.
  for (const resource of resources) {
    const match = RESOURCE_ARN.exec(resource);
    if (match && (match[1] !== region || match[2] !== account))
      throw new EventValidationError(
        `the event names a CodeDeploy resource of account ${match[2]} in ${match[1]}, not of ${account} in ${region}`,
      );
  }
  const { deploymentId, application, deploymentGroup, state } = detail;
  return { deploymentId, application, deploymentGroup, state, time, region, account };
};

/**
 * A deployment event the deployer may act on: well-formed, and from its own account and region or from one
 * where a configured stage lives. Otherwise the reason it was rejected (logged once; never retried).
 */
export const acceptDeploymentEvent = (
  { settings, config }: { settings: Settings; config: DeployerConfig },
  raw: unknown,
): { event: DeploymentStateChange } | { rejected: string } => {
  try {
    const event = parseDeploymentEvent(raw);
    const refusal = stackEventRefusal(config, settings, { account: event.account, region: event.region });
    if (refusal) throw new EventValidationError(refusal);
    return { event };
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    logger.error('rejected deployment event', { reason: error.message });
    return { rejected: error.message };
  }
};
