import { createHash } from 'node:crypto';

// Popup reminders of pushed events (Provider.reminders). Feeds carry none: Google and Outlook
// ignore VALARMs in subscribed calendars and Apple strips them, so a reminders change must never
// touch a session's eventFingerprint, SEQUENCE or the feed's bytes. It changes the pushed
// revision instead (pushRevision), which the worker records and the resync compares.

/** Google Calendar accepts at most 5 reminder overrides, each at most 4 weeks (40,320 minutes) before. */
export const MAX_REMINDERS = 5;
export const MAX_REMINDER_MINUTES = 40_320;

/** Minutes before the start, ascending and distinct; null: the calendar's own defaults. */
export function normaliseReminders(reminders: readonly number[] | null): number[] | null {
  return reminders === null ? null : [...new Set(reminders)].sort((a, b) => a - b);
}

export function sameReminders(a: readonly number[] | null, b: readonly number[] | null): boolean {
  const x = normaliseReminders(a);
  const y = normaliseReminders(b);
  if (x === null || y === null) return x === y;
  return x.length === y.length && x.every((m, i) => m === y[i]);
}

/**
 * The revision a pushed event is tagged with: the event's own revision, extended by the reminders
 * when there are any. Without a setting it is the event's revision unchanged, so events pushed
 * before this setting existed are not rewritten.
 */
export function pushRevision(eventRevision: string, reminders: readonly number[] | null): string {
  const minutes = normaliseReminders(reminders);
  if (minutes === null) return eventRevision;
  return createHash('sha256').update(JSON.stringify([eventRevision, minutes])).digest('base64url').slice(0, 22);
}
