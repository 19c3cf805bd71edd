import { Router } from 'express';
import type { Request, Response } from 'express';
import { hashJoinToken, isWellFormedJoinToken, joinState } from '../domain/index.js';
import { effectiveTelehealthUrl } from '../domain/calendar-event.js';
import type { Clock, JoinState, Provider, Session, StoreReader } from '../domain/index.js';
import type { Metrics } from '../metrics.js';
import { html, type Html } from './web-html.js';
import { webAssets } from './web-assets.js';
import { CONTENT_SECURITY_POLICY } from './web-session.js';

// GET /j/<token>: the stable join link calendars carry. Decided at each click from the session as
// it is now, and read-only: mail scanners open links before people do, so a click writes nothing
// (it is counted in a metric). The pages name the provider and the time, never the client.

export interface JoinDeps {
  store: StoreReader;
  clock: Clock;
  metrics: Pick<Metrics, 'joinClick'>;
  /** The room opens this many minutes before the start (JOIN_OPENS_MINUTES). */
  opensMinutes: number;
}

const HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Robots-Tag': 'noindex',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Frame-Options': 'DENY',
};

function joinPage(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<link rel="stylesheet" href="${webAssets.css}">
</head>
<body>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

/** "Tuesday, November 10, 2026, 10:00 AM – 10:50 AM EST" in the provider's zone. */
export function sessionTime(session: Pick<Session, 'start' | 'end'>, zone: string): string {
  const day = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
  const time = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', minute: '2-digit' });
  const zoned = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
  const start = new Date(session.start);
  return `${day.format(start)}, ${time.format(start)} – ${zoned.format(new Date(session.end))}`;
}

function atTime(iso: string, zone: string): string {
  return new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'long', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }).format(
    new Date(iso),
  );
}

/** The one answer for an unknown token and a deleted session (or provider): nothing tells them apart. */
const NOT_FOUND_PAGE = joinPage('Session not available', html`<p>This session was cancelled, or this link is not valid. Please contact your provider.</p>`);

function notFound(res: Response): void {
  res.status(404).type('html').send(NOT_FOUND_PAGE);
}

function stateAnswer(res: Response, state: Exclude<JoinState, { kind: 'gone' }>, provider: Provider, session: Session, selfPath: string): void {
  const when = sessionTime(session, provider.timezone);
  switch (state.kind) {
    case 'open':
      res.redirect(302, state.url);
      return;
    case 'cancelled':
      res.status(200).type('html').send(joinPage('Session cancelled', html`<p>Your session with ${provider.name} on ${when} was cancelled. There is no room to join.</p>`));
      return;
    case 'ended':
      res.status(200).type('html').send(joinPage('Session ended', html`<p>Your session with ${provider.name} on ${when} has ended.</p>`));
      return;
    case 'no-room':
      res.status(200).type('html').send(joinPage('Session with ' + provider.name, html`<p>Your session with ${provider.name} is on ${when}. It has no online room; please contact your provider.</p>`));
      return;
    case 'early':
      // The time shown is always the current one: a rescheduled session shows its new time.
      res
        .status(200)
        .type('html')
        .send(
          joinPage(
            'Session with ' + provider.name,
            html`<p>Your session with ${provider.name} is on <strong>${when}</strong>.</p>
<p>The room opens ${atTime(state.opensAt, provider.timezone)}. Come back then, or reload this page.</p>
<p><a class="button" href="${selfPath}">Join the session</a></p>`,
          ),
        );
      return;
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

export function joinRouter(deps: JoinDeps): Router {
  const router = Router();
  router.get('/j/:token', async (req: Request, res: Response) => {
    res.set(HEADERS);
    const raw = req.params.token;
    const token = typeof raw === 'string' ? raw : '';
    if (!isWellFormedJoinToken(token)) {
      deps.metrics.joinClick('unknown');
      notFound(res);
      return;
    }
    const ref = await deps.store.findJoinSession(hashJoinToken(token));
    const [provider, session] = ref === null ? [null, null] : await Promise.all([deps.store.getProvider(ref.providerId), deps.store.getSession(ref.providerId, ref.sessionId)]);
    // A provider who left has no room to send anyone to: as if the session were gone.
    if (provider === null || session === null || provider.offboardedAt !== null) {
      deps.metrics.joinClick('unknown');
      notFound(res);
      return;
    }
    const location = session.locationId === null ? null : await deps.store.getLocation(provider.id, session.locationId);
    const state = joinState(session, effectiveTelehealthUrl(session, location), deps.clock.now().getTime(), deps.opensMinutes);
    if (state.kind === 'gone') {
      notFound(res);
      return;
    }
    deps.metrics.joinClick(state.kind);
    stateAnswer(res, state, provider, session, `/j/${token}`);
  });
  return router;
}
