import { Router } from 'express';
import { z } from 'zod';
import { MAX_SOURCE_URL_LENGTH, type BusySource } from '../domain/index.js';
import type { BusyService } from '../services/busy-service.js';
import { param } from './api-router.js';
import { idSchema, parseOrThrow } from './schemas.js';

// /providers/:providerId/busy-sources and /busy: a provider's other calendars, read as busy time.

export const busySourceBody = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('ics'), url: z.string().trim().min(1, 'must not be empty').max(MAX_SOURCE_URL_LENGTH, `must be at most ${MAX_SOURCE_URL_LENGTH} characters`) }),
  z.strictObject({ kind: z.literal('connection'), connectionId: idSchema }),
]);

const busyQuery = z.strictObject({
  from: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset or Z' }),
  to: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time with an offset or Z' }),
});

/** What an answer shows of a source: never its address, which may carry a secret; its host only. */
export function busySourceJson(s: BusySource) {
  return {
    id: s.id,
    kind: s.kind,
    ...(s.kind === 'ics' ? { host: s.urlHost } : { connectionId: s.connectionId }),
    status: s.status,
    lastFetchedAt: s.lastFetchedAt,
    lastError: s.lastErrorCode,
    intervals: s.intervalCount,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export function busyRouter(busy: BusyService): Router {
  const router = Router();
  router.put('/providers/:providerId/busy-sources/:sourceId', async (req, res) => {
    const providerId = param(req, 'providerId');
    const sourceId = param(req, 'sourceId');
    const input = parseOrThrow(busySourceBody, req.body);
    const { value, created } = await busy.put(providerId, sourceId, input);
    res.status(created ? 201 : 200).json(busySourceJson(value));
  });
  router.get('/providers/:providerId/busy-sources', async (req, res) => {
    res.json({ busySources: (await busy.list(param(req, 'providerId'))).map(busySourceJson) });
  });
  router.delete('/providers/:providerId/busy-sources/:sourceId', async (req, res) => {
    await busy.delete(param(req, 'providerId'), param(req, 'sourceId'));
    res.status(204).end();
  });
  router.post('/providers/:providerId/busy-sources/:sourceId/refresh', async (req, res) => {
    res.json(busySourceJson(await busy.refresh(param(req, 'providerId'), param(req, 'sourceId'))));
  });
  router.get('/providers/:providerId/busy', async (req, res) => {
    const providerId = param(req, 'providerId');
    const { from, to } = parseOrThrow(busyQuery, req.query);
    const intervals = await busy.busy(providerId, new Date(from).toISOString(), new Date(to).toISOString());
    res.json({ busy: intervals.map((b) => ({ start: b.start, end: b.end, sourceIds: b.sourceIds })) });
  });
  return router;
}
