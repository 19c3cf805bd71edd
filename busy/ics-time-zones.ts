import { FixedOffsetZone, IANAZone, type Zone } from 'luxon';
import nodeIcal, { type DateWithTimeZone } from 'node-ical';
import type { TimeSlicer } from './time-slicer.js';

// What a TZID in an external calendar means. node-ical 0.27, left to itself, maps Windows names
// ("Eastern Standard Time") and Outlook display names well, but reads an unknown TZID (even one
// with a VTIMEZONE) and "Customized Time Zone" without VTIMEZONE in the host's zone; a floating
// time too, or in the feed's first VTIMEZONE when there is one; and it matches a custom VTIMEZONE
// to the first zone, alphabetically, with the same January and July offsets ("Africa/Ceuta" for
// Paris rules). Here every TZID is settled before any date is read: IANA names and fixed offsets
// directly, Windows names through node-ical's own table, other names through the feed's VTIMEZONE
// rules (the provider's zone first among the zones whose transitions fit them), and anything else
// as the provider's zone.

/** A zone as both libraries need it. */
export interface IcsZone {
  readonly zone: Zone;
  /** The TZID node-ical expands a rule in; null for UTC, where a rule gets a "Z" DTSTART instead. */
  readonly tzid: string | null;
}

export const UTC_ZONE: IcsZone = { zone: FixedOffsetZone.utcInstance, tzid: null };

/** One STANDARD or DAYLIGHT block of a VTIMEZONE, as read from the feed. */
export interface Observance {
  kind: 'STANDARD' | 'DAYLIGHT';
  /** DTSTART as local "YYYYMMDDTHHMMSS". */
  start?: string;
  offsetFrom?: string;
  offsetTo?: string;
  rrule?: string;
}

export interface VTimezoneRules {
  observances: Observance[];
}

/** At most this many VTIMEZONE rule sets are matched against the zone database per feed. */
const MAX_RULE_MATCHES = 8;
/** Distinct TZIDs beyond this count are read in the provider's zone. */
const MAX_DISTINCT_TZIDS = 256;
const HOUR_MS = 3_600_000;
// node-ical swaps these for the host's zone (tz-utils.js resolveTZID), so its table cannot be asked.
const HOST_GUESSED = /^(?:tzone:\/\/microsoft\/|customized time zone|\(no tz description\))/i;
const UTC_NAMES = /^(?:z|utc|gmt|ut|etc\/utc|etc\/gmt|etc\/uct|uct|tzone:\/\/microsoft\/utc)$/i;
const OFFSET_LABEL = /^\(?(?:utc|gmt)?\s*([+-])(\d{1,2})(?::?(\d{2}))?\)?$/i;

export function ianaZone(name: string): IcsZone | null {
  return IANAZone.isValidZone(name) ? { zone: IANAZone.create(name), tzid: name } : null;
}

export function fixedOffsetZone(minutes: number): IcsZone {
  if (minutes === 0) return UTC_ZONE;
  const abs = Math.abs(minutes);
  const tzid = `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
  return { zone: FixedOffsetZone.instance(minutes), tzid };
}

/** Minutes east of UTC for "-0500", "+0530", "+013045" (seconds dropped); null when malformed. */
export function offsetMinutes(text: string | undefined): number | null {
  const match = /^([+-])(\d{2})(\d{2})(\d{2})?$/.exec(text?.trim() ?? '');
  if (match === null) return null;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return minutes > 18 * 60 ? null : match[1] === '-' ? -minutes : minutes;
}

/** Resolves the TZIDs of one feed; `get` is synchronous once `resolveAll` has run. */
export class TimeZoneResolver {
  private readonly resolved = new Map<string, IcsZone>();
  private ruleMatches = 0;

  constructor(
    private readonly provider: IcsZone,
    private readonly providerName: string,
    private readonly vtimezones: ReadonlyMap<string, VTimezoneRules>,
    private readonly referenceYear: number,
    private readonly slicer: TimeSlicer,
  ) {}

  async resolveAll(tzids: Iterable<string>): Promise<void> {
    for (const tzid of tzids) {
      if (this.resolved.has(tzid)) continue;
      if (this.resolved.size >= MAX_DISTINCT_TZIDS) return;
      this.resolved.set(tzid, await this.resolveOne(tzid));
      await this.slicer.pace();
    }
  }

  /** The zone of a TZID; a floating time (no TZID) and an unresolved one are in the provider's zone. */
  get(tzid: string | undefined): IcsZone {
    return tzid === undefined ? this.provider : (this.resolved.get(tzid) ?? this.provider);
  }

  private async resolveOne(raw: string): Promise<IcsZone> {
    const name = raw.trim().replace(/^"(.*)"$/, '$1').trim();
    if (name === '') return this.provider;
    if (UTC_NAMES.test(name)) return UTC_ZONE;
    const iana = ianaZone(name);
    if (iana !== null) return iana;
    const offset = OFFSET_LABEL.exec(name);
    if (offset !== null) {
      const minutes = Number(offset[2]) * 60 + Number(offset[3] ?? 0);
      if (minutes <= 18 * 60) return fixedOffsetZone(offset[1] === '-' ? -minutes : minutes);
    }
    if (!HOST_GUESSED.test(name)) {
      const windows = windowsZone(name);
      if (windows !== null) return windows;
    }
    const rules = this.vtimezones.get(name);
    if (rules !== undefined && this.ruleMatches < MAX_RULE_MATCHES) {
      this.ruleMatches += 1;
      const matched = await this.matchRules(rules);
      if (matched !== null) return matched;
    }
    return this.provider;
  }

  /** A zone that keeps the offsets and transition days of `rules` in the reference year. */
  private async matchRules(rules: VTimezoneRules): Promise<IcsZone | null> {
    const standard = applicable(rules, 'STANDARD', this.referenceYear);
    const daylight = applicable(rules, 'DAYLIGHT', this.referenceYear);
    const stdTo = offsetMinutes(standard?.offsetTo);
    const dstTo = offsetMinutes(daylight?.offsetTo);
    if (stdTo === null && dstTo === null) return null;
    if (stdTo === null || dstTo === null || stdTo === dstTo) return fixedOffsetZone((stdTo ?? dstTo)!);

    // Probes: the offset just before and after each transition, or, when a rule cannot be read,
    // that the zone uses exactly these two offsets over the year (what node-ical checks).
    const probes: Array<[number, number]> = [];
    for (const observance of [standard!, daylight!]) {
      const at = transitionMs(observance, this.referenceYear);
      const from = offsetMinutes(observance.offsetFrom);
      const to = offsetMinutes(observance.offsetTo);
      if (at === null || from === null || to === null) {
        probes.length = 0;
        break;
      }
      probes.push([at - 3 * HOUR_MS, from], [at + 3 * HOUR_MS, to]);
    }
    const january = Date.UTC(this.referenceYear, 0, 15);
    const july = Date.UTC(this.referenceYear, 6, 15);
    const fits = (zone: Zone): boolean => {
      if (probes.length > 0) return probes.every(([ms, expected]) => zone.offset(ms) === expected);
      const a = zone.offset(january);
      const b = zone.offset(july);
      return a !== b && (a === stdTo || a === dstTo) && (b === stdTo || b === dstTo);
    };

    const candidates = [this.providerName, ...Intl.supportedValuesOf('timeZone')];
    for (let i = 0; i < candidates.length; i += 1) {
      const candidate = ianaZone(candidates[i]!);
      if (candidate !== null && fits(candidate.zone)) return candidate;
      if (i % 16 === 15) await this.slicer.pace();
    }
    return null;
  }
}

/** The IANA zone node-ical's Windows table gives `name`, or null when it knows none. */
function windowsZone(name: string): IcsZone | null {
  if (name.length > 200 || name.includes('"') || [...name].some((c) => c < ' ')) return null;
  // Quoted when it holds a separator: node-ical keeps the quotes of a TZID starting "(".
  const param = /[:;,]/.test(name) ? `"${name}"` : name;
  let start: DateWithTimeZone | undefined;
  try {
    const parsed = nodeIcal.sync.parseICS(
      `BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:probe\r\nDTSTART;TZID=${param}:20260115T120000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`,
    );
    const event = parsed['probe'];
    start = event !== undefined && 'type' in event && event.type === 'VEVENT' ? event.start : undefined;
  } catch {
    return null;
  }
  const tz = start instanceof Date ? start.tz : undefined;
  return typeof tz === 'string' && tz !== name ? ianaZone(tz) : null;
}

/** The observance of `kind` in force in `year`: the latest one started by then and not ended. */
function applicable(rules: VTimezoneRules, kind: Observance['kind'], year: number): Observance | undefined {
  let best: Observance | undefined;
  let bestYear = Number.NEGATIVE_INFINITY;
  for (const o of rules.observances) {
    if (o.kind !== kind || offsetMinutes(o.offsetTo) === null) continue;
    const startYear = o.start === undefined ? Number.NEGATIVE_INFINITY : Number(o.start.slice(0, 4));
    const until = /UNTIL=(\d{4})/i.exec(o.rrule ?? '');
    if (startYear > year || (until !== null && Number(until[1]) < year)) continue;
    if (startYear >= bestYear) {
      best = o;
      bestYear = startYear;
    }
  }
  return best;
}

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/**
 * The UTC instant an observance begins in `year`, for the yearly rules VTIMEZONEs use:
 * BYMONTH with BYDAY=2SU / -1SU, or BYDAY=SU with a BYMONTHDAY week (the pre-RFC 5545 idiom).
 */
function transitionMs(o: Observance, year: number): number | null {
  const time = /^\d{8}T(\d{2})(\d{2})(\d{2})$/.exec(o.start ?? '');
  const from = offsetMinutes(o.offsetFrom);
  const parts = new Map((o.rrule ?? '').toUpperCase().split(';').map((p) => p.split('=') as [string, string]));
  const month = Number(parts.get('BYMONTH'));
  const byDay = /^([+-]?\d)?(SU|MO|TU|WE|TH|FR|SA)$/.exec(parts.get('BYDAY') ?? '');
  if (time === null || from === null || parts.get('FREQ') !== 'YEARLY' || !(month >= 1 && month <= 12) || byDay === null) return null;
  const weekday = WEEKDAYS.indexOf(byDay[2]!);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const firstWeekday = new Date(Date.UTC(year, month - 1, 1)).getUTCDay();
  const firstMatch = 1 + ((weekday - firstWeekday + 7) % 7);
  let day: number;
  if (byDay[1] !== undefined) {
    const n = Number(byDay[1]);
    const lastMatch = firstMatch + 7 * Math.floor((daysInMonth - firstMatch) / 7);
    day = n > 0 ? firstMatch + 7 * (n - 1) : lastMatch + 7 * (n + 1);
  } else {
    const monthDays = (parts.get('BYMONTHDAY') ?? '').split(',').map(Number);
    const found = monthDays.filter((d) => d >= 1 && d <= daysInMonth && (d - firstMatch) % 7 === 0);
    if (found.length === 0) return null;
    day = found[0]!;
  }
  if (day < 1 || day > daysInMonth) return null;
  const local = Date.UTC(year, month - 1, day, Number(time[1]), Number(time[2]), Number(time[3]));
  return local - from * 60_000;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
