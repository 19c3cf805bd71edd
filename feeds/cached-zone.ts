import { IANAZone, Zone } from 'luxon';
import type { ZoneOffsetFormat, ZoneOffsetOptions } from 'luxon';

// luxon asks Intl for a zone's offset on every DateTime it builds in that zone, and that call
// (formatToParts) dominated feed rendering (~70% of a 1,000-event render). Offsets change only at
// DST transitions, so they are memoised per UTC day, and a day holding a transition by the instant
// it happens (found by bisection once). This assumes at most one offset change within a day, as
// the renderer does (ics-renderer.ts, isExpressibleInZone) and as every zone in use keeps. Days,
// not 15-minute buckets: a session moved to a new time used to miss the memo (two Intl calls per
// bucket, ~0.5 ms of the first poll after a change); a feed's days are nearly all known.

const DAY_MS = 86_400_000;

/** A day's offset, or the change within it: `before` until `at` (ms), then `after`. */
type DayOffsets = number | { at: number; before: number; after: number };

export class CachedIanaZone extends Zone {
  private readonly inner: IANAZone;
  private readonly offsets = new Map<number, DayOffsets>();

  constructor(name: string) {
    super();
    this.inner = IANAZone.create(name);
  }

  override get type(): string {
    return 'iana';
  }

  override get name(): string {
    return this.inner.name;
  }

  override get isUniversal(): boolean {
    return false;
  }

  override get isValid(): boolean {
    return this.inner.isValid;
  }

  override offsetName(ts: number, options: ZoneOffsetOptions): string | null {
    return this.inner.offsetName(ts, options);
  }

  override formatOffset(ts: number, format: ZoneOffsetFormat): string {
    return this.inner.formatOffset(ts, format);
  }

  override offset(ts: number): number {
    const day = Math.floor(ts / DAY_MS);
    let known = this.offsets.get(day);
    if (known === undefined) {
      known = this.dayOffsets(day * DAY_MS);
      this.offsets.set(day, known);
    }
    if (typeof known === 'number') return known;
    return ts < known.at ? known.before : known.after;
  }

  private dayOffsets(start: number): DayOffsets {
    const end = start + DAY_MS - 1;
    const before = this.inner.offset(start);
    const after = this.inner.offset(end);
    if (before === after) return before;
    // The first millisecond with the later offset: offsets here move in whole minutes at whole
    // seconds, but bisecting to the millisecond costs only ~27 steps, once per transition day.
    let low = start;
    let high = end;
    while (high - low > 1) {
      const mid = low + Math.floor((high - low) / 2);
      if (this.inner.offset(mid) === after) high = mid;
      else low = mid;
    }
    return { at: high, before, after };
  }

  override equals(other: Zone): boolean {
    return other.type === 'iana' && other.name === this.name;
  }
}

const zones = new Map<string, CachedIanaZone>();

/** One shared memoising zone per IANA name. */
export function cachedZone(name: string): CachedIanaZone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = new CachedIanaZone(name);
    zones.set(name, zone);
  }
  return zone;
}
