/**
 * The keys of builds that a CI uploads itself (pipelines with `source: upload`): whether an uploaded object
 * is one of a configured key's objects, and which build id its `{executionId}` part names. A configured key
 * is literal text with `{pipeline}` (the pipeline's name) and at most one `{executionId}`, which stands for
 * one path segment's worth of text: the build id. Also whether two configured keys could name the same
 * object (the configuration refuses that between upload pipelines).
 */

const BUILD_ID_PLACEHOLDER = '{executionId}';

/**
 * What an upload key may be made of once `{pipeline}` is filled in: letters, digits, ".", "_", "-" and "/",
 * and `{executionId}` once. Such a key reads the same URL-encoded or not, so an event's key, a CLI's key and
 * the configured key can be compared as they are.
 */
const UPLOAD_KEY = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._\-/]*(\{executionId\}[A-Za-z0-9._\-/]*)?$/;

/** A configured key with `{pipeline}` filled in: literal text, or a prefix and a suffix around the build id. */
export interface KeyShape {
  prefix: string;
  suffix: string;
  /** True when the key has `{executionId}` between prefix and suffix. */
  hasBuildId: boolean;
}

export const keyShape = (template: string, pipeline: string): KeyShape => {
  const filled = template.replaceAll('{pipeline}', pipeline);
  const at = filled.indexOf(BUILD_ID_PLACEHOLDER);
  return at < 0
    ? { prefix: filled, suffix: '', hasBuildId: false }
    : {
        prefix: filled.slice(0, at),
        suffix: filled.slice(at + BUILD_ID_PLACEHOLDER.length),
        hasBuildId: true,
      };
};

/** Whether a configured key (with `{pipeline}` filled in) is one an upload pipeline may use. */
export const isUploadKey = (template: string, pipeline: string): boolean =>
  UPLOAD_KEY.test(template.replaceAll('{pipeline}', pipeline));

/**
 * Whether `key` is an object of this configured key: undefined when it is not; otherwise the text in the
 * place of `{executionId}` (one path segment's worth, not yet checked to be a build id), when the key has one.
 */
export const matchKey = (shape: KeyShape, key: string): { segment?: string } | undefined => {
  if (!shape.hasBuildId) return key === shape.prefix ? {} : undefined;
  const { prefix, suffix } = shape;
  if (key.length <= prefix.length + suffix.length || !key.startsWith(prefix) || !key.endsWith(suffix))
    return undefined;
  const segment = key.slice(prefix.length, key.length - suffix.length);
  return segment.includes('/') ? undefined : { segment };
};

/** A key as a sequence of characters and, in the place of `{executionId}`, one "any segment text" token. */
const tokensOf = (shape: KeyShape): (string | null)[] => [
  ...shape.prefix,
  ...(shape.hasBuildId ? [null] : []),
  ...shape.suffix,
];

/**
 * Whether some object key is an object of both configured keys: the two keys walked side by side, where the
 * build id's token takes one or more characters other than "/".
 */
export const shapesOverlap = (a: KeyShape, b: KeyShape): boolean => {
  const x = tokensOf(a);
  const y = tokensOf(b);
  const seen = new Set<string>();
  // A state: positions in x and y, and whether the build id token at that position has taken a character.
  const walk = (i: number, inX: boolean, j: number, inY: boolean): boolean => {
    const id = `${i},${inX},${j},${inY}`;
    if (seen.has(id)) return false;
    seen.add(id);
    if (i === x.length && j === y.length) return true;
    const tx = x[i];
    const ty = y[j];
    // A build id token that took a character may end here.
    if (tx === null && inX && walk(i + 1, false, j, inY)) return true;
    if (ty === null && inY && walk(i, inX, j + 1, false)) return true;
    if (tx === undefined || ty === undefined) return false;
    if (tx === null && ty === null) return walk(i, true, j, true);
    if (tx === null) return ty !== '/' && walk(i, true, j + 1, inY);
    if (ty === null) return tx !== '/' && walk(i + 1, inX, j, true);
    return tx === ty && walk(i + 1, inX, j + 1, inY);
  };
  return walk(0, false, 0, false);
};
