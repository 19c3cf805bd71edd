// The time zones the service accepts: exactly the names the ICS renderer has a VTIMEZONE for
// (timezones-ical-library, which includes IANA's backward links such as "US/Eastern") that
// luxon can also compute with. Spelling is exact: "america/new_york" passes Intl and luxon, but
// would miss the VTIMEZONE lookup and render the provider's sessions in UTC.
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
