import { Router } from 'express';
import type { Request, Response } from 'express';
import type { FeedService } from '../../feeds/index.js';
import type { FeedToken, Location, Provider, Session } from '../domain/index.js';
import type { BusyService } from '../services/busy-service.js';
import type { LocationService } from '../services/location-service.js';
import type { OffboardingService, OffboardingView } from '../services/offboarding-service.js';
import type { ProviderService } from '../services/provider-service.js';
import type { SessionService } from '../services/session-service.js';
import { feedBody, idSchema, locationBody, parseOrThrow, providerBody, seriesBody, sessionBody, sessionRangeQuery } from './schemas.js';

export interface ApiServices {
  providers: ProviderService;
  locations: LocationService;
  sessions: SessionService;
  feeds: FeedService;
  busy: BusyService;
  offboarding: OffboardingService;
}

/** An offboarding and, while its calendars are being emptied, how many events each still has to go. */
export function offboardingJson(view: OffboardingView) {
  const o = view.offboarding;
  return {
    id: o.id,
    providerId: o.providerId,
    mode: o.mode,
    status: o.finishedAt === null ? 'removing' : o.connections.every((c) => c.status === 'done') ? 'done' : 'incomplete',
    requestedAt: o.requestedAt,
    finishedAt: o.finishedAt,
    feedsTombstoned: o.feedsTombstoned,
    connections: o.connections.map((c) => ({ ...c, pending: view.pending[c.connectionId] ?? 0 })),
  };
}

// Response shapes: internal bookkeeping (feedRevision, fingerprints, token hashes) stays inside.
export function providerJson(p: Provider) {
  return { id: p.id, name: p.name, email: p.email, timezone: p.timezone, privacy: p.privacy, joinLink: p.joinLink, reminders: p.reminders, offboardedAt: p.offboardedAt, createdAt: p.createdAt, updatedAt: p.updatedAt };
}

function locationJson(l: Location) {
  const { providerId: _p, id, kind, ...rest } = l;
  return { id, kind, ...rest };
}

export function sessionJson(s: Session) {
  return {
    id: s.id,
    providerId: s.providerId,
    start: s.start,
    end: s.end,
    locationId: s.locationId,
    telehealthUrl: s.telehealthUrl,
    client: s.client,
    status: s.status,
    seriesId: s.seriesId,
    uid: s.uid,
    sequence: s.sequence,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

function feedJson(f: FeedToken) {
  return { id: f.id, label: f.label, createdAt: f.createdAt, lastFetchedAt: f.lastFetchedAt, lastUserAgent: f.lastUserAgent, fetchCount: f.fetchCount };
}

/** Who is calling, for the audit log: set by the auth middleware. */
export function actorOf(res: Response): string {
  return String(res.locals['actor'] ?? 'unknown');
}

export function param(req: Request, name: string): string {
  return parseOrThrow(idSchema, req.params[name], name);
}

export function apiRouter(services: ApiServices): Router {
  const router = Router();
  const { providers, locations, sessions, feeds, busy, offboarding } = services;

  router.put('/providers/:providerId', async (req, res) => {
    const id = param(req, 'providerId');
    const input = parseOrThrow(providerBody, req.body);
    const { value, created } = await providers.put(id, input);
    res.status(created ? 201 : 200).json(providerJson(value));
  });
  router.get('/providers/:providerId', async (req, res) => {
    res.json(providerJson(await providers.get(param(req, 'providerId'))));
  });
  // Leaving: our events leave every connected calendar first (the worker), then the grants are
  // revoked; 202 while that is under way (GET /offboardings/:id to watch), 200 once done. DELETE
  // then removes the provider's record; POST .../offboard keeps it for the audit.
  const leave = (mode: 'offboard' | 'delete') => async (req: Request, res: Response) => {
    const view = await offboarding.offboard(param(req, 'providerId'), mode, actorOf(res));
    res.status(view.offboarding.finishedAt === null ? 202 : 200).json(offboardingJson(view));
  };
  router.delete('/providers/:providerId', leave('delete'));
  router.post('/providers/:providerId/offboard', leave('offboard'));
  router.get('/providers/:providerId/offboardings', async (req, res) => {
    const id = param(req, 'providerId');
    res.json({ offboardings: (await offboarding.list(id)).map(offboardingJson) });
  });
  router.get('/offboardings/:offboardingId', async (req, res) => {
    res.json(offboardingJson(await offboarding.get(parseOrThrow(idSchema, req.params['offboardingId'], 'offboardingId'))));
  });

  router.put('/providers/:providerId/locations/:locationId', async (req, res) => {
    const providerId = param(req, 'providerId');
    const locationId = param(req, 'locationId');
    const input = parseOrThrow(locationBody, req.body);
    const { value, created, warnings } = await locations.put(providerId, locationId, input);
    res.status(created ? 201 : 200).json({ ...locationJson(value), warnings });
  });
  router.get('/providers/:providerId/locations', async (req, res) => {
    res.json({ locations: (await locations.list(param(req, 'providerId'))).map(locationJson) });
  });
  router.delete('/providers/:providerId/locations/:locationId', async (req, res) => {
    await locations.delete(param(req, 'providerId'), param(req, 'locationId'));
    res.status(204).end();
  });

  router.put('/providers/:providerId/sessions/:sessionId', async (req, res) => {
    const providerId = param(req, 'providerId');
    const sessionId = param(req, 'sessionId');
    const input = parseOrThrow(sessionBody, req.body);
    const { value, created, warnings } = await sessions.put(providerId, sessionId, input);
    // Written over busy time in another calendar: accepted (the provider may mean it), and said.
    res.status(created ? 201 : 200).json({ ...sessionJson(value), warnings: [...warnings, ...(await busy.conflictsWith(value))] });
  });
  router.get('/providers/:providerId/sessions', async (req, res) => {
    const providerId = param(req, 'providerId');
    const range = parseOrThrow(sessionRangeQuery, req.query);
    res.json({ sessions: (await sessions.list(providerId, range)).map(sessionJson) });
  });
  router.get('/providers/:providerId/sessions/:sessionId', async (req, res) => {
    res.json(sessionJson(await sessions.get(param(req, 'providerId'), param(req, 'sessionId'))));
  });
  router.delete('/providers/:providerId/sessions/:sessionId', async (req, res) => {
    await sessions.delete(param(req, 'providerId'), param(req, 'sessionId'));
    res.status(204).end();
  });
  router.get('/providers/:providerId/sessions/:sessionId/invite.ics', async (req, res) => {
    const body = await feeds.invite(param(req, 'providerId'), param(req, 'sessionId'));
    res
      .status(200)
      .set({
        'Content-Type': 'text/calendar; charset=utf-8; method=PUBLISH',
        'Content-Disposition': 'attachment; filename="session.ics"',
        'Cache-Control': 'private, no-store',
      })
      .send(body);
  });

  router.post('/providers/:providerId/series', async (req, res) => {
    const providerId = param(req, 'providerId');
    const input = parseOrThrow(seriesBody, req.body);
    const result = await sessions.putSeries(providerId, input);
    const conflicts = await busy.conflictsWithAll(result.sessions);
    res.status(result.created > 0 ? 201 : 200).json({
      seriesId: input.seriesId,
      created: result.created,
      updated: result.updated,
      unchanged: result.unchanged,
      cancelled: result.cancelled,
      sessions: result.sessions.map(sessionJson),
      warnings: [...result.warnings, ...conflicts],
    });
  });

  router.post('/providers/:providerId/feeds', async (req, res) => {
    const providerId = param(req, 'providerId');
    const { label } = parseOrThrow(feedBody, req.body);
    const { feed, url, webcalUrl } = await feeds.create(providerId, label);
    res.status(201).set('Cache-Control', 'no-store').json({ id: feed.id, label: feed.label, url, webcalUrl, createdAt: feed.createdAt });
  });
  router.get('/providers/:providerId/feeds', async (req, res) => {
    res.json({ feeds: (await feeds.list(param(req, 'providerId'))).map(feedJson) });
  });
  router.delete('/providers/:providerId/feeds/:feedId', async (req, res) => {
    const providerId = param(req, 'providerId');
    const feedId = parseOrThrow(idSchema, req.params['feedId'], 'feedId');
    await feeds.revoke(providerId, feedId, actorOf(res));
    res.status(204).end();
  });

  return router;
}
