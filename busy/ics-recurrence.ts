import { DateTime } from 'luxon';
import nodeIcal, { type RRule } from 'node-ical';
import type { IcsZone } from './ics-time-zones.js';
import type { TimeSlicer } from './time-slicer.js';

// Bounded RRULE expansion on node-ical's rule objects (rrule-temporal underneath).
//
// What rrule-temporal 2.2 does, measured: without COUNT, between() jumps to a phase-aligned start
// near the window, so a daily rule from 1900 costs the same as one from last week; with COUNT it
// walks from DTSTART (90 ms for COUNT=100000 daily from 2000, 340 ms for after()), and any query
// that passes 10,000 periods throws (a month of a MINUTELY rule). So COUNT is never handed over:
// the rule without it is queried in chunks sized to hold about CHUNK_TARGET occurrences, and
// COUNT is applied by counting from DTSTART, which is exact because COUNT only cuts the sequence
// short (EXDATE does not consume it). Each chunk is one short synchronous step; budgets bound the
// total work a hostile rule can ask for.

const DAY_MS = 86_400_000;
const CHUNK_TARGET = 256;
/** Occurrences counted (before or in the window) per series, and chunk queries per series. */
const MAX_SCANNED_PER_SERIES = 50_000;
const MAX_CHUNKS_PER_SERIES = 2_000;
/** The same budgets over a whole feed. */
const MAX_SCANNED_PER_FEED = 500_000;
const MAX_CHUNKS_PER_FEED = 50_000;

const FREQUENCIES = new Set(['SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']);

/** An RRULE value checked and reduced to what node-ical is given. */
export interface ParsedRule {
  /** FREQ first (node-ical drops parts before FREQ), COUNT removed. */
  text: string;
  count: number | null;
  /** A position after the last one UNTIL allows, whatever zone UNTIL is read in; null without UNTIL. */
  untilBound: number | null;
  /** An upper bound on occurrences per day. */
  perDay: number;
}

/**
 * Where a rule is anchored. Positions are epoch milliseconds for a timed start, and for a date
 * start the UTC midnight of the civil date (the form node-ical's date rules work in).
 */
export type RuleStart = { kind: 'timed'; startMs: number; zone: IcsZone } | { kind: 'date'; day: number };

/** Work shared by all the series of one feed. */
export interface FeedBudget {
  scanned: number;
  chunks: number;
}

export type ExpansionEnd = 'complete' | 'stopped' | 'truncated' | 'invalid';

export function parseRule(value: string): ParsedRule | null {
  const parts = new Map<string, string>();
  for (const part of value.trim().split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim().toUpperCase();
    const v = part.slice(eq + 1).trim().toUpperCase();
    // The value goes into a synthesised content line: nothing but rule characters gets there.
    if (eq <= 0 || !/^[A-Z0-9,+-]+$/.test(v) || !/^[A-Z-]+$/.test(key) || parts.has(key)) return null;
    parts.set(key, v);
  }
  const freq = parts.get('FREQ');
  if (freq === undefined || !FREQUENCIES.has(freq)) return null;
  const interval = parts.has('INTERVAL') ? positiveInt(parts.get('INTERVAL')) : 1;
  const count = parts.has('COUNT') ? positiveInt(parts.get('COUNT')) : null;
  if (interval === null || (parts.has('COUNT') && count === null)) return null;
  const untilText = parts.get('UNTIL');
  const untilBound = untilText === undefined ? null : untilUpperBound(untilText);
  if (untilText !== undefined && untilBound === null) return null;

  const size = (key: string): number => parts.get(key)?.split(',').length ?? 1;
  const perDayByFreq: Record<string, number> = {
    SECONDLY: 86_400 / interval,
    MINUTELY: (1_440 / interval) * size('BYSECOND'),
    HOURLY: (24 / interval) * size('BYMINUTE') * size('BYSECOND'),
  };
  // Date-level parts (BYDAY, BYMONTHDAY, ...) give at most one date per day; time parts multiply.
  const perDay = Math.min(86_400, Math.max(1, perDayByFreq[freq] ?? size('BYHOUR') * size('BYMINUTE') * size('BYSECOND')));

  const rest = [...parts].filter(([k]) => k !== 'FREQ' && k !== 'COUNT').map(([k, v]) => `${k}=${v}`);
  return { text: [`FREQ=${freq}`, ...rest].join(';'), count, untilBound, perDay };
}

/**
 * Calls `onOccurrence` with each occurrence position p (see RuleStart) with emitFrom <= p < scanTo,
 * in order, until it returns false ('stopped'). 'truncated' when a budget ran out or the rule
 * engine gave up; 'invalid' when node-ical cannot build the rule.
 */
export async function expandRule(
  rule: ParsedRule,
  start: RuleStart,
  range: { emitFrom: number; scanTo: number },
  budget: FeedBudget,
  slicer: TimeSlicer,
  onOccurrence: (position: number) => boolean,
): Promise<ExpansionEnd> {
  const engine = buildRule(rule, start);
  if (engine === null) return 'invalid';
  const anchor = start.kind === 'timed' ? start.startMs : start.day;
  const chunkMs = Math.max(1_000, Math.floor((CHUNK_TARGET * DAY_MS) / rule.perDay));
  const end = Math.min(range.scanTo, rule.untilBound ?? Number.POSITIVE_INFINITY);
  // With COUNT the occurrences before the window must be counted, so the walk starts at DTSTART.
  let cursor = rule.count === null ? Math.max(anchor, range.emitFrom) : anchor;
  let scanned = 0;
  let chunks = 0;
  while (cursor < end) {
    if (chunks >= MAX_CHUNKS_PER_SERIES || budget.chunks >= MAX_CHUNKS_PER_FEED) return 'truncated';
    const next = Math.min(cursor + chunkMs, end);
    let dates: Date[];
    try {
      dates = engine.between(new Date(cursor), new Date(next), true);
    } catch {
      return 'truncated';
    }
    chunks += 1;
    budget.chunks += 1;
    for (const date of dates) {
      // Date rules come back as local midnights of the civil date (RRuleCompatWrapper).
      const position = start.kind === 'date' ? Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) : date.getTime();
      if (position < cursor || position >= next) continue;
      scanned += 1;
      budget.scanned += 1;
      if (rule.count !== null && scanned > rule.count) return 'complete';
      if (position >= range.emitFrom && !onOccurrence(position)) return 'stopped';
    }
    if (rule.count !== null && scanned >= rule.count) return 'complete';
    if (scanned >= MAX_SCANNED_PER_SERIES || budget.scanned >= MAX_SCANNED_PER_FEED) return 'truncated';
    cursor = next;
    if (slicer.due()) await slicer.yield();
  }
  return 'complete';
}

/** node-ical's rule for `start`, built from synthesised lines only: no feed text reaches it. */
function buildRule(rule: ParsedRule, start: RuleStart): RRule | null {
  let dtstart: string;
  if (start.kind === 'date') {
    dtstart = `DTSTART;VALUE=DATE:${DateTime.fromMillis(start.day, { zone: 'utc' }).toFormat('yyyyLLdd')}`;
  } else {
    const local = DateTime.fromMillis(start.startMs, { zone: start.zone.tzid === null ? 'utc' : start.zone.zone });
    const stamp = local.toFormat("yyyyLLdd'T'HHmmss");
    dtstart = start.zone.tzid === null ? `DTSTART:${stamp}Z` : `DTSTART;TZID=${start.zone.tzid}:${stamp}`;
  }
  try {
    const parsed = nodeIcal.sync.parseICS(
      `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:rule\r\n${dtstart}\r\nRRULE:${rule.text}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
    );
    const event = parsed['rule'];
    const rrule = event !== undefined && 'type' in event && event.type === 'VEVENT' ? event.rrule : undefined;
    return rrule ?? null;
  } catch {
    return null;
  }
}

function positiveInt(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 ? n : null;
}

/**
 * A position past UNTIL, only to stop walking (the engine applies UNTIL exactly): a local UNTIL
 * may lie 14 h after the same digits in UTC, and node-ical moves a date rule's UTC UNTIL by a day.
 */
function untilUpperBound(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(text);
  if (m === null) return null;
  const base = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  return Number.isNaN(base) ? null : base + 2 * DAY_MS;
}
