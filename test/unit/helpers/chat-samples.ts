/**
 * One message of every kind the deployer sends, composed by the real composers from the same reports the
 * triggers build: every deploy outcome (the pipeline path, the reconcile trigger's news, a person's moves,
 * a locked stage), every stack status, API calls (accepted, refused, with the fold note) and the storm
 * digest. `text` goes into every slot that takes text from outside (commit authors, reasons, caller names,
 * error messages, lock holders, tokens), so that the same samples serve the hostile tests.
 */
import { StackStatus } from '@aws-sdk/client-cloudformation';
import type { Release } from '../../../shared/aws/artifacts';
import type { ReleaseVersion } from '../../../shared/aws/release-history';
import type { StackApiCall, StackStatusChange } from '../../../shared/edge/stack-events';
import type { Stage } from '../../../shared/edge/stages';
import {
  type DeployOutcome,
  type DeployReport,
  deployMessage,
} from '../../../shared/messages/deploy-messages';
import type { Notification } from '../../../shared/messages/notification';
import { rolloutMessage } from '../../../shared/messages/rollout-messages';
import type { RolloutOutcome } from '../../../shared/messages/rollout-report';
import { apiCallMessage, type StatusReport, statusMessage } from '../../../shared/messages/stack-messages';
import { digestMessage, withFoldNote } from '../../../shared/messages/storm-messages';
import type { ReconcileResult } from '../../../shared/outcomes';
import { BUILD_RELEASE_KEY, BUILD_SHA256_HEX, makeRuntime, REGION, SAMPLE, stageOf } from './fixtures';
import { STACK_IDS } from './stack-samples';

export const config = makeRuntime().config;
export const dev: Stage = stageOf(config, 'dev');
export const prod: Stage = stageOf(config, 'prod');

/** The release a build of the sample execution becomes. */
export const RELEASE: Release = {
  bucket: SAMPLE.bucket,
  key: BUILD_RELEASE_KEY,
  sha256: BUILD_SHA256_HEX,
  commitId: SAMPLE.commitId,
};
export const PREVIOUS_KEY = `releases/orders-api/${'0'.repeat(64)}.zip`;

/** Every deploy outcome, typed so that a new outcome breaks the compile until it has a sample here. */
export const DEPLOY_OUTCOMES = {
  deploying: true,
  'pending-approval': true,
  'no-change': true,
  'in-sync': true,
  waiting: true,
  blocked: true,
  tampered: true,
  recreating: true,
  'nothing-desired': true,
  failed: true,
  locked: true,
  superseded: true,
  frozen: true,
} satisfies Record<DeployOutcome, true>;

export const execution = (text: string) => ({
  pipeline: SAMPLE.pipeline,
  executionId: SAMPLE.executionId,
  state: 'SUCCEEDED',
  startedAt: SAMPLE.startTime,
  commitId: SAMPLE.commitId,
  author: text,
  account: '123456789012',
  region: REGION,
  eventId: 'e-1',
});

/** What reconcile came to for an outcome, with outside text where AWS or a person gives it. */
export const reconcileFor = (
  outcome: DeployOutcome,
  text: string,
  stage = dev,
): ReconcileResult | undefined => {
  const base = {
    stage: stage.name,
    stack: stage.stack,
    stackId: STACK_IDS.dev,
    desired: { parameter: stage.ssmParameter, key: BUILD_RELEASE_KEY, version: 12, provenance: {} },
    fresh: true,
  };
  switch (outcome) {
    case 'deploying':
      return { ...base, outcome, changeSet: 'deploy-dev-v12', action: 'update', live: PREVIOUS_KEY };
    case 'pending-approval':
      return {
        ...base,
        outcome,
        changeSet: 'deploy-dev-v12',
        changes: [{ action: 'Modify', logicalId: text, type: 'AWS::Lambda::Function', replacement: 'False' }],
      };
    case 'blocked':
      return {
        ...base,
        outcome,
        stackStatus: 'UPDATE_ROLLBACK_FAILED',
        why: {
          code: 'stack-needs-person',
          status: 'UPDATE_ROLLBACK_FAILED',
          statusReason: text,
          region: REGION,
        },
      };
    case 'tampered':
      return {
        ...base,
        outcome,
        why: {
          code: 'release-tampered',
          location: `s3://${SAMPLE.bucket}/${BUILD_RELEASE_KEY}`,
          detail: text,
        },
      };
    case 'no-change':
      return {
        ...base,
        outcome,
        stackStatus: 'UPDATE_COMPLETE',
        why: { code: 'nothing-to-change', detail: text },
      };
    case 'recreating':
      return { ...base, outcome, why: { code: 'stack-recreated', key: BUILD_RELEASE_KEY } };
    case 'nothing-desired':
      return { outcome, stage: stage.name, stack: stage.stack, fresh: true };
    case 'frozen':
      return {
        ...base,
        outcome,
        stackStatus: 'UPDATE_COMPLETE',
        live: PREVIOUS_KEY,
        why: {
          code: 'stage-frozen',
          kind: 'freeze',
          reason: text,
          until: '2027-01-07T07:00:00.000Z',
          opensAt: '2027-01-07T07:00:00.000Z',
          timeZone: 'Europe/Berlin',
        },
      };
    case 'in-sync':
    case 'waiting':
      return {
        ...base,
        outcome,
        stackStatus: outcome === 'waiting' ? 'UPDATE_IN_PROGRESS' : 'UPDATE_COMPLETE',
      };
    default:
      return undefined;
  }
};

/** The deploy report of an outcome, as the path that sends it builds it. */
export const deployReport = (outcome: DeployOutcome, text: string, stage = dev): DeployReport => {
  const base = { outcome, stage: stage.name, stack: stage.stack };
  const reconcile = reconcileFor(outcome, text, stage);
  switch (outcome) {
    case 'failed':
      return { ...base, execution: execution(text), error: text };
    case 'locked':
      return {
        ...base,
        trigger: text,
        error: text,
        lock: {
          holder: text,
          since: text,
          until: text,
          location: `s3://${SAMPLE.bucket}/.deployer/locks/dev`,
        },
      };
    case 'superseded':
      return {
        ...base,
        execution: execution(text),
        release: RELEASE,
        overtaken: { version: 12, newest: 13 },
      };
    default:
      return { ...base, execution: execution(text), release: RELEASE, ...(reconcile ? { reconcile } : {}) };
  }
};

/** A person's move, as moveTo reports it: a rollback from the sample release back to the previous one. */
export const rollbackReport = (text: string, stage = dev): DeployReport => ({
  outcome: 'deploying',
  stage: stage.name,
  stack: stage.stack,
  trigger: `a rollback by ${text} to version 11`,
  replaces: BUILD_RELEASE_KEY,
  reconcile: {
    outcome: 'deploying',
    stage: stage.name,
    stack: stage.stack,
    stackId: STACK_IDS.dev,
    desired: { parameter: stage.ssmParameter, key: PREVIOUS_KEY, version: 13, provenance: {} },
    changeSet: 'deploy-dev-v13',
    fresh: true,
  },
});

export const releaseVersion = (version: number, key = BUILD_RELEASE_KEY): ReleaseVersion => ({
  version,
  key,
  labels: [],
  provenance: { pipeline: SAMPLE.pipeline, execution: SAMPLE.executionId, commit: SAMPLE.commitId },
  handWritten: false,
  failed: false,
});

export const statusChange = (status: string, text: string, stage = dev): StackStatusChange => ({
  kind: 'status-change',
  stackRefs: [STACK_IDS.dev],
  stack: stage.stack,
  stackId: STACK_IDS.dev,
  status,
  reason: text,
  token: text,
  time: '2026-11-20T10:17:05Z',
  region: REGION,
  account: '123456789012',
});

/** The notify trigger's report of our change set's operation ending in `status`. */
export const statusReport = (
  status: string,
  text: string,
  overrides: Partial<StatusReport> = {},
): StatusReport => ({
  change: statusChange(status, text),
  stage: dev,
  startedBy: text,
  rootCause: { logicalId: text, type: 'AWS::Lambda::Function', status: 'UPDATE_FAILED', reason: text },
  release: releaseVersion(12),
  desired: { key: BUILD_RELEASE_KEY, version: 12 },
  running: PREVIOUS_KEY,
  ours: true,
  ...overrides,
});

export const apiCall = (text: string, refused: boolean): StackApiCall => ({
  kind: 'api-call',
  stackRefs: [STACK_IDS.dev],
  eventName: 'UpdateStack',
  stack: dev.stack,
  stackId: STACK_IDS.dev,
  changeSet: refused ? undefined : 'hand-made',
  caller: { type: 'AssumedRole', name: text, role: text, session: text, arn: text },
  time: '2026-11-20T10:12:00Z',
  region: REGION,
  account: '123456789012',
  ...(refused ? { error: { code: text, message: text } } : {}),
});

export interface Sample {
  kind: string;
  message: Notification;
  stage?: string;
  stack: string;
}

/** One message of every kind, with `text` in every slot that takes outside text. */
export const everyMessage = (text: string): Sample[] => {
  const stack = dev.stack;
  const deploys = (Object.keys(DEPLOY_OUTCOMES) as DeployOutcome[]).map((outcome) => ({
    kind: `deploy ${outcome}`,
    message: deployMessage(deployReport(outcome, text), REGION),
    stage: dev.name,
    stack,
  }));
  const statuses = Object.values(StackStatus).map((status) => ({
    kind: `stack ${status}`,
    message: statusMessage(statusReport(status, text)),
    stage: dev.name,
    stack,
  }));
  const window = Date.parse('2026-11-20T10:10:00Z');
  return [
    ...deploys,
    { kind: 'rollback', message: deployMessage(rollbackReport(text), REGION), stage: dev.name, stack },
    {
      kind: 'auto-rollback after an alarm',
      message: deployMessage(
        {
          ...rollbackReport(text),
          alarm: {
            name: 'orders-5xx',
            reason: text,
            at: '2026-11-20T10:04:40.989Z',
            from: 7,
            bakeUntil: '2026-11-20T10:15:00.000Z',
          },
        },
        REGION,
      ),
      stage: dev.name,
      stack,
    },
    {
      kind: 'no good release to roll back to after an alarm',
      message: deployMessage(
        {
          outcome: 'failed',
          stage: dev.name,
          stack,
          trigger: text,
          replaces: RELEASE.key,
          alarm: {
            name: 'orders-5xx',
            reason: text,
            at: '2026-11-20T10:04:40.989Z',
            from: 7,
            bakeUntil: '2026-11-20T10:15:00.000Z',
            noGoodRelease: text,
          },
        },
        REGION,
      ),
      stage: dev.name,
      stack,
    },
    ...statuses,
    ...rollouts(text),
    {
      kind: 'stack status of a stack of no stage',
      message: statusMessage({ change: statusChange('UPDATE_COMPLETE', text), startedBy: text }),
      stack,
    },
    { kind: 'API call', message: apiCallMessage(apiCall(text, false), dev), stage: dev.name, stack },
    { kind: 'API call refused', message: apiCallMessage(apiCall(text, true), dev), stage: dev.name, stack },
    {
      kind: 'API call with the fold note',
      message: withFoldNote(apiCallMessage(apiCall(text, false), dev), window + 600_000),
      stage: dev.name,
      stack,
    },
    {
      kind: 'API-call storm digest',
      message: digestMessage({
        stage: dev.name,
        stack,
        region: REGION,
        windowStart: window,
        windowEnd: window + 600_000,
        folded: 120,
        refused: 3,
        sentOneByOne: 3,
        callers: [text, `${text}-2`],
        calls: [`UpdateStack (${text})`],
        noted: 50,
      }),
      stage: dev.name,
      stack,
    },
  ];
};

/** Every outcome of a canary rollout (CodeDeploy), `text` in every slot CodeDeploy fills. */
const ROLLOUT_STATES: Record<RolloutOutcome, string> = {
  started: 'START',
  succeeded: 'SUCCESS',
  ready: 'READY',
  stopped: 'STOP',
  failed: 'FAILURE',
  'rolled-back': 'STOP',
  other: 'QUEUED',
};

export const rollouts = (text: string): Sample[] =>
  (Object.keys(ROLLOUT_STATES) as RolloutOutcome[]).map((outcome) => ({
    kind: `rollout ${outcome}`,
    message: rolloutMessage({
      change: {
        deploymentId: 'd-7QX2KJ4AB',
        application: `${dev.stack}-ServerlessDeploymentApplication-1A2B`,
        deploymentGroup: `${dev.stack}-FunctionDeploymentGroup-7G8H`,
        state: ROLLOUT_STATES[outcome],
        time: '2026-11-20T10:14:31Z',
        region: REGION,
        account: '123456789012',
      },
      stage: dev,
      outcome,
      facts: {
        alarms: outcome === 'rolled-back' || outcome === 'stopped' ? [text] : [],
        ...(outcome === 'failed' || outcome === 'rolled-back'
          ? { error: { code: 'ALARM_ACTIVE', message: text } }
          : {}),
        ...(outcome === 'rolled-back' ? { rollback: { message: text } } : {}),
      },
      release: { key: RELEASE.key, version: 12, commit: SAMPLE.commitId },
      markedFailed: outcome === 'rolled-back',
    }),
    stage: dev.name,
    stack: dev.stack,
  }));
