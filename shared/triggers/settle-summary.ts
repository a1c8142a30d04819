/**
 * What the reconcile function's triggers answer (a stack that settled, the schedule, an alarm, a bake that
 * ended): its own module, so the bake and alarm triggers can say it without importing the reconcile trigger
 * that calls them.
 */
import type { ReconcileResult } from '../outcomes';

export interface SettleSummary {
  /** rolled-back, baking, passed: an alarm event's or a bake's end (alarm.ts). */
  verdict: 'reconciled' | 'ignored' | 'rejected' | 'rolled-back' | 'no-good-release' | 'baking' | 'passed';
  reason?: string;
  stage?: string;
  outcome?: ReconcileResult['outcome'];
  markedFailed?: number;
  /** Stages this stage's completed release was promoted to. */
  promoted?: string[];
  notified?: boolean;
  /** An automatic rollback: the baked version rolled back, and the desired version that replaced it. */
  version?: number;
  rollbackVersion?: number;
}
