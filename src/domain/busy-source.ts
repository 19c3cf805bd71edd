// A provider's other calendar, read as busy time: an ICS address or one of its connected calendars.
import type { BusyInterval } from './busy.js';

export type BusySourceKind = 'ics' | 'connection';

/** pending: never read yet; ok: the last read worked; error: it failed (lastErrorCode says why). */
export type BusySourceStatus = 'pending' | 'ok' | 'error';

export interface BusySource {
  providerId: string;
  id: string;
  kind: BusySourceKind;
  /**
   * ics: the calendar's address, sealed (crypto/secret-box): a secret ICS address carries its
   * secret in its path, so it is never stored, logged or answered in the clear. null for a connection.
   */
  urlSealed: string | null;
  /** ics: the address's host, what answers and logs may show; null for a connection. */
  urlHost: string | null;
  /** connection: the connected calendar, read through its vendor's connector (CalendarConnector.readBusy); null for ics. */
  connectionId: string | null;
  status: BusySourceStatus;
  lastFetchedAt: string | null;
  /** A code such as SOURCE_TIMEOUT (never a remote message, which may echo the address). */
  lastErrorCode: string | null;
  /** Validators of the last good answer, for a conditional request (ics). */
  etag: string | null;
  lastModified: string | null;
  /** Busy intervals stored from it. */
  intervalCount: number;
  /** When the worker reads it next (a claim moves it on, so one process reads it at a time). */
  nextFetchAt: string;
  createdAt: string;
  updatedAt: string;
}

/** A stored busy interval and the source it was read from. */
export interface StoredBusyInterval extends BusyInterval {
  sourceId: string;
}
