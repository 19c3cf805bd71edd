// The range of every instant the service stores: sessions, series occurrences and query bounds.
// Inside it Date#toISOString is always "YYYY-MM-DDTHH:mm:ss.sssZ" (24 characters), so stored
// instants compare as text in time order on SQLite and PostgreSQL alike; outside it JavaScript
// writes "+010000-..." or "-000001-...", which sort before every real date.

export const EARLIEST_INSTANT = '1970-01-01T00:00:00.000Z';
/** Inclusive for an end, exclusive for a start. */
export const LATEST_INSTANT = '2200-01-01T00:00:00.000Z';

const EARLIEST_MS = Date.parse(EARLIEST_INSTANT);
const LATEST_MS = Date.parse(LATEST_INSTANT);
const FIXED_WIDTH_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const INSTANT_RANGE_MESSAGE = `must lie from ${EARLIEST_INSTANT} to ${LATEST_INSTANT}`;

export function isInstantInRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= EARLIEST_MS && ms <= LATEST_MS;
}

/** Whether `value` is an instant as stored: fixed-width UTC text inside the range. */
export function isStoredInstant(value: string): boolean {
  return FIXED_WIDTH_UTC.test(value) && isInstantInRange(Date.parse(value)) && new Date(value).toISOString() === value;
}
