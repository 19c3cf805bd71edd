import { DateTime, IANAZone } from 'luxon';
import { unionOfSpans, type BusyInterval } from '../src/domain/index.js';
import { forEachContentLine, parseContentLine, propertyName, type ContentLine } from './ics-content-lines.js';
import { expandRule, parseRule, type FeedBudget, type RuleStart } from './ics-recurrence.js';
import { ianaZone, TimeZoneResolver, UTC_ZONE, type IcsZone, type Observance, type VTimezoneRules } from './ics-time-zones.js';
import { TimeSlicer } from './time-slicer.js';

// Busy time from an external calendar's ICS text (Google "secret address", Outlook/Exchange
// published calendars, iCloud, Fastmail/CalDAV exports).
//
// Privacy: only instants leave. Titles, places, descriptions and attendees are never kept; UIDs
// and attendee addresses live in memory only to group a series and to spot the owner's own
// answer. Nothing is logged and error messages never quote the feed. node-ical is only handed
// lines built here (a DTSTART in a settled zone and an RRULE, or a TZID name to look up), never
// the feed's events, so none of its console warnings can carry a title or a UID.
//
// What blocks: every VEVENT except those that are cancelled (STATUS:CANCELLED), free
// (X-MICROSOFT-CDO-BUSYSTATUS:FREE; without that property, TRANSP:TRANSPARENT), declined by the
// owner, or ours (UID ending in ownUidSuffix). Tentative and out-of-office time blocks. Each
// override (RECURRENCE-ID) is judged on its own: it replaces its occurrence, so a moved occurrence
// counts at its new time only and a cancelled or free one removes it. A cancelled master cancels
// the whole series.
//
// Declined: an event is declined when it lists the owner as an ATTENDEE (by the mailto address or
// the EMAIL parameter) and every such line says PARTSTAT=DECLINED. The owner's addresses are
// `ownerAddresses` plus X-WR-CALNAME when it is an address (Google names a primary calendar after
// its owner, and exports the owner's own ATTENDEE line with their answer). When no attendee is
// known to be the owner, the event blocks: offering a slot that is taken is worse than hiding one
// that is free.
//
// Time: TZIDs are settled by TimeZoneResolver; a floating time is in `providerZone`; a DATE is the
// provider's local day from midnight to midnight, so a multi-day event spans DST changes
// correctly. A series keeps its wall time across DST in its own zone.
//
// Work: the text is read line by line and everything runs in slices of about SLICE_BUDGET_MS,
// yielding to the event loop in between; components past `maxEvents`, instances past
// `maxInstancesPerSeries` and the budgets in ics-recurrence.ts end the work with truncated=true.

export interface BusyFromIcsOptions {
  /** The window: only busy time overlapping [from, to) is returned, clipped to it. */
  from: Date;
  to: Date;
  /** IANA zone of the calendar's owner: floating times and all-day events are read in it. */
  providerZone: string;
  /** Events whose UID ends with this (e.g. "@sessionsync.example") are ours and never count. */
  ownUidSuffix: string;
  /**
   * Further UIDs of ours: the events we pushed to a Google calendar are exported under the ids we
   * gave them (`<id>@google.com`), not under our UID domain.
   */
  ownUids?: ReadonlySet<string>;
  /** The owner's e-mail addresses, to recognise invitations they declined. */
  ownerAddresses?: readonly string[];
  /** Instances of one series in the window; default 1000. */
  maxInstancesPerSeries?: number;
  /** Components read (children of VCALENDAR, of any type); default 20000. */
  maxEvents?: number;
  /** Told the length in ms of each synchronous stretch of work (tests, profiling). */
  onSlice?: (ms: number) => void;
}

export interface BusyFromIcsResult {
  /** Sorted, disjoint, clipped to the window. */
  intervals: BusyInterval[];
  /** Some of the feed was not read or not expanded: the intervals may miss busy time. */
  truncated: boolean;
}

export type IcsParseErrorReason = 'NOT_ICALENDAR';

/** The text is not an iCalendar stream. The message never quotes the text. */
export class IcsParseError extends Error {
  readonly reason: IcsParseErrorReason;

  constructor(reason: IcsParseErrorReason) {
    super('The calendar text is not in iCalendar format.');
    this.name = 'IcsParseError';
    this.reason = reason;
  }
}

export const DEFAULT_MAX_INSTANCES_PER_SERIES = 1_000;
export const DEFAULT_MAX_EVENTS = 20_000;
const SLICE_BUDGET_MS = 4;
const MAX_DEPTH = 16;
const MAX_ATTENDEES_PER_EVENT = 256;
/** EXDATE and RDATE values kept over the whole feed. */
const MAX_LIST_VALUES = 200_000;
/** Busy spans collected over the whole feed, before merging. */
const MAX_SPANS = 100_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

interface DateValue {
  value: string;
  tzid: string | undefined;
  date: boolean;
}

interface RDateValue extends DateValue {
  /** The end of a PERIOD value: a date-time or a duration. */
  periodEnd?: string;
}

interface Attendee {
  addresses: string[];
  partstat: string;
}

interface RawEvent {
  uid?: string;
  sequence: number;
  start?: DateValue;
  end?: DateValue;
  duration?: string;
  rrule?: string;
  rdates?: RDateValue[];
  exdates?: DateValue[];
  recurrenceId?: DateValue;
  status?: string;
  transp?: string;
  busyStatus?: string;
  attendees?: Attendee[];
}

interface ScannedFeed {
  series: Series[];
  vtimezones: Map<string, VTimezoneRules>;
  tzids: Set<string>;
  calendarName: string | undefined;
  truncated: boolean;
}

type Moment = { kind: 'timed'; ms: number; zone: IcsZone } | { kind: 'date'; day: number };
/** How long an instance lasts: exact milliseconds plus nominal days (DST-aware), or whole local days. */
type Shape = { kind: 'timed'; exactMs: number; nominalDays: number } | { kind: 'date'; days: number };

const EVENT_PROPERTIES = new Set([
  'UID',
  'SEQUENCE',
  'DTSTART',
  'DTEND',
  'DURATION',
  'RRULE',
  'RDATE',
  'EXDATE',
  'RECURRENCE-ID',
  'STATUS',
  'TRANSP',
  'X-MICROSOFT-CDO-BUSYSTATUS',
  'ATTENDEE',
]);
const OBSERVANCE_PROPERTIES = new Set(['DTSTART', 'TZOFFSETFROM', 'TZOFFSETTO', 'RRULE']);

/** Busy intervals of an ICS calendar within [from, to); see the file comment for the rules. */
export async function busyFromIcs(text: string, options: BusyFromIcsOptions): Promise<BusyFromIcsResult> {
  const { from, to, providerZone, ownUidSuffix } = options;
  const ownUids = options.ownUids ?? new Set<string>();
  if (typeof text !== 'string') throw new TypeError('The calendar text must be a string.');
  if (!(from instanceof Date) || !(to instanceof Date) || !(from.getTime() < to.getTime())) {
    throw new RangeError('options.from and options.to must be valid dates with from before to.');
  }
  const provider = IANAZone.isValidZone(providerZone) ? ianaZone(providerZone) : null;
  if (provider === null) throw new RangeError('options.providerZone must be an IANA time zone.');
  if (typeof ownUidSuffix !== 'string' || ownUidSuffix === '') throw new RangeError('options.ownUidSuffix must not be empty.');
  const maxInstances = positiveIntegerOption(options.maxInstancesPerSeries, DEFAULT_MAX_INSTANCES_PER_SERIES, 'maxInstancesPerSeries');
  const maxEvents = positiveIntegerOption(options.maxEvents, DEFAULT_MAX_EVENTS, 'maxEvents');

  const slicer = new TimeSlicer(SLICE_BUDGET_MS, options.onSlice);
  try {
    const feed = await scan(text, maxEvents, slicer);
    const resolver = new TimeZoneResolver(provider, providerZone, feed.vtimezones, from.getUTCFullYear(), slicer);
    await resolver.resolveAll(feed.tzids);
    const owners = ownerAddressSet(options.ownerAddresses, feed.calendarName);
    const collector = new BusyCollector(from.getTime(), to.getTime(), provider, resolver, owners, maxInstances, slicer);
    await collector.collect(feed.series, ownUidSuffix, ownUids);
    const intervals = await collector.intervals();
    return { intervals, truncated: feed.truncated || collector.truncated };
  } finally {
    slicer.finish();
  }
}

function positiveIntegerOption(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`options.${name} must be a positive integer.`);
  return value;
}

/** Reads the text into compact event records, keeping only what busy time needs. */
async function scan(text: string, maxEvents: number, slicer: TimeSlicer): Promise<ScannedFeed> {
  const feed: ScannedFeed = { series: [], vtimezones: new Map(), tzids: new Set(), calendarName: undefined, truncated: false };
  const byUid = new Map<string, Series>();
  const stack: string[] = [];
  let seenCalendar = false;
  let notCalendar = false;
  let components = 0;
  let listValues = 0;
  let event: RawEvent | undefined;
  let zone: { tzid?: string; rules: VTimezoneRules } | undefined;
  let observance: Observance | undefined;

  const dateList = (params: ReadonlyMap<string, string>, value: string, into: RDateValue[]): void => {
    for (const item of value.split(',')) {
      if (listValues >= MAX_LIST_VALUES) {
        feed.truncated = true;
        return;
      }
      listValues += 1;
      const entry = dateValue(params, item, feed.tzids);
      if (entry !== undefined) into.push(entry);
    }
  };

  const onEventProperty = (current: RawEvent, line: string): void => {
    const parsed = parseContentLine(line);
    if (parsed === null) return;
    const { name, params, value } = schemedTzidRepaired(parsed);
    switch (name) {
      case 'UID':
        current.uid ??= value;
        break;
      case 'SEQUENCE':
        current.sequence = /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : 0;
        break;
      case 'DTSTART':
        current.start ??= dateValue(params, value, feed.tzids);
        break;
      case 'DTEND':
        current.end ??= dateValue(params, value, feed.tzids);
        break;
      case 'RECURRENCE-ID':
        current.recurrenceId ??= dateValue(params, value, feed.tzids);
        break;
      case 'DURATION':
        current.duration ??= value.trim();
        break;
      case 'RRULE':
        current.rrule ??= value;
        break;
      case 'RDATE':
        dateList(params, value, (current.rdates ??= []));
        break;
      case 'EXDATE':
        dateList(params, value, (current.exdates ??= []));
        break;
      case 'STATUS':
        current.status = value.trim().toUpperCase();
        break;
      case 'TRANSP':
        current.transp = value.trim().toUpperCase();
        break;
      case 'X-MICROSOFT-CDO-BUSYSTATUS':
        current.busyStatus = value.trim().toUpperCase();
        break;
      case 'ATTENDEE': {
        const attendees = (current.attendees ??= []);
        if (attendees.length >= MAX_ATTENDEES_PER_EVENT) break;
        const addresses = [normalizeAddress(value), normalizeAddress(params.get('EMAIL') ?? '')].filter((a) => a !== '');
        attendees.push({ addresses, partstat: (params.get('PARTSTAT') ?? 'NEEDS-ACTION').toUpperCase() });
        break;
      }
    }
  };

  /** Pops the innermost component; `complete` is false when an outer END closes it unfinished. */
  const close = (complete: boolean): void => {
    const depth = stack.length;
    const name = stack.pop();
    if (depth === 2 && name === 'VEVENT') {
      if (complete && event !== undefined) addToSeries(event, feed.series, byUid);
      event = undefined;
    } else if (depth === 2 && name === 'VTIMEZONE') {
      if (complete && zone?.tzid !== undefined) feed.vtimezones.set(zone.tzid, zone.rules);
      zone = undefined;
    } else if (depth === 3 && (name === 'STANDARD' || name === 'DAYLIGHT')) {
      if (complete && observance !== undefined) zone?.rules.observances.push(observance);
      observance = undefined;
    }
  };

  await forEachContentLine(text, slicer, (line, overlong) => {
    const name = propertyName(line);
    if (name === 'BEGIN' || name === 'END') {
      const value = line.slice(line.indexOf(':') + 1).trim().toUpperCase();
      if (name === 'BEGIN') {
        if (stack.length === 0) {
          if (value === 'VCALENDAR') {
            seenCalendar = true;
            stack.push(value);
          } else if (!seenCalendar) {
            notCalendar = true;
            return false;
          }
          return true;
        }
        if (stack.length >= MAX_DEPTH) {
          feed.truncated = true;
          return false;
        }
        if (stack.length === 1) {
          if (components >= maxEvents) {
            feed.truncated = true;
            return false;
          }
          components += 1;
          if (value === 'VEVENT') event = { sequence: 0 };
          if (value === 'VTIMEZONE') zone = { rules: { observances: [] } };
        } else if (stack.length === 2 && stack[1] === 'VTIMEZONE' && (value === 'STANDARD' || value === 'DAYLIGHT')) {
          observance = { kind: value };
        }
        stack.push(value);
        return true;
      }
      const at = stack.lastIndexOf(value);
      if (at !== -1) {
        while (stack.length > at + 1) close(false);
        close(true);
      }
      return true;
    }
    if (!seenCalendar) {
      if (line.trim() === '') return true;
      notCalendar = true;
      return false;
    }
    const depth = stack.length;
    const top = stack[depth - 1];
    if (depth === 2 && top === 'VEVENT' && event !== undefined) {
      if (!EVENT_PROPERTIES.has(name)) return true;
      if (overlong) feed.truncated = true;
      else onEventProperty(event, line);
    } else if (depth === 1 && name === 'X-WR-CALNAME' && !overlong) {
      feed.calendarName ??= parseContentLine(line)?.value.trim();
    } else if (depth === 2 && top === 'VTIMEZONE' && name === 'TZID' && zone !== undefined && !overlong) {
      zone.tzid ??= parseContentLine(line)?.value.trim();
    } else if (depth === 3 && observance !== undefined && OBSERVANCE_PROPERTIES.has(name) && !overlong) {
      const value = parseContentLine(line)?.value.trim();
      if (name === 'DTSTART') observance.start ??= value;
      else if (name === 'TZOFFSETFROM') observance.offsetFrom ??= value;
      else if (name === 'TZOFFSETTO') observance.offsetTo ??= value;
      else observance.rrule ??= value;
    }
    return true;
  });

  if (notCalendar || !seenCalendar) throw new IcsParseError('NOT_ICALENDAR');
  return feed;
}

/**
 * Outlook's TZID=tzone://Microsoft/Utc is unquoted, so its colon ends the parameters early; the
 * rest of the TZID is moved back from the value (node-ical repairs the same way).
 */
function schemedTzidRepaired(line: ContentLine): ContentLine {
  if (line.params.get('TZID')?.toLowerCase() !== 'tzone' || !line.value.startsWith('//')) return line;
  const colon = line.value.lastIndexOf(':');
  if (colon === -1) return line;
  const params = new Map(line.params).set('TZID', `tzone:${line.value.slice(0, colon)}`);
  return { name: line.name, params, value: line.value.slice(colon + 1) };
}

/** A DATE or DATE-TIME value (for RDATE, maybe a PERIOD "start/end"); notes its TZID for resolving. */
function dateValue(params: ReadonlyMap<string, string>, text: string, tzids: Set<string>): RDateValue | undefined {
  const [at = '', periodEnd] = text.split('/');
  const value = at.trim();
  if (value === '') return undefined;
  const tzid = params.get('TZID');
  if (tzid !== undefined) tzids.add(tzid);
  const entry: RDateValue = { value, tzid, date: params.get('VALUE')?.toUpperCase() === 'DATE' || /^\d{8}$/.test(value) };
  if (periodEnd !== undefined) entry.periodEnd = periodEnd.trim();
  return entry;
}

function normalizeAddress(value: string): string {
  return value
    .trim()
    .replace(/^mailto:/i, '')
    .toLowerCase();
}

function ownerAddressSet(given: readonly string[] | undefined, calendarName: string | undefined): Set<string> {
  const owners = new Set((given ?? []).map(normalizeAddress).filter((a) => a !== ''));
  const name = normalizeAddress(calendarName ?? '');
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(name)) owners.add(name);
  return owners;
}

interface Series {
  uid: string | undefined;
  master: RawEvent | undefined;
  overrides: RawEvent[];
}

/** Files an event under its series (by UID); of duplicates the latest SEQUENCE wins, the later one on a tie. */
function addToSeries(event: RawEvent, all: Series[], byUid: Map<string, Series>): void {
  let series = event.uid === undefined ? undefined : byUid.get(event.uid);
  if (series === undefined) {
    series = { uid: event.uid, master: undefined, overrides: [] };
    all.push(series);
    if (event.uid !== undefined) byUid.set(event.uid, series);
  }
  if (event.recurrenceId !== undefined) series.overrides.push(event);
  else if (series.master === undefined || event.sequence >= series.master.sequence) series.master = event;
}

class BusyCollector {
  truncated = false;
  private merged: Array<[number, number]> = [];
  private pending: Array<[number, number]> = [];
  private spans = 0;
  private stopped = false;
  private readonly budget: FeedBudget = { scanned: 0, chunks: 0 };
  private readonly dayStarts = new Map<number, number>();

  constructor(
    private readonly fromMs: number,
    private readonly toMs: number,
    private readonly provider: IcsZone,
    private readonly zones: TimeZoneResolver,
    private readonly owners: ReadonlySet<string>,
    private readonly maxInstances: number,
    private readonly slicer: TimeSlicer,
  ) {}

  async collect(all: readonly Series[], ownUidSuffix: string, ownUids: ReadonlySet<string>): Promise<void> {
    for (const series of all) {
      if (this.stopped) return;
      await this.slicer.pace();
      if (series.uid !== undefined && (series.uid.endsWith(ownUidSuffix) || ownUids.has(series.uid))) continue;
      await this.collectSeries(series);
    }
  }

  async intervals(): Promise<BusyInterval[]> {
    this.compact();
    const out: BusyInterval[] = [];
    for (const [start, end] of this.merged) {
      out.push({ start: new Date(start).toISOString(), end: new Date(end).toISOString() });
      if (out.length % 1_024 === 0) await this.slicer.pace();
    }
    return out;
  }

  private async collectSeries({ master, overrides }: Series): Promise<void> {
    if (master?.status === 'CANCELLED') return;
    // One override per occurrence: the latest SEQUENCE, the later one on a tie.
    const byKey = new Map<string, { event: RawEvent; id: Moment }>();
    for (const event of overrides) {
      const id = this.moment(event.recurrenceId);
      if (id === null) continue;
      const key = id.kind === 'timed' ? `t${id.ms}` : `d${id.day}`;
      const seen = byKey.get(key);
      if (seen === undefined || event.sequence >= seen.event.sequence) byKey.set(key, { event, id });
    }
    const start = this.moment(master?.start);
    const masterShape = master !== undefined && start !== null ? this.shapeOf(master, start, null) : null;
    const lasts = masterShape !== null && (masterShape.kind === 'date' || masterShape.exactMs > 0 || masterShape.nominalDays > 0);
    if (master !== undefined && start !== null && masterShape !== null && lasts && this.blocks(master)) {
      await this.collectMaster(master, start, masterShape, [...byKey.values()].map((o) => o.id));
    }
    for (const { event, id } of byKey.values()) {
      if (this.stopped) return;
      if (!this.blocks(event)) continue;
      const at = this.moment(event.start) ?? id;
      const shape = this.shapeOf(event, at, masterShape);
      this.add(this.spanOf(at.kind === 'timed' ? at.ms : at.day, at, shape));
    }
  }

  private async collectMaster(master: RawEvent, start: Moment, shape: Shape, overridden: Moment[]): Promise<void> {
    const skip = this.exclusions(start, [...(master.exdates ?? []).map((v) => this.moment(v)), ...overridden]);
    const anchor = start.kind === 'timed' ? start.ms : start.day;
    let emitFrom: number;
    let scanTo: number;
    if (start.kind === 'timed' && shape.kind === 'timed') {
      const lookback = shape.exactMs + shape.nominalDays * DAY_MS + (shape.nominalDays > 0 ? 2 * HOUR_MS : 0);
      emitFrom = this.fromMs - lookback;
      scanTo = this.toMs;
    } else {
      const days = shape.kind === 'date' ? shape.days : 1;
      emitFrom = this.localDay(this.fromMs, this.provider) - days * DAY_MS;
      scanTo = this.localDay(this.toMs, this.provider) + DAY_MS;
    }

    let emitted = 0;
    let capped = false;
    let sawAnchor = false;
    const emit = (position: number, spanEnd?: number): boolean => {
      if (position === anchor) sawAnchor = true;
      if (skip(position)) return true;
      const span = this.spanOf(position, start, shape);
      if (spanEnd !== undefined) span[1] = spanEnd;
      if (!this.overlaps(span)) return true;
      if (emitted >= this.maxInstances) {
        capped = true;
        return false;
      }
      emitted += 1;
      return this.add(span);
    };

    const rule = master.rrule === undefined ? null : parseRule(master.rrule);
    if (rule !== null && anchor < scanTo && (rule.untilBound === null || rule.untilBound >= emitFrom)) {
      const ruleStart: RuleStart = start.kind === 'timed' ? { kind: 'timed', startMs: start.ms, zone: start.zone } : { kind: 'date', day: start.day };
      const end = await expandRule(rule, ruleStart, { emitFrom, scanTo }, this.budget, this.slicer, (p) => emit(p));
      if (end === 'truncated') this.truncated = true;
    }
    // "The DTSTART property value always counts as the first occurrence" (RFC 5545 §3.3.10), even
    // when rrule-temporal, which skips a DTSTART the rule does not match, leaves it out.
    if (!sawAnchor && !capped && anchor >= emitFrom && anchor < scanTo) emit(anchor);
    for (const rdate of master.rdates ?? []) {
      if (capped || this.stopped) break;
      const at = this.moment(rdate);
      if (at === null || at.kind !== start.kind) continue;
      const position = at.kind === 'timed' ? at.ms : at.day;
      if (position < emitFrom || position >= scanTo) continue;
      emit(position, at.kind === 'timed' ? this.periodEnd(at, rdate.periodEnd) : undefined);
    }
    if (capped) this.truncated = true;
  }

  /** Whether an occurrence position is removed by EXDATE or replaced by an override. */
  private exclusions(start: Moment, moments: Array<Moment | null>): (position: number) => boolean {
    const exact = new Set<number>();
    const days = new Set<number>();
    for (const m of moments) {
      if (m === null) continue;
      if (start.kind === 'date') days.add(m.kind === 'date' ? m.day : this.localDay(m.ms, m.zone));
      else if (m.kind === 'timed') exact.add(m.ms);
      else days.add(m.day);
    }
    if (start.kind === 'date') return (position) => days.has(position);
    const zone = start.zone;
    return (position) => exact.has(position) || (days.size > 0 && days.has(this.localDay(position, zone)));
  }

  private blocks(event: RawEvent): boolean {
    if (event.status === 'CANCELLED') return false;
    if (event.busyStatus !== undefined ? event.busyStatus === 'FREE' : event.transp === 'TRANSPARENT') return false;
    const own = (event.attendees ?? []).filter((a) => a.addresses.some((address) => this.owners.has(address)));
    return own.length === 0 || own.some((a) => a.partstat !== 'DECLINED');
  }

  private moment(v: DateValue | undefined): Moment | null {
    if (v === undefined) return null;
    const text = v.value.toUpperCase();
    const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(text);
    if (m === null) return null;
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (v.date || m[4] === undefined) {
      const ms = Date.UTC(year, month - 1, day);
      const check = new Date(ms);
      return check.getUTCMonth() === month - 1 && check.getUTCDate() === day ? { kind: 'date', day: ms } : null;
    }
    const zone = m[7] === 'Z' ? UTC_ZONE : this.zones.get(v.tzid);
    const local = { year, month, day, hour: Number(m[4]), minute: Number(m[5]), second: Math.min(59, Number(m[6])) };
    const dt = DateTime.fromObject(local, { zone: zone.zone });
    return dt.isValid ? { kind: 'timed', ms: dt.toMillis(), zone } : null;
  }

  /** The length of `event`'s instances; `fallback` (the master's) when it gives none of its own. */
  private shapeOf(event: RawEvent, start: Moment, fallback: Shape | null): Shape {
    const end = this.moment(event.end);
    const duration = event.duration === undefined ? null : parseDuration(event.duration);
    if (start.kind === 'timed') {
      if (end?.kind === 'timed') return { kind: 'timed', exactMs: Math.max(0, end.ms - start.ms), nominalDays: 0 };
      if (duration !== null) return { kind: 'timed', exactMs: duration.ms, nominalDays: duration.days };
      return fallback?.kind === 'timed' ? fallback : { kind: 'timed', exactMs: 0, nominalDays: 0 };
    }
    if (end?.kind === 'date') return { kind: 'date', days: Math.max(1, Math.round((end.day - start.day) / DAY_MS)) };
    if (duration !== null) return { kind: 'date', days: Math.max(1, duration.days) };
    return fallback?.kind === 'date' ? fallback : { kind: 'date', days: 1 };
  }

  private spanOf(position: number, start: Moment, shape: Shape): [number, number] {
    if (start.kind === 'date') {
      const days = shape.kind === 'date' ? shape.days : 1;
      return [this.dayStart(position), this.dayStart(position + days * DAY_MS)];
    }
    if (shape.kind !== 'timed') return [position, position];
    if (shape.nominalDays === 0) return [position, position + shape.exactMs];
    const end = DateTime.fromMillis(position, { zone: start.zone.zone }).plus({ days: shape.nominalDays }).toMillis() + shape.exactMs;
    return [position, Number.isFinite(end) ? end : position];
  }

  /** The end of an RDATE PERIOD ("start/end" or "start/duration"), or undefined for the master's length. */
  private periodEnd(start: Moment & { kind: 'timed' }, text: string | undefined): number | undefined {
    if (text === undefined) return undefined;
    const duration = parseDuration(text);
    if (duration !== null) return this.spanOf(start.ms, start, { kind: 'timed', exactMs: duration.ms, nominalDays: duration.days })[1];
    const end = this.moment({ value: text, tzid: undefined, date: false });
    return end?.kind === 'timed' && end.ms > start.ms ? end.ms : undefined;
  }

  /** UTC midnight of the civil date `ms` falls on in `zone`. */
  private localDay(ms: number, zone: IcsZone): number {
    const dt = DateTime.fromMillis(ms, { zone: zone.zone });
    return Date.UTC(dt.year, dt.month - 1, dt.day);
  }

  /** The instant the provider's local day `day` (UTC midnight of the civil date) begins. */
  private dayStart(day: number): number {
    let ms = this.dayStarts.get(day);
    if (ms === undefined) {
      const d = new Date(day);
      // A midnight skipped by DST moves to the first instant of the day (luxon shifts forward).
      ms = DateTime.fromObject({ year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }, { zone: this.provider.zone }).toMillis();
      this.dayStarts.set(day, ms);
    }
    return ms;
  }

  private overlaps([start, end]: [number, number]): boolean {
    return Math.min(end, this.toMs) > Math.max(start, this.fromMs);
  }

  /** Adds a span clipped to the window; false once the feed-wide span budget is spent. */
  private add([start, end]: [number, number]): boolean {
    const s = Math.max(start, this.fromMs);
    const e = Math.min(end, this.toMs);
    if (!(e > s)) return true;
    if (this.spans >= MAX_SPANS) {
      this.truncated = true;
      this.stopped = true;
      return false;
    }
    this.spans += 1;
    this.pending.push([s, e]);
    if (this.pending.length >= 4_096) this.compact();
    return true;
  }

  /** Folds the pending spans into the merged ones: a sort of at most one batch, then a linear merge. */
  private compact(): void {
    if (this.pending.length === 0) return;
    const batch = unionOfSpans(this.pending);
    this.pending = [];
    const a = this.merged;
    const out: Array<[number, number]> = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < batch.length) {
      const next = j >= batch.length || (i < a.length && a[i]![0] <= batch[j]![0]) ? a[i++]! : batch[j++]!;
      const last = out[out.length - 1];
      if (last !== undefined && next[0] <= last[1]) last[1] = Math.max(last[1], next[1]);
      else out.push(next);
    }
    this.merged = out;
  }
}

/** RFC 5545 §3.3.6 DURATION as nominal days (weeks included) and exact milliseconds; null when negative or malformed. */
function parseDuration(text: string): { days: number; ms: number } | null {
  const m = /^\+?P(?:(\d{1,6})W)?(?:(\d{1,6})D)?(?:T(?:(\d{1,7})H)?(?:(\d{1,9})M)?(?:(\d{1,10})S)?)?$/i.exec(text.trim());
  if (m === null || m.slice(1).every((part) => part === undefined) || /T$/i.test(text.trim())) return null;
  const n = (i: number): number => Number(m[i] ?? 0);
  return { days: n(1) * 7 + n(2), ms: ((n(3) * 60 + n(4)) * 60 + n(5)) * 1_000 };
}
