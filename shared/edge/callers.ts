/**
 * Who made a CloudTrail API call: the userIdentity of the event, read as an ops engineer names it (an IAM
 * user, an assumed role and its session, an AWS service). Never includes access keys. Free text: it reaches
 * only messages, and a comparison with the deployer's own role names.
 */
import * as z from 'zod/mini';
import { freeText } from './events';
import './schema';

// Who called only reaches messages (and a comparison with the deployer's own role names): free text.
export const userIdentity = () =>
  z.looseObject({
    type: z.optional(freeText()),
    arn: z.optional(freeText()),
    userName: z.optional(freeText()),
    invokedBy: z.optional(freeText()),
    principalId: z.optional(freeText()),
    sessionContext: z.optional(
      z.looseObject({
        sessionIssuer: z.optional(
          z.looseObject({
            type: z.optional(freeText()),
            arn: z.optional(freeText()),
            userName: z.optional(freeText()),
          }),
        ),
      }),
    ),
  });

/** Who made an API call, in words an ops engineer recognises. Never includes access keys. */
export interface Caller {
  type: string;
  /** A user name, a role name with its session, or a service. */
  name: string;
  arn?: string;
  /** The IAM role, for assumed-role callers. */
  role?: string;
  /** The role session, for assumed-role callers that have one. */
  session?: string;
}

export const callerOf = (identity: z.output<ReturnType<typeof userIdentity>> | undefined): Caller => {
  const type = identity?.type ?? 'Unknown';
  const issuer = identity?.sessionContext?.sessionIssuer;
  if (type === 'AssumedRole') {
    const session = identity?.arn?.split('/').at(-1);
    const role = issuer?.userName ?? issuer?.arn?.split('/').at(-1) ?? 'unknown role';
    return {
      type,
      name: session ? `${role} (session ${session})` : role,
      role,
      ...(session ? { session } : {}),
      ...(issuer?.arn ? { arn: issuer.arn } : {}),
    };
  }
  if (type === 'AWSService') return { type, name: identity?.invokedBy ?? 'an AWS service' };
  const name = identity?.userName || identity?.arn?.split('/').at(-1) || identity?.invokedBy || 'unknown';
  return { type, name, ...(identity?.arn ? { arn: identity.arn } : {}) };
};
