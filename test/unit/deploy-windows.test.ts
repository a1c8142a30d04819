/**
 * Deploy windows: the configuration's schema (errors name the field), wall-clock time in a zone with Intl
 * across the nights the clocks change, and the decision for an instant — frozen or not, why, and when the
 * stage next opens — with ranges that run past midnight and dated freezes.
 */
import fc from 'fast-check';
import { validateConfig } from '../../shared/edge/config';
import { type DeployWindows, deployWindowsSchema } from '../../shared/edge/window-config';
import { instantOf, isKnownTimeZone, localText, localTimeOf } from '../../shared/edge/zoned-time';
import { windowStateAt } from '../../shared/stage/windows';
import { makeRuntime, repoConfigText } from './helpers/fixtures';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const windows = (value: unknown): DeployWindows => deployWindowsSchema.parse(value);

/** The repository's configuration as parsed JSON, for a test to change. */
interface Windowish {
  timeZone: string;
  allow: [{ days: string[]; from: string; to: string }];
  freeze: [{ from: string; to: string; reason: string }];
  allowed?: unknown;
}
interface ConfigJson {
  settings: Record<string, unknown>;
  pipelines: Record<string, { stages: Record<string, Record<string, unknown>> }>;
}
/** The prod stage of the configuration JSON. */
const prodOf = (config: ConfigJson): Record<string, unknown> => {
  const prod = config.pipelines['orders-api-pipeline']?.stages.prod;
  if (!prod) throw new Error('test setup: no prod stage');
  return prod;
};
const baseConfig = (): ConfigJson => {
  const { config } = makeRuntime(repoConfigText());
  return JSON.parse(JSON.stringify(config)) as ConfigJson;
};
const configError = (change: (config: ConfigJson) => void): string => {
  const config = baseConfig();
  change(config);
  try {
    validateConfig(config, 'deployer.config.yaml');
  } catch (error) {
    return (error as Error).message;
  }
  return 'valid';
};

const OFFICE: DeployWindows = windows({
  timeZone: 'Europe/Berlin',
  allow: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00' }],
  freeze: [{ from: '2026-12-18T16:00', to: '2027-01-07T09:00', reason: 'year-end freeze' }],
});

describe('the deployWindows schema', () => {
  it('accepts a default in settings and a stage of its own, and applies the defaults', () => {
    const config = baseConfig();
    config.settings.deployWindows = { timeZone: 'UTC' };
    prodOf(config).deployWindows = {
      timeZone: 'Europe/Berlin',
      allow: [{ days: ['fri'], from: '22:00', to: '06:00' }],
    };
    const parsed = validateConfig(config);
    expect(parsed.settings.deployWindows).toEqual({ timeZone: 'UTC', allow: [], freeze: [] });
    expect(parsed.pipelines['orders-api-pipeline']?.stages.prod?.deployWindows?.allow).toHaveLength(1);
  });

  it.each([
    [
      'an unknown time zone',
      (w: Windowish) => {
        w.timeZone = 'Europe/Atlantis';
      },
      'deployWindows.timeZone: an IANA time zone known to Intl',
    ],
    [
      'a time that is not HH:MM',
      (w: Windowish) => {
        w.allow[0].from = '9:00';
      },
      'deployWindows.allow.0.from: a local time HH:MM',
    ],
    [
      'an hour past 23',
      (w: Windowish) => {
        w.allow[0].to = '25:00';
      },
      'deployWindows.allow.0.to: a local time HH:MM',
    ],
    [
      'a day that is no day',
      (w: Windowish) => {
        w.allow[0].days = ['monday'];
      },
      'deployWindows.allow.0.days.0: a day of the week: mon',
    ],
    [
      'no day at all',
      (w: Windowish) => {
        w.allow[0].days = [];
      },
      'deployWindows.allow.0.days: name at least one day',
    ],
    [
      'from equal to to',
      (w: Windowish) => {
        w.allow[0].to = w.allow[0].from;
      },
      'deployWindows.allow.0.to: from and to must differ',
    ],
    [
      'a freeze that ends before it starts',
      (w: Windowish) => {
        w.freeze[0].to = '2026-12-01T00:00';
      },
      'deployWindows.freeze.0.to: must be after from',
    ],
    [
      'a date that does not exist',
      (w: Windowish) => {
        w.freeze[0].from = '2026-02-30T10:00';
      },
      'deployWindows.freeze.0.from: no such date',
    ],
    [
      'an empty reason',
      (w: Windowish) => {
        w.freeze[0].reason = '';
      },
      'deployWindows.freeze.0.reason: 1 to 200 printable characters',
    ],
    [
      'a reason with a line break',
      (w: Windowish) => {
        w.freeze[0].reason = 'freeze\nNext: delete the stack';
      },
      'deployWindows.freeze.0.reason: 1 to 200 printable characters',
    ],
    [
      'an overlong reason',
      (w: Windowish) => {
        w.freeze[0].reason = 'x'.repeat(201);
      },
      'deployWindows.freeze.0.reason: 1 to 200 printable characters',
    ],
    [
      'an unknown field',
      (w: Windowish) => {
        w.allowed = [];
      },
      'deployWindows: Unrecognized key',
    ],
  ])('rejects %s, naming the field', (_, change, expected) => {
    const message = configError((config) => {
      const w = JSON.parse(JSON.stringify(OFFICE)) as Windowish;
      change(w);
      prodOf(config).deployWindows = w;
    });
    expect(message).toContain(`pipelines.orders-api-pipeline.stages.prod.${expected}`);
  });

  it('names the settings field for the default', () => {
    const message = configError((config) => {
      config.settings.deployWindows = { timeZone: '+01:00' };
    });
    expect(message).toContain('settings.deployWindows.timeZone: an IANA time zone known to Intl');
  });

  it('knows zones by their IANA names only', () => {
    expect(isKnownTimeZone('America/New_York')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus')).toBe(false);
    expect(isKnownTimeZone('../etc')).toBe(false);
  });
});

describe('wall-clock time with Intl, across the nights the clocks change', () => {
  it.each([
    // Spring forward: 02:30 does not exist; it is the moment of the jump (03:00 local).
    ['Europe/Berlin', '2026-03-29', '02:30', '2026-03-29T01:00:00.000Z'],
    // Fall back: 02:30 happens twice; the first one (still summer time) counts.
    ['Europe/Berlin', '2026-10-25', '02:30', '2026-10-25T00:30:00.000Z'],
    ['Europe/Berlin', '2026-10-25', '03:30', '2026-10-25T02:30:00.000Z'],
    ['America/New_York', '2026-03-08', '02:30', '2026-03-08T07:00:00.000Z'],
    ['America/New_York', '2026-11-01', '01:30', '2026-11-01T05:30:00.000Z'],
    ['America/New_York', '2026-07-01', '24:00', '2026-07-02T04:00:00.000Z'],
  ])('%s %s %s is %s', (zone, date, time, expected) => {
    const minute = Number(time.slice(0, 2)) * 60 + Number(time.slice(3));
    expect(iso(instantOf(date, minute, zone))).toBe(expected);
  });

  it('a local time that exists round-trips, in any zone, on any day (property)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC'];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: at('2025-01-01T00:00:00Z'), max: at('2028-12-31T00:00:00Z') }),
        (zone, ms) => {
          const whole = Math.floor(ms / 60_000) * 60_000;
          const local = localTimeOf(whole, zone);
          const back = instantOf(local.date, local.minute, zone);
          // The same wall clock; the first of two when the clocks went back.
          expect(localText(back, zone)).toBe(localText(whole, zone));
          expect(back).toBeLessThanOrEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('frozen or not at an instant, why, and when it opens', () => {
  it('is open inside office hours and frozen outside, opening at the next start', () => {
    expect(windowStateAt(OFFICE, at('2026-06-10T08:00:00Z')).frozen).toBe(false); // Wed 10:00 CEST
    const friday = windowStateAt(OFFICE, at('2026-06-12T08:00:00Z')); // Fri 10:00 CEST
    expect(friday).toMatchObject({ frozen: true, cause: { kind: 'outside-windows' } });
    expect(friday.frozen && iso(friday.opensAt)).toBe('2026-06-15T07:00:00.000Z'); // Mon 09:00 CEST
    // The end of a range is closed: 16:00 sharp is outside.
    expect(windowStateAt(OFFICE, at('2026-06-10T14:00:00Z')).frozen).toBe(true);
  });

  it('a freeze says its reason and until when, and opens at the first allowed time after it', () => {
    const state = windowStateAt(OFFICE, at('2026-12-22T10:00:00Z')); // Tuesday, inside office hours
    expect(state).toMatchObject({ frozen: true, cause: { kind: 'freeze', reason: 'year-end freeze' } });
    if (!state.frozen || state.cause.kind !== 'freeze') throw new Error('frozen');
    expect(iso(state.cause.until)).toBe('2027-01-07T08:00:00.000Z');
    // Thursday 7 January 2027, 09:00 CET: the freeze ends as office hours begin.
    expect(iso(state.opensAt)).toBe('2027-01-07T08:00:00.000Z');
  });

  it('a range past midnight belongs to the day it starts', () => {
    const night = windows({
      timeZone: 'America/New_York',
      allow: [{ days: ['fri'], from: '22:00', to: '06:00' }],
    });
    expect(windowStateAt(night, at('2026-06-13T03:00:00Z')).frozen).toBe(false); // Fri 23:00 EDT
    expect(windowStateAt(night, at('2026-06-13T09:00:00Z')).frozen).toBe(false); // Sat 05:00 EDT
    expect(windowStateAt(night, at('2026-06-13T10:00:00Z')).frozen).toBe(true); // Sat 06:00 EDT
    expect(windowStateAt(night, at('2026-06-14T03:00:00Z')).frozen).toBe(true); // Sat 23:00 EDT
    const thursday = windowStateAt(night, at('2026-06-11T16:00:00Z'));
    expect(thursday.frozen && iso(thursday.opensAt)).toBe('2026-06-13T02:00:00.000Z'); // Fri 22:00 EDT
  });

  it.each([
    // Berlin, spring forward (Sun 29 March 2026, 02:00 → 03:00): a window 01:00–04:00 lasts two hours.
    ['Europe/Berlin', 'sun', '2026-03-29T00:00:00Z', '2026-03-29T01:59:00Z', '2026-03-29T00:30:00Z'],
    // Berlin, fall back (Sun 25 October 2026, 03:00 → 02:00): the same window lasts four hours.
    ['Europe/Berlin', 'sun', '2026-10-24T23:00:00Z', '2026-10-25T02:59:00Z', '2026-10-25T01:30:00Z'],
    // New York, spring forward (Sun 8 March 2026).
    ['America/New_York', 'sun', '2026-03-08T06:00:00Z', '2026-03-08T07:59:00Z', '2026-03-08T07:00:00Z'],
    // New York, fall back (Sun 1 November 2026).
    ['America/New_York', 'sun', '2026-11-01T05:00:00Z', '2026-11-01T08:59:00Z', '2026-11-01T06:30:00Z'],
  ])(
    '%s: a 01:00–04:00 window on the night the clocks change opens at %s (UTC) and is open until %s',
    (zone, day, opens, lastOpenMinute, inside) => {
      const w = windows({ timeZone: zone, allow: [{ days: [day], from: '01:00', to: '04:00' }] });
      const before = windowStateAt(w, at(opens) - 60_000);
      expect(before.frozen && iso(before.opensAt)).toBe(new Date(at(opens)).toISOString());
      expect(windowStateAt(w, at(opens)).frozen).toBe(false);
      expect(windowStateAt(w, at(inside)).frozen).toBe(false);
      expect(windowStateAt(w, at(lastOpenMinute)).frozen).toBe(false);
      expect(windowStateAt(w, at(lastOpenMinute) + 60_000).frozen).toBe(true);
    },
  );

  it('a window that starts in the hour the clocks skip opens when they jump', () => {
    const w = windows({ timeZone: 'Europe/Berlin', allow: [{ days: ['sun'], from: '02:30', to: '05:00' }] });
    const state = windowStateAt(w, at('2026-03-28T12:00:00Z'));
    expect(state.frozen && iso(state.opensAt)).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST
  });

  it('a freeze across the fall-back night ends at its local time in winter time', () => {
    const w = windows({
      timeZone: 'Europe/Berlin',
      freeze: [{ from: '2026-10-24T12:00', to: '2026-10-25T12:00', reason: 'migration' }],
    });
    expect(windowStateAt(w, at('2026-10-25T10:59:00Z')).frozen).toBe(true);
    expect(windowStateAt(w, at('2026-10-25T11:00:00Z')).frozen).toBe(false); // 12:00 CET
  });

  it('says so when nothing opens within 400 days', () => {
    const w = windows({
      timeZone: 'UTC',
      freeze: [{ from: '2026-01-01T00:00', to: '2028-01-01T00:00', reason: 'long' }],
    });
    const state = windowStateAt(w, at('2026-02-01T00:00:00Z'));
    expect(state).toMatchObject({ frozen: true });
    expect(state.frozen && state.opensAt).toBeUndefined();
  });

  it('no windows: never frozen', () => {
    expect(windowStateAt(undefined, at('2026-12-24T12:00:00Z'))).toEqual({ frozen: false });
  });

  it('the opening is open, and every instant before it is frozen (property)', () => {
    const ranges = fc.record({
      days: fc.uniqueArray(fc.constantFrom('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'), {
        minLength: 1,
      }),
      from: fc.integer({ min: 0, max: 23 * 60 + 59 }),
      to: fc.integer({ min: 1, max: 24 * 60 }),
    });
    const hhmm = (m: number) =>
      `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    fc.assert(
      fc.property(
        fc.constantFrom('Europe/Berlin', 'America/New_York', 'UTC'),
        fc.array(ranges, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2027-12-31T00:00:00Z') }),
        fc.integer({ min: 0, max: 30 }),
        (zone, raw, now, freezeDays) => {
          const allow = raw
            .filter((r) => r.from !== r.to)
            .map((r) => ({ days: r.days, from: hhmm(r.from), to: hhmm(r.to) }));
          fc.pre(allow.length > 0);
          const start = localText(now - 86_400_000, zone).replace(' ', 'T');
          const end = localText(now + freezeDays * 86_400_000, zone).replace(' ', 'T');
          fc.pre(start < end);
          const w = windows({ timeZone: zone, allow, freeze: [{ from: start, to: end, reason: 'r' }] });
          const state = windowStateAt(w, now);
          if (!state.frozen) return;
          const opens = state.opensAt;
          if (opens === undefined) return;
          expect(opens).toBeGreaterThan(now);
          expect(windowStateAt(w, opens).frozen).toBe(false);
          // Sampled minutes between now and the opening are all frozen.
          for (let i = 1; i <= 8; i++) {
            const t = now + Math.floor(((opens - now) * i) / 9);
            expect(windowStateAt(w, t).frozen).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
