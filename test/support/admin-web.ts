import { testJoinLinks } from './builders.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import supertest from 'supertest';
import type { SyncTarget } from '../../src/domain/index.js';
import { ResyncRunner } from '../../src/sync/index.js';
import { aConnection } from './builders.js';
import { ADMIN_TOKEN, type TestApp } from './test-app.js';
import { aProviderNamed, browserWith, csrfOf, setCookie, type Browser } from './web.js';

// Helpers of the admin console tests: a signed-in admin, a dead-lettered target, a resync runner.

/** An admin signed in through the sign-in form. */
export async function signedInAdmin(t: TestApp): Promise<Browser> {
  const form = await supertest(t.app).get('/admin/sign-in').expect(200);
  const nonce = setCookie(form, 'ss_signin');
  assert.ok(nonce);
  const res = await supertest(t.app).post('/admin/sign-in').set('Cookie', `ss_signin=${nonce}`).type('form').send({ _csrf: csrfOf(form), token: ADMIN_TOKEN }).expect(303);
  const cookie = setCookie(res, 'ss_session');
  assert.ok(cookie);
  return browserWith(t, cookie);
}

/**
 * Provider `providerId` (created) with an active Google connection whose target for session
 * `sessionId` a worker dead-lettered with `errorCode`.
 */
export async function aDeadTarget(t: TestApp, options: { providerId?: string; sessionId?: string; errorCode?: string } = {}): Promise<SyncTarget> {
  const providerId = options.providerId ?? 'p1';
  await aProviderNamed(t, providerId);
  const now = t.clock.now().toISOString();
  const connection = aConnection({ id: randomUUID(), providerId, createdAt: now, updatedAt: now });
  await t.store.transaction(async (tx) => {
    await tx.putConnection(connection);
    await tx.markConnectionTargetsDirty(connection.id, [options.sessionId ?? 's-dead'], now);
  });
  const until = new Date(t.clock.now().getTime() + 60_000).toISOString();
  const [claimed] = await t.store.claimTargets({ owner: 'w-dead', now, leaseUntil: until, limit: 1 });
  assert.ok(claimed);
  assert.ok(await t.store.failTarget(claimed.id, 'w-dead', { errorCode: options.errorCode ?? 'HTTP_400', nextAttemptAt: now, dead: true, at: now }));
  await t.store.releaseLeases('w-dead');
  const dead = await t.store.getTarget(claimed.id);
  assert.ok(dead);
  return dead;
}

/** The resync runner a worker process would run, over the test app's store and clock. */
export function resyncRunnerOf(t: TestApp): ResyncRunner {
  return new ResyncRunner({ joinLinks: testJoinLinks, store: t.store, connectors: new Map(), secrets: t.secrets, clock: t.clock, logger: t.logger, pastDays: 60, owner: 'resync-test' });
}
