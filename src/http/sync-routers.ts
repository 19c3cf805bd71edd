import { Router } from 'express';
import type { Request } from 'express';
import { z } from 'zod';
import type { CleanupOutcome, Connection, ResyncJob } from '../domain/index.js';
import type { AdminService } from '../services/admin-service.js';
import type { ConnectionService, ConnectionView } from '../services/connection-service.js';
import type { WebSessionService } from '../services/web-session-service.js';
import { AppError, ErrorCode } from '../domain/index.js';
import { actorOf, param } from './api-router.js';
import { idSchema, parseOrThrow, text } from './schemas.js';
import { readCookie, SESSION_COOKIE } from './web-session.js';

// Routes of push sync: connecting calendars (platform API), the OAuth redirects (public; the
// signed state is the credential) and the admin surface (resync jobs, health, retries, audit).

const connectionBody = z
  .strictObject({
    kind: z.enum(['google', 'outlook']),
    calendarId: text(1024).optional(),
  })
  .transform((b) => ({ kind: b.kind, calendarId: b.calendarId ?? 'primary' }));

// Query strings are strict like bodies (a misspelt "?removeEvent=true" must not silently keep the
// events), except the OAuth callbacks, to which Google and Microsoft add parameters of their own.
// Leaving cleanly is the default: our events go with the connection unless asked to stay.
const disconnectQuery = z.strictObject({ removeEvents: z.enum(['true', 'false']).default('true') }).transform((q) => ({ removeEvents: q.removeEvents === 'true' }));

const resyncBody = z
  .strictObject({
    providerIds: z.array(idSchema).min(1).max(10_000).optional(),
    connectionIds: z.array(z.uuid()).min(1).max(10_000).optional(),
    dryRun: z.boolean().default(false),
  })
  .default({ dryRun: false })
  .transform((b): ResyncJob['request'] => ({ providerIds: b.providerIds ?? null, connectionIds: b.connectionIds ?? null, dryRun: b.dryRun }));

/** A positive decimal integer, written plainly: no "0x10", "1e2", "+5" or " 7". */
const positiveInteger = (max: number) =>
  z
    .string()
    .regex(/^[1-9]\d{0,15}$/, 'must be a positive whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().max(max, `must be at most ${max}`));

const auditQuery = z.strictObject({
  limit: positiveInteger(500).default(100),
  before: positiveInteger(Number.MAX_SAFE_INTEGER).optional(),
});

const callbackQuery = z.object({
  state: z.string().min(1).max(4096),
  code: z.string().min(1).max(4096).optional(),
  error: z.string().max(200).optional(),
});

export function connectionJson(view: ConnectionView | { connection: Connection; pending?: number; failed?: number }) {
  const c = view.connection;
  return {
    id: c.id,
    providerId: c.providerId,
    kind: c.kind,
    status: c.status,
    account: c.accountEmail,
    calendarId: c.calendarId,
    lastSyncedAt: c.lastSyncedAt,
    pending: view.pending ?? 0,
    failed: view.failed ?? 0,
    lastErrorCode: c.lastErrorCode,
    /** A disconnect or offboarding under way: the worker is removing our events, then revokes the grant. */
    cleanup: c.cleanup === null ? null : { reason: c.cleanup.reason, removeEvents: c.cleanup.removeEvents, requestedAt: c.cleanup.requestedAt, offboardingId: c.cleanup.offboardingId },
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/** A connection's cleanup as the API tells it: removing (202 while under way) or disconnected. */
export function cleanupJson(outcome: CleanupOutcome) {
  return { status: outcome.status === 'removing' ? 'removing' : 'disconnected', outcome };
}

export function connectionsRouter(connections: ConnectionService): Router {
  const router = Router();
  router.post('/providers/:providerId/connections', async (req, res) => {
    const providerId = param(req, 'providerId');
    const input = parseOrThrow(connectionBody, req.body);
    const { connection, authorizeUrl } = await connections.create(providerId, input);
    res.status(201).json({ ...connectionJson({ connection }), authorizeUrl });
  });
  router.get('/providers/:providerId/connections', async (req, res) => {
    res.json({ connections: (await connections.list(param(req, 'providerId'))).map(connectionJson) });
  });
  router.post('/providers/:providerId/connections/:connectionId/reauthorize', async (req, res) => {
    const connectionId = parseOrThrow(z.uuid(), req.params['connectionId'], 'connectionId');
    const { connection, authorizeUrl } = await connections.reauthorize(param(req, 'providerId'), connectionId);
    res.json({ ...connectionJson({ connection }), authorizeUrl });
  });
  router.delete('/providers/:providerId/connections/:connectionId', async (req, res) => {
    const providerId = param(req, 'providerId');
    const connectionId = parseOrThrow(z.uuid(), req.params['connectionId'], 'connectionId');
    const { removeEvents } = parseOrThrow(disconnectQuery, req.query);
    const result = await connections.disconnect(providerId, connectionId, { removeEvents, actor: actorOf(res) });
    res.status(result.status === 'removing' ? 202 : 200).json(cleanupJson(result));
  });
  return router;
}

const PAGE = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;

/**
 * The OAuth redirects. A provider who started from the portal (its session cookie comes along:
 * SameSite=Lax is sent on the vendor's top-level redirect) goes back to /portal/calendars, with
 * the outcome in the query; anyone else gets a plain page (or the JSON error).
 */
export function oauthRouter(connections: ConnectionService, webSessions?: WebSessionService): Router {
  const router = Router();
  const portalProvider = async (req: Request): Promise<string | null> => {
    const token = readCookie(req, SESSION_COOKIE);
    if (webSessions === undefined || token === null) return null;
    const session = await webSessions.resolve(token);
    return session?.kind === 'provider' ? session.providerId : null;
  };
  for (const [path, kind] of [['/google/callback', 'google'], ['/microsoft/callback', 'outlook']] as const) {
    router.get(path, async (req, res) => {
      const query = parseOrThrow(callbackQuery, req.query);
      const providerId = await portalProvider(req);
      let connection: Connection;
      try {
        connection = await connections.completeAuthorization(kind, { state: query.state, code: query.code ?? null, error: query.error ?? null });
      } catch (err) {
        if (providerId === null || !(err instanceof AppError) || err.status >= 500) throw err;
        res.set('Cache-Control', 'no-store').redirect(303, `/portal/calendars?failed=${err.code === ErrorCode.OAUTH_CONSENT_DENIED ? 'denied' : '1'}`);
        return;
      }
      if (providerId !== null && providerId === connection.providerId) {
        res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }).redirect(303, `/portal/calendars?connected=${kind}`);
        return;
      }
      res
        .status(200)
        .set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'Content-Security-Policy': "default-src 'none'" })
        .type('html')
        .send(PAGE('Calendar connected', 'Your sessions will appear in your calendar within a few seconds. You can close this window.'));
    });
  }
  return router;
}

export function adminRouter(admin: AdminService): Router {
  const router = Router();
  router.post('/resync', async (req, res) => {
    const request = parseOrThrow(resyncBody, req.body);
    const job = await admin.queueResync(request, actorOf(res));
    res.status(202).location(`/api/v1/admin/jobs/${job.id}`).json({ jobId: job.id, status: job.status });
  });
  router.get('/jobs/:jobId', async (req, res) => {
    const jobId = parseOrThrow(z.uuid(), req.params['jobId'], 'jobId');
    const job = await admin.job(jobId);
    res.json({
      id: job.id,
      status: job.status,
      request: job.request,
      progress: job.progress,
      ...(job.plan !== null ? { plan: job.plan } : {}),
      error: job.error,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
    });
  });
  router.get('/sync-health', async (_req, res) => {
    res.json(await admin.health());
  });
  router.post('/targets/:targetId/retry', async (req, res) => {
    const targetId = parseOrThrow(z.uuid(), req.params['targetId'], 'targetId');
    await admin.retryTarget(targetId, actorOf(res));
    res.status(202).json({ status: 'queued' });
  });
  router.get('/audit', async (req, res) => {
    const query = parseOrThrow(auditQuery, req.query);
    const entries = await admin.audit({ limit: query.limit, ...(query.before !== undefined ? { beforeId: query.before } : {}) });
    res.json({ entries });
  });
  return router;
}
