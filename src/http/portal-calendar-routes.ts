import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { toCalendarEvent } from '../domain/calendar-event.js';
import { AppError, ErrorCode, MAX_SOURCE_URL_LENGTH, notFound } from '../domain/index.js';
import type { BusySource, Clock, Connection, ConnectionKind, JoinLinks, Location, PrivacyMode, Provider, Session, WebSession } from '../domain/index.js';
import type { BusyService } from '../services/busy-service.js';
import type { ConnectionService, ConnectionView } from '../services/connection-service.js';
import type { LocationService } from '../services/location-service.js';
import type { ProviderService } from '../services/provider-service.js';
import type { SessionService } from '../services/session-service.js';
import { idSchema, parseOrThrow, providerBody } from './schemas.js';
import { html, utcWhen, type Html } from './web-html.js';
import { field, requiredSession } from './web-session.js';

// The portal's calendar sections: connected calendars (Google / Outlook push), privacy (what the
// external calendar shows, with a live preview), other calendars read as busy time, and the
// upcoming two weeks as the external calendar shows them. Mounted inside portalRouter, behind its
// session and CSRF guards; every route takes the provider from the session.

export interface PortalCalendarDeps {
  clock: Clock;
  providers: ProviderService;
  locations: LocationService;
  connections: ConnectionService;
  busy: BusyService;
  schedule: SessionService;
  joinLinks: JoinLinks;
}

export type PortalView = (res: Response, session: WebSession, o: { title: string; heading: string; current: string; body: Html }) => void;

const DAY_MS = 86_400_000;
const UPCOMING_DAYS = 14;
/** How far ahead the privacy preview looks for the next session. */
const PREVIEW_DAYS = 90;

const VENDOR: Record<ConnectionKind, string> = { google: 'Google Calendar', outlook: 'Outlook' };

const PRIVACY_CHOICES: readonly { mode: PrivacyMode; label: string; hint: string }[] = [
  { mode: 'none', label: 'Nothing identifying', hint: 'e.g. "Telehealth session". The safest choice.' },
  { mode: 'initials', label: 'Client initials', hint: 'e.g. "Telehealth session with A.M.". Needs the BAA attestation.' },
  { mode: 'full', label: 'Client full name', hint: 'e.g. "Telehealth session with Alex Morgan". Needs the BAA attestation.' },
];

const privacyMode = z.enum(['none', 'initials', 'full']);
const uuid = z.uuid();

function providerIdOf(res: Response): string {
  return requiredSession(res).providerId ?? '';
}


/** "Google Calendar (ada@example.org)": a connected calendar as the pages name it. */
function connectionName(c: Pick<Connection, 'kind' | 'accountEmail'>): string {
  return `${VENDOR[c.kind]}${c.accountEmail === null ? '' : ` (${c.accountEmail})`}`;
}

/** A connection id from the path, or 404 (a malformed one names nothing). */
function connectionIdOf(req: Request): string {
  const parsed = uuid.safeParse(req.params['connectionId']);
  if (!parsed.success) throw notFound(ErrorCode.CONNECTION_NOT_FOUND, 'There is no such connection.');
  return parsed.data;
}

function sourceIdOf(req: Request): string {
  const parsed = idSchema.safeParse(req.params['sourceId']);
  if (!parsed.success) throw notFound(ErrorCode.BUSY_SOURCE_NOT_FOUND, 'There is no such calendar.');
  return parsed.data;
}

/** Times in the provider's zone, as the provider reads them. */
function zoneFormat(zone: string) {
  const time = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', minute: '2-digit' });
  const day = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'long', month: 'long', day: 'numeric' });
  const key = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
  return {
    time: (iso: string) => time.format(new Date(iso)),
    day: (iso: string) => day.format(new Date(iso)),
    key: (iso: string) => key.format(new Date(iso)),
  };
}

/** The page that sends the browser to the vendor's consent screen (see connectAndGo). */
function consentRedirect(res: Response, view: PortalView, session: WebSession, kind: ConnectionKind, authorizeUrl: string): void {
  // Not a 303: the CSP's form-action 'self' also governs where a form post is redirected, so the
  // browser would refuse a redirect to the vendor. A Refresh header is a new navigation instead.
  res.set('Refresh', `0;url=${authorizeUrl}`);
  view(res, session, {
    title: 'Connecting a calendar – sessionsync',
    heading: `Opening ${VENDOR[kind]}`,
    current: '/portal/calendars',
    body: html`<p>Your browser is opening ${VENDOR[kind]}'s sign-in page. Sign in and allow access; you will come back here.</p>
<p><a href="${authorizeUrl}">Continue to ${VENDOR[kind]}</a></p>`,
  });
}

export function portalCalendarRouter(deps: PortalCalendarDeps, view: PortalView, csrfOf: (session: WebSession) => string): Router {
  const { clock, providers, locations, connections, busy, schedule, joinLinks } = deps;
  const router = Router();
  const csrfField = (session: WebSession) => html`<input type="hidden" name="_csrf" value="${csrfOf(session)}">`;

  // ---- Connected calendars ------------------------------------------------------------------

  const statusOf = (c: Connection): Html => {
    if (c.cleanup !== null) {
      return html`<span class="status">Disconnecting</span> – ${c.cleanup.removeEvents ? 'removing the events sessionsync wrote, then withdrawing its access.' : 'withdrawing its access; your events stay.'}`;
    }
    switch (c.status) {
      case 'active':
        return html`<span class="status ok">Active</span>${c.lastSyncedAt === null ? ' – nothing sent yet.' : ` – last update sent ${utcWhen(c.lastSyncedAt)}.`}`;
      case 'pending_authorization':
        return html`<span class="status">Waiting for you to finish signing in</span>${c.lastErrorCode === 'CONSENT_DENIED' ? ' – access was not granted.' : '.'}`;
      case 'needs_reauth':
        return html`<span class="status bad">Needs reconnecting</span>`;
      case 'error':
        return html`<span class="status bad">Stopped by an error</span> (${c.lastErrorCode ?? 'unknown'}).`;
      case 'disconnected':
        return html`<span class="status">Disconnected</span>`;
      default: {
        const unknown: never = c.status;
        return html`${String(unknown)}`;
      }
    }
  };

  const calendarsPage = async (req: Request, res: Response, extra: { error?: string } = {}) => {
    const session = requiredSession(res);
    const list = (await connections.list(providerIdOf(res))).filter((v) => v.connection.status !== 'disconnected');
    const q = req.query;
    const notices: Html[] = [];
    if (typeof q['connected'] === 'string' && (q['connected'] === 'google' || q['connected'] === 'outlook')) {
      notices.push(html`<p class="notice" role="status">${VENDOR[q['connected']]} is connected. Your sessions appear in it within a few seconds.</p>`);
    }
    if (q['disconnecting'] === '1') {
      notices.push(html`<p class="notice" role="status">${q['removeRequested'] === '1' ? 'Disconnecting: sessionsync is removing the events it wrote, then withdraws its access. This takes a few seconds, longer for a large calendar.' : 'Disconnecting: sessionsync withdraws its access; the events already in the calendar stay there.'}</p>`);
    }
    if (q['disconnected'] === '1') {
      const left = typeof q['left'] === 'string' && /^\d{1,6}$/.test(q['left']) ? Number(q['left']) : 0;
      const reason = typeof q['reason'] === 'string' && /^[A-Z0-9_]{1,64}$/.test(q['reason']) ? q['reason'] : null;
      notices.push(html`<p class="notice" role="status">Calendar disconnected.</p>`);
      if (reason !== null) notices.push(html`<p class="warning" role="alert">sessionsync could not reach this calendar any more (${reason})${left > 0 ? `, so ${left} event${left === 1 ? '' : 's'} it wrote stay in it: remove them in the calendar itself` : ''}.</p>`);
    }
    if (q['failed'] === 'denied') notices.push(html`<p class="error" role="alert">The calendar account did not grant access. Nothing was connected; try again when you are ready.</p>`);
    if (q['failed'] === '1') notices.push(html`<p class="error" role="alert">Connecting did not finish (the sign-in took too long or was already used). Try again.</p>`);
    const line = (v: ConnectionView) => {
      const c = v.connection;
      const name = connectionName(c);
      const needsReconnect = c.status !== 'active';
      return html`<li class="connection">
<h3>${name}</h3>
<p>Status: ${statusOf(c)}${v.pending > 0 ? ` ${v.pending} change${v.pending === 1 ? '' : 's'} waiting to be sent.` : ''}${v.failed > 0 ? ` ${v.failed} could not be sent.` : ''}</p>
${c.status === 'needs_reauth' || c.status === 'error' ? html`<p class="warning" role="alert">${VENDOR[c.kind]} no longer accepts our access. Until you reconnect, changes to your sessions are not sent to it.</p>` : ''}
${needsReconnect ? html`<form method="post" action="/portal/calendars/${c.id}/reconnect">${csrfField(session)}<button type="submit" aria-label="Reconnect ${name}">Reconnect</button></form>` : ''}
<form method="post" action="/portal/calendars/${c.id}/disconnect">${csrfField(session)}
<p class="check"><input type="checkbox" id="remove-${c.id}" name="removeEvents" value="on" checked><label class="inline" for="remove-${c.id}">Also remove the events sessionsync wrote</label></p>
<button type="submit" class="secondary" aria-label="Disconnect ${name}">Disconnect</button>
</form>
</li>`;
    };
    view(res, session, {
      title: 'Connected calendars – sessionsync',
      heading: 'Connected calendars',
      current: '/portal/calendars',
      body: html`${notices}
${extra.error !== undefined ? html`<p class="error" role="alert">${extra.error}</p>` : ''}
<p>Connect your Google or Outlook calendar and sessionsync writes your sessions into it, and updates them within seconds of a change. It writes only its own events and never changes yours; it reads your events' times (never their titles) only if you add this calendar under <a href="/portal/busy">Other calendars</a>.</p>
<h2>Connect a calendar</h2>
<form method="post" action="/portal/calendars/connect" class="inline-form">${csrfField(session)}<input type="hidden" name="kind" value="google"><button type="submit">Connect Google Calendar</button></form>
<form method="post" action="/portal/calendars/connect" class="inline-form">${csrfField(session)}<input type="hidden" name="kind" value="outlook"><button type="submit">Connect Outlook</button></form>
<h2>Your connected calendars</h2>
${list.length === 0 ? html`<p>No calendars connected yet.</p>` : html`<ul class="feeds">${list.map(line)}</ul>`}`,
    });
  };

  router.get('/calendars', (req, res) => calendarsPage(req, res));

  router.post('/calendars/connect', async (req, res) => {
    const session = requiredSession(res);
    const kind = field(req, 'kind');
    if (kind !== 'google' && kind !== 'outlook') throw new AppError({ code: ErrorCode.BAD_REQUEST, status: 400, message: 'Choose Google Calendar or Outlook.' });
    let started;
    try {
      started = await connections.create(providerIdOf(res), { kind, calendarId: 'primary' });
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== ErrorCode.CONNECTOR_NOT_CONFIGURED) throw err;
      res.status(409);
      await calendarsPage(req, res, { error: `${VENDOR[kind]} cannot be connected on this server yet: its administrator has not registered the app.` });
      return;
    }
    consentRedirect(res, view, session, kind, started.authorizeUrl);
  });

  router.post('/calendars/:connectionId/reconnect', async (req, res) => {
    const session = requiredSession(res);
    const started = await connections.reauthorize(providerIdOf(res), connectionIdOf(req));
    consentRedirect(res, view, session, started.connection.kind, started.authorizeUrl);
  });

  router.post('/calendars/:connectionId/disconnect', async (req, res) => {
    const removeEvents = field(req, 'removeEvents') === 'on';
    const result = await connections.disconnect(providerIdOf(res), connectionIdOf(req), { removeEvents, actor: 'portal' });
    const query = new URLSearchParams(result.status === 'removing' ? { disconnecting: '1' } : { disconnected: '1' });
    if (removeEvents) query.set('removeRequested', '1');
    if (result.eventsLeft > 0) query.set('left', String(result.eventsLeft));
    if (result.reason !== null) query.set('reason', result.reason);
    res.redirect(303, `/portal/calendars?${query.toString()}`);
  });

  // ---- Privacy -------------------------------------------------------------------------------

  /** The next scheduled session, else a sample one, with its location: what the preview renders. */
  const previewSubject = async (provider: Provider): Promise<{ session: Session; location: Location | null; sample: boolean }> => {
    const now = clock.now();
    const all = await locations.list(provider.id);
    const upcoming = (await schedule.list(provider.id, { from: now.toISOString(), to: new Date(now.getTime() + PREVIEW_DAYS * DAY_MS).toISOString() }))
      .filter((s) => s.status === 'scheduled' && s.start >= now.toISOString())
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const next = upcoming[0];
    if (next !== undefined) return { session: next, location: all.find((l) => l.id === next.locationId) ?? null, sample: false };
    const location = all.find((l) => l.isDefault) ?? all[0] ?? null;
    const start = new Date(Math.ceil((now.getTime() + DAY_MS) / 3_600_000) * 3_600_000).toISOString();
    const sample: Session = {
      providerId: provider.id,
      id: 'sample',
      uid: 'sample',
      start,
      end: new Date(Date.parse(start) + 50 * 60_000).toISOString(),
      locationId: location?.id ?? null,
      telehealthUrl: null,
      client: { id: null, firstName: 'Alex', lastName: 'Morgan' },
      status: 'scheduled',
      seriesId: null,
      sequence: 0,
      eventFingerprint: '',
      lastModified: now.toISOString(),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    return { session: sample, location, sample: true };
  };

  const preview = async (provider: Provider, mode: PrivacyMode, baaAttested: boolean) => {
    const subject = await previewSubject(provider);
    const event = toCalendarEvent(subject.session, { ...provider, privacy: { mode, baaAttested } }, subject.location, joinLinks);
    const f = zoneFormat(provider.timezone);
    return {
      summary: event.summary,
      when: `${f.day(event.start)}, ${f.time(event.start)} – ${f.time(event.end)} (${provider.timezone})`,
      location: event.location,
      sample: subject.sample,
      needsBaa: mode !== 'none' && !baaAttested,
    };
  };

  const previewHtml = (p: Awaited<ReturnType<typeof preview>>) =>
    html`<p>${p.sample ? 'A sample session (client Alex Morgan) would show as:' : 'Your next session will show as:'}</p>
<p class="preview-summary"><strong id="preview-summary">${p.summary}</strong></p>
<p id="preview-when">${p.when}</p>
<p id="preview-needs-baa" class="warning"${p.needsBaa ? '' : html` hidden`}>Without the BAA attestation, the calendar shows nothing identifying.</p>`;

  const privacyPage = async (res: Response, provider: Provider, form: { mode: PrivacyMode; baaAttested: boolean }, extra: { saved?: boolean; error?: string } = {}) => {
    const session = requiredSession(res);
    const p = await preview(provider, form.mode, form.baaAttested);
    view(res, session, {
      title: 'Privacy – sessionsync',
      heading: 'Privacy',
      current: '/portal/privacy',
      body: html`${extra.saved === true ? html`<p class="notice" role="status">Privacy saved. Your calendars are being updated.</p>` : ''}
${extra.error !== undefined ? html`<div class="error" role="alert" id="privacy-error"><p>${extra.error}</p></div>` : ''}
<p>Choose what your connected calendars and feeds show for a session. Client names may reach an external calendar only if its service has signed a Business Associate Agreement (BAA) with you.</p>
<form method="post" action="/portal/privacy" id="privacy-form">
${csrfField(session)}
<fieldset>
<legend>What the external calendar shows</legend>
${PRIVACY_CHOICES.map(
  (c) => html`<p class="choice"><input type="radio" id="privacy-${c.mode}" name="mode" value="${c.mode}"${form.mode === c.mode ? html` checked` : ''} aria-describedby="privacy-${c.mode}-hint"><label class="inline" for="privacy-${c.mode}">${c.label}</label><br><span class="hint" id="privacy-${c.mode}-hint">${c.hint}</span></p>`,
)}
</fieldset>
<p class="check"><input type="checkbox" id="baa-attested" name="baaAttested" value="on"${form.baaAttested ? html` checked` : ''}><label class="inline" for="baa-attested">My calendar service has signed a BAA with me (required for initials or full names)</label></p>
<h2 id="preview-heading">Preview</h2>
<div id="privacy-preview" class="preview" aria-live="polite" aria-labelledby="preview-heading">${previewHtml(p)}</div>
<button type="submit">Save privacy</button>
</form>`,
    });
  };

  router.get('/privacy', async (req, res) => {
    const provider = await providers.get(providerIdOf(res));
    await privacyPage(res, provider, provider.privacy, { saved: req.query['saved'] === '1' });
  });

  router.post('/privacy', async (req, res) => {
    const provider = await providers.get(providerIdOf(res));
    const parsedMode = privacyMode.safeParse(field(req, 'mode'));
    const form = { mode: parsedMode.success ? parsedMode.data : provider.privacy.mode, baaAttested: field(req, 'baaAttested') === 'on' };
    try {
      if (!parsedMode.success) throw new AppError({ code: ErrorCode.VALIDATION_FAILED, status: 400, message: 'Choose what the external calendar shows.' });
      // The API's own rules: initials or full names only with the BAA attestation.
      const input = parseOrThrow(providerBody, { name: provider.name, email: provider.email, timezone: provider.timezone, privacy: { mode: form.mode, baaAttested: form.baaAttested } });
      await providers.put(provider.id, input);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      res.status(err.status);
      const baa = Array.isArray(err.details) && err.details.some((d) => d.path === 'privacy.baaAttested');
      await privacyPage(res, provider, form, {
        error: baa ? 'Not saved. Initials or full names need the BAA attestation: tick the box only if your calendar service has signed a BAA with you.' : `Not saved. ${err.message}`,
      });
      return;
    }
    res.redirect(303, '/portal/privacy?saved=1');
  });

  // The live preview of portal.js: how the next session would look under a choice (nothing is saved).
  router.get('/privacy/preview', async (req, res) => {
    const provider = await providers.get(providerIdOf(res));
    const parsed = privacyMode.safeParse(req.query['mode']);
    const mode = parsed.success ? parsed.data : 'none';
    res.json(await preview(provider, mode, req.query['baaAttested'] === 'true'));
  });

  // ---- Other calendars (busy time) ----------------------------------------------------------

  const busyStatus = (s: BusySource): string => {
    switch (s.status) {
      case 'pending':
        return 'Not read yet';
      case 'ok':
        return 'Read';
      case 'error':
        return 'Could not be read';
      default: {
        const unknown: never = s.status;
        return String(unknown);
      }
    }
  };

  const busyPage = async (req: Request, res: Response, extra: { error?: string; url?: string } = {}) => {
    const session = requiredSession(res);
    const providerId = providerIdOf(res);
    const [sources, views] = await Promise.all([busy.list(providerId), connections.list(providerId)]);
    const live = views.map((v) => v.connection).filter((c) => c.status !== 'disconnected');
    const used = new Set(sources.map((s) => s.connectionId).filter((id) => id !== null));
    const pickable = live.filter((c) => !used.has(c.id));
    const nameOf = (s: BusySource) => {
      if (s.kind === 'ics') return `Calendar at ${s.urlHost ?? 'an unknown host'}`;
      const c = live.find((x) => x.id === s.connectionId);
      return c === undefined ? 'A calendar that is no longer connected' : connectionName(c);
    };
    const line = (s: BusySource) => {
      const name = nameOf(s);
      return html`<li class="busy-source">
<h3>${name}</h3>
<dl class="facts">
<dt>Status</dt><dd class="busy-status">${busyStatus(s)}</dd>
<dt>Last read</dt><dd>${s.lastFetchedAt === null ? 'Never' : utcWhen(s.lastFetchedAt)}</dd>
<dt>Last error</dt><dd>${s.lastErrorCode ?? 'None'}</dd>
<dt>Busy periods</dt><dd>${s.intervalCount}</dd>
</dl>
<form method="post" action="/portal/busy/${s.id}/refresh" class="inline-form">${csrfField(session)}<button type="submit" class="secondary" aria-label="Read ${name} now">Read now</button></form>
<form method="post" action="/portal/busy/${s.id}/remove" class="inline-form">${csrfField(session)}<button type="submit" class="secondary" aria-label="Remove ${name}">Remove</button></form>
</li>`;
    };
    view(res, session, {
      title: 'Other calendars – sessionsync',
      heading: 'Other calendars',
      current: '/portal/busy',
      body: html`${req.query['added'] === '1' ? html`<p class="notice" role="status">Calendar added.</p>` : ''}
${req.query['removed'] === '1' ? html`<p class="notice" role="status">Calendar removed: its busy time is no longer used.</p>` : ''}
${extra.error !== undefined ? html`<div class="error" role="alert" id="busy-error"><p>${extra.error}</p></div>` : ''}
<p>Your other calendars (personal, another practice) tell sessionsync when you are busy, so a session booked over that time comes with a warning. Only the times are kept: never titles, places or who is there.</p>
<h2>Add a calendar address</h2>
<form method="post" action="/portal/busy">
${csrfField(session)}
<label for="busy-url">Calendar address (ICS)</label>
<input type="url" id="busy-url" name="url" value="${extra.url ?? ''}" required maxlength="${MAX_SOURCE_URL_LENGTH}" autocomplete="off" aria-describedby="busy-url-hint${extra.error !== undefined ? ' busy-error' : ''}">
<p class="hint" id="busy-url-hint">The secret address in iCal format from your calendar's settings (https:// or webcal://). It is stored encrypted and never shown again.</p>
<button type="submit">Add calendar</button>
</form>
<h2>Use a connected calendar</h2>
${
  pickable.length === 0
    ? html`<p>${live.length === 0 ? html`No calendars are connected. <a href="/portal/calendars">Connect one</a> to use its busy time.` : 'Every connected calendar is already used.'}</p>`
    : html`<form method="post" action="/portal/busy/connection">
${csrfField(session)}
<label for="busy-connection">Connected calendar</label>
<select id="busy-connection" name="connectionId">${pickable.map((c) => html`<option value="${c.id}">${connectionName(c)}</option>`)}</select>
<button type="submit">Use its busy time</button>
</form>`
}
<h2>Your other calendars</h2>
${sources.length === 0 ? html`<p>No other calendars yet.</p>` : html`<ul class="feeds">${sources.map(line)}</ul>`}`,
    });
  };

  router.get('/busy', (req, res) => busyPage(req, res));

  router.post('/busy', async (req, res) => {
    const providerId = providerIdOf(res);
    const url = field(req, 'url').trim();
    const sourceId = `ics-${randomBytes(9).toString('base64url')}`;
    try {
      if (url === '') throw new AppError({ code: ErrorCode.VALIDATION_FAILED, status: 400, message: 'Enter the calendar address.' });
      if (url.length > MAX_SOURCE_URL_LENGTH) throw new AppError({ code: ErrorCode.VALIDATION_FAILED, status: 400, message: `The address is longer than ${MAX_SOURCE_URL_LENGTH} characters.` });
      await busy.put(providerId, sourceId, { kind: 'ics', url });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      res.status(err.status);
      await busyPage(req, res, { error: `Not added. ${err.message}`, url });
      return;
    }
    // Read at once, so the provider sees whether it works (the worker reads it again later).
    await busy.refresh(providerId, sourceId);
    res.redirect(303, '/portal/busy?added=1');
  });

  router.post('/busy/connection', async (req, res) => {
    const providerId = providerIdOf(res);
    const parsed = uuid.safeParse(field(req, 'connectionId'));
    if (!parsed.success) throw notFound(ErrorCode.CONNECTION_NOT_FOUND, 'There is no such connection.');
    const sourceId = `cal-${parsed.data}`;
    await busy.put(providerId, sourceId, { kind: 'connection', connectionId: parsed.data });
    await busy.refresh(providerId, sourceId);
    res.redirect(303, '/portal/busy?added=1');
  });

  router.post('/busy/:sourceId/refresh', async (req, res) => {
    await busy.refresh(providerIdOf(res), sourceIdOf(req));
    res.redirect(303, '/portal/busy');
  });

  router.post('/busy/:sourceId/remove', async (req, res) => {
    await busy.delete(providerIdOf(res), sourceIdOf(req));
    res.redirect(303, '/portal/busy?removed=1');
  });

  // ---- Upcoming sessions ---------------------------------------------------------------------

  router.get('/sessions', async (_req, res) => {
    const session = requiredSession(res);
    const provider = await providers.get(providerIdOf(res));
    const now = clock.now();
    const from = now.toISOString();
    const to = new Date(now.getTime() + UPCOMING_DAYS * DAY_MS).toISOString();
    const [list, all, busyTimes] = await Promise.all([schedule.list(provider.id, { from, to }), locations.list(provider.id), busy.busy(provider.id, from, to)]);
    const f = zoneFormat(provider.timezone);
    interface Item {
      start: string;
      html: Html;
    }
    const byDay = new Map<string, { label: string; items: Item[] }>();
    // The days of the window in the provider's zone, empty ones included (6-hour steps catch every
    // calendar day, DST days too).
    for (let t = now.getTime(); t < Date.parse(to); t += DAY_MS / 4) {
      const iso = new Date(t).toISOString();
      if (!byDay.has(f.key(iso))) byDay.set(f.key(iso), { label: f.day(iso), items: [] });
    }
    const add = (iso: string, item: Item) => byDay.get(f.key(iso < from ? from : iso))?.items.push(item);
    for (const s of list.filter((x) => x.status === 'scheduled')) {
      const event = toCalendarEvent(s, provider, all.find((l) => l.id === s.locationId) ?? null, joinLinks);
      add(s.start, {
        start: s.start,
        html: html`<li class="session"><span class="time">${f.time(event.start)} – ${f.time(event.end)}</span> <strong>${event.summary}</strong>${event.url !== null ? html` <a href="${event.url}" rel="noreferrer noopener">Join link</a>` : event.location !== null ? html` <span>${event.location}</span>` : ''}</li>`,
      });
    }
    for (const b of busyTimes) {
      const sameDay = f.key(b.start) === f.key(b.end);
      add(b.start, {
        start: b.start,
        html: html`<li class="busy"><span class="time">${f.time(b.start)} – ${sameDay ? f.time(b.end) : `${f.day(b.end)} ${f.time(b.end)}`}</span> Busy in another calendar</li>`,
      });
    }
    const days = [...byDay.values()];
    view(res, session, {
      title: 'Upcoming sessions – sessionsync',
      heading: 'Upcoming sessions',
      current: '/portal/sessions',
      body: html`<p>The next two weeks as your connected calendars and feeds show them (titles follow your <a href="/portal/privacy">privacy choice</a>). Times are in ${provider.timezone}. Shaded lines are busy time from your <a href="/portal/busy">other calendars</a>, times only.</p>
${days.map(
  (d) => html`<section class="day" aria-label="${d.label}">
<h2>${d.label}</h2>
${d.items.length === 0 ? html`<p class="hint">Nothing scheduled.</p>` : html`<ul class="day-items">${d.items.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).map((i) => i.html)}</ul>`}
</section>`,
)}`,
    });
  });

  return router;
}
