// Plain data shapes of the domain. Instants are ISO-8601 UTC strings as produced by
// Date.prototype.toISOString() ("2026-03-08T15:00:00.000Z"): they sort lexicographically and
// compare equal whatever the server's TZ.

export type PrivacyMode = 'none' | 'initials' | 'full';

/** What calendars carry as the join link: ours (/j/<token>, decided at click time) or the raw room link. */
export type JoinLinkMode = 'stable' | 'direct';

export interface PrivacySettings {
  mode: PrivacyMode;
  /** The provider confirmed that their calendar service has signed a BAA. Required for initials/full. */
  baaAttested: boolean;
}

export interface Provider {
  id: string;
  name: string;
  email: string | null;
  /** IANA zone, e.g. "America/New_York"; used to display events, never to store instants. */
  timezone: string;
  privacy: PrivacySettings;
  joinLink: JoinLinkMode;
  /**
   * Popup reminders of pushed events, in minutes before the start (Google reminders.overrides,
   * Outlook reminderMinutesBeforeStart); null: the calendar's own defaults. Feeds carry none.
   */
  reminders: number[] | null;
  /** When the provider left (offboarding requested); null while with the practice. */
  offboardedAt: string | null;
  /** Bumped in the same transaction as every write that changes what the feed renders. */
  feedRevision: number;
  createdAt: string;
  updatedAt: string;
}

export interface VirtualLocation {
  kind: 'virtual';
  providerId: string;
  id: string;
  name: string | null;
  /** Normalised https URL that passed the telehealth link policy. */
  url: string;
  instructions: string | null;
  isDefault: boolean;
  /** The provider confirmed a waiting room / private room is on; null when not said. */
  waitingRoom: boolean | null;
  /** Recognised platform id (see TELEHEALTH_PLATFORMS), null for an unknown host. */
  platform: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface OfficeLocation {
  kind: 'office';
  providerId: string;
  id: string;
  name: string;
  address: string;
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

export type Location = VirtualLocation | OfficeLocation;

export interface ClientRef {
  id: string | null;
  firstName: string | null;
  lastName: string | null;
}

export type SessionStatus = 'scheduled' | 'cancelled';

export interface Session {
  providerId: string;
  id: string;
  /** Assigned once at creation and never regenerated (RFC 5545 UID). */
  uid: string;
  start: string;
  end: string;
  /** Resolved at write time: the given location or the provider's default one then. */
  locationId: string | null;
  /** Per-session override of the location's telehealth link (already policy-checked). */
  telehealthUrl: string | null;
  client: ClientRef | null;
  status: SessionStatus;
  seriesId: string | null;
  /** RFC 5545 SEQUENCE: +1 whenever eventFingerprint changes. */
  sequence: number;
  /** Hash of the rendered event content (see eventFingerprint()); detects no-op writes. */
  eventFingerprint: string;
  /** When the rendered event last changed: the event's DTSTAMP and LAST-MODIFIED. */
  lastModified: string;
  createdAt: string;
  updatedAt: string;
}

export interface FeedToken {
  id: string;
  providerId: string;
  label: string | null;
  /** SHA-256 (hex) of the secret token; the token itself is never stored. */
  tokenHash: string;
  createdAt: string;
  revokedAt: string | null;
  lastFetchedAt: string | null;
  lastUserAgent: string | null;
  fetchCount: number;
}

/** The one canonical rendering of a session that every external calendar receives. */
export interface CalendarEvent {
  uid: string;
  sequence: number;
  start: string;
  end: string;
  /** Provider's IANA zone, for display (TZID) only. */
  timezone: string;
  summary: string;
  location: string | null;
  description: string | null;
  url: string | null;
  status: 'confirmed' | 'cancelled';
  /** DTSTAMP and LAST-MODIFIED (UTC). */
  stamp: string;
  /** CREATED (UTC). */
  created: string;
  /** Hash of everything above but sequence/stamp: equal revisions render equal events. */
  revision: string;
}

/** Calendar-level properties of a feed or invite file. */
export interface CalendarMeta {
  /** X-WR-CALNAME / NAME. */
  name: string;
  /** PRODID host part, e.g. "sessionsync". */
  productId: string;
  /** REFRESH-INTERVAL / X-PUBLISHED-TTL in seconds. */
  refreshIntervalSeconds: number;
}
