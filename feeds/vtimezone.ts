// VTIMEZONE blocks (RFC 5545 3.6.5) built from the same tz database that computes the events'
// local times (the ICU data of this Node.js, through luxon), so that a TZID'd wall time and its
// VTIMEZONE can never disagree. Static VTIMEZONE collections state each zone's current rules
// back to 1970: they misplace every instant before a zone's last rule change (Edmonton in
// early 2026, Casablanca, Inuvik), or after a change their data does not know yet.
import { DateTime, IANAZone } from 'luxon';

const DAY_MS = 86_400_000;

interface Observance {
  daylight: boolean;
  /** Local wall time at which it takes effect, in the offset before it (RFC 5545 3.6.5). */
  start: string;
  offsetFrom: number;
  offsetTo: number;
  name: string;
}

const cache = new Map<string, string>();
const MAX_CACHED = 2000;

/**
 * The VTIMEZONE of `tzid` covering whole UTC years from the year of `fromMs` to the year of
 * `toMs`: the observance in force at the start, then one per offset change. Year-aligned, so the
 * block stays byte-identical while a feed's window slides from day to day.
 */
export function buildVtimezone(tzid: string, fromMs: number, toMs: number): string {
  const fromYear = new Date(fromMs).getUTCFullYear();
  const toYear = new Date(toMs).getUTCFullYear();
  const key = `${tzid}|${fromYear}|${toYear}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;

  const zone = IANAZone.create(tzid);
  if (!zone.isValid) throw new RangeError(`Unknown time zone: ${tzid}`);
  const windowStart = Date.UTC(fromYear, 0, 1);
  const windowEnd = Date.UTC(toYear + 1, 0, 1);
  const observances: Observance[] = [observanceAt(zone, windowStart, zone.offset(windowStart))];
  // Offsets change at most once a day in every zone since 1970, so a daily scan finds every
  // change, and a binary search then finds its second.
  let before = zone.offset(windowStart);
  for (let day = windowStart + DAY_MS; day <= windowEnd; day += DAY_MS) {
    const after = zone.offset(day);
    if (after === before) continue;
    const at = firstSecondWithOffset(zone, day - DAY_MS, day, after);
    observances.push(observanceAt(zone, at, before));
    before = after;
  }

  const lines = ['BEGIN:VTIMEZONE', `TZID:${tzid}`];
  for (const o of observances) {
    const kind = o.daylight ? 'DAYLIGHT' : 'STANDARD';
    lines.push(
      `BEGIN:${kind}`,
      `TZNAME:${o.name}`,
      `TZOFFSETFROM:${formatOffset(o.offsetFrom)}`,
      `TZOFFSETTO:${formatOffset(o.offsetTo)}`,
      `DTSTART:${o.start}`,
      `END:${kind}`,
    );
  }
  lines.push('END:VTIMEZONE');
  const block = lines.join('\r\n');
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, block);
  return block;
}

/** The first whole second in (lowMs, highMs] whose offset is `offset`. */
function firstSecondWithOffset(zone: IANAZone, lowMs: number, highMs: number, offset: number): number {
  let low = lowMs;
  let high = highMs;
  while (high - low > 1000) {
    const mid = low + Math.floor((high - low) / 2000) * 1000;
    if (zone.offset(mid) === offset) high = mid;
    else low = mid;
  }
  return high;
}

function observanceAt(zone: IANAZone, atMs: number, offsetFrom: number): Observance {
  const local = DateTime.fromMillis(atMs, { zone, locale: 'en-US' });
  const wall = DateTime.fromMillis(atMs + offsetFrom * 60_000, { zone: 'utc' });
  return {
    daylight: local.isInDST,
    start: wall.toFormat("yyyyMMdd'T'HHmmss"),
    offsetFrom,
    offsetTo: local.offset,
    // TEXT: a name such as "GMT+5:30" holds no character that needs escaping.
    name: local.offsetNameShort ?? formatOffset(local.offset),
  };
}

/** UTC-OFFSET (RFC 5545 3.3.14): +HHMM or -HHMM. */
function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
}
