/**
 * The release a desired version names, checked before it is used: the artifact's bytes against its recorded
 * SHA-256, and the pinned template read and checked whole. What a change set then deploys is exactly what was
 * built (or, for a version written by hand, what its content-named key promises).
 */
import { type CloudFormationClient, GetTemplateSummaryCommand } from '@aws-sdk/client-cloudformation';
import type { S3Client } from '@aws-sdk/client-s3';
import type { TemplateSource } from '../aws/change-sets';
import type { DesiredState } from '../aws/desired-state';
import {
  readVerifiedTemplate,
  TEMPLATE_BODY_LIMIT,
  type VerifiedTemplate,
  verifyObject,
} from '../aws/release-integrity';
import type { Applied } from '../aws/runs';
import { releaseBucketOf, type Stage } from '../edge/stages';
import { PermanentError } from '../errors';
import { digestOfReleaseKey, encodeKeyPath, templateReleaseKey } from '../names';
import type { UnverifiableCode } from '../outcomes';

export interface VerifiedRelease {
  artifactSha256: string;
  template: TemplateSource;
}

/** A pinned template being read and verified already (the deploy path starts it while recording). */
export interface PrefetchedTemplate {
  sha256: string;
  text: Promise<VerifiedTemplate>;
}

/**
 * Start reading and verifying the template a version pins (its release key under the stage's prefix), so
 * that it is at hand when the change set is made; nothing is trusted until the read is awaited.
 */
export const prefetchTemplate = (s3: S3Client, stage: Stage, sha256: string): PrefetchedTemplate => {
  const text = readVerifiedTemplate(
    s3,
    releaseBucketOf(stage),
    templateReleaseKey(stage.releasePrefix, sha256),
    sha256,
  );
  // Awaited (and its failure seen) by verifyRelease; a prefetch nobody uses must not crash the process.
  text.catch(() => undefined);
  return { sha256, text };
};

/** The desired version names nothing the deployer can verify: it deploys nothing from it. */
export class UnverifiableReleaseError extends PermanentError {
  /** Which way it cannot be verified (the messages say what a person does about it). */
  readonly code: UnverifiableCode;
  constructor(code: UnverifiableCode, message: string) {
    super(message);
    this.name = 'UnverifiableReleaseError';
    this.code = code;
  }
}

/** Where a version's pinned template is, when it pins one. */
export const pinnedTemplateKey = (
  stage: Stage,
  desired: Pick<DesiredState, 'provenance'>,
): string | undefined =>
  desired.provenance.template
    ? templateReleaseKey(stage.releasePrefix, desired.provenance.template)
    : undefined;

/**
 * Check the desired release before use. `artifactVerified` skips the artifact's check when the caller has
 * just verified those bytes (the deploy path's copy). Throws ReleaseIntegrityError on a mismatch.
 */
export const verifyRelease = async (
  s3: S3Client,
  stage: Stage,
  desired: DesiredState,
  options: { artifactVerified?: boolean; creating: boolean; region: string; prefetched?: PrefetchedTemplate },
): Promise<VerifiedRelease> => {
  const artifactSha256 = desired.provenance.artifact ?? digestOfReleaseKey(desired.key);
  if (!artifactSha256) {
    throw new UnverifiableReleaseError(
      'release-not-content-named',
      `desired version ${desired.version} names ${desired.key}, which is not a content-named release key (<releasePrefix><sha256>.zip): the deployer deploys only releases it can verify`,
    );
  }
  const bucket = releaseBucketOf(stage);
  const templateKey = pinnedTemplateKey(stage, desired);
  if (!templateKey && options.creating) {
    throw new UnverifiableReleaseError(
      'no-template-to-create',
      `stack ${stage.stack} does not exist and stage ${stage.name} names no template to create it from (desired version ${desired.version} pins none)`,
    );
  }
  const [, template] = await Promise.all([
    options.artifactVerified ? undefined : verifyObject(s3, bucket, desired.key, artifactSha256),
    templateKey && desired.provenance.template
      ? options.prefetched?.sha256 === desired.provenance.template
        ? options.prefetched.text
        : readVerifiedTemplate(s3, bucket, templateKey, desired.provenance.template)
      : undefined,
  ]);
  if (!template || !desired.provenance.template) return { artifactSha256, template: { kind: 'previous' } };
  const sha256 = desired.provenance.template;
  if (Buffer.byteLength(template.body) <= TEMPLATE_BODY_LIMIT)
    return { artifactSha256, template: { kind: 'pinned', sha256, body: template.body } };
  // Too large to pass as text: by URL, pinned to the version that was verified when the bucket keeps versions.
  const version = template.versionId ? `?versionId=${encodeURIComponent(template.versionId)}` : '';
  return {
    artifactSha256,
    template: {
      kind: 'pinned',
      sha256,
      url: `${templateUrl(stage, template.key, options.region)}${version}`,
    },
  };
};

const templateUrl = (stage: Stage, key: string, region: string): string =>
  `https://${releaseBucketOf(stage)}.s3.${region}.amazonaws.com/${encodeKeyPath(key)}`;

/**
 * The parameters a pinned template declares: a change set passes only these. They are a function of the
 * template's text, so the ones the applied record kept for the same template are used without asking.
 */
export const templateParameters = async (
  cfn: CloudFormationClient,
  template: TemplateSource,
  applied?: Applied,
): Promise<string[] | undefined> => {
  if (template.kind === 'previous') return undefined;
  if (applied?.parameters && applied.template === template.sha256) return applied.parameters;
  const { Parameters } = await cfn.send(
    new GetTemplateSummaryCommand(
      template.body !== undefined ? { TemplateBody: template.body } : { TemplateURL: template.url },
    ),
  );
  return (Parameters ?? []).flatMap((p) => (p.ParameterKey ? [p.ParameterKey] : []));
};
