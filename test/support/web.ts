import assert from 'node:assert/strict';
import supertest from 'supertest';
import { CONTENT_SECURITY_POLICY } from '../../src/http/web-session.js';
import type { TestApp } from './test-app.js';

// Helpers of the portal and admin console tests: cookies by hand (the test app's base URL is
// https, so the cookies are Secure, which supertest's agent would not send over plain http).

/** The value a Set-Cookie of this answer gives `name` ('' when it clears it), or null. */
export function setCookie(res: supertest.Response, name: string): string | null {
  const raw = res.headers['set-cookie'] as unknown;
  const lines = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  const line = lines.find((l) => l.startsWith(`${name}=`));
  return line === undefined ? null : (line.slice(name.length + 1).split(';')[0] ?? '');
}

export function setCookieLine(res: supertest.Response, name: string): string {
  const raw = res.headers['set-cookie'] as unknown;
  const lines = Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
  const line = lines.find((l) => l.startsWith(`${name}=`));
  assert.ok(line !== undefined, `no Set-Cookie for ${name}`);
  return line;
}

/** The page's CSRF token (every form of one page carries the same). */
export function csrfOf(res: supertest.Response): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(res.text);
  assert.ok(match?.[1], 'the page has no _csrf field');
  return match[1];
}

/** What every portal and console page must be: CSP, no-store, and no inline script or style. */
export function assertPageHygiene(res: supertest.Response): void {
  assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  assert.equal(res.headers['cache-control'], 'no-store');
  if (!String(res.headers['content-type'] ?? '').startsWith('text/html')) return;
  assert.doesNotMatch(res.text, /<script(?![^>]*\ssrc=)[^>]*>/i, 'inline <script>');
  assert.doesNotMatch(res.text, /\sstyle\s*=/i, 'style= attribute');
  assert.doesNotMatch(res.text, /<style/i, '<style> element');
  assert.doesNotMatch(res.text, /\son[a-z]+\s*=/i, 'inline event handler');
  assert.match(res.text, /<meta name="viewport"/);
  assert.match(res.text, /<main id="main"/);
}

export async function aProviderNamed(t: TestApp, id: string, name = 'Dr. Ada Lovelace'): Promise<void> {
  await t.platform.put(`/api/v1/providers/${id}`, { name, timezone: 'America/New_York', joinLink: 'direct' }).expect((r) => assert.ok(r.status === 201 || r.status === 200));
}

/** The path and query of a portal link answered by the API. */
export async function portalLinkPath(t: TestApp, providerId: string): Promise<string> {
  const res = await t.platform.post(`/api/v1/providers/${providerId}/portal-links`).expect(201);
  const url = new URL(String(res.body.url));
  return `${url.pathname}${url.search}`;
}

export interface Browser {
  cookie: string;
  get(path: string): supertest.Test;
  post(path: string, form?: Record<string, string>): supertest.Test;
}

/** A "browser" holding a session cookie. */
export function browserWith(t: TestApp, cookie: string): Browser {
  const request = supertest(t.app);
  return {
    cookie,
    get: (path) => request.get(path).set('Cookie', `ss_session=${cookie}`),
    post: (path, form = {}) => request.post(path).set('Cookie', `ss_session=${cookie}`).type('form').send(form),
  };
}

/** A provider (created if need be) signed into the portal through a fresh portal link. */
export async function signedInProvider(t: TestApp, providerId: string): Promise<Browser> {
  await aProviderNamed(t, providerId);
  const res = await supertest(t.app).get(await portalLinkPath(t, providerId)).expect(303);
  const cookie = setCookie(res, 'ss_session');
  assert.ok(cookie);
  return browserWith(t, cookie);
}
