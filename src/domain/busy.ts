// Busy time read from a provider's external calendars. Only instants live here, never what the
// time was for: a busy interval says "taken", nothing about the event that took it.
import { DateTime } from 'luxon';
import { compareText } from './text.js';

/** A busy stretch: the half-open interval [start, end) of ISO UTC instants ("...:ss.sssZ"). */
export interface BusyInterval {
  start: string;
  end: string;
}

/** A busy interval that came from one external calendar. */
export interface SourcedInterval extends BusyInterval {
  sourceId: string;
}

/** A merged busy interval with every calendar that contributed to it. */
export interface SourcedBusyInterval extends BusyInterval {
  /** Sorted (code-unit order), without duplicates. */
  sourceIds: string[];
}

/** A millisecond span [start, end); the form the merging works in. */
export type Span = readonly [start: number, end: number];

// An explicit offset or Z: text without one would be read in the host's zone.
const ZONED_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

function instantMs(value: string, which: 'start' | 'end'): number {
  const ms = typeof value === 'string' && ZONED_ISO.test(value) ? Date.parse(value) : Number.NaN;
  // A silently dropped interval would offer a taken slot: bad data fails loudly.
  if (Number.isNaN(ms)) throw new RangeError(`Busy interval has an invalid ${which} instant.`);
  return ms;
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The union of `spans` as sorted, disjoint spans. Empty or inverted spans vanish; overlapping and
 * touching spans (one ends where the next starts) join. Cost: one sort, which is linear when the
 * input is a few sorted runs (V8 sorts with TimSort), then one sweep.
 */
export function unionOfSpans(spans: readonly Span[]): Array<[number, number]> {
  const live = spans.filter(([start, end]) => end > start).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Array<[number, number]> = [];
  for (const [start, end] of live) {
    const last = out[out.length - 1];
    if (last !== undefined && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}

/**
 * Sorted, disjoint intervals covering exactly the union of `intervals`; overlapping and touching
 * intervals join, empty ones (end <= start) vanish. Output instants are normalised to
 * `YYYY-MM-DDTHH:mm:ss.sssZ`. Throws RangeError on an instant without a zone or offset.
 */
export function mergeIntervals(intervals: readonly BusyInterval[]): BusyInterval[] {
  const spans = intervals.map((i): Span => [instantMs(i.start, 'start'), instantMs(i.end, 'end')]);
  return unionOfSpans(spans).map(([start, end]) => ({ start: toIso(start), end: toIso(end) }));
}

/**
 * The merged union of intervals from several calendars, each merged interval listing every source
 * whose intervals were merged into it. Same joining rules as mergeIntervals.
 */
export function mergeBySource(list: readonly SourcedInterval[]): SourcedBusyInterval[] {
  const entries = list
    .map((i) => ({ start: instantMs(i.start, 'start'), end: instantMs(i.end, 'end'), sourceId: i.sourceId }))
    .filter((e) => e.end > e.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Array<{ start: number; end: number; sources: Set<string> }> = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last !== undefined && e.start <= last.end) {
      last.end = Math.max(last.end, e.end);
      last.sources.add(e.sourceId);
    } else {
      out.push({ start: e.start, end: e.end, sources: new Set([e.sourceId]) });
    }
  }
  return out.map((m) => ({ start: toIso(m.start), end: toIso(m.end), sourceIds: [...m.sources].sort(compareText) }));
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * An all-day event's days [startDate, endDate) (ISO dates; the end exclusive, as Google's `date`,
 * Graph's all-day midnights and ICS DATE values have it) as busy time in the provider's zone:
 * local midnight to local midnight, so a day across a DST change lasts 23 or 25 hours (a midnight
 * skipped by DST is the first instant of that day, as luxon shifts it). null for an invalid date
 * or zone, or no day at all.
 */
export function allDayInterval(startDate: string, endDate: string, zone: string): BusyInterval | null {
  if (!ISO_DATE.test(startDate) || !ISO_DATE.test(endDate)) return null;
  const start = DateTime.fromISO(startDate, { zone });
  const end = DateTime.fromISO(endDate, { zone });
  if (!start.isValid || !end.isValid || end.toMillis() <= start.toMillis()) return null;
  return { start: toIso(start.toMillis()), end: toIso(end.toMillis()) };
}

/** mergeIntervals of `intervals`, clipped to the window [from, to); what falls outside it vanishes. */
export function mergeWithin(intervals: readonly BusyInterval[], window: { from: string; to: string }): BusyInterval[] {
  const from = instantMs(window.from, 'start');
  const to = instantMs(window.to, 'end');
  const spans = intervals.map((i): Span => [Math.max(instantMs(i.start, 'start'), from), Math.min(instantMs(i.end, 'end'), to)]);
  return unionOfSpans(spans).map(([start, end]) => ({ start: toIso(start), end: toIso(end) }));
}

/** The longest ICS source address accepted (the API, the portal form and the address check). */
export const MAX_SOURCE_URL_LENGTH = 2048;
