// Recurring sessions: a weekly or biweekly series expanded into concrete occurrences that keep the
// same local wall-clock time in the series' zone across DST changes (10:00 stays 10:00, so the UTC
// instant moves by the DST shift).
import { DateTime } from 'luxon';
import type { ErrorDetail } from './errors.js';
import { INSTANT_RANGE_MESSAGE, isInstantInRange, LATEST_INSTANT } from './instants.js';
import { isValidTimeZone } from './time-zones.js';

export type SeriesFrequency = 'weekly' | 'biweekly';

export interface SeriesSpec {
  /** Local wall time 'YYYY-MM-DDTHH:mm' or 'YYYY-MM-DDTHH:mm:ss' in `timezone`, no offset. */
  firstStart: string;
  /** IANA zone, e.g. "America/New_York". */
  timezone: string;
  durationMinutes: number;
  frequency: SeriesFrequency;
  /** Exactly one of count and until. */
  count?: number;
  /** Last local date 'YYYY-MM-DD' (inclusive, in the series zone) or a local date-time (inclusive). */
  until?: string;
}

export interface SeriesOccurrence {
  /** 1-based position in the series. */
  index: number;
  /** ISO UTC (toISOString()). */
  start: string;
  end: string;
}

export type SeriesResult = { ok: true; occurrences: SeriesOccurrence[] } | { ok: false; errors: ErrorDetail[] };

export const MAX_SERIES_OCCURRENCES = 104;
export const MAX_SESSION_MINUTES = 1440;

const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?$/;
const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const WALL_FORMAT = "yyyy-MM-dd'T'HH:mm:ss";

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

/** 'YYYY-MM-DDTHH:mm' -> 'YYYY-MM-DDTHH:mm:00', so that wall times compare as text. */
function withSeconds(localDateTime: string): string {
  return localDateTime.length === 16 ? `${localDateTime}:00` : localDateTime;
}

/** A syntactically and calendrically valid local date-time (no 24:00, no 2026-02-30)? */
function isRealWallTime(localDateTime: string): boolean {
  const utc = DateTime.fromISO(localDateTime, { zone: 'UTC' });
  return utc.isValid && utc.toFormat(WALL_FORMAT) === withSeconds(localDateTime);
}

function isRealDate(localDate: string): boolean {
  const utc = DateTime.fromISO(localDate, { zone: 'UTC' });
  return utc.isValid && utc.toISODate() === localDate;
}

/** Message for a date-time that must be local, or null when it is a valid local date-time. */
function localDateTimeProblem(value: string, field: string): string | null {
  if (WITH_OFFSET.test(value)) {
    return `${field} must be a local date-time without an offset or "Z": the series time zone gives the offset.`;
  }
  if (!LOCAL_DATE_TIME.test(value) || !isRealWallTime(value)) {
    return `${field} must be a local date-time "YYYY-MM-DDTHH:mm" or "YYYY-MM-DDTHH:mm:ss".`;
  }
  return null;
}

/**
 * Expands a series into its occurrences, or lists every invalid field.
 * - Every occurrence starts at firstStart's wall time in the zone: week i is
 *   firstStart.plus({ weeks: i * step }) computed from firstStart (not from the previous
 *   occurrence), and lasts durationMinutes of real time (so it may end at another wall time when
 *   a DST change falls inside it).
 * - firstStart inside a DST gap (a wall time that does not exist that day) is an error. A later
 *   week whose wall time falls in a gap is shifted forward by the gap, as luxon does
 *   (02:30 -> 03:30 on a spring-forward day); the following weeks return to 02:30.
 * - A wall time that exists twice (fall-back hour) resolves as luxon does: firstStart takes the
 *   later (standard-time) instant; a later week keeps firstStart's offset when it is valid there.
 */
export function expandSeries(spec: SeriesSpec): SeriesResult {
  const errors: ErrorDetail[] = [];
  const { firstStart, timezone, durationMinutes, frequency } = spec;
  const count: unknown = spec.count;
  const until: unknown = spec.until;

  const zoneOk = isValidTimeZone(timezone);
  if (!zoneOk) errors.push({ path: 'timezone', message: 'timezone must be a valid IANA time zone, e.g. "America/New_York".' });

  let first: DateTime | null = null;
  const firstProblem = typeof firstStart === 'string' ? localDateTimeProblem(firstStart, 'firstStart') : 'firstStart must be a string.';
  if (firstProblem !== null) {
    errors.push({ path: 'firstStart', message: firstProblem });
  } else if (zoneOk) {
    const zoned = DateTime.fromISO(firstStart, { zone: timezone });
    if (zoned.toFormat(WALL_FORMAT) === withSeconds(firstStart)) {
      first = zoned;
    } else {
      errors.push({
        path: 'firstStart',
        message: `firstStart ${firstStart} does not exist in ${timezone}: the clocks skip that time (DST change). Choose another time.`,
      });
    }
  }

  if (typeof durationMinutes !== 'number' || !Number.isInteger(durationMinutes) || durationMinutes < 1 || durationMinutes > MAX_SESSION_MINUTES) {
    errors.push({ path: 'durationMinutes', message: `durationMinutes must be a whole number from 1 to ${MAX_SESSION_MINUTES}.` });
  }
  if (frequency !== 'weekly' && frequency !== 'biweekly') {
    errors.push({ path: 'frequency', message: 'frequency must be "weekly" or "biweekly".' });
  }

  if (isAbsent(count) && isAbsent(until)) {
    errors.push({ path: 'count', message: 'Give either count or until.' });
  } else if (!isAbsent(count) && !isAbsent(until)) {
    errors.push({ path: 'until', message: 'Give either count or until, not both.' });
  } else if (!isAbsent(count)) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_SERIES_OCCURRENCES) {
      errors.push({ path: 'count', message: `count must be a whole number from 1 to ${MAX_SERIES_OCCURRENCES}.` });
    }
  }

  // Inclusive upper bound on each occurrence's start; null when until is absent or invalid.
  let withinUntil: ((start: DateTime) => boolean) | null = null;
  if (isAbsent(count) && !isAbsent(until)) {
    const text = typeof until === 'string' ? until : '';
    if (LOCAL_DATE.test(text) && isRealDate(text)) {
      if (first !== null && text < first.toFormat('yyyy-MM-dd')) {
        errors.push({ path: 'until', message: 'until must not be before firstStart.' });
      } else {
        withinUntil = (start) => start.toFormat('yyyy-MM-dd') <= text;
      }
    } else {
      const problem = localDateTimeProblem(text, 'until');
      if (problem !== null) {
        errors.push({ path: 'until', message: problem.replace('a local date-time', 'a local date "YYYY-MM-DD" or a local date-time') });
      } else if (zoneOk) {
        const last = DateTime.fromISO(text, { zone: timezone });
        if (first !== null && last.toMillis() < first.toMillis()) {
          errors.push({ path: 'until', message: 'until must not be before firstStart.' });
        } else {
          withinUntil = (start) => start.toMillis() <= last.toMillis();
        }
      }
    }
  }

  if (errors.length > 0 || first === null) return { ok: false, errors };

  const stepWeeks = frequency === 'weekly' ? 1 : 2;
  const limit = typeof count === 'number' ? count : MAX_SERIES_OCCURRENCES;
  const occurrences: SeriesOccurrence[] = [];
  for (let i = 0; ; i += 1) {
    const start = first.plus({ weeks: i * stepWeeks });
    if (withinUntil !== null && !withinUntil(start)) break;
    if (i === limit) {
      if (withinUntil === null) break;
      return {
        ok: false,
        errors: [{ path: 'until', message: `until gives more than ${MAX_SERIES_OCCURRENCES} occurrences; a series has at most ${MAX_SERIES_OCCURRENCES}.` }],
      };
    }
    occurrences.push({
      index: i + 1,
      start: start.toJSDate().toISOString(),
      end: start.plus({ minutes: durationMinutes }).toJSDate().toISOString(),
    });
  }
  // The whole expansion must be storable, not just firstStart.
  const firstMs = first.toMillis();
  const lastEndMs = first.plus({ weeks: (occurrences.length - 1) * stepWeeks, minutes: durationMinutes }).toMillis();
  if (!isInstantInRange(firstMs)) {
    return { ok: false, errors: [{ path: 'firstStart', message: `firstStart ${INSTANT_RANGE_MESSAGE}` }] };
  }
  if (!isInstantInRange(lastEndMs)) {
    const path = typeof count === 'number' ? 'count' : 'until';
    return { ok: false, errors: [{ path, message: `every occurrence ${INSTANT_RANGE_MESSAGE}; the last would end after ${LATEST_INSTANT}` }] };
  }
  return { ok: true, occurrences };
}
