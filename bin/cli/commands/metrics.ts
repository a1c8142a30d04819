/**
 * `deployer metrics`: how each stage delivered over a window — deployment frequency, lead time, change failure
 * rate and time to restore (shared/operations/metrics.ts says how each is counted). A table for people,
 * --json for scripts.
 */

import { allStages } from '../../../shared/edge/stages';
import {
  parseSince,
  type StageMetrics,
  stageMetrics,
  windowEndingAt,
} from '../../../shared/operations/index';
import { type Command, commandArgs, EXIT, JSON_OPTION, UsageError } from '../args';
import { print, table } from '../render';
import { cliRuntime, stageArg } from '../runtime';

const DEFAULT_SINCE = '30d';

export const metrics: Command = {
  summary: 'deployment frequency, lead time, change failure rate and time to restore',
  usage: `usage: deployer metrics [stage] [--since 30d] [--json]

For each stage (or one), over the window that ends now (--since: a number and h, d or w; default 30d):
  DEPLOYS         runs of the deployer whose stack settled (rollbacks and rejections by a person are
                  restoring actions, not deploys), and how many of them FAILED (rolled back)
  PER DAY/WEEK    successful deploys per day and per week
  LEAD TIME       from the build's start to the stack settling, median and 90th percentile
  CHANGE FAILURE  failed deploys / deploys
  TIME TO RESTORE from a failed deploy to the stage's next successful settle, median (open: not yet)
Read from the stage's whole history: its SSM parameter and the deployer's archive (.deployer/history/).`,
  async run(args, env) {
    const { values, positionals } = commandArgs(args, { ...JSON_OPTION, since: { type: 'string' } });
    if (positionals.length > 1) throw new UsageError('metrics takes at most one stage name');
    const since = values.since ?? DEFAULT_SINCE;
    const length = parseSince(since);
    if (length === undefined)
      throw new UsageError(
        `--since takes a number and a unit, h (hours), d (days) or w (weeks), such as 30d, 12h or 2w; not ${JSON.stringify(since.slice(0, 40))}`,
      );
    const runtime = cliRuntime(env, { tellsOps: false });
    const stages = positionals[0] ? [stageArg(runtime, positionals[0])] : allStages(runtime.config);
    const window = windowEndingAt(new Date(), length);
    const measured = await Promise.all(stages.map((stage) => stageMetrics(runtime, stage, window)));
    print(values.json ? measured : metricsText(measured, since));
    return EXIT.ok;
  },
};

const metricsText = (measured: StageMetrics[], since: string): string => {
  const [first] = measured;
  const span = first
    ? ` (${first.since.replace(/\.\d+Z$/, 'Z')} to ${first.until.replace(/\.\d+Z$/, 'Z')})`
    : '';
  return `over the last ${since}${span}\n${table(
    [
      'STAGE',
      'DEPLOYS',
      'FAILED',
      'PER DAY',
      'PER WEEK',
      'LEAD TIME p50',
      'p90',
      'CHANGE FAILURE',
      'TIME TO RESTORE',
    ],
    measured.map((m) => [
      m.stage,
      String(m.deploys),
      String(m.failed),
      m.deploymentFrequency.perDay.toFixed(2),
      m.deploymentFrequency.perWeek.toFixed(1),
      duration(m.leadTime.medianMs),
      duration(m.leadTime.p90Ms),
      m.changeFailureRate === null ? '-' : `${Math.round(m.changeFailureRate * 100)}%`,
      restoreCell(m.timeToRestore),
    ]),
  )}`;
};

const restoreCell = ({ medianMs, open }: StageMetrics['timeToRestore']): string =>
  [medianMs === null ? (open ? '' : '-') : duration(medianMs), open ? `(${open} open)` : '']
    .filter(Boolean)
    .join(' ');

/** "45s", "12m", "3h 05m", "2d 04h"; "-" when there is nothing to show. */
export const duration = (ms: number | null): string => {
  if (ms === null) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
};
