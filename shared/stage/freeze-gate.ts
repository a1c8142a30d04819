/**
 * The freeze gate reconcile passes before it makes or executes a change set: a stage that is frozen
 * (windows.ts) keeps its release desired and deploys nothing; the schedule deploys it once the window opens.
 *
 * Through the gate at any time: a version a person recorded with `approve --break-glass` (that version
 * only: a later build is frozen again), and the ways back — a rollback, a rejection, an automatic rollback —
 * because a freeze holds back new releases, never the way back to one that ran.
 */
import type { DesiredState } from '../aws/desired-state';
import type { Stage } from '../edge/stages';
import type { ReconcileReason } from '../outcomes';
import { nowOf, type Runtime } from '../runtime';
import { type WindowState, windowStateAt, windowsOf } from './windows';

/** The provenance action of a version recorded by `approve --break-glass`. */
export const BREAK_GLASS = 'break-glass';

/** Versions recorded with these actions pass a freeze. */
const PASS_FREEZE = new Set([BREAK_GLASS, 'rollback', 'reject', 'auto-rollback']);

/** The stage's window state now, by the runtime's clock. */
export const stageWindowState = (runtime: Runtime, stage: Stage): WindowState =>
  windowStateAt(windowsOf(runtime.config, stage), nowOf(runtime));

/** Why this desired version may not be deployed now, or undefined when the gate is open for it. */
export const frozenFor = (
  runtime: Runtime,
  stage: Stage,
  desired: Pick<DesiredState, 'provenance'>,
): Extract<ReconcileReason, { code: 'stage-frozen' }> | undefined => {
  if (desired.provenance.action && PASS_FREEZE.has(desired.provenance.action)) return undefined;
  return frozenReason(stageWindowState(runtime, stage));
};

/** A frozen window state as the reason reconcile gives (undefined when not frozen). */
export const frozenReason = (
  state: WindowState,
): Extract<ReconcileReason, { code: 'stage-frozen' }> | undefined => {
  if (!state.frozen) return undefined;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    code: 'stage-frozen',
    kind: state.cause.kind,
    ...(state.cause.kind === 'freeze' ? { reason: state.cause.reason, until: iso(state.cause.until) } : {}),
    ...(state.opensAt === undefined ? {} : { opensAt: iso(state.opensAt) }),
    timeZone: state.timeZone,
  };
};
