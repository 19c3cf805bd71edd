import { IANAZone, Zone } from 'luxon';
import type { ZoneOffsetFormat, ZoneOffsetOptions } from 'luxon';

// luxon asks Intl for a zone's offset on every DateTime it builds in that zone, and that call
// (formatToParts) dominated feed rendering (~70% of a 1,000-event render). Offsets change only at
// DST transitions, so they are memoised per 15-minute bucket; a bucket holding a transition is
// answered exactly, every time.

const BUCKET_MS = 15 * 60_000;

export class CachedIanaZone extends Zone {
  private readonly inner: IANAZone;
  private readonly offsets = new Map<number, number>();

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
    const bucket = Math.floor(ts / BUCKET_MS);
    const cached = this.offsets.get(bucket);
    if (cached !== undefined) return cached;
    const first = this.inner.offset(bucket * BUCKET_MS);
    const last = this.inner.offset((bucket + 1) * BUCKET_MS - 1);
    if (first !== last) return this.inner.offset(ts);
    this.offsets.set(bucket, first);
    return first;
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
