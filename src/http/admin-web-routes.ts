import { Router } from 'express';
import type { Response } from 'express';
import { AppError, ErrorCode } from '../domain/index.js';
import type { AdminService } from '../services/admin-service.js';
import { hashSecretToken, newSecretToken } from '../services/web-session-service.js';
import { tokensEqual } from './auth.js';
import { html, page, type Html } from './web-html.js';
import { webAssets } from './web-assets.js';
import {
  clearSessionCookie,
  csrfMatches,
  csrfToken,
  field,
  forbidden,
  formBody,
  htmlErrors,
  isSecure,
  loadSession,
  readCookie,
  requireCsrf,
  requiredSession,
  sameOriginOnly,
  sessionCsrf,
  sessionOf,
  setSessionCookie,
  webHeaders,
  type WebDeps,
} from './web-session.js';

// /admin: the admin console. The admin token is typed into a POST form once and exchanged for a
// session cookie; it is never put in a URL, a page or a log.

export interface AdminWebDeps extends WebDeps {
  adminToken: string;
  admin: AdminService;
}

/** The sign-in form's CSRF nonce: a cookie of its own, since there is no session yet. */
const SIGN_IN_COOKIE = 'ss_signin';

export function adminWebRouter(deps: AdminWebDeps): Router {
  const { sessions, secrets, publicBaseUrl, admin, adminToken } = deps;
  const router = Router();
  router.use(webHeaders, sameOriginOnly(publicBaseUrl), formBody, loadSession(sessions, 'admin'));

  const signInPage = (res: Response, error?: string) => {
    const nonce = newSecretToken();
    res.cookie(SIGN_IN_COOKIE, nonce, { httpOnly: true, sameSite: 'strict', path: '/admin', secure: isSecure(publicBaseUrl), maxAge: 3_600_000 });
    res.type('html').send(
      page({
        title: 'Sign in – sessionsync',
        heading: 'Admin sign-in',
        area: 'admin',
        assets: webAssets,
        body: html`${error !== undefined ? html`<p class="error" role="alert" id="sign-in-error">${error}</p>` : ''}
<form method="post" action="/admin/sign-in">
<input type="hidden" name="_csrf" value="${csrfToken(secrets, `sign-in:${hashSecretToken(nonce)}`)}">
<label for="admin-token">Admin token</label>
<input type="password" id="admin-token" name="token" required autocomplete="current-password"${error !== undefined ? html` aria-describedby="sign-in-error"` : ''}>
<button type="submit">Sign in</button>
</form>`,
      }),
    );
  };

  router.get('/sign-in', (_req, res) => {
    if (sessionOf(res) !== null) return res.redirect(303, '/admin');
    signInPage(res);
  });

  router.post('/sign-in', async (req, res) => {
    const nonce = readCookie(req, SIGN_IN_COOKIE);
    if (nonce === null || !csrfMatches(secrets, `sign-in:${hashSecretToken(nonce)}`, field(req, '_csrf'))) {
      throw forbidden('This form has expired or did not come from this site. Reload the sign-in page and try again.');
    }
    if (!tokensEqual(field(req, 'token'), adminToken)) {
      res.status(401);
      signInPage(res, 'That admin token is not valid.');
      return;
    }
    const previous = sessionOf(res);
    if (previous !== null) await sessions.revoke(previous);
    const opened = await sessions.openAdminSession();
    res.clearCookie(SIGN_IN_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/admin', secure: isSecure(publicBaseUrl) });
    setSessionCookie(res, opened.token, publicBaseUrl);
    res.redirect(303, '/admin');
  });

  router.use((req, res, next) => {
    if (sessionOf(res) !== null) return next();
    if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, '/admin/sign-in');
    next(new AppError({ code: ErrorCode.UNAUTHENTICATED, status: 401, message: 'You are not signed in, or your session has ended.' }));
  });
  router.use(requireCsrf(secrets));

  router.get('/', async (_req, res) => {
    const session = requiredSession(res);
    const [health, connections] = await Promise.all([admin.health(), admin.connectionCounts()]);
    const row = (label: string, value: Html | string | number) => html`<tr><th scope="row">${label}</th><td>${value}</td></tr>`;
    const age = health.oldestPendingAgeSeconds;
    res.type('html').send(
      page({
        title: 'Sync health – sessionsync',
        heading: 'Sync health',
        area: 'admin',
        current: '/admin',
        csrf: sessionCsrf(secrets, session),
        assets: webAssets,
        body: html`<h2>Calendar connections</h2>
<table><tbody>
${row('Active', connections.active)}
${row('Needing reauthorization', connections.needs_reauth)}
${row('In error', connections.error)}
${row('Waiting for authorization', connections.pending_authorization)}
${row('Disconnected', connections.disconnected)}
</tbody></table>
<h2>Push backlog</h2>
<table><tbody>
${row('Pending changes', health.targets.pending)}
${row('Oldest pending change', age === null ? 'none' : `${age} s old`)}
${row('Retrying', health.targets.retrying)}
${row('Dead-lettered', health.targets.dead)}
</tbody></table>
<h2>Connections needing reauthorization</h2>
${
  health.connectionsNeedingReauth.length === 0
    ? html`<p>None.</p>`
    : html`<ul>${health.connectionsNeedingReauth.map((c) => html`<li>${c.kind} connection <code>${c.id}</code> of provider <code>${c.providerId}</code></li>`)}</ul>`
}
<h2>Dead-lettered events</h2>
${
  health.deadTargets.length === 0
    ? html`<p>None.</p>`
    : html`<table><thead><tr><th scope="col">Target</th><th scope="col">Error code</th><th scope="col">Since</th></tr></thead><tbody>${health.deadTargets.map(
        (t) => html`<tr><td><code>${t.id}</code></td><td>${t.lastErrorCode ?? 'unknown'}</td><td>${t.deadAt}</td></tr>`,
      )}</tbody></table>`
}`,
      }),
    );
  });

  router.post('/sign-out', async (_req, res) => {
    await sessions.revoke(requiredSession(res));
    clearSessionCookie(res, publicBaseUrl);
    res.redirect(303, '/admin/sign-in');
  });

  router.use((_req, _res, next) => {
    next(new AppError({ code: ErrorCode.NOT_FOUND, status: 404, message: 'There is no such page.' }));
  });
  router.use(htmlErrors(deps.logger, secrets, 'admin'));
  return router;
}

