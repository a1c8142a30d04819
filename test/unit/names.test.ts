import { DeployerError } from '../../shared/errors';
import {
  changeSetName,
  changeSetPrefix,
  commitLabel,
  desiredVersionOfChangeSet,
  executionLabel,
  keyExtension,
  releaseKey,
} from '../../shared/names';
import { sha256Hex } from './helpers/fixtures';

/** CloudFormation's rule for change set names. */
const CFN_CHANGE_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]*$/;
/** SSM's rules for version labels: at most 100 of letters, digits, ".", "-", "_"; no leading digit, aws or ssm. */
const isValidSsmLabel = (label: string): boolean =>
  label.length >= 1 &&
  label.length <= 100 &&
  /^[a-zA-Z0-9._-]+$/.test(label) &&
  !/^[0-9]/.test(label) &&
  !/^(aws|ssm)/i.test(label);

const LONGEST_STAGE = `s${'x'.repeat(31)}`;

describe('changeSetName', () => {
  it('derives the name from the stage and the desired version', () => {
    expect(changeSetName('dev', 7)).toBe('deploy-dev-v7');
    expect(changeSetName('prod', 7)).not.toBe(changeSetName('dev', 7));
    expect(changeSetName('dev', 8)).not.toBe(changeSetName('dev', 7));
    // The same desired version always gets the same name.
    expect(changeSetName('dev', 7)).toBe(changeSetName('dev', 7));
  });

  it.each<[string, number]>([
    ['dev', 1],
    ['prod', 42],
    ['eu-west-canary', 123_456],
    [LONGEST_STAGE, Number.MAX_SAFE_INTEGER],
  ])('is a valid CloudFormation change set name for stage %s, version %d', (stage, version) => {
    const name = changeSetName(stage, version);
    expect(name).toMatch(CFN_CHANGE_SET_NAME);
    expect(name.length).toBeLessThanOrEqual(128);
    expect(name.startsWith(changeSetPrefix(stage))).toBe(true);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'rejects the version %p',
    (version) => {
      expect(() => changeSetName('dev', version)).toThrow(DeployerError);
    },
  );

  it.each(['Dev', '1dev', 'dev_1', '', 'dev/../prod', `${LONGEST_STAGE}x`])(
    'rejects the stage name %p',
    (stage) => {
      expect(() => changeSetName(stage, 1)).toThrow(/invalid stage name/);
    },
  );
});

describe('desiredVersionOfChangeSet', () => {
  it.each([1, 9, 10, 4321, Number.MAX_SAFE_INTEGER])('round-trips version %d', (version) => {
    expect(desiredVersionOfChangeSet('dev', changeSetName('dev', version))).toBe(version);
  });

  it.each([
    'deploy-prod-v3',
    'deploy-dev-v',
    'deploy-dev-v0',
    'deploy-dev-v03',
    'deploy-dev-v3a',
    'deploy-dev-v-3',
    'deploy-dev-vx',
    'deploy-dev-canary-v3',
    'deploy-dev-v1-v3',
    'my-own-change-set',
    'deploy-dev-v12345678901234567',
  ])('returns undefined for %p (not one of stage dev)', (name) => {
    expect(desiredVersionOfChangeSet('dev', name)).toBeUndefined();
  });

  it('tells apart stages whose names share a prefix', () => {
    expect(desiredVersionOfChangeSet('dev-v1', 'deploy-dev-v1-v3')).toBe(3);
    expect(desiredVersionOfChangeSet('dev', 'deploy-dev-v1-v3')).toBeUndefined();
  });
});

describe('executionLabel and commitLabel', () => {
  it('labels an execution with exec-<id>, a valid SSM label', () => {
    const label = executionLabel('3f8e2a14-9c1b-4d8e-a2f6-1b7c9e0d5a42');
    expect(label).toBe('exec-3f8e2a14-9c1b-4d8e-a2f6-1b7c9e0d5a42');
    expect(isValidSsmLabel(label)).toBe(true);
  });

  it('labels a commit with commit-<id>, lower-cased, a valid SSM label', () => {
    expect(commitLabel('1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D')).toBe(
      'commit-1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
    );
    const sha256Commit = 'f'.repeat(64);
    expect(isValidSsmLabel(commitLabel(sha256Commit))).toBe(true);
    expect(isValidSsmLabel(commitLabel('abc1234'))).toBe(true);
  });

  it.each(['', 'a/b', '../etc', 'a b', 'a..b/c', '-leading-dash', 'exec\nid', 'ü-umlaut', 'x'.repeat(101)])(
    'rejects the execution id %p',
    (id) => {
      expect(() => executionLabel(id)).toThrow(DeployerError);
    },
  );

  it.each(['', 'abc123', 'xyz1234', '1a2b3c4d5e6f7g', 'a'.repeat(65), '1a2b3c4 ', 'HEAD'])(
    'rejects the commit id %p',
    (id) => {
      expect(() => commitLabel(id)).toThrow(DeployerError);
    },
  );

  it('bounds the value quoted in the error message', () => {
    expect(() => executionLabel('/'.repeat(10_000))).toThrow(/^invalid execution id "\/{200}"$/);
  });
});

describe('releaseKey', () => {
  const a = sha256Hex(Buffer.from('build a'));
  const b = sha256Hex(Buffer.from('build b'));

  it('is the same for the same digest', () => {
    expect(releaseKey('releases/orders-api/', a, 'builds/1/app.zip')).toBe(
      releaseKey('releases/orders-api/', a, 'builds/2/app.zip'),
    );
  });

  it('differs for different digests', () => {
    expect(releaseKey('releases/orders-api/', a, 'app.zip')).not.toBe(
      releaseKey('releases/orders-api/', b, 'app.zip'),
    );
  });

  it('is the prefix, the digest and the source extension', () => {
    expect(releaseKey('releases/orders-api/', a, 'builds/x/app.ZIP')).toBe(`releases/orders-api/${a}.zip`);
    expect(releaseKey('r/', a, 'builds/x/bootstrap')).toBe(`r/${a}`);
  });

  it.each([
    ['upper-case hex', a.toUpperCase()],
    ['too short', a.slice(0, 63)],
    ['not hex', 'z'.repeat(64)],
    ['base64', Buffer.from(a, 'hex').toString('base64')],
  ])('rejects a digest that is %s', (_what, digest) => {
    expect(() => releaseKey('r/', digest, 'app.zip')).toThrow(/invalid SHA-256 digest/);
  });
});

describe('keyExtension', () => {
  it.each([
    ['app.zip', '.zip'],
    ['builds/1/APP.JAR', '.jar'],
    ['archive.tar.gz', '.gz'],
    ['bootstrap', ''],
    ['builds/v1.2/bootstrap', ''],
    ['file.', ''],
    ['file.verylongext', ''],
    ['file.zip ', ''],
    ['file.z-p', ''],
  ])('of %p is %p', (key, extension) => {
    expect(keyExtension(key)).toBe(extension);
  });
});
