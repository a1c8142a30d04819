/**
 * Property-based tests (fast-check) for the functions that stand between untrusted input and AWS: the name
 * builders of shared/names.ts, the SNS subject of shared/messages/notification.ts, and the schemas of events and
 * configuration. Each property runs a few hundred generated inputs, hostile ones included (any unicode,
 * lone surrogates, control characters, very long strings, `__proto__` keys, mutated copies of the sample
 * events). No network: these are pure functions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../shared/edge/config';
import { EVENT_TEXT_LIMIT, type PipelineExecution, parsePipelineEvent } from '../../shared/edge/events';
import {
  type ParsedStackEvent,
  parseStackEvent,
  REPORTED_CALLS,
  stackNameOf,
} from '../../shared/edge/stack-events';
import { allStages, type DeployerConfig } from '../../shared/edge/stages';
import { ConfigError, DeployerError, EventValidationError } from '../../shared/errors';
import { composeSubject, toSubject } from '../../shared/messages/notification';
import {
  COMMIT_ID,
  changeSetName,
  commitLabel,
  desiredVersionOfChangeSet,
  EXECUTION_ID,
  executionLabel,
  failedLabel,
  PIPELINE_NAME,
  releaseKey,
  STACK_NAME,
  STAGE_NAME,
} from '../../shared/names';
import { ROOT } from './helpers/fixtures';
import { API_CALL_EVENTS, STATUS_EVENTS } from './helpers/stack-samples';

/** Generated inputs per property: enough to find shape bugs, few enough for the file to run in seconds. */
const RUNS = 500;
const FEW_RUNS = 60;

// ---------------------------------------------------------------------------------------------------------
// AWS's rules, written out independently of shared/names.ts
// ---------------------------------------------------------------------------------------------------------

/** CloudFormation's rule for change set names (and their 128-character limit). */
const isValidChangeSetName = (name: string): boolean =>
  /^[a-zA-Z][-a-zA-Z0-9]*$/.test(name) && name.length <= 128;

/** SSM's rules for version labels: at most 100 of letters, digits, ".", "-", "_"; no leading digit, aws or ssm. */
const isValidSsmLabel = (label: string): boolean =>
  /^[a-zA-Z0-9._-]{1,100}$/.test(label) && !/^[0-9]/.test(label) && !/^(aws|ssm)/i.test(label);

/** SNS's rules for a subject, and ours: 1 to 100 printable ASCII characters on one line, no leading space. */
const isValidSubject = (subject: string): boolean =>
  subject.length >= 1 &&
  subject.length <= 100 &&
  /^[\x20-\x7e]+$/.test(subject) &&
  /^[A-Za-z0-9\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]/.test(subject);

const STACK_ARN =
  /^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[a-zA-Z][-a-zA-Z0-9]{0,127}\/[-a-zA-Z0-9]{1,64}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const attempt = <T>(run: () => T): Outcome<T> => {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
};

/** Fails the property with the error itself (its name and message) when it is not of the expected class. */
const expectErrorOf = (error: unknown, expected: abstract new (...args: never[]) => Error): void => {
  if (!(error instanceof expected)) {
    throw new Error(
      `expected a ${expected.name}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
};

const readJson = (file: string): unknown => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as unknown;

/** Strings that have broken parsers before: path tricks, control characters, ARNs, prototype keys, emoji. */
const NASTY_STRINGS = [
  '',
  ' ',
  '..',
  '../',
  '../../x',
  '/',
  'a/b',
  'a b',
  '\n',
  'abc\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u200b',
  '\ufeff',
  '\ud800',
  '\udfff',
  '🚀',
  '👩‍👩‍👧‍👦',
  'é',
  'e\u0301',
  'ｄｅｖ',
  'іt',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'aws',
  'ssm',
  'AWS-x',
  'arn:aws:cloudformation:us-east-1:999999999999:stack/orders-api-dev/6f1c2d3e-4a5b-11ef-9c8d-0a1b2c3d4e5f',
  'arn:aws:s3:::orders-api-artifacts',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, on purpose
  '${jndi:ldap://x}',
  '{executionId}',
  '%2e%2e%2f',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e309',
  'x'.repeat(129),
  'x'.repeat(5000),
];

/** Any string: UTF-16 code units (lone surrogates included), full unicode, graphemes, or a nasty one. */
const anyString = (maxLength = 300): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ maxLength }),
    fc.constantFrom(...NASTY_STRINGS),
  );

/** Any number, including the ones that are not integers, not finite or not safe. */
const anyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(0, -0, -1, 0.5, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_VALUE, 1e21),
);

/** A value anywhere in an event: JSON values, hostile strings and numbers, or anything JavaScript has. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  anyString(),
  anyNumber,
  fc.constantFrom(null, true, false, [], {}, undefined),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withBoxedValues: true, withDate: true }),
);

const HOSTILE_ANYTHING = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withNullPrototype: true,
  withObjectString: true,
  withSet: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: 'binary',
});

// ---- mutating sample documents ----

type Path = (string | number)[];

/** Every path to a value inside a JSON document (the root excluded), objects and arrays included. */
const pathsOf = (value: unknown, prefix: Path = []): Path[] => {
  if (Array.isArray(value)) {
    return value.flatMap((item, i) => [[...prefix, i], ...pathsOf(item, [...prefix, i])]);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [
      [...prefix, key],
      ...pathsOf(item, [...prefix, key]),
    ]);
  }
  return [];
};

type Mutation =
  | { op: 'delete'; path: Path }
  | { op: 'set'; path: Path; value: unknown }
  /** Insert text into the string there (or replace a non-string with it): near-valid values. */
  | { op: 'edit'; path: Path; at: number; text: string }
  /** Add a key (perhaps `__proto__`) to the object there. */
  | { op: 'add'; path: Path; key: string; value: unknown };

const mutationOf = (paths: Path[]): fc.Arbitrary<Mutation> => {
  const path = fc.constantFrom(...paths);
  return fc.oneof(
    path.map((p): Mutation => ({ op: 'delete', path: p })),
    fc.record({ op: fc.constant('set' as const), path, value: anyValue }),
    fc.record({
      op: fc.constant('edit' as const),
      path,
      at: fc.nat(),
      text: fc.oneof(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
        fc.constantFrom(...NASTY_STRINGS),
      ),
    }),
    fc.record({
      op: fc.constant('add' as const),
      path: fc.constantFrom<Path>([], ...paths),
      key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'prototype')),
      value: anyValue,
    }),
  );
};

const isRecord = (value: unknown): value is Record<string | number, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * A plain array or object, as JSON makes them: the only containers mutations descend into (an earlier
 * mutation may have put a boxed string, a Map or a frozen value there, which are left alone).
 */
const isPlainContainer = (value: unknown): value is Record<string | number, unknown> =>
  isRecord(value) &&
  !Object.isFrozen(value) &&
  (Array.isArray(value) || Object.prototype.toString.call(value) === '[object Object]');

/** A copy of `document` with the mutations applied. `__proto__` keys are added as own data properties. */
const mutate = (document: unknown, mutations: Mutation[]): unknown => {
  // A JSON copy: the documents are JSON, and its objects belong to this realm (structuredClone's do not).
  const copy: unknown = JSON.parse(JSON.stringify(document));
  for (const mutation of mutations) {
    const path = mutation.path;
    const parentPath = mutation.op === 'add' ? path : path.slice(0, -1);
    let parent: unknown = copy;
    for (const step of parentPath) parent = isPlainContainer(parent) ? parent[step] : undefined;
    if (!isPlainContainer(parent)) continue;
    if (mutation.op === 'add') {
      // Only objects get new keys (an array with an own "constructor" would break splice, not the product).
      if (Array.isArray(parent)) continue;
      Object.defineProperty(parent, mutation.key, {
        value: mutation.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      continue;
    }
    const key = path.at(-1);
    if (key === undefined) continue;
    if (mutation.op === 'delete') {
      if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
      else delete parent[key];
    } else if (mutation.op === 'set') {
      parent[key] = mutation.value;
    } else {
      const current = parent[key];
      const text = typeof current === 'string' ? current : '';
      const at = mutation.at % (text.length + 1);
      parent[key] = `${text.slice(0, at)}${mutation.text}${text.slice(at)}`;
    }
  }
  return copy;
};

/** Mutated copies of one of the documents: one to three random changes each. */
const mutatedCopies = (documents: unknown[]): fc.Arbitrary<unknown> =>
  fc
    .constantFrom(...documents)
    .chain((document) =>
      fc
        .array(mutationOf(pathsOf(document)), { minLength: 1, maxLength: 3 })
        .map((mutations) => mutate(document, mutations)),
    );

/** Counts of how a property's runs ended, so a property that never reaches one branch is noticed. */
const tally = () => {
  const counts = { accepted: 0, rejected: 0 };
  return counts;
};

// ---------------------------------------------------------------------------------------------------------
// names.ts: change set names
// ---------------------------------------------------------------------------------------------------------

const validStage = fc.stringMatching(STAGE_NAME);
const validVersion = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

describe('changeSetName (property)', () => {
  it('is a valid CloudFormation change set name for every valid stage and version, and round-trips', () => {
    fc.assert(
      fc.property(validStage, validVersion, (stage, version) => {
        const name = changeSetName(stage, version);
        expect(isValidChangeSetName(name)).toBe(true);
        expect(desiredVersionOfChangeSet(stage, name)).toBe(version);
        // Deterministic: a duplicate reconcile finds the first one's change set.
        expect(changeSetName(stage, version)).toBe(name);
      }),
      { numRuns: RUNS },
    );
  });

  it('never confuses two stages or two versions', () => {
    fc.assert(
      fc.property(validStage, validVersion, validStage, validVersion, (s1, v1, s2, v2) => {
        fc.pre(s1 !== s2 || v1 !== v2);
        const name = changeSetName(s1, v1);
        expect(changeSetName(s2, v2)).not.toBe(name);
        // Another stage's change set is never taken for one of ours (stage "a" must not claim "a-b"'s).
        if (s1 !== s2) expect(desiredVersionOfChangeSet(s2, name)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it('for any string and any number, returns a valid name or throws DeployerError, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(anyString(), validStage), fc.oneof(anyNumber, validVersion), (stage, version) => {
        const result = attempt(() => changeSetName(stage, version));
        if (result.ok) {
          expect(isValidChangeSetName(result.value)).toBe(true);
          expect(STAGE_NAME.test(stage) && Number.isSafeInteger(version) && version >= 1).toBe(true);
        } else {
          expectErrorOf(result.error, DeployerError);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reads back no version from an arbitrary change set name, or a safe positive one', () => {
    fc.assert(
      fc.property(validStage, anyString(200), validVersion, (stage, suffix, version) => {
        for (const name of [
          suffix,
          `deploy-${stage}-v${suffix}`,
          `${changeSetName(stage, version)}${suffix}`,
        ]) {
          const read = desiredVersionOfChangeSet(stage, name);
          if (read !== undefined) {
            expect(Number.isSafeInteger(read) && read >= 1).toBe(true);
            expect(changeSetName(stage, read)).toBe(name);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// names.ts: SSM labels
// ---------------------------------------------------------------------------------------------------------

describe('SSM labels (property)', () => {
  it('executionLabel: a valid label for every valid execution id, distinct ids giving distinct labels', () => {
    const id = fc.oneof(fc.stringMatching(EXECUTION_ID), fc.uuid());
    fc.assert(
      fc.property(id, id, (a, b) => {
        const label = executionLabel(a);
        expect(isValidSsmLabel(label)).toBe(true);
        if (a !== b) expect(executionLabel(b)).not.toBe(label);
      }),
      { numRuns: RUNS },
    );
  });

  it('commitLabel: a valid label for every valid commit id, the same for both cases of one commit', () => {
    const commit = fc.stringMatching(COMMIT_ID);
    fc.assert(
      fc.property(commit, commit, (a, b) => {
        const label = commitLabel(a);
        expect(isValidSsmLabel(label)).toBe(true);
        expect(commitLabel(a.toUpperCase())).toBe(label);
        if (a.toLowerCase() !== b.toLowerCase()) expect(commitLabel(b)).not.toBe(label);
      }),
      { numRuns: RUNS },
    );
  });

  it('failedLabel: a valid label for every safe positive version, one per version', () => {
    fc.assert(
      fc.property(validVersion, validVersion, (a, b) => {
        const label = failedLabel(a);
        expect(isValidSsmLabel(label)).toBe(true);
        if (a !== b) expect(failedLabel(b)).not.toBe(label);
      }),
      { numRuns: RUNS },
    );
  });

  it('executionLabel and commitLabel: a valid label or DeployerError for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyString(), fc.stringMatching(EXECUTION_ID), fc.stringMatching(COMMIT_ID)),
        (text) => {
          for (const build of [executionLabel, commitLabel]) {
            const result = attempt(() => build(text));
            if (result.ok) expect(isValidSsmLabel(result.value)).toBe(true);
            else expectErrorOf(result.error, DeployerError);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('failedLabel: a valid label or DeployerError for any number', () => {
    fc.assert(
      fc.property(anyNumber, (version) => {
        const result = attempt(() => failedLabel(version));
        if (result.ok) {
          expect(isValidSsmLabel(result.value)).toBe(true);
          expect(Number.isSafeInteger(version) && version >= 1).toBe(true);
        } else {
          expectErrorOf(result.error, DeployerError);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// names.ts: release keys
// ---------------------------------------------------------------------------------------------------------

const SAMPLE_CONFIG = readJson('deployer.config.json') as {
  pipelines: Record<string, { stages: Record<string, Record<string, unknown>> }>;
};

/** The sample configuration with the dev stage's settings changed. */
const configWithDev = (changes: Record<string, unknown>): unknown => {
  const config = structuredClone(SAMPLE_CONFIG);
  const dev = config.pipelines['orders-api-pipeline']?.stages.dev;
  if (!dev) throw new Error('test setup: deployer.config.json has no dev stage');
  Object.assign(dev, changes);
  return config;
};

/** A path segment of an S3 key: the characters the configuration accepts, with single dots between runs. */
const keySegment = fc
  .array(fc.stringMatching(/^[\w!\-*'()=+@,]{1,24}$/), { minLength: 1, maxLength: 3 })
  .map((runs) => runs.join('.'));
/** A release prefix as the configuration accepts it: segments ending in "/", at most 900 characters. */
const releasePrefix = fc
  .array(keySegment, { minLength: 1, maxLength: 12 })
  .map((segments) => `${segments.join('/')}/`)
  .filter((prefix) => prefix.length <= 900);
const digest = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('releaseKey (property)', () => {
  it('generated prefixes are ones the configuration schema accepts', () => {
    fc.assert(
      fc.property(releasePrefix, (prefix) => {
        expect(() => validateConfig(configWithDev({ releasePrefix: prefix }))).not.toThrow();
      }),
      { numRuns: FEW_RUNS },
    );
  });

  it('is an S3 key of at most 1024 bytes without "..", under the prefix, for any source key', () => {
    fc.assert(
      fc.property(releasePrefix, digest, fc.oneof(anyString(), keySegment), (prefix, sha, source) => {
        const key = releaseKey(prefix, sha, source);
        expect(key.startsWith(`${prefix}${sha}`)).toBe(true);
        expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
        expect(key).not.toContain('..');
        expect(key).toMatch(/^[\x21-\x7e]+$/);
      }),
      { numRuns: RUNS },
    );
  });

  it('the same digest gives the same key; a different digest never the same key', () => {
    fc.assert(
      fc.property(
        releasePrefix,
        digest,
        digest,
        anyString(60),
        anyString(60),
        (prefix, sha1, sha2, source1, source2) => {
          const key = releaseKey(prefix, sha1, source1);
          expect(releaseKey(prefix, sha1, source1)).toBe(key);
          if (sha1 !== sha2) {
            expect(releaseKey(prefix, sha2, source1)).not.toBe(key);
            // Not even with another source key: the extension cannot make two digests collide.
            expect(releaseKey(prefix, sha2, source2)).not.toBe(key);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('throws DeployerError for anything that is not a lowercase SHA-256 hex digest', () => {
    const notDigest = fc.oneof(
      anyString(),
      digest.map((d) => d.toUpperCase()),
      digest.map((d) => `${d}\n`),
      digest.map((d) => ` ${d}`),
      digest.map((d) => d.slice(1)),
      digest.map((d) => `${d}0`),
      digest.map((d) => `${d.slice(0, 63)}g`),
      digest.map((d) => `../${d.slice(3)}`),
    );
    fc.assert(
      fc.property(releasePrefix, notDigest, anyString(60), (prefix, sha, source) => {
        fc.pre(!/^[0-9a-f]{64}$/.test(sha));
        const result = attempt(() => releaseKey(prefix, sha, source));
        expect(result.ok).toBe(false);
        if (!result.ok) expectErrorOf(result.error, DeployerError);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// notify.ts: SNS subjects
// ---------------------------------------------------------------------------------------------------------

/** Strings made only of whitespace, control characters, combining marks and invisible characters. */
const invisible = fc.string({
  unit: fc.constantFrom(
    ' ',
    '\t',
    '\n',
    '\r',
    '\v',
    '\f',
    '\u0000',
    '\u0085',
    '\u00a0',
    '\u2028',
    '\u200b',
    '\ufeff',
    '\u0301',
    '\u3000',
  ),
  maxLength: 200,
});
/** Long strings of `min` to `max` characters, built by repeating a random piece. */
const longText = (min: number, max: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.integer({ min, max }))
    .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)));
/** Up to about 1 MB (slow to normalise: few runs). */
const huge = longText(101, 1_100_000);
/** Up to 20,000 characters. */
const long = longText(101, 20_000);
const ONE_MB = '\u{1F680}é\u0000'.repeat(262_144);

const subjectText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 400 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', size: 'max', maxLength: 5000 }) },
  { weight: 1, arbitrary: invisible },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
);

/** The words deploy and stack messages put after the stack name. */
const OUTCOME_WORDS = [
  'DEPLOYING',
  'APPROVAL NEEDED',
  'NO CHANGE',
  'IN SYNC',
  'WAITING',
  'BLOCKED',
  'RECREATING',
  'NOTHING DESIRED',
  'FAILED',
  'UPDATE_COMPLETE',
  'UPDATE_ROLLBACK_COMPLETE',
  'UPDATE_ROLLBACK_FAILED',
  'ROLLBACK_COMPLETE',
  'DELETE_COMPLETE',
  'IMPORT_ROLLBACK_COMPLETE',
  'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
  'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
];

describe('toSubject and composeSubject (property)', () => {
  it('toSubject: 1 to 100 printable ASCII characters, one line, no leading space, for any text', () => {
    fc.assert(
      fc.property(subjectText, (text) => {
        const subject = toSubject(text);
        if (!isValidSubject(subject)) throw new Error(`invalid subject ${JSON.stringify(subject)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('toSubject and composeSubject: valid for very long text (up to about 1 MB)', () => {
    fc.assert(
      fc.property(huge, (text) => {
        for (const subject of [toSubject(text), composeSubject(text, text, [text, 'DEPLOYING'])]) {
          if (!isValidSubject(subject))
            throw new Error(`invalid subject ${JSON.stringify(subject.slice(0, 200))}`);
        }
      }),
      { numRuns: 10, examples: [[ONE_MB]] },
    );
  });

  it('toSubject: leaves a subject it made unchanged (SNS receives exactly what the message composed)', () => {
    fc.assert(
      fc.property(subjectText, (text) => {
        const subject = toSubject(text);
        expect(toSubject(subject)).toBe(subject);
      }),
      { numRuns: RUNS },
    );
  });

  it('composeSubject: a valid subject for any stage, stack and words', () => {
    const word = fc.option(subjectText, { nil: undefined });
    fc.assert(
      fc.property(
        fc.option(subjectText, { nil: undefined }),
        fc.oneof(subjectText, fc.stringMatching(STACK_NAME)),
        fc.array(word, { maxLength: 5 }),
        (stage, stack, words) => {
          const subject = composeSubject(stage, stack, words);
          if (!isValidSubject(subject)) throw new Error(`invalid subject ${JSON.stringify(subject)}`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('composeSubject: keeps the stage in front and the outcome and short commit at the end, however long the stack', () => {
    fc.assert(
      fc.property(
        validStage,
        fc.oneof(fc.stringMatching(STACK_NAME), subjectText, long),
        fc.constantFrom(...OUTCOME_WORDS),
        fc.option(fc.stringMatching(/^[0-9a-f]{7}$/), { nil: undefined }),
        (stage, stack, outcome, commit) => {
          const subject = composeSubject(stage, stack, [outcome, commit]);
          expect(isValidSubject(subject)).toBe(true);
          expect(subject.startsWith(`[${stage}] `)).toBe(true);
          expect(subject.endsWith(` ${[outcome, commit].filter(Boolean).join(' ')}`)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// events.ts: pipeline events
// ---------------------------------------------------------------------------------------------------------

const PIPELINE_SAMPLES = [
  'pipeline-succeeded',
  'pipeline-succeeded-legacy',
  'pipeline-started',
  'pipeline-failed',
].map((name) => readJson(`events/${name}.json`));

/** What the deploy path may rely on in a parsed execution. */
const expectValidExecution = (execution: PipelineExecution): void => {
  expect(execution.pipeline).toMatch(PIPELINE_NAME);
  expect(execution.executionId).toMatch(EXECUTION_ID);
  if (execution.commitId !== undefined) {
    expect(execution.commitId).toMatch(COMMIT_ID);
    expect(execution.commitId).toBe(execution.commitId.toLowerCase());
    expect(isValidSsmLabel(commitLabel(execution.commitId))).toBe(true);
  }
  expect(isValidSsmLabel(executionLabel(execution.executionId))).toBe(true);
  expect(execution.state).toMatch(/^[A-Z_]{1,32}$/);
  expect(execution.account).toMatch(ACCOUNT);
  expect(execution.region).toMatch(REGION);
  expect(new Date(execution.startedAt).toISOString()).toBe(execution.startedAt);
  expect(execution.eventId.length).toBeGreaterThanOrEqual(1);
  expect(execution.eventId.length).toBeLessThanOrEqual(128);
};

const checkPipelineEvent = (raw: unknown, counts: ReturnType<typeof tally>): void => {
  const result = attempt(() => parsePipelineEvent(raw));
  if (result.ok) {
    counts.accepted += 1;
    expectValidExecution(result.value);
  } else {
    counts.rejected += 1;
    expectErrorOf(result.error, EventValidationError);
  }
};

describe('parsePipelineEvent (property)', () => {
  it('on any JSON value or JavaScript value: EventValidationError, never another error', () => {
    const counts = tally();
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), HOSTILE_ANYTHING), (raw) => checkPipelineEvent(raw, counts)),
      { numRuns: RUNS },
    );
    expect(counts.rejected).toBe(RUNS);
  });

  it('on mutated copies of the sample events: EventValidationError or an execution of valid names', () => {
    const counts = tally();
    fc.assert(
      fc.property(mutatedCopies(PIPELINE_SAMPLES), (raw) => checkPipelineEvent(raw, counts)),
      { numRuns: RUNS * 2 },
    );
    // Both branches were exercised.
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
  });

  it('on the sample with each identifier replaced by a near-valid string: only well-formed ones pass', () => {
    const counts = tally();
    const field = fc.constantFrom<[string, RegExp]>(
      ['pipeline', PIPELINE_NAME],
      ['execution-id', EXECUTION_ID],
    );
    const candidate = fc.oneof(
      fc.stringMatching(PIPELINE_NAME),
      fc.stringMatching(EXECUTION_ID),
      fc.stringMatching(EXECUTION_ID).map((id) => `${id}\n`),
      fc.stringMatching(EXECUTION_ID).map((id) => `../${id}`),
      fc.stringMatching(EXECUTION_ID).map((id) => `${id} ${id}`),
      anyString(),
    );
    fc.assert(
      fc.property(
        field,
        candidate,
        fc.option(fc.oneof(fc.stringMatching(COMMIT_ID), anyString(80))),
        ([name, pattern], value, commit) => {
          const event = structuredClone(PIPELINE_SAMPLES[0]) as {
            detail: Record<string, unknown> & { 'execution-trigger': Record<string, unknown> };
          };
          event.detail[name] = value;
          if (commit !== null) event.detail['execution-trigger']['commit-id'] = commit;
          const result = attempt(() => parsePipelineEvent(event));
          if (result.ok) {
            counts.accepted += 1;
            expectValidExecution(result.value);
            expect(pattern.test(value)).toBe(true);
          } else {
            counts.rejected += 1;
            expectErrorOf(result.error, EventValidationError);
          }
        },
      ),
      { numRuns: RUNS },
    );
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// stack-events.ts: CloudFormation events
// ---------------------------------------------------------------------------------------------------------

const STACK_SAMPLES = [...STATUS_EVENTS, ...API_CALL_EVENTS, 'cloudtrail-execute-change-set-by-arn'].map(
  (name) => readJson(`events/${name}.json`),
);

/** What the notify and reconcile triggers may rely on in a parsed stack event. */
const expectValidStackEvent = (event: ParsedStackEvent): void => {
  expect(event.account).toMatch(ACCOUNT);
  expect(event.region).toMatch(REGION);
  if (event.kind === 'change-set-call') {
    // The stack is named later, from DescribeChangeSet (see withStack).
    expect(event.changeSetArn).toMatch(
      /^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:changeSet\/[a-zA-Z][-a-zA-Z0-9]{0,127}\/[-a-zA-Z0-9]{1,64}$/,
    );
    expect(event.stackRefs).toEqual([]);
    return;
  }
  expect(event.stack).toMatch(STACK_NAME);
  if (event.kind === 'status-change') {
    expect(event.stackId).toMatch(STACK_ARN);
    expect(stackNameOf(event.stackId)).toBe(event.stack);
    expect(event.status).toMatch(/^[A-Z_]{1,64}$/);
    // Free text is bounded by the size of an EventBridge event; messages shorten it for display.
    expect((event.reason ?? '').length).toBeLessThanOrEqual(EVENT_TEXT_LIMIT);
    expect((event.token ?? '').length).toBeLessThanOrEqual(256);
  } else {
    expect(REPORTED_CALLS as readonly string[]).toContain(event.eventName);
    if (event.stackId !== undefined) expect(event.stackId).toMatch(STACK_ARN);
    expect(typeof event.caller.name).toBe('string');
  }
};

/** Whether turning the value into a string throws (`{"toString": 1}` in JSON, a null-prototype object). */
const stringConversionThrows = (value: unknown): boolean => {
  try {
    String(value);
    return false;
  } catch {
    return true;
  }
};

/**
 * The inputs of the known bug below (an unknown detail-type that String() cannot convert): left out of the
 * general properties, so that they keep finding other bugs. Remove once parseStackEvent is fixed.
 */
const hitsKnownDetailTypeBug = (raw: unknown): boolean =>
  isRecord(raw) && stringConversionThrows(raw['detail-type']);

const checkStackEvent = (raw: unknown, counts: ReturnType<typeof tally> & { ignored: number }): void => {
  fc.pre(!hitsKnownDetailTypeBug(raw));
  const result = attempt(() => parseStackEvent(raw));
  if (!result.ok) {
    counts.rejected += 1;
    expectErrorOf(result.error, EventValidationError);
  } else if (result.value === undefined) {
    counts.ignored += 1;
  } else {
    counts.accepted += 1;
    expectValidStackEvent(result.value);
  }
};

describe('parseStackEvent (property)', () => {
  it('on any JSON value or JavaScript value: EventValidationError, never another error', () => {
    const counts = { ...tally(), ignored: 0 };
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), HOSTILE_ANYTHING), (raw) => checkStackEvent(raw, counts)),
      { numRuns: RUNS },
    );
    expect(counts.rejected).toBe(RUNS);
  });

  it('on mutated copies of the sample events: undefined, a valid event, or EventValidationError', () => {
    const counts = { ...tally(), ignored: 0 };
    fc.assert(
      fc.property(mutatedCopies(STACK_SAMPLES), (raw) => checkStackEvent(raw, counts)),
      { numRuns: RUNS * 2 },
    );
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
  });

  // An unknown detail-type of any JSON shape, even an object whose `toString` is not a function
  // ({"detail-type": {"toString": 1}}), is rejected with an EventValidationError, never a TypeError.
  it('an unknown detail-type of any JSON shape is refused with EventValidationError', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.constant(JSON.parse('{"toString": 1}') as unknown)),
        (detailType) => {
          const raw = { ...(STACK_SAMPLES[0] as Record<string, unknown>), 'detail-type': detailType };
          const result = attempt(() => parseStackEvent(raw));
          expect(result.ok).toBe(false);
          if (!result.ok) expectErrorOf(result.error, EventValidationError);
        },
      ),
      { numRuns: FEW_RUNS, examples: [[JSON.parse('{"toString": 1}') as unknown]] },
    );
  });

  it('a stack named by an arbitrary string is a valid stack name or the event is refused', () => {
    const counts = { ...tally(), ignored: 0 };
    const reference = fc.oneof(
      anyString(),
      fc.stringMatching(STACK_NAME),
      fc.stringMatching(STACK_NAME).map((name) => `${name}/../../x`),
      fc
        .stringMatching(STACK_NAME)
        .map((name) => `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/x-1`),
      fc
        .stringMatching(STACK_NAME)
        .map((name) => `arn:aws:cloudformation:us-east-1:123456789012:stack/${name}/x-1\n`),
    );
    fc.assert(
      fc.property(reference, fc.boolean(), (ref, asStatus) => {
        const raw = structuredClone(asStatus ? STACK_SAMPLES[0] : STACK_SAMPLES[7]) as {
          detail: Record<string, unknown> & { requestParameters: Record<string, unknown> };
        };
        if (asStatus) raw.detail['stack-id'] = ref;
        else raw.detail.requestParameters.stackName = ref;
        checkStackEvent(raw, counts);
      }),
      { numRuns: RUNS },
    );
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// config.ts: the configuration
// ---------------------------------------------------------------------------------------------------------

/** What every other module relies on in a validated configuration. */
const expectValidConfig = (config: DeployerConfig): void => {
  const { changeSetTimeoutSeconds } = config.settings;
  expect(Number.isInteger(changeSetTimeoutSeconds)).toBe(true);
  expect(changeSetTimeoutSeconds).toBeGreaterThanOrEqual(10);
  expect(changeSetTimeoutSeconds).toBeLessThanOrEqual(240);
  const stages = allStages(config);
  const unique = (values: string[]) => expect(new Set(values).size).toBe(values.length);
  unique(stages.map((s) => s.name));
  unique(stages.map((s) => s.stack));
  unique(stages.map((s) => s.ssmParameter));
  for (const stage of stages) {
    expect(stage.pipeline).toMatch(PIPELINE_NAME);
    expect(stage.name).toMatch(STAGE_NAME);
    expect(stage.stack).toMatch(STACK_NAME);
    expect(stage.ssmParameter.startsWith('/')).toBe(true);
    expect(stage.ssmParameter).not.toMatch(/^\/(aws|ssm)/i);
    expect(stage.releasePrefix.endsWith('/')).toBe(true);
    expect(stage.releasePrefix).not.toContain('{');
    for (const key of [stage.releasePrefix, stage.artifact.key, stage.template?.key ?? 'x']) {
      expect(key).not.toContain('..');
      expect(key.startsWith('/')).toBe(false);
    }
    // Every name the deployer derives from a valid configuration is valid too.
    expect(isValidChangeSetName(changeSetName(stage.name, 1))).toBe(true);
    const key = releaseKey(stage.releasePrefix, '0'.repeat(64), stage.artifact.key);
    expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
  }
};

const checkConfig = (raw: unknown, counts: ReturnType<typeof tally>): void => {
  const result = attempt(() => validateConfig(raw, 'property test'));
  if (result.ok) {
    counts.accepted += 1;
    expectValidConfig(result.value);
  } else {
    counts.rejected += 1;
    expectErrorOf(result.error, ConfigError);
  }
};

/** The pipeline names a raw configuration declares (its own keys, `__proto__` included). */
const declaredPipelines = (raw: unknown): string[] | undefined => {
  if (!isRecord(raw) || !isRecord(raw.pipelines)) return undefined;
  return Object.keys(raw.pipelines).sort();
};

describe('validateConfig (property)', () => {
  it('on any JSON value or JavaScript value: ConfigError or a valid configuration', () => {
    const counts = tally();
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), HOSTILE_ANYTHING), (raw) => checkConfig(raw, counts)),
      { numRuns: RUNS },
    );
    expect(counts.rejected).toBeGreaterThan(0);
  });

  it('on mutated copies of deployer.config.json: ConfigError or a valid configuration', () => {
    const counts = tally();
    fc.assert(
      fc.property(mutatedCopies([SAMPLE_CONFIG]), (raw) => checkConfig(raw, counts)),
      { numRuns: RUNS * 2 },
    );
    expect(counts.accepted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
  });

  // Every declared pipeline survives validation, or validation fails with a ConfigError naming it: a name
  // such as `__proto__` (a legal CodePipeline name, an own key of the parsed YAML/JSON) is never dropped.
  it('never drops a declared pipeline silently: every pipeline is kept, or ConfigError', () => {
    const renamed = (name: string): unknown => {
      const config = structuredClone(SAMPLE_CONFIG);
      const pipeline = config.pipelines['orders-api-pipeline'];
      const pipelines = {};
      Object.defineProperty(pipelines, name, {
        value: pipeline,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return { ...config, pipelines };
    };
    fc.assert(
      fc.property(
        fc.oneof(fc.stringMatching(PIPELINE_NAME), fc.constantFrom('__proto__', 'constructor')),
        (name) => {
          const raw = renamed(name);
          const result = attempt(() => validateConfig(raw, 'property test'));
          if (result.ok) expect(Object.keys(result.value.pipelines).sort()).toEqual(declaredPipelines(raw));
          else expectErrorOf(result.error, ConfigError);
        },
      ),
      { numRuns: FEW_RUNS, examples: [['__proto__']] },
    );
  });
});
