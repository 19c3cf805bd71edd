import { Router } from 'express';
import type { Request, Response } from 'express';
import type { FeedService } from '../../feeds/index.js';
import { AppError, ErrorCode, checkTelehealthLink, waitingRoomWarnings } from '../domain/index.js';
import type { FeedToken, Location, OfficeLocation, VirtualLocation, WebSession } from '../domain/index.js';
import type { LocationService } from '../services/location-service.js';
import type { ProviderService } from '../services/provider-service.js';
import type { WebSessionService } from '../services/web-session-service.js';
import { portalCalendarRouter, type PortalCalendarDeps } from './portal-calendar-routes.js';
import { actorOf, param } from './api-router.js';
import { feedBody, idSchema, locationBody, parseOrThrow } from './schemas.js';
import { html, page, utcWhen, type Html } from './web-html.js';
import { webAssets } from './web-assets.js';
import {
  clearSessionCookie,
  field,
  formBody,
  htmlErrors,
  loadSession,
  readCookie,
  requireCsrf,
  requiredSession,
  sameOriginOnly,
  SESSION_COOKIE,
  sessionCsrf,
  sessionOf,
  setSessionCookie,
  webHeaders,
  type WebDeps,
} from './web-session.js';

// /portal: a provider's own settings in the browser, behind a session opened by a portal link.
// Every route takes the provider from the session, never from the URL or the form.

export interface PortalDeps extends WebDeps, PortalCalendarDeps {
  providers: ProviderService;
  locations: LocationService;
  feeds: FeedService;
}

/** POST /api/v1/providers/:providerId/portal-links (platform or admin token). */
export function portalLinksRouter(sessions: WebSessionService): Router {
  const router = Router();
  router.post('/providers/:providerId/portal-links', async (req, res) => {
    const link = await sessions.issuePortalLink(param(req, 'providerId'), actorOf(res));
    res.status(201).json(link);
  });
  return router;
}

const TELEHEALTH_ID = 'telehealth';
const ACTOR = 'portal';

/** The telehealth link the portal edits: the default virtual location, else the first one. */
function telehealthOf(locations: readonly Location[]): VirtualLocation | null {
  const virtual = locations.filter((l): l is VirtualLocation => l.kind === 'virtual');
  return virtual.find((l) => l.isDefault) ?? virtual[0] ?? null;
}

/** The provider's office locations, by name. */
function officesOf(locations: readonly Location[]): OfficeLocation[] {
  return locations.filter((l): l is OfficeLocation => l.kind === 'office').sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/**
 * A new office's id: the slug of its name ("Main office" -> "main-office"), "office" when the
 * name has no letter or digit, with "-2", "-3"... when taken, so adding never overwrites.
 */
export function officeIdFor(name: string, taken: ReadonlySet<string>): string {
  const slug =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, 56)
      .replace(/-+$/, '') || 'office';
  if (!taken.has(slug)) return slug;
  for (let n = 2; ; n++) {
    const candidate = `${slug}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function noSuchOffice(): AppError {
  return new AppError({ code: ErrorCode.LOCATION_NOT_FOUND, status: 404, message: 'There is no such office location; it may have been removed.' });
}

type OfficeErrors = { name?: string; address?: string; form?: string };

/** A refused office save, as messages next to its fields (the API's own wording). */
function officeErrorsOf(err: AppError): OfficeErrors {
  const errors: OfficeErrors = {};
  const rest: string[] = [];
  for (const d of Array.isArray(err.details) ? err.details : []) {
    if (d.path === 'name' || d.path === 'address') errors[d.path] = errors[d.path] === undefined ? d.message : `${errors[d.path]}; ${d.message}`;
    else rest.push(`${d.path}: ${d.message}`);
  }
  const fields = [errors.name !== undefined ? 'Office name' : null, errors.address !== undefined ? 'Address' : null].filter((f) => f !== null);
  errors.form = `Office not saved.${fields.length > 0 ? ` Check ${fields.join(' and ')}.` : ` ${err.message}`}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}`;
  return errors;
}

/** What a calendar app a feed was last fetched by is called (from its User-Agent). */
export function appName(userAgent: string | null): string {
  if (userAgent === null) return 'an unknown app';
  if (/Google/i.test(userAgent)) return 'Google Calendar';
  if (/Microsoft|Outlook|Exchange/i.test(userAgent)) return 'Outlook';
  if (/iOS|Mac ?OS|CalendarAgent|dataaccessd|iCal/i.test(userAgent)) return 'Apple Calendar';
  if (/Thunderbird/i.test(userAgent)) return 'Thunderbird';
  return userAgent.slice(0, 60);
}


export function portalRouter(deps: PortalDeps): Router {
  const { sessions, secrets, publicBaseUrl, providers, locations, feeds } = deps;
  const router = Router();
  router.use(webHeaders, sameOriginOnly(publicBaseUrl));

  const view = (res: Response, session: WebSession, o: { title: string; heading: string; current: string; body: Html }) =>
    res.type('html').send(page({ ...o, area: 'portal', csrf: sessionCsrf(secrets, session), assets: webAssets }));

  // The link's token is in the query (a fragment never reaches the server); the redirect takes
  // it out of the address bar at once, and Referrer-Policy keeps it from leaving in a Referer.
  router.get('/enter', async (req, res) => {
    const token = typeof req.query['t'] === 'string' ? req.query['t'] : '';
    const opened = await sessions.redeemPortalLink(token);
    const previous = readCookie(req, SESSION_COOKIE);
    const old = previous === null ? null : await sessions.resolve(previous);
    if (old !== null) await sessions.revoke(old);
    setSessionCookie(res, opened.token, publicBaseUrl);
    res.redirect(303, '/portal');
  });

  router.use(formBody, loadSession(sessions, 'provider'));
  router.use((req, res, next) => {
    if (sessionOf(res) !== null) return next();
    if (req.path === '/link-check' || req.path === '/privacy/preview') {
      res.status(401).json({ error: { code: ErrorCode.UNAUTHENTICATED, message: 'Open the portal with a portal link first.' } });
      return;
    }
    next(new AppError({ code: ErrorCode.UNAUTHENTICATED, status: 401, message: 'You are not signed in, or your session has ended. Ask for a new portal link.' }));
  });
  router.use(requireCsrf(secrets));

  router.get('/', async (_req, res) => {
    const session = requiredSession(res);
    const provider = await providers.get(session.providerId ?? '');
    view(res, session, {
      title: 'Overview – sessionsync',
      heading: 'Your portal',
      current: '/portal',
      body: html`<p>Signed in as ${provider.name}.</p>
<h2>Sections</h2>
<ul>
<li><a href="/portal/locations">Locations</a>: your telehealth link, the instructions clients see, and your office addresses.</li>
<li><a href="/portal/feeds">Calendar feeds</a>: subscribe to your sessions from Apple Calendar, Google Calendar or Outlook.</li>
<li><a href="/portal/calendars">Connected calendars</a>: connect Google Calendar or Outlook so your sessions appear there within seconds.</li>
<li><a href="/portal/privacy">Privacy</a>: what your calendars show about a client, with a preview.</li>
<li><a href="/portal/busy">Other calendars</a>: your other calendars' busy time, so a session booked over it is flagged.</li>
<li><a href="/portal/sessions">Upcoming sessions</a>: the next two weeks as your calendars show them.</li>
</ul>`,
    });
  });

  // ---- Locations ------------------------------------------------------------------------------

  interface LocationForm {
    url: string;
    instructions: string;
    waitingRoom: boolean;
  }

  /** The office form: `id` null when adding (the id then comes from the name). */
  interface OfficeForm {
    id: string | null;
    name: string;
    address: string;
  }

  interface LocationsView {
    telehealth: LocationForm;
    verdict: Html;
    saved?: boolean;
    error?: string;
    offices: readonly OfficeLocation[];
    office: OfficeForm;
    officeErrors?: OfficeErrors;
    officeNotice?: 'saved' | 'removed';
    removeError?: { id: string; message: string };
  }

  const EMPTY_OFFICE: OfficeForm = { id: null, name: '', address: '' };

  const officeLine = (session: WebSession, o: OfficeLocation, removeError: LocationsView['removeError']) => html`<li>
<strong>${o.name}</strong>${o.isDefault ? ' (default location)' : ''}
<span class="address">${o.address}</span>
${removeError?.id === o.id ? html`<p class="error" role="alert" id="remove-error">${removeError.message}</p>` : ''}
<a href="/portal/locations?edit=${encodeURIComponent(o.id)}#office-form-heading" aria-label="Edit ${o.name}">Edit</a>
<form method="post" action="/portal/locations/offices/${encodeURIComponent(o.id)}/remove"><input type="hidden" name="_csrf" value="${sessionCsrf(secrets, session)}"><button type="submit" class="secondary" aria-label="Remove ${o.name}">Remove</button></form>
</li>`;

  const officeSection = (session: WebSession, v: LocationsView): Html => {
    const errors = v.officeErrors ?? {};
    const described = (fieldId: string, error: string | undefined) =>
      error === undefined ? '' : html` aria-invalid="true" aria-describedby="${fieldId}-error"`;
    const fieldError = (fieldId: string, label: string, error: string | undefined) =>
      error === undefined ? '' : html`<p class="error field-error" id="${fieldId}-error">${label} ${error}</p>`;
    const editing = v.office.id !== null;
    return html`<h2 id="offices-heading">Office locations</h2>
<p>The offices where you see clients in person. Clients of an in-person session get its name and address.</p>
${v.officeNotice === 'saved' ? html`<p class="notice" role="status">Office saved.</p>` : ''}
${v.officeNotice === 'removed' ? html`<p class="notice" role="status">Office removed.</p>` : ''}
${v.offices.length === 0 ? html`<p>No office locations yet.</p>` : html`<ul class="feeds offices" aria-labelledby="offices-heading">${v.offices.map((o) => officeLine(session, o, v.removeError))}</ul>`}
<h3 id="office-form-heading">${editing ? 'Edit office' : 'Add an office'}</h3>
${errors.form !== undefined ? html`<div class="error" role="alert" id="office-error"><p>${errors.form}</p></div>` : ''}
<form method="post" action="/portal/locations/offices" aria-labelledby="office-form-heading">
<input type="hidden" name="_csrf" value="${sessionCsrf(secrets, session)}">
${editing ? html`<input type="hidden" name="id" value="${v.office.id}">` : ''}
<label for="office-name">Office name</label>
<input type="text" id="office-name" name="name" value="${v.office.name}" required maxlength="200" autocomplete="off"${described('office-name', errors.name)}>
${fieldError('office-name', 'Office name', errors.name)}
<label for="office-address">Address</label>
<textarea id="office-address" name="address" required maxlength="500" autocomplete="street-address"${described('office-address', errors.address)}>${v.office.address}</textarea>
${fieldError('office-address', 'Address', errors.address)}
<button type="submit">Save office</button>
${editing ? html`<p><a href="/portal/locations">Cancel editing</a></p>` : ''}
</form>`;
  };

  const locationsPage = (res: Response, session: WebSession, v: LocationsView) =>
    view(res, session, {
      title: 'Locations – sessionsync',
      heading: 'Locations',
      current: '/portal/locations',
      body: html`${v.saved === true ? html`<p class="notice" role="status">Location saved.</p>` : ''}
${v.error !== undefined ? html`<div class="error" role="alert" id="location-error"><p>${v.error}</p></div>` : ''}
<h2>Telehealth link</h2>
<p>The video link your clients get in every session invitation. It must be the https:// link of a HIPAA-compliant platform with a signed BAA; FaceTime and phone calls are not accepted.</p>
<form method="post" action="/portal/locations">
<input type="hidden" name="_csrf" value="${sessionCsrf(secrets, session)}">
<label for="telehealth-url">Telehealth link</label>
<input type="url" id="telehealth-url" name="url" value="${v.telehealth.url}" required maxlength="2048" autocomplete="off" aria-describedby="link-verdict${v.error !== undefined ? ' location-error' : ''}">
<div id="link-verdict" class="verdict" aria-live="polite">${v.verdict}</div>
<p class="check"><input type="checkbox" id="waiting-room" name="waitingRoom" value="on"${v.telehealth.waitingRoom ? html` checked` : ''}><label class="inline" for="waiting-room">The waiting room (or a locked private room) is on for this link</label></p>
<label for="instructions">Instructions for clients</label>
<textarea id="instructions" name="instructions" maxlength="2000">${v.telehealth.instructions}</textarea>
<p class="hint">Shown to clients with the link, e.g. how to test their camera.</p>
<button type="submit">Save location</button>
</form>
${officeSection(session, v)}`,
    });

  const verdictOf = (url: string, waitingRoom: boolean | null): Html => {
    if (url === '') return html``;
    const check = checkTelehealthLink(url);
    if (!check.ok) return html`<p class="error">Refused: ${check.reason}</p>`;
    const warnings = [...check.warnings, ...waitingRoomWarnings(check.platform, waitingRoom)];
    return html`<p>${check.platform !== null ? `Recognised platform: ${check.platform.name}.` : 'Not a recognised platform.'}</p>${warnings.map((w) => html`<p class="warning">${w}</p>`)}`;
  };

  /** The page as stored: the telehealth form from the saved link, the offices listed. */
  const storedView = (all: readonly Location[]): LocationsView => {
    const current = telehealthOf(all);
    const telehealth = { url: current?.url ?? '', instructions: current?.instructions ?? '', waitingRoom: current?.waitingRoom === true };
    return { telehealth, verdict: verdictOf(telehealth.url, current?.waitingRoom ?? null), offices: officesOf(all), office: EMPTY_OFFICE };
  };

  router.get('/locations', async (req, res) => {
    const session = requiredSession(res);
    const all = await locations.list(session.providerId ?? '');
    const v = storedView(all);
    const edit = typeof req.query['edit'] === 'string' ? v.offices.find((o) => o.id === req.query['edit']) : undefined;
    const notice = req.query['office'];
    locationsPage(res, session, {
      ...v,
      saved: req.query['saved'] === '1',
      ...(edit !== undefined ? { office: { id: edit.id, name: edit.name, address: edit.address } } : {}),
      ...(notice === 'saved' || notice === 'removed' ? { officeNotice: notice } : {}),
    });
  });

  router.post('/locations', async (req, res) => {
    const session = requiredSession(res);
    const providerId = session.providerId ?? '';
    const form = { url: field(req, 'url').trim(), instructions: field(req, 'instructions'), waitingRoom: field(req, 'waitingRoom') === 'on' };
    const all = await locations.list(providerId);
    const current = telehealthOf(all);
    try {
      const input = parseOrThrow(locationBody, {
        kind: 'virtual',
        name: current?.name ?? null,
        url: form.url,
        instructions: form.instructions.trim() === '' ? null : form.instructions,
        waitingRoom: form.waitingRoom ? true : null,
        isDefault: true,
      });
      await locations.put(providerId, current?.id ?? TELEHEALTH_ID, input);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const reasons = Array.isArray(err.details) ? err.details.map((d) => `${d.path === 'url' ? '' : `${d.path}: `}${d.message}`) : [];
      const message = err.code === ErrorCode.TELEHEALTH_LINK_REJECTED ? `Not saved. ${reasons.join(' ')}` : `Not saved. ${err.message} ${reasons.join(' ')}`.trim();
      res.status(err.status);
      locationsPage(res, session, { ...storedView(all), telehealth: form, error: message, verdict: verdictOf(form.url, form.waitingRoom ? true : null) });
      return;
    }
    res.redirect(303, '/portal/locations?saved=1');
  });

  // Offices: added with an id made from the name, edited through the hidden id of the form, which
  // must name one of this provider's offices (never its telehealth link, never another's).
  router.post('/locations/offices', async (req, res) => {
    const session = requiredSession(res);
    const providerId = session.providerId ?? '';
    const rawId = field(req, 'id').trim();
    const office: OfficeForm = { id: rawId === '' ? null : parseOrThrow(idSchema, rawId, 'id'), name: field(req, 'name'), address: field(req, 'address') };
    const all = await locations.list(providerId);
    if (office.id !== null && !officesOf(all).some((o) => o.id === office.id)) throw noSuchOffice();
    try {
      const input = parseOrThrow(locationBody, { kind: 'office', name: office.name, address: office.address });
      const id = office.id ?? parseOrThrow(idSchema, officeIdFor(office.name, new Set(all.map((l) => l.id))), 'id');
      await locations.put(providerId, id, input);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      res.status(err.status);
      locationsPage(res, session, { ...storedView(all), office, officeErrors: officeErrorsOf(err) });
      return;
    }
    res.redirect(303, '/portal/locations?office=saved');
  });

  router.post('/locations/offices/:locationId/remove', async (req: Request, res) => {
    const session = requiredSession(res);
    const providerId = session.providerId ?? '';
    const locationId = param(req, 'locationId');
    const all = await locations.list(providerId);
    const target = officesOf(all).find((o) => o.id === locationId);
    if (target === undefined) throw noSuchOffice();
    try {
      await locations.delete(providerId, locationId);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== ErrorCode.LOCATION_IN_USE) throw err;
      const count = !Array.isArray(err.details) && typeof err.details?.['count'] === 'number' ? err.details['count'] : null;
      const message =
        count === null
          ? `Not removed. ${err.message}`
          : `Not removed: ${target.name} is the location of ${count} upcoming session${count === 1 ? '' : 's'}. Move ${count === 1 ? 'it' : 'them'} to another location or cancel ${count === 1 ? 'it' : 'them'} first.`;
      res.status(err.status);
      locationsPage(res, session, { ...storedView(all), removeError: { id: locationId, message } });
      return;
    }
    res.redirect(303, '/portal/locations?office=removed');
  });

  // The live verdict of portal.js: the policy's answer for a link being typed (nothing is saved).
  router.get('/link-check', (req, res) => {
    const url = typeof req.query['url'] === 'string' ? req.query['url'].slice(0, 10_000) : '';
    const waitingRoom = req.query['waitingRoom'] === 'true' ? true : null;
    const check = checkTelehealthLink(url);
    if (!check.ok) {
      res.json({ ok: false, reason: check.reason });
      return;
    }
    res.json({
      ok: true,
      platform: check.platform === null ? null : { id: check.platform.id, name: check.platform.name, note: check.platform.note ?? null },
      warnings: [...check.warnings, ...waitingRoomWarnings(check.platform, waitingRoom)],
    });
  });

  // ---- Calendar feeds ------------------------------------------------------------------------

  const feedsPage = (res: Response, session: WebSession, list: readonly FeedToken[], extra: { created?: { label: string | null; url: string; webcalUrl: string }; revoked?: boolean }) => {
    const created = extra.created;
    const subscribe = (c: NonNullable<typeof created>) => {
      const name = c.label ?? 'sessionsync';
      const google = `https://calendar.google.com/calendar/r?cid=${encodeURIComponent(c.webcalUrl)}`;
      const outlook = `https://outlook.live.com/calendar/0/addfromweb?url=${encodeURIComponent(c.url)}&name=${encodeURIComponent(name)}`;
      return html`<section class="notice" aria-labelledby="created-heading">
<h2 id="created-heading">Your new feed URL</h2>
<p><strong>Copy it now: it is shown only this once.</strong> Anyone with this URL can read your schedule, so keep it private.</p>
<p>Feed URL: <code id="feed-url" class="url">${c.url}</code></p>
<button type="button" class="secondary" data-copy="feed-url" data-status="copy-status" hidden>Copy feed URL</button>
<p id="copy-status" role="status"></p>
<h3>Subscribe in one click</h3>
<ul>
<li><a href="${c.webcalUrl}">Subscribe in Apple Calendar</a></li>
<li><a href="${google}" rel="noreferrer noopener">Subscribe in Google Calendar</a></li>
<li><a href="${outlook}" rel="noreferrer noopener">Subscribe in Outlook</a></li>
</ul>
</section>`;
    };
    const line = (f: FeedToken) => html`<li>
<strong>${f.label ?? 'Unnamed feed'}</strong> – created ${utcWhen(f.createdAt)}.
${f.lastFetchedAt === null ? 'Not fetched yet.' : `Last fetched ${utcWhen(f.lastFetchedAt)} by ${appName(f.lastUserAgent)}.`}
<form method="post" action="/portal/feeds/${f.id}/revoke"><input type="hidden" name="_csrf" value="${sessionCsrf(secrets, session)}"><button type="submit" class="secondary" aria-label="Revoke ${f.label ?? 'unnamed feed'}">Revoke</button></form>
</li>`;
    view(res, session, {
      title: 'Calendar feeds – sessionsync',
      heading: 'Calendar feeds',
      current: '/portal/feeds',
      body: html`${extra.revoked === true ? html`<p class="notice" role="status">Feed revoked: calendars subscribed to it no longer get your sessions.</p>` : ''}
${created !== undefined ? subscribe(created) : ''}
<p>A feed URL lets a calendar app subscribe to your sessions. Google Calendar refreshes subscriptions only every 8 to 24 hours; connecting Google Calendar instead pushes every change in seconds.</p>
<h2>Create a feed URL</h2>
<form method="post" action="/portal/feeds">
<input type="hidden" name="_csrf" value="${sessionCsrf(secrets, session)}">
<label for="feed-name">Feed name</label>
<input type="text" id="feed-name" name="label" maxlength="100" aria-describedby="feed-name-hint">
<p class="hint" id="feed-name-hint">For you to tell feeds apart, e.g. "iPhone".</p>
<button type="submit">Create feed URL</button>
</form>
<h2>Your feeds</h2>
${list.length === 0 ? html`<p>No feeds yet.</p>` : html`<ul class="feeds">${list.map(line)}</ul>`}`,
    });
  };

  router.get('/feeds', async (req, res) => {
    const session = requiredSession(res);
    feedsPage(res, session, await feeds.list(session.providerId ?? ''), { revoked: req.query['revoked'] === '1' });
  });

  router.post('/feeds', async (req, res) => {
    const session = requiredSession(res);
    const providerId = session.providerId ?? '';
    const label = field(req, 'label').trim();
    const input = parseOrThrow(feedBody, label === '' ? {} : { label });
    const { feed, url, webcalUrl } = await feeds.create(providerId, input.label);
    res.status(201);
    feedsPage(res, session, await feeds.list(providerId), { created: { label: feed.label, url, webcalUrl } });
  });

  router.post('/feeds/:feedId/revoke', async (req: Request, res) => {
    const session = requiredSession(res);
    await feeds.revoke(session.providerId ?? '', param(req, 'feedId'), ACTOR);
    res.redirect(303, '/portal/feeds?revoked=1');
  });

  router.use(portalCalendarRouter(deps, view, (session) => sessionCsrf(secrets, session)));

  router.post('/sign-out', async (_req, res) => {
    await sessions.revoke(requiredSession(res));
    clearSessionCookie(res, publicBaseUrl);
    res.locals['webSession'] = undefined;
    res
      .type('html')
      .send(page({ title: 'Signed out – sessionsync', heading: 'Signed out', area: 'portal', assets: webAssets, body: html`<p>You are signed out. To come back, ask for a new portal link.</p>` }));
  });

  router.use((_req, _res, next) => next(new AppError({ code: ErrorCode.NOT_FOUND, status: 404, message: 'There is no such page.' })));
  router.use(htmlErrors(deps.logger, secrets, 'portal'));
  return router;
}
