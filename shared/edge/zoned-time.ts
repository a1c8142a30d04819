/**
 * Wall-clock time in a named IANA time zone, with Intl alone (no date library): the local date, weekday and
 * minute of an instant, and the instant of a local date and time — including the nights when the clocks
 * change. A local time that does not exist (skipped when the clocks go forward) is the moment the clocks
 * jump; one that happens twice (when they go back) is its first occurrence.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  /** "2026-03-29" */
  date: string;
  weekday: Weekday;
  /** Minutes since local midnight, 0–1439. */
  minute: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();

const formatIn = (zone: string): Intl.DateTimeFormat => {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(zone, format);
  }
  return format;
};

/** Whether Intl knows the zone by this name (a DateTimeFormat probe; UTC and links such as "US/Eastern" too). */
export const isKnownTimeZone = (zone: string): boolean => {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(zone)) return false;
  try {
    formatIn(zone);
    return true;
  } catch {
    return false;
  }
};

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const fieldsAt = (ms: number, zone: string): Fields => {
  const parts: Record<string, number> = {};
  for (const part of formatIn(zone).formatToParts(ms))
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
};

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The local date, weekday and minute of an instant in the zone. */
export const localTimeOf = (ms: number, zone: string): LocalTime => {
  const f = fieldsAt(ms, zone);
  const weekday = WEEKDAYS[(new Date(Date.UTC(f.year, f.month - 1, f.day)).getUTCDay() + 6) % 7] ?? 'mon';
  return { date: `${f.year}-${pad(f.month)}-${pad(f.day)}`, weekday, minute: f.hour * 60 + f.minute };
};

/** "2026-12-24 09:00", the instant's wall-clock time in the zone. */
export const localText = (ms: number, zone: string): string => {
  const f = fieldsAt(ms, zone);
  return `${f.year}-${pad(f.month)}-${pad(f.day)} ${pad(f.hour)}:${pad(f.minute)}`;
};

/** The zone's offset from UTC at an instant, in milliseconds (whole seconds). */
const offsetAt = (ms: number, zone: string): number => {
  const f = fieldsAt(ms, zone);
  const wall = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  return wall - Math.floor(ms / 1000) * 1000;
};

const DAY_MS = 86_400_000;

/**
 * The instant of a local date ("2026-03-29") and minute of the day (0–1440) in the zone: its first
 * occurrence when the clocks go back, and the moment of the jump when they go forward over it.
 */
export const instantOf = (date: string, minuteOfDay: number, zone: string): number => {
  const [year = 0, month = 1, day = 1] = date.split('-').map(Number);
  const wall = Date.UTC(year, month - 1, day) + minuteOfDay * 60_000;
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const matches = [wall - before, wall - after].filter((t) => t + offsetAt(t, zone) === wall);
  if (matches.length > 0) return Math.min(...matches);
  // Skipped by the clocks: the first instant whose offset is the new one (the jump), found to the second.
  let low = Math.min(wall - before, wall - after);
  let high = Math.max(wall - before, wall - after);
  while (high - low > 1000) {
    const mid = low + Math.floor((high - low) / 2000) * 1000;
    if (offsetAt(mid, zone) === after) high = mid;
    else low = mid;
  }
  return high;
};

/** The local date `days` after `date` (calendar arithmetic, no zone involved). */
export const addDays = (date: string, days: number): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
