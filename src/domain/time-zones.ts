// The time zones the service accepts: the names timezones-ical-library lists (IANA zones and
// backward links such as "US/Eastern"; the renderer takes the TZID of a link from it) that luxon
// can also compute with, and so build a VTIMEZONE for (feeds/vtimezone.ts). Spelling is exact:
// "america/new_york" passes Intl and luxon, but would miss the TZID lookup.
import { IANAZone } from 'luxon';
import { tzlib_get_timezones } from 'timezones-ical-library';

let supported: ReadonlySet<string> | undefined;
let byLowerCase: ReadonlyMap<string, string> | undefined;

/** Every zone name the API accepts, in its one accepted spelling. */
export function supportedTimeZones(): ReadonlySet<string> {
  if (supported === undefined) {
    const list = tzlib_get_timezones();
    supported = new Set((Array.isArray(list) ? list : []).filter((zone) => IANAZone.isValidZone(zone)));
  }
  return supported;
}

export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && supportedTimeZones().has(zone);
}

/** The accepted spelling of a zone named in another case or with stray spaces, else null. */
export function canonicalTimeZone(zone: string): string | null {
  if (typeof zone !== 'string') return null;
  if (supportedTimeZones().has(zone)) return zone;
  byLowerCase ??= new Map([...supportedTimeZones()].map((name) => [name.toLowerCase(), name]));
  return byLowerCase.get(zone.trim().toLowerCase()) ?? null;
}
