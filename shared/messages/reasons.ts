/**
 * Why a reconcile came out as it did, and what a person does about it, in words: the stage layer gives a
 * reason code and its facts (ReconcileResult's `why`), the ops messages and the command line say it with
 * these sentences. Also the next step for a stack in a status that only a person can resolve.
 */
import { quoted } from '../edge/untrusted';
import { localText } from '../edge/zoned-time';
import type { ReconcileResult } from '../outcomes';

type Explained = Pick<ReconcileResult, 'stage' | 'stack' | 'why'>;

/** Why the reconcile came to its outcome, as one sentence; undefined when there is nothing to add. */
export const reasonText = ({ stack, why }: Explained): string | undefined => {
  switch (why?.code) {
    case 'stack-needs-person':
      return `stack ${stack} is ${why.status}${why.statusReason ? `: ${why.statusReason}` : ''}`;
    case 'no-stack-parameter':
      return `stack ${stack} has no parameter ${why.parameter} to receive the release key`;
    case 'release-failed':
      return `release ${why.key} (desired version ${why.version}) failed to deploy and was rolled back`;
    case 'change-set-failed':
      return `change set ${why.changeSet} failed: ${why.detail}`;
    case 'nothing-to-change':
      return why.detail ?? 'CloudFormation found nothing to change';
    case 'stack-recreated':
      return `stack ${stack} failed to create (ROLLBACK_COMPLETE); it is being deleted, and is created again from ${why.key} when the deletion completes`;
    case 'stage-frozen':
      return frozenText(why);
    case 'release-tampered':
    case 'release-not-content-named':
    case 'no-template-to-create':
      // The release's own error says it: bytes that do not match, or a release that cannot be verified.
      return why.detail;
    default:
      return undefined;
  }
};

/** What a person does next about a reconcile that stopped short; undefined when nobody has to. */
export const nextStepText = ({ stage, stack, why }: Explained): string | undefined => {
  switch (why?.code) {
    case 'stack-needs-person':
      return stackNextStep(why.status, stack, why.region);
    case 'no-stack-parameter':
      return `Add a ${why.parameter} parameter to the stack's template, or set stackParameter for stage ${stage} in the configuration.`;
    case 'release-failed':
      return 'Push a new build, or roll back to an earlier release; the failed release is not retried.';
    case 'release-tampered':
      return `Find out who changed ${why.location} (S3 server access logs or CloudTrail data events). Then push a new build, or roll back to a release that verifies; the deployer will not deploy these bytes.`;
    case 'release-not-content-named':
      return `Roll back to a recorded release (npx deployer rollback ${stage}), or push a new build.`;
    case 'no-template-to-create':
      return `Publish the stage template with the build (artifact.templateKey), or add template (bucket and key) to stage ${stage} in the configuration, then push a new build; or create the stack.`;
    case 'change-set-failed':
      return 'Read the reason above, fix the template or parameters, then deploy a new build (the failed change set stays on the stack for inspection).';
    case 'stage-frozen':
      return `Nothing: the scheduled reconcile deploys the newest desired release when the window opens. To deploy it now, a person runs npx deployer approve ${stage} --break-glass --reason "why it cannot wait" (recorded in the history with who and why).`;
    default:
      return undefined;
  }
};

type Frozen = Extract<NonNullable<ReconcileResult['why']>, { code: 'stage-frozen' }>;

/** "2027-01-07 08:00 Europe/Berlin (2027-01-07T07:00:00Z)": local time first, for the people in that zone. */
export const openingText = (iso: string, zone: string): string =>
  `${localText(Date.parse(iso), zone)} ${zone} (${iso.replace(/\.000Z$/, 'Z')})`;

/** Why a stage is frozen and when it opens, as one sentence (the freeze's reason is quoted: a person wrote it). */
export const frozenText = (why: Frozen): string => {
  const cause =
    why.kind === 'freeze'
      ? `in a freeze (${quoted(why.reason ?? '', 200)}${why.until ? ` until ${openingText(why.until, why.timeZone)}` : ''})`
      : 'outside its deploy windows';
  const opens = why.opensAt
    ? `it opens at ${openingText(why.opensAt, why.timeZone)}`
    : 'it does not open within the next 400 days (check deployWindows)';
  return `the stage is frozen, ${cause}: the release is recorded as desired and not deployed; ${opens}`;
};

/** What a person should do about a stack in a status that blocks deploys. */
export const stackNextStep = (status: string, stack: string, region: string): string => {
  const where = `--stack-name ${stack} --region ${region}`;
  switch (status) {
    case 'ROLLBACK_COMPLETE':
    case 'ROLLBACK_FAILED':
      return `The stack's creation failed and it cannot be updated. Find the cause in its events (aws cloudformation describe-stack-events ${where}), then delete it (aws cloudformation delete-stack ${where}); the next deploy creates it again.`;
    case 'UPDATE_ROLLBACK_FAILED':
      return `The rollback of the last update failed. Fix the resource named in the stack events, then run aws cloudformation continue-update-rollback ${where} (add --resources-to-skip for resources that cannot be rolled back).`;
    case 'DELETE_FAILED':
      return `The stack could not be deleted. Remove or retain the resources named in its events, then retry aws cloudformation delete-stack ${where}.`;
    default:
      return `Inspect the stack (aws cloudformation describe-stack-events ${where}) and bring it back to a *_COMPLETE status; rollback is disabled or the stack needs a person.`;
  }
};
