/**
 * Builders and validators for every name we put into AWS: change set names, SSM labels, S3 keys.
 * Each builder returns a value that is valid by AWS's rules or throws; no user-controlled string reaches
 * AWS without passing through here or through the configuration schema.
 */
import { DeployerError } from './errors';

/** Stage names: short, lowercase, safe inside change set names, labels, subjects and S3 keys. */
export const STAGE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** CloudFormation stack names. */
export const STACK_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;
/** CodePipeline pipeline names. */
export const PIPELINE_NAME = /^[A-Za-z0-9.@_-]{1,100}$/;
/** CodePipeline execution ids are UUIDs; accept the id alphabet AWS uses, bounded. */
export const EXECUTION_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,94}$/; // 'exec-' + id stays a valid SSM label
/** Git commit ids (SHA-1 or SHA-256, full or abbreviated). */
export const COMMIT_ID = /^[0-9a-fA-F]{7,64}$/;
/** CloudFormation change set names. */
const CHANGE_SET_NAME = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/;
/** SSM parameter version labels: letters, digits, '.', '-', '_'; not starting with a digit. */
const SSM_LABEL = /^[a-zA-Z._-][a-zA-Z0-9._-]{0,99}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const assertMatches = (kind: string, value: string, pattern: RegExp): string => {
  if (!pattern.test(value)) {
    throw new DeployerError(`invalid ${kind} ${JSON.stringify(value.slice(0, 200))}`);
  }
  return value;
};

/** The prefix of every change set this deployer makes for a stage. */
export const changeSetPrefix = (stage: string): string =>
  `deploy-${assertMatches('stage name', stage, STAGE_NAME)}-v`;

/**
 * The change set for a desired version: derived from the stage and the SSM version, so the same desired
 * version always gets the same name (a duplicate reconcile finds the first one's change set).
 */
export const changeSetName = (stage: string, desiredVersion: number): string => {
  if (!Number.isSafeInteger(desiredVersion) || desiredVersion < 1) {
    throw new DeployerError(`invalid desired version ${desiredVersion}`);
  }
  return assertMatches('change set name', `${changeSetPrefix(stage)}${desiredVersion}`, CHANGE_SET_NAME);
};

/** The SSM version parsed back out of one of our change set names, or undefined for any other name. */
export const desiredVersionOfChangeSet = (stage: string, name: string): number | undefined => {
  const prefix = changeSetPrefix(stage);
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  if (!/^[1-9][0-9]{0,15}$/.test(rest)) return undefined;
  const version = Number(rest);
  return Number.isSafeInteger(version) ? version : undefined;
};

const label = (kind: string, value: string): string => {
  const built = `${kind}-${value}`;
  if (/^(aws|ssm)/i.test(built)) throw new DeployerError(`invalid SSM label ${JSON.stringify(built)}`);
  return assertMatches('SSM label', built, SSM_LABEL);
};

/** The label that marks the SSM version recorded for a pipeline execution. */
export const executionLabel = (executionId: string): string =>
  label('exec', assertMatches('execution id', executionId, EXECUTION_ID));

/** The label that marks the SSM version recorded for a commit. */
export const commitLabel = (commitId: string): string =>
  label('commit', assertMatches('commit id', commitId, COMMIT_ID).toLowerCase());

/**
 * The label that marks a desired version whose deploy failed (rolled back). A label sits on one version at
 * a time, so it carries the version number.
 */
export const failedLabel = (version: number): string => {
  if (!Number.isSafeInteger(version) || version < 1)
    throw new DeployerError(`invalid desired version ${version}`);
  return label('failed', `v${version}`);
};

/** The label that marks a desired version whose pending change set a person rejected. */
export const rejectedLabel = (version: number): string => {
  if (!Number.isSafeInteger(version) || version < 1)
    throw new DeployerError(`invalid desired version ${version}`);
  return label('rejected', `v${version}`);
};

/** An S3 key in a URL path (CopySource, TemplateURL): each segment encoded, the slashes kept. */
export const encodeKeyPath = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/** The file extension kept on a release key (".zip", ".jar"), or "" when the source has none we trust. */
export const keyExtension = (key: string): string => {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(key);
  return match?.[1] ? `.${match[1].toLowerCase()}` : '';
};

/**
 * The immutable release key for an artifact: the stage's release prefix and the SHA-256 of its bytes.
 * The same bytes always get the same key; different bytes never share one.
 */
export const releaseKey = (prefix: string, sha256Hex: string, sourceKey: string): string =>
  `${prefix}${assertMatches('SHA-256 digest', sha256Hex, SHA256_HEX)}${keyExtension(sourceKey)}`;

/** Where a released template lives: content-named like the artifact, beside the stage's releases. */
export const templateReleaseKey = (prefix: string, sha256Hex: string): string =>
  `${prefix}templates/${assertMatches('SHA-256 digest', sha256Hex, SHA256_HEX)}.template`;

/** The SHA-256 a content-named release key carries ("<prefix><sha256><ext>"), or undefined for any other key. */
export const digestOfReleaseKey = (key: string): string | undefined =>
  /(?:^|\/)([0-9a-f]{64})(?:\.[a-z0-9]{1,8})?$/.exec(key)?.[1];

/** Run tokens: the change set prefix, the version and 24 hex digits of randomness. */
const RUN_TOKEN = /^deploy-([a-z][a-z0-9-]{0,31})-v([1-9][0-9]{0,15})-([0-9a-f]{24})$/;

/**
 * The request token of one deployer operation on a stage's stack (a change set's ClientToken and its
 * execution's ClientRequestToken): readable ("deploy-dev-v12-…") but unpredictable, so nobody can make
 * their own operation look like the deployer's. The version in it is for people; the deployer believes only
 * its run record (shared/aws/runs.ts).
 */
export const runToken = (stage: string, version: number, random: string): string => {
  if (!Number.isSafeInteger(version) || version < 1)
    throw new DeployerError(`invalid desired version ${version}`);
  return assertMatches('run token', `${changeSetPrefix(stage)}${version}-${random}`, RUN_TOKEN);
};

/** The stage a well-formed run token names, or undefined for any other token. */
export const stageOfRunToken = (token: string): string | undefined => RUN_TOKEN.exec(token)?.[1];
