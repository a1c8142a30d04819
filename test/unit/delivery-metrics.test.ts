/**
 * The delivery metrics of `deployer metrics`, computed from hand-made histories: each metric, an empty
 * history, the window's edges, and the rules that say what a deploy is.
 */

import { duration } from '../../bin/cli/commands/metrics';
import type { ReleaseVersion } from '../../shared/aws/release-history';
import {
  computeMetrics,
  median,
  parseSince,
  percentile,
  windowEndingAt,
} from '../../shared/operations/metrics';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UNTIL = new Date('2026-11-30T00:00:00.000Z');
const WINDOW = windowEndingAt(UNTIL, 30 * DAY);
/** A time `hours` before the window's end. */
const before = (hours: number): string => new Date(UNTIL.getTime() - hours * HOUR).toISOString();

type Entry = Pick<ReleaseVersion, 'provenance' | 'runs'>;

/** A version built `builtHoursBefore` the end, whose one run settled `settledHoursBefore` it with `status`. */
const deploy = (
  status: string,
  settledHoursBefore: number,
  builtHoursBefore = settledHoursBefore + 1,
  provenance: Entry['provenance'] = {},
): Entry => ({
  provenance: { execution: 'e', startedAt: before(builtHoursBefore), ...provenance },
  runs: [
    {
      token: `t-${settledHoursBefore}`,
      status,
      settledAt: before(settledHoursBefore),
      failed: status.includes('ROLLBACK') || status.endsWith('FAILED'),
    },
  ],
});

const byPerson = (action: 'rollback' | 'reject', status: string, settledHoursBefore: number): Entry =>
  deploy(status, settledHoursBefore, settledHoursBefore, { action, by: 'kim' });

const metricsOf = (history: Entry[], window = WINDOW) => computeMetrics('dev', history, window);

describe('an empty history', () => {
  it('has no deploys, no rates and nothing to restore', () => {
    expect(metricsOf([])).toEqual({
      stage: 'dev',
      since: '2026-10-31T00:00:00.000Z',
      until: '2026-11-30T00:00:00.000Z',
      days: 30,
      deploys: 0,
      successful: 0,
      failed: 0,
      restores: 0,
      deploymentFrequency: { perDay: 0, perWeek: 0 },
      leadTime: { measured: 0, medianMs: null, p90Ms: null },
      changeFailureRate: null,
      timeToRestore: { restored: 0, open: 0, medianMs: null },
    });
  });

  it('is the same for versions that never settled (an empty change set, an approval still waiting)', () => {
    expect(metricsOf([{ provenance: { startedAt: before(5) } }, { provenance: {}, runs: [] }])).toEqual(
      metricsOf([]),
    );
  });
});

describe('deployment frequency', () => {
  it('is successful deploys per day and per week of the window', () => {
    const history = Array.from({ length: 15 }, (_, i) => deploy('UPDATE_COMPLETE', 10 + i * 24));
    const m = metricsOf([...history, deploy('UPDATE_ROLLBACK_COMPLETE', 3)]);
    expect(m).toMatchObject({ deploys: 16, successful: 15, failed: 1 });
    expect(m.deploymentFrequency).toEqual({ perDay: 0.5, perWeek: 3.5 });
  });

  it('counts a first creation (CREATE_COMPLETE) and a promotion as deploys, a deletion not', () => {
    const m = metricsOf([
      deploy('CREATE_COMPLETE', 5),
      deploy('UPDATE_COMPLETE', 4, 40, { action: 'promote', by: 'auto-promotion of dev', from: 'dev' }),
      deploy('DELETE_COMPLETE', 3),
    ]);
    expect(m).toMatchObject({ deploys: 2, successful: 2, failed: 0 });
  });

  it('counts rollbacks and rejections by a person as restoring actions, not deploys', () => {
    const m = metricsOf([
      deploy('UPDATE_COMPLETE', 10),
      byPerson('rollback', 'UPDATE_COMPLETE', 5),
      byPerson('reject', 'UPDATE_COMPLETE', 4),
    ]);
    expect(m).toMatchObject({ deploys: 1, successful: 1, restores: 2 });
  });
});

describe('the window', () => {
  it('takes a deploy that settled exactly at its start or its end, and none outside', () => {
    const window = windowEndingAt(UNTIL, 2 * DAY);
    const m = metricsOf(
      [
        deploy('UPDATE_COMPLETE', 48.001), // just before the start
        deploy('UPDATE_COMPLETE', 48), // at the start
        deploy('UPDATE_COMPLETE', 0), // at the end
        deploy('UPDATE_COMPLETE', -0.001), // after the end
      ],
      window,
    );
    expect(m).toMatchObject({ days: 2, deploys: 2, successful: 2 });
  });

  it('counts a deploy where it settled, whenever its build started', () => {
    const m = metricsOf([deploy('UPDATE_COMPLETE', 2, 24 * 60)]);
    expect(m.deploys).toBe(1);
    expect(m.leadTime.medianMs).toBe((24 * 60 - 2) * HOUR);
  });
});

describe('lead time', () => {
  it('runs from the build’s start to the stack settling: median and 90th percentile', () => {
    const leadHours = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const m = metricsOf(leadHours.map((h, i) => deploy('UPDATE_COMPLETE', i + 1, i + 1 + h)));
    expect(m.leadTime).toEqual({ measured: 10, medianMs: 5.5 * HOUR, p90Ms: 9 * HOUR });
  });

  it('counts a promotion from the build’s start it carries (builtAt), not from the promotion', () => {
    const promoted = deploy('UPDATE_COMPLETE', 1, 2, { action: 'promote', builtAt: before(49) });
    expect(metricsOf([promoted]).leadTime.medianMs).toBe(48 * HOUR);
  });

  it('leaves out failed deploys, restoring actions and versions with no known start', () => {
    const m = metricsOf([
      deploy('UPDATE_COMPLETE', 1, 3),
      deploy('UPDATE_ROLLBACK_COMPLETE', 2, 20),
      byPerson('rollback', 'UPDATE_COMPLETE', 4),
      { provenance: {}, runs: deploy('UPDATE_COMPLETE', 5).runs },
    ]);
    expect(m.leadTime).toEqual({ measured: 1, medianMs: 2 * HOUR, p90Ms: 2 * HOUR });
    expect(m.successful).toBe(2);
  });
});

describe('change failure rate', () => {
  it('is failed deploys over deploys; a failed rollback is neither', () => {
    const m = metricsOf([
      deploy('UPDATE_COMPLETE', 10),
      deploy('UPDATE_ROLLBACK_COMPLETE', 9),
      deploy('UPDATE_COMPLETE', 8),
      deploy('ROLLBACK_COMPLETE', 7),
      byPerson('rollback', 'UPDATE_ROLLBACK_FAILED', 6),
    ]);
    expect(m).toMatchObject({ deploys: 4, failed: 2, changeFailureRate: 0.5 });
  });
});

describe('time to restore', () => {
  it('runs from a failed deploy to the next successful settle (a deploy or a rollback): median', () => {
    const m = metricsOf([
      deploy('UPDATE_ROLLBACK_COMPLETE', 100),
      byPerson('rollback', 'UPDATE_COMPLETE', 99), // 1 h
      deploy('UPDATE_ROLLBACK_COMPLETE', 50),
      deploy('UPDATE_COMPLETE', 47), // 3 h
      deploy('UPDATE_ROLLBACK_COMPLETE', 20),
      deploy('UPDATE_COMPLETE', 10), // 10 h
    ]);
    expect(m.timeToRestore).toEqual({ restored: 3, open: 0, medianMs: 3 * HOUR });
  });

  it('takes failures in a row as one outage, from the first; a failed rollback does not end it', () => {
    const m = metricsOf([
      deploy('UPDATE_ROLLBACK_COMPLETE', 10),
      deploy('UPDATE_ROLLBACK_COMPLETE', 8),
      byPerson('rollback', 'UPDATE_ROLLBACK_FAILED', 7),
      deploy('UPDATE_COMPLETE', 4),
    ]);
    expect(m.timeToRestore).toEqual({ restored: 1, open: 0, medianMs: 6 * HOUR });
  });

  it('counts an outage not yet restored as open', () => {
    const m = metricsOf([deploy('UPDATE_COMPLETE', 10), deploy('UPDATE_ROLLBACK_COMPLETE', 5)]);
    expect(m.timeToRestore).toEqual({ restored: 0, open: 1, medianMs: null });
  });

  it('does not look at a failure that settled before the window', () => {
    const window = windowEndingAt(UNTIL, DAY);
    const m = metricsOf([deploy('UPDATE_ROLLBACK_COMPLETE', 30), deploy('UPDATE_COMPLETE', 20)], window);
    expect(m.timeToRestore).toEqual({ restored: 0, open: 0, medianMs: null });
  });
});

describe('--since', () => {
  it.each([
    ['30d', 30 * DAY],
    ['12h', 12 * HOUR],
    ['2w', 14 * DAY],
    ['1h', HOUR],
  ])('reads %s', (text, ms) => {
    expect(parseSince(text)).toBe(ms);
  });

  it.each(['', '30', 'd', '0d', '-1d', '1.5d', '30D', '30m', '30 d', ' 30d', '123456d', '1e3d'])(
    'refuses %p',
    (text) => {
      expect(parseSince(text)).toBeUndefined();
    },
  );
});

describe('median and percentile', () => {
  it('take the middle (the mean of the two middle values) and the nearest rank', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90)).toBe(10);
    expect(percentile([7], 90)).toBe(7);
    expect([median([]), percentile([], 90)]).toEqual([null, null]);
  });
});

describe('durations in the table', () => {
  it.each([
    [null, '-'],
    [45_000, '45s'],
    [12 * 60_000, '12m'],
    [3 * HOUR + 5 * 60_000, '3h 05m'],
    [2 * DAY + 4 * HOUR, '2d 04h'],
  ])('%p ms reads %p', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });
});
