// A provider's other calendar, read as busy time: an ICS address or one of its connected calendars.
import type { BusyInterval, SourcedInterval } from './busy.js';

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

/** A stored busy interval and the source it was read from (busy.ts: SourcedInterval). */
export type StoredBusyInterval = SourcedInterval;

/** What reading an ICS source gave: its busy intervals, nothing new (a 304), or why it failed. */
export type IcsRead =
  | { status: 'ok'; intervals: BusyInterval[]; truncated: boolean; etag: string | null; lastModified: string | null }
  | { status: 'not_modified' }
  | { status: 'error'; code: string };

export interface IcsReadRequest {
  etag: string | null;
  lastModified: string | null;
  providerZone: string;
  from: Date;
  to: Date;
  /** The UIDs our pushed events have in this calendar: asked for only when there is a body to read, not for a 304. */
  ownUids?: () => Promise<ReadonlySet<string>>;
}

/** The ICS side of busy time (busy/ics-reader.ts): checking an address, and reading one into intervals. */
export interface IcsReader {
  /** The address to fetch (webcal:// as https://), or why it is refused. */
  normalize(url: string): URL | { reason: string };
  read(url: URL, request: IcsReadRequest): Promise<IcsRead>;
}
