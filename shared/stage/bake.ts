/**
 * The bake of an alarm-gated stage's release, decided as data from times and states (no AWS call here): what
 * an alarm in ALARM means for the stage, and what the schedule does with a bake.
 *
 * - Only the release that is baking and still desired is rolled back: an alarm after a newer build, a
 *   person's move or an earlier automatic rollback finds another version desired and does nothing.
 * - An alarm that went to ALARM after the bake ended does not roll back (the release passed; it is logged).
 * - A bake that passed is never rolled back by the deployer again.
 * - A bake's end that was recorded but not yet told (its message, or its promotion) is finished by the next
 *   alarm event or schedule run: every step is safe to repeat, and the ledger sends a message once.
 */
import type { AlarmState } from '../aws/alarms';
import type { BakeRecord } from '../aws/bake-record';
import type { Provenance } from '../aws/provenance';

export type BakeDecision =
  | { kind: 'none'; why: string }
  | { kind: 'baking'; until: string }
  | { kind: 'due' }
  | { kind: 'late'; why: string }
  | { kind: 'rollback'; alarm: string; reason: string; at: string }
  /** The automatic rollback is recorded (its version desired) but the ops team was not told yet. */
  | { kind: 'report' }
  /** The bake passed, but its release was not handed to the promoteTo stages yet. */
  | { kind: 'promote' };

/** The stage's desired version as the bake needs it: its number and who recorded it. */
export interface DesiredNow {
  version: number;
  provenance: Pick<Provenance, 'action' | 'from'>;
}

/** The provenance action of a version the deployer recorded on its own after an alarm. */
export const AUTO_ROLLBACK = 'auto-rollback';

/** Whether the desired version is the automatic rollback of this bake's release, not yet reported. */
export const isUnreportedRollback = (bake: BakeRecord, desired: DesiredNow | undefined): boolean =>
  bake.state === 'rolled-back' &&
  bake.reported !== true &&
  desired?.provenance.action === AUTO_ROLLBACK &&
  desired.provenance.from === String(bake.version);

/** Whether this bake is the stage's current one: its version desired, and not ended for good. */
const currentBake = (
  bake: BakeRecord | undefined,
  desired: DesiredNow | undefined,
): { ok: true; bake: BakeRecord } | { ok: false; why: string } => {
  if (!bake) return { ok: false, why: 'no release of this stage is baking' };
  if (bake.state === 'passed') return { ok: false, why: `version ${bake.version} passed its bake` };
  if (desired?.version !== bake.version)
    return {
      ok: false,
      why: `version ${bake.version} baked, but version ${desired?.version ?? 'none'} is desired now`,
    };
  if (bake.state === 'no-good-release' && bake.reported)
    return {
      ok: false,
      why: `version ${bake.version} failed its bake and the stage has no earlier good release (the ops team was told)`,
    };
  return { ok: true, bake };
};

/** A rollback that broke off (its end recorded, not its new version or its message): made again. */
const again = (bake: BakeRecord, now: Date): BakeDecision => ({
  kind: 'rollback',
  alarm: bake.endedBy ?? bake.alarms[0] ?? 'unknown',
  reason: bake.reason ?? 'the automatic rollback of this release did not finish; it is made again',
  at: bake.trippedAt ?? bake.endedAt ?? now.toISOString(),
});

/** What an alarm that went to ALARM at `at` means for the stage's bake. */
export const decideOnAlarm = (
  bake: BakeRecord | undefined,
  desired: DesiredNow | undefined,
  trip: { alarm: string; state: string; reason: string; at: string },
): BakeDecision => {
  if (trip.state !== 'ALARM') return { kind: 'none', why: `alarm ${trip.alarm} went to ${trip.state}` };
  if (bake && isUnreportedRollback(bake, desired)) return { kind: 'report' };
  const current = currentBake(bake, desired);
  if (!current.ok) return { kind: 'none', why: current.why };
  if (!current.bake.alarms.includes(trip.alarm))
    return { kind: 'none', why: `alarm ${trip.alarm} does not watch version ${current.bake.version}` };
  if (current.bake.state !== 'baking') return again(current.bake, new Date(trip.at));
  if (Date.parse(trip.at) > Date.parse(current.bake.until))
    return {
      kind: 'late',
      why: `alarm ${trip.alarm} went to ALARM at ${trip.at}, after version ${current.bake.version} baked (until ${current.bake.until}): not rolled back`,
    };
  return { kind: 'rollback', alarm: trip.alarm, reason: trip.reason, at: trip.at };
};

/**
 * What the schedule finds at `now`: nothing to do, still baking, a bake whose time is over, or an end that
 * was recorded and not finished (a message or a promotion still owed).
 */
export const decideOnSchedule = (
  bake: BakeRecord | undefined,
  desired: DesiredNow | undefined,
  now: Date,
): BakeDecision => {
  if (bake && isUnreportedRollback(bake, desired)) return { kind: 'report' };
  if (bake?.state === 'passed' && bake.promotedAt === undefined && desired?.version === bake.version)
    return { kind: 'promote' };
  const current = currentBake(bake, desired);
  if (!current.ok) return { kind: 'none', why: current.why };
  if (current.bake.state !== 'baking') return again(current.bake, now);
  if (now.getTime() < Date.parse(current.bake.until)) return { kind: 'baking', until: current.bake.until };
  return { kind: 'due' };
};

/**
 * A bake whose time is over, by its alarms' current states: the first in ALARM rolls back (its event may have
 * been lost); otherwise it passes. OK, INSUFFICIENT_DATA and a missing alarm do not hold a release back
 * (only ALARM does, as with CloudFormation's own rollback triggers).
 */
export const verdictAfterBake = (
  states: AlarmState[],
  now: Date,
): { kind: 'pass' } | Extract<BakeDecision, { kind: 'rollback' }> => {
  const firing = states.find((s) => s.value === 'ALARM');
  return firing
    ? {
        kind: 'rollback',
        alarm: firing.name,
        reason: firing.reason ?? '',
        at: firing.since ?? now.toISOString(),
      }
    : { kind: 'pass' };
};

/** When a release that settled at `settledAt` is done baking. */
export const bakeUntil = (settledAt: string, minutes: number): string =>
  new Date(Date.parse(settledAt) + minutes * 60_000).toISOString();

/** Versions that restore what ran before: they do not bake (an alarm still firing must not chain rollbacks). */
const RESTORING = new Set(['rollback', 'reject', AUTO_ROLLBACK]);

export const isRestoring = (provenance: Pick<Provenance, 'action'>): boolean =>
  RESTORING.has(provenance.action ?? '');
