/**
 * Delivery metrics of a stage over a window (`deployer metrics`), computed from its whole history (SSM and the
 * deployer's archive) and from how the deployer's runs ended (their stack's final status, archived when the
 * status event settled them):
 *
 * - a **deploy** is a run of the deployer that settled: its stack reached CREATE_COMPLETE or UPDATE_COMPLETE
 *   (a successful deploy) or a failure status (*_FAILED, *ROLLBACK_COMPLETE: a failed deploy), for a version
 *   recorded by a pipeline, a promotion or a person's approval. A rollback or a rejection by a person is a
 *   **restoring action**, not a deploy. A release whose change set was empty, or that still waits for
 *   approval, changed no stack: no deploy. A deploy counts in the window in which it settled.
 * - **deployment frequency**: successful deploys per day and per week of the window.
 * - **lead time**: for each successful deploy, from the start of its build (the pipeline execution's start,
 *   carried along by promotions; for a version with no build, when it was recorded) to its stack settling.
 *   Median and 90th percentile (nearest rank).
 * - an **automatic rollback** (an alarm in ALARM while a release baked) makes the baked release's deploy a
 *   failed one, settled when its stack settled; the rollback itself is a restoring action.
 * - **change failure rate**: failed deploys ÷ deploys.
 * - **time to restore**: from a failed deploy settling to the next successful settle of the stage (a deploy
 *   or a restoring action). Failures in a row are one outage, measured from the first. Median; failures not
 *   yet followed by a success are counted as open.
 */
import { buildStartOf } from '../aws/provenance';
import type { ReleaseVersion } from '../aws/release-history';
import { readWholeHistory } from '../aws/whole-history';
import type { Stage } from '../edge/stages';
import type { Runtime } from '../runtime';
import { isFailureStatus, isSuccessfulDeploy } from '../stack-status';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const UNIT_MS = { h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS } as const;

/** Moves that restore what ran before (a person's, or the deployer's after an alarm): they are not deploys. */
const RESTORING = new Set(['rollback', 'reject', 'auto-rollback']);

export interface MetricsWindow {
  since: Date;
  until: Date;
}

export interface StageMetrics {
  stage: string;
  since: string;
  until: string;
  days: number;
  deploys: number;
  successful: number;
  failed: number;
  /** Restoring actions (rollbacks, rejections) whose runs settled. */
  restores: number;
  deploymentFrequency: { perDay: number; perWeek: number };
  leadTime: { measured: number; medianMs: number | null; p90Ms: number | null };
  changeFailureRate: number | null;
  timeToRestore: { restored: number; open: number; medianMs: number | null };
}

/** `30d`, `12h`, `2w` as milliseconds; undefined for anything else. */
export const parseSince = (text: string): number | undefined => {
  const match = /^([1-9][0-9]{0,4})([hdw])$/.exec(text);
  return match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : undefined;
};

/** The window that ends now and lasts `lengthMs`. */
export const windowEndingAt = (until: Date, lengthMs: number): MetricsWindow => ({
  since: new Date(until.getTime() - lengthMs),
  until,
});

/** One settled run of the stage, as the metrics see it. */
interface Settled {
  at: number;
  succeeded: boolean;
  failed: boolean;
  restoring: boolean;
  startedAt: number;
}

const settledRuns = (history: Pick<ReleaseVersion, 'provenance' | 'runs'>[]): Settled[] =>
  history
    .flatMap((v) =>
      (v.runs ?? []).map((run) => ({
        at: Date.parse(run.settledAt),
        // A release an alarm rolled back while it baked failed, though its stack settled well.
        succeeded: !run.failed && isSuccessfulDeploy(run.status),
        failed: run.failed || isFailureStatus(run.status),
        restoring: RESTORING.has(v.provenance.action ?? ''),
        startedAt: Date.parse(buildStartOf(v.provenance) ?? ''),
      })),
    )
    .filter((r) => Number.isFinite(r.at) && (r.succeeded || r.failed))
    .sort((a, b) => a.at - b.at);

/** The metrics of one stage over a window, from its history (its versions with their settled runs). */
export const computeMetrics = (
  stage: string,
  history: Pick<ReleaseVersion, 'provenance' | 'runs'>[],
  window: MetricsWindow,
): StageMetrics => {
  const [since, until] = [window.since.getTime(), window.until.getTime()];
  const inWindow = settledRuns(history).filter((r) => r.at >= since && r.at <= until);
  const deploys = inWindow.filter((r) => !r.restoring);
  const successful = deploys.filter((r) => r.succeeded);
  const failed = deploys.filter((r) => r.failed);
  const days = (until - since) / DAY_MS;
  const leadTimes = successful.map((r) => r.at - r.startedAt).filter((ms) => Number.isFinite(ms) && ms >= 0);
  const restore = timesToRestore(inWindow);
  return {
    stage,
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    days: rounded(days),
    deploys: deploys.length,
    successful: successful.length,
    failed: failed.length,
    restores: inWindow.filter((r) => r.restoring).length,
    deploymentFrequency: {
      perDay: days > 0 ? rounded(successful.length / days) : 0,
      perWeek: days > 0 ? rounded((successful.length * 7) / days) : 0,
    },
    leadTime: { measured: leadTimes.length, medianMs: median(leadTimes), p90Ms: percentile(leadTimes, 90) },
    changeFailureRate: deploys.length > 0 ? rounded(failed.length / deploys.length) : null,
    timeToRestore: { restored: restore.times.length, open: restore.open, medianMs: median(restore.times) },
  };
};

/**
 * From each failed deploy that follows a success (or opens the window) to the next successful settle. A
 * failed restoring action neither opens an outage nor ends one.
 */
const timesToRestore = (runs: Settled[]): { times: number[]; open: number } => {
  const times: number[] = [];
  let failingSince: number | undefined;
  for (const run of runs) {
    if (run.succeeded && failingSince !== undefined) {
      times.push(run.at - failingSince);
      failingSince = undefined;
    } else if (run.failed && !run.restoring && failingSince === undefined) {
      failingSince = run.at;
    }
  }
  return { times, open: failingSince === undefined ? 0 : 1 };
};

/** The middle value (the mean of the two middle ones for an even count), or null for none. */
export const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? null)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/** The nearest-rank percentile: the smallest value with at least p % of the values at or below it. */
export const percentile = (values: number[], p: number): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
};

const rounded = (value: number): number => Math.round(value * 10_000) / 10_000;

/** A stage's metrics over the window: its whole history, with the runs that settled in the window. */
export const stageMetrics = async (
  runtime: Runtime,
  stage: Stage,
  window: MetricsWindow,
): Promise<StageMetrics> =>
  computeMetrics(
    stage.name,
    await readWholeHistory(runtime.clients, stage, { settledSince: window.since }),
    window,
  );
