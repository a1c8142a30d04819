/**
 * Deploy windows, decided for an instant (pure: no AWS, no clock of its own): is the stage frozen, why (outside
 * the allowed windows, or a freeze and its reason), and when it next opens — the first instant after now
 * inside an allowed range and outside every freeze, searched up to 400 days ahead.
 */
import type { DeployerConfig, Stage } from '../edge/stages';
import type { AllowRange, DeployWindows, FreezeRange } from '../edge/window-config';
import { addDays, instantOf, localTimeOf, WEEKDAYS } from '../edge/zoned-time';

/** How far ahead the next opening is searched. */
export const SEARCH_DAYS = 400;

export type WindowState =
  | { frozen: false }
  | {
      frozen: true;
      /** Outside every allowed range, or inside a dated freeze (its reason). */
      cause: { kind: 'outside-windows' } | { kind: 'freeze'; reason: string; until: number };
      /** The first instant after now when the stage may be deployed; undefined: not within SEARCH_DAYS. */
      opensAt?: number;
      timeZone: string;
    };

/** The windows that apply to a stage: its own, else the configuration's default, else none (never frozen). */
export const windowsOf = (config: DeployerConfig, stage: Stage): DeployWindows | undefined =>
  stage.deployWindows ?? config.settings.deployWindows;

/** Whether the stage is frozen at `now`, why, and when it opens. */
export const windowStateAt = (windows: DeployWindows | undefined, now: number): WindowState => {
  if (!windows) return { frozen: false };
  const cause = causeAt(windows, now);
  if (!cause) return { frozen: false };
  const opensAt = nextOpening(windows, now);
  return { frozen: true, cause, ...(opensAt === undefined ? {} : { opensAt }), timeZone: windows.timeZone };
};

const minuteOf = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

const freezeSpan = (freeze: FreezeRange, zone: string): [number, number] => [
  instantOf(freeze.from.slice(0, 10), minuteOf(freeze.from.slice(11)), zone),
  instantOf(freeze.to.slice(0, 10), minuteOf(freeze.to.slice(11)), zone),
];

const previousDay = (day: (typeof WEEKDAYS)[number]) => WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] ?? day;

/** Whether a recurring range holds the local time (by the wall clock: "09:00" is nine on the clock, any offset). */
const inRange = (range: AllowRange, at: ReturnType<typeof localTimeOf>): boolean => {
  const from = minuteOf(range.from);
  const to = minuteOf(range.to);
  if (from < to) return range.days.includes(at.weekday) && at.minute >= from && at.minute < to;
  // Past midnight: from the evening of a named day to the morning after it.
  return (
    (range.days.includes(at.weekday) && at.minute >= from) ||
    (range.days.includes(previousDay(at.weekday)) && at.minute < to)
  );
};

/** Why the stage is frozen at `now`, or undefined when it may be deployed. A freeze says more than a closed window. */
const causeAt = (windows: DeployWindows, now: number) => {
  for (const freeze of windows.freeze) {
    const [from, to] = freezeSpan(freeze, windows.timeZone);
    if (now >= from && now < to) return { kind: 'freeze' as const, reason: freeze.reason, until: to };
  }
  if (windows.allow.length === 0) return undefined;
  const local = localTimeOf(now, windows.timeZone);
  return windows.allow.some((range) => inRange(range, local))
    ? undefined
    : { kind: 'outside-windows' as const };
};

/**
 * The first open instant after `now`. The open time is a union of intervals, so it begins either at an
 * allowed range's start or at a freeze's end: those are the only candidates, tried day by day in time order.
 */
const nextOpening = (windows: DeployWindows, now: number): number | undefined => {
  const zone = windows.timeZone;
  const horizon = now + SEARCH_DAYS * 86_400_000;
  const freezeEnds = windows.freeze.map((freeze) => freezeSpan(freeze, zone)[1]);
  const today = localTimeOf(now, zone).date;
  let dayStart = instantOf(addDays(today, -1), 0, zone);
  for (let day = -1; day <= SEARCH_DAYS && dayStart <= horizon; day++) {
    const date = addDays(today, day);
    const nextStart = instantOf(addDays(date, 1), 0, zone);
    const weekday = weekdayOf(date);
    const candidates = [
      ...windows.allow
        .filter((r) => r.days.includes(weekday))
        .map((r) => instantOf(date, minuteOf(r.from), zone)),
      ...freezeEnds.filter((end) => end >= dayStart && end < nextStart),
    ]
      .filter((t) => t > now && t <= horizon)
      .sort((a, b) => a - b);
    const open = candidates.find((t) => causeAt(windows, t) === undefined);
    if (open !== undefined) return open;
    dayStart = nextStart;
  }
  return undefined;
};

/** The weekday of a calendar date (no zone involved). */
const weekdayOf = (date: string) => WEEKDAYS[(new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7] ?? 'mon';
