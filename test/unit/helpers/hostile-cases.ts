/**
 * The hostile-input table's building blocks: what a case is, the world it is built against, and the typed
 * builders of the three kinds of valid event that the cases then damage. The cases themselves live in
 * hostile-deploy-cases.ts (DEPLOY_CASES), hostile-stack-cases.ts (NOTIFY_CASES, RECONCILE_CASES) and
 * hostile-found-bug-cases.ts (FOUND_BUG_CASES).
 *
 * The world is only names (pipeline, bucket, stage, stack and its ARN): the unit test
 * (test/unit/hostile-inputs.test.ts) runs every case against mocked SDK clients with names of its own, and
 * the integration test (test/integration/hostile-inputs.test.ts) runs a few of the same cases against a moto
 * world. Nothing here talks to AWS.
 */
import { randomUUID } from 'node:crypto';
import type * as DeployHandlerModule from '../../../handlers/deploy';
import type * as NotifyHandlerModule from '../../../handlers/notify';
import type * as ReconcileHandlerModule from '../../../handlers/reconcile';
import {
  type CloudTrailEvent,
  cloudTrailEvent,
  consoleToken,
  type StackTarget,
  type StatusChangeEvent,
  stackStatusEvent,
} from '../../integration/helpers/stack-events';
import {
  ACCOUNT,
  hoursAfterBase,
  newExecution,
  pipelineEvent,
  REGION,
  type StageNames,
  type World,
} from '../../integration/helpers/world';

export { ACCOUNT, REGION };
export const OTHER_ACCOUNT = '999999999999';
export const OTHER_REGION = 'eu-west-1';

const ONE_MB = 1024 * 1024;
/** 1 MB of text. */
export const huge = (piece = 'x'): string => piece.repeat(Math.ceil(ONE_MB / piece.length));

export type HandlerName = 'deploy' | 'notify' | 'reconcile';

/** What a hostile event must get: turned away as malformed or foreign, or ignored as none of ours. */
export type Expected = 'rejected' | 'ignored';

/** What a handler answers, as far as the table cares (reconcile answers a list of these). */
export interface Verdict {
  verdict: string;
  reason?: string;
}

/** A CodePipeline execution state change, loose enough to be damaged on purpose. */
export interface PipelineEventShape {
  detail: Record<string, unknown> & { 'execution-trigger': Record<string, unknown> };
  [field: string]: unknown;
}

/** The names a case may use: the world's and its one configured stage's. */
export interface HostileWorld {
  world: Pick<World, 'id' | 'pipeline' | 'bucket'>;
  stage: Pick<StageNames, 'name' | 'stack'>;
  /** The stage's stack, with its ARN. */
  target: StackTarget;
}

export interface HostileCtx extends HostileWorld {
  /** A valid SUCCEEDED event of the configured pipeline for a new execution. */
  pipeline: (change?: (event: PipelineEventShape) => void) => PipelineEventShape;
  /** A valid final status change of the stage's stack, started from the console. */
  status: (change?: (event: StatusChangeEvent) => void) => StatusChangeEvent;
  /** A valid CloudTrail UpdateStack call on the stage's stack. */
  call: (change?: (event: CloudTrailEvent) => void) => CloudTrailEvent;
}

export interface HostileCase {
  what: string;
  handler: HandlerName;
  /** The verdict the handler must give. */
  verdict: Expected;
  event: (c: HostileCtx) => unknown;
  /** Checked after the handler ran (e.g. that no prototype was polluted). */
  also?: () => void;
}

/** The event builders for a world. Each call builds a fresh event (new ids), changed by `change`. */
export const hostileCtx = (names: HostileWorld): HostileCtx => ({
  ...names,
  pipeline: (change = () => {}) => {
    const event = pipelineEvent(names.world, newExecution(hoursAfterBase(1))) as PipelineEventShape;
    change(event);
    return event;
  },
  status: (change = () => {}) => {
    const event = stackStatusEvent('stack-update-complete.json', names.target, { token: consoleToken() });
    change(event);
    return event;
  },
  call: (change = () => {}) => {
    const event = cloudTrailEvent('cloudtrail-update-stack.json', names.target);
    change(event);
    return event;
  },
});

/** The case's test title: unique within the table, and how the integration test picks its cases. */
/**
 * The three handler modules from the current module registry (the caller reset it and set the environment,
 * as Lambda starts a function), each answering with the summaries it returned.
 */
export const requireHandlers = (): Record<HandlerName, (event: unknown) => Promise<Verdict[]>> => {
  const deploy = (require('../../../handlers/deploy') as typeof DeployHandlerModule).handler;
  const notify = (require('../../../handlers/notify') as typeof NotifyHandlerModule).handler;
  const reconcile = (require('../../../handlers/reconcile') as typeof ReconcileHandlerModule).handler;
  return {
    deploy: async (event) => [await deploy(event)],
    notify: async (event) => [await notify(event)],
    reconcile: (event) => reconcile(event),
  };
};

/** The handler resolved (never threw), with the case's verdict and a reason. */
export const expectTurnedAway = (
  hostile: Pick<HostileCase, 'handler' | 'verdict'>,
  result: { threw?: unknown; summaries?: Verdict[] },
): void => {
  if (result.threw !== undefined) {
    throw new Error(
      `the ${hostile.handler} handler threw: ${result.threw instanceof Error ? `${result.threw.name}: ${result.threw.message.slice(0, 300)}` : String(result.threw)}`,
    );
  }
  expect(result.summaries?.map((s) => s.verdict)).toEqual([hostile.verdict]);
  for (const summary of result.summaries ?? []) {
    expect(typeof summary.reason).toBe('string');
    expect(summary.reason?.length).toBeGreaterThan(0);
  }
};

export const title = (c: HostileCase): string => `${c.handler}: ${c.what} → ${c.verdict}, no write`;

/** A stack ARN for this stage's stack name, in another account or region. */
export const foreignArn = (c: HostileCtx, where: { account?: string; region?: string }): string =>
  c.target.stackId
    .replace(`:${ACCOUNT}:`, `:${where.account ?? ACCOUNT}:`)
    .replace(`:${REGION}:`, `:${where.region ?? REGION}:`);

/** The ARN of a stack of this account and region that no stage is configured with. */
export const unconfiguredArn = (c: HostileCtx): string =>
  `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/it-${c.world.id}-other/${randomUUID()}`;

export const deepObject = (levels: number): Record<string, unknown> => {
  let deep: Record<string, unknown> = { bottom: true };
  for (let i = 0; i < levels; i += 1) deep = { d: deep };
  return deep;
};

/** Events any handler must reject: not an event at all. */
export const notEvents: [string, (c: HostileCtx) => unknown][] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a non-JSON body (a string)', () => '{"detail-type": "CodePipeline Pipeline Execution State Change", '],
  ['a number', () => 42],
  ['an array holding a valid event', (c) => [c.pipeline(), c.status()]],
  ['an empty object', () => ({})],
];

/** The not-events as cases of one handler: each is rejected. */
export const notEventCases = (handler: HandlerName): HostileCase[] =>
  notEvents.map(([what, event]): HostileCase => ({ what, handler, verdict: 'rejected', event }));
