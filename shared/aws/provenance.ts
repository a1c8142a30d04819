/**
 * Who made a desired version, and what it pins, kept as JSON in the version's SSM description — and when to
 * believe it: only when it describes the version's own value and is not a copy of the previous version's.
 */
import * as z from 'zod/mini';
import { built } from '../edge/schema';
import { digestOfReleaseKey } from '../names';

const SHA256 = /^[0-9a-f]{64}$/;

/** Who made a version and what it pins: kept as JSON in the version's description. */
const provenanceSchema = built(() =>
  z.looseObject({
    pipeline: z.optional(z.string()),
    execution: z.optional(z.string()),
    commit: z.optional(z.string()),
    startedAt: z.optional(z.string()),
    /**
     * When the build of a release that a person's move or a promotion records started (the source version's
     * build start): `startedAt` of such a version is when the move was made.
     */
    builtAt: z.optional(z.string()),
    /** Set when a person (or the deployer on its own) made this version: rollback, promote or reject. */
    action: z.optional(z.string()),
    by: z.optional(z.string()),
    /** Why a person made it, in their words (a break-glass deploy during a freeze must say why). */
    reason: z.optional(z.string().check(z.maxLength(200))),
    /** The version or stage it came from (a rollback's target version, a promotion's source stage). */
    from: z.optional(z.string()),
    /** SHA-256 of the artifact the version's value names: what makes the provenance describe its own value. */
    artifact: z.optional(z.string().check(z.regex(SHA256))),
    /** SHA-256 of the stage template released with the artifact: the template this version deploys. */
    template: z.optional(z.string().check(z.regex(SHA256))),
    /** A token of this write alone: a lost answer is recognised by it, and a copy of it is not ours. */
    write: z.optional(z.string().check(z.regex(/^[0-9a-f]{16,64}$/))),
  }),
);
export type Provenance = z.output<ReturnType<typeof provenanceSchema>>;

/** Parse a version's description; a description written by a person (not JSON) yields no provenance. */
export const parseProvenance = (description: string | undefined): Provenance => {
  if (!description?.startsWith('{')) return {};
  try {
    const parsed = provenanceSchema().safeParse(JSON.parse(description));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
};

/**
 * The provenance a version may be credited with. `PutParameter --overwrite` without a description keeps the
 * previous version's description, so a version written by hand carries provenance that is not its own. It is
 * believed only when it describes the version's own value (the artifact digest names the value) and is not a
 * copy of the previous version's description; otherwise the version counts as hand-written.
 */
export const trustProvenance = (
  description: string | undefined,
  value: string,
  previousDescription?: string,
): { provenance: Provenance; handWritten: boolean } => {
  const provenance = parseProvenance(description);
  const inherited = description !== undefined && description === previousDescription;
  const ownValue = provenance.artifact === undefined || provenance.artifact === digestOfReleaseKey(value);
  const handWritten = inherited || !ownValue || Object.keys(provenance).length === 0;
  return { provenance: handWritten ? {} : provenance, handWritten };
};

/**
 * When the change a version deploys began: its build's start (the pipeline execution's, carried along by
 * promotions and moves), else when the version was recorded. The start of a deploy's lead time.
 */
export const buildStartOf = (provenance: Provenance): string | undefined =>
  provenance.builtAt ?? provenance.startedAt;
