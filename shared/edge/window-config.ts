/**
 * Deploy windows: when a stage may be deployed (`settings.deployWindows` for every stage, a stage's own
 * `deployWindows` replacing it whole). In one named IANA time zone: recurring `allow` ranges (days of the week
 * and local from/to times; `to` before `from` runs past midnight into the next day; no `allow` means every
 * hour) and dated `freeze` ranges (local date-times, with the reason the ops team reads). Outside every
 * allowed range, or inside a freeze, the stage is frozen (shared/stage/windows.ts decides it for an instant).
 */
import * as z from 'zod/mini';
import { isKnownTimeZone, WEEKDAYS } from './zoned-time';
import './schema';

const TIME = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const DATE_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d$/;
/** Printable text, one line: no control, format (bidi) or line-separator characters. */
export const REASON = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,200}$/u;

const time = (what: string) => z.string({ error: `must be a string: ${what}` }).check(z.regex(TIME, what));

/** A local date-time that exists on the calendar ("2026-02-30T10:00" does not). */
const dateTime = z.string({ error: 'must be a string: a local date and time YYYY-MM-DDTHH:MM' }).check(
  z.regex(DATE_TIME, 'a local date and time YYYY-MM-DDTHH:MM'),
  z.refine(
    (value) => new Date(`${value.slice(0, 10)}T00:00:00Z`).toISOString().startsWith(value.slice(0, 10)),
    'no such date',
  ),
);

const allowRange = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS, { error: 'a day of the week: mon, tue, wed, thu, fri, sat or sun' }))
      .check(z.minLength(1, 'name at least one day'), z.maxLength(7, 'at most 7 days')),
    from: time('a local time HH:MM (00:00–23:59)').check(z.refine((t) => t !== '24:00', 'at most 23:59')),
    to: time('a local time HH:MM (00:00–24:00)'),
  })
  .check(
    z.refine((r) => r.from !== r.to, {
      message: 'from and to must differ (to before from runs past midnight; leave allow out for all day)',
      path: ['to'],
    }),
  );

const freezeRange = z
  .strictObject({
    from: dateTime,
    to: dateTime,
    reason: z
      .string({ error: 'must be a string: why the stage is frozen' })
      .check(z.regex(REASON, '1 to 200 printable characters on one line')),
  })
  // Same format, zero-padded: the text order is the time order.
  .check(z.refine((r) => r.from < r.to, { message: 'must be after from', path: ['to'] }));

export const deployWindowsSchema = z.strictObject({
  timeZone: z
    .string({ error: 'must be a string: an IANA time zone such as Europe/Berlin' })
    .check(z.refine(isKnownTimeZone, 'an IANA time zone known to Intl, such as Europe/Berlin or UTC')),
  allow: z._default(z.array(allowRange).check(z.maxLength(50, 'at most 50 ranges')), []),
  freeze: z._default(z.array(freezeRange).check(z.maxLength(100, 'at most 100 freezes')), []),
});

export type DeployWindows = z.output<typeof deployWindowsSchema>;
export type AllowRange = DeployWindows['allow'][number];
export type FreezeRange = DeployWindows['freeze'][number];
