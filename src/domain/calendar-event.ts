import { hash } from 'node:crypto';
import type { JoinLinks } from './join-link.js';
import { toPrintableText } from './text.js';
import type { CalendarEvent, ClientRef, Location, PrivacyMode, Provider, Session } from './types.js';

// toCalendarEvent() is the one place that decides what an external calendar sees (DESIGN.md,
// "The canonical event"). The ICS feed, the invite file and the push connectors all render the
// CalendarEvent it returns and nothing else, so privacy rules cannot drift between them.

export type SessionKind = 'virtual' | 'office' | 'unspecified';

/** The link a session's client joins: the per-session override, else its virtual location's. */
export function effectiveTelehealthUrl(session: Pick<Session, 'telehealthUrl'>, location: Location | null): string | null {
  if (session.telehealthUrl !== null) return session.telehealthUrl;
  return location?.kind === 'virtual' ? location.url : null;
}

export function sessionKind(session: Pick<Session, 'telehealthUrl'>, location: Location | null): SessionKind {
  if (effectiveTelehealthUrl(session, location) !== null) return 'virtual';
  return location?.kind === 'office' ? 'office' : 'unspecified';
}

const BASE_TITLE: Record<SessionKind, string> = {
  virtual: 'Telehealth session',
  office: 'In-person session',
  unspecified: 'Session',
};

/**
 * Client identity only with the provider's opt-in *and* BAA attestation; an opt-in without the
 * attestation is treated as "none" rather than trusted (the API refuses it, this is the backstop).
 */
export function effectivePrivacyMode(provider: Pick<Provider, 'privacy'>): PrivacyMode {
  return provider.privacy.baaAttested ? provider.privacy.mode : 'none';
}

function firstLetter(name: string | null): string | null {
  const trimmed = name?.trim();
  if (!trimmed) return null;
  const [first] = Array.from(trimmed);
  return first === undefined ? null : first.toLocaleUpperCase('en-US');
}

function clientLabel(client: ClientRef | null, mode: PrivacyMode): string | null {
  if (client === null) return null;
  switch (mode) {
    case 'none':
      return null;
    case 'initials': {
      const letters = [firstLetter(client.firstName), firstLetter(client.lastName)].filter((l) => l !== null);
      return letters.length === 0 ? null : letters.map((l) => `${l}.`).join('');
    }
    case 'full': {
      const name = [client.firstName, client.lastName].map((n) => n?.trim()).filter(Boolean).join(' ');
      return name === '' ? null : name;
    }
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}

export function joinDescription(url: string, instructions: string | null): string {
  const trimmed = instructions?.trim();
  return trimmed ? `${trimmed}\n\nJoin: ${url}` : `Join: ${url}`;
}

type EventContent = Omit<CalendarEvent, 'uid' | 'sequence' | 'stamp' | 'created' | 'revision'>;

/**
 * The link calendars carry: with joinLink "stable" our /j/ link (it resolves the room at click
 * time), with "direct" the room's own link; null when the session has no room.
 */
export function sharedJoinUrl(session: Session, provider: Pick<Provider, 'joinLink'>, location: Location | null, links: JoinLinks): string | null {
  const raw = effectiveTelehealthUrl(session, location);
  if (raw === null) return null;
  switch (provider.joinLink) {
    case 'stable':
      return links.url(session);
    case 'direct':
      return raw;
    default: {
      const unreachable: never = provider.joinLink;
      return unreachable;
    }
  }
}

function contentFor(session: Session, provider: Provider, location: Location | null, summary: string, links: JoinLinks): EventContent {
  const url = sharedJoinUrl(session, provider, location, links);
  const instructions = location?.kind === 'virtual' ? location.instructions : null;
  const place = url ?? (location?.kind === 'office' ? location.address : null);
  // Stored text passes through toPrintableText: the API refuses control characters, and rows
  // written before it did must not reach a calendar with them.
  return {
    start: session.start,
    end: session.end,
    timezone: provider.timezone,
    summary: toPrintableText(summary, 'line'),
    location: place === null ? null : toPrintableText(place, 'multiline'),
    description: url === null ? null : toPrintableText(joinDescription(url, instructions), 'multiline'),
    url,
    status: session.status === 'cancelled' ? 'cancelled' : 'confirmed',
  };
}

/** Stable hash of what an attendee would see; equal fingerprints render equal events. */
export function eventFingerprint(content: EventContent): string {
  const ordered = [
    content.start,
    content.end,
    content.timezone,
    content.summary,
    content.location,
    content.description,
    content.url,
    content.status,
  ];
  // One-shot: no Hash object per event (every write and every re-render of one computes this).
  return hash('sha256', JSON.stringify(ordered), 'base64url').slice(0, 22);
}

function withIdentity(session: Session, content: EventContent): CalendarEvent {
  return {
    uid: session.uid,
    sequence: session.sequence,
    ...content,
    stamp: session.lastModified,
    created: session.createdAt,
    revision: eventFingerprint(content),
  };
}

/** The provider's own view of a session (feed and push): title filtered by the privacy mode. */
export function toCalendarEvent(session: Session, provider: Provider, location: Location | null, links: JoinLinks): CalendarEvent {
  const kind = sessionKind(session, location);
  const who = clientLabel(session.client, effectivePrivacyMode(provider));
  const summary = who === null ? BASE_TITLE[kind] : `${BASE_TITLE[kind]} with ${who}`;
  return withIdentity(session, contentFor(session, provider, location, summary, links));
}

/** The client's invite file: names the provider, never the client or anyone else. */
export function toInviteEvent(session: Session, provider: Provider, location: Location | null, links: JoinLinks): CalendarEvent {
  return withIdentity(session, contentFor(session, provider, location, `Session with ${provider.name}`, links));
}
