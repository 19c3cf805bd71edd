import { Router } from 'express';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AppError, ErrorCode } from '../domain/index.js';
import type { AuditEntry, ResyncJob, WebSession } from '../domain/index.js';
import type { AdminService } from '../services/admin-service.js';
import { hashSecretToken, newSecretToken } from '../domain/index.js';
import { tokensEqual } from './auth.js';
import { idSchema } from './schemas.js';
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

/** Who the audit log names for what the console does (the JSON API writes "admin"). */
const ACTOR = 'admin-console';
const AUDIT_PAGE = 50;
const PROVIDER_RESULTS = 50;
const PROVIDER_ERRORS = 25;
const PLAN_ROWS = 500;

const adminAssets = { css: webAssets.css, js: webAssets.adminJs };

const noSuchPage = () => new AppError({ code: ErrorCode.NOT_FOUND, status: 404, message: 'There is no such page.' });

/** A path parameter that must match `schema`; anything else is a page that does not exist. */
function pathParam<T>(req: Request, name: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(req.params[name]);
  if (!parsed.success) throw noSuchPage();
  return parsed.data;
}

/** A single query-string value ('' when absent; a repeated one is refused). */
function queryValue(req: Request, name: string): string {
  const value: unknown = req.query[name];
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new AppError({ code: ErrorCode.BAD_REQUEST, status: 400, message: `The query parameter ${name} was given more than once.` });
  return value;
}

const jobId = z.uuid();
const targetId = z.uuid();
const auditBefore = z.string().regex(/^[1-9]\d{0,15}$/).transform(Number).pipe(z.number().int().max(Number.MAX_SAFE_INTEGER));
/** Where a retry form may send the admin back to: the health page or a provider's page. */
const RETRY_BACK = /^\/admin(\/providers\/[A-Za-z0-9_-]{1,64})?$/;

const finished = (job: ResyncJob) => job.status === 'succeeded' || job.status === 'failed';
const STATUS_LABEL: Record<ResyncJob['status'], string> = { queued: 'Queued', running: 'Running', succeeded: 'Finished', failed: 'Failed' };

function progressText(job: ResyncJob): string {
  const p = job.progress;
  // A dry run counts nothing in its progress; what it found is its plan.
  if (job.request.dryRun && job.plan !== null) {
    const n = planCounts(job);
    return `${STATUS_LABEL[job.status]}: planned ${job.plan.length} changes over ${p.total} connections (${n.create} to create, ${n.update} to update, ${n.delete} to delete).`;
  }
  return `${STATUS_LABEL[job.status]}: ${p.done} of ${p.total} connections done (${p.created} created, ${p.updated} updated, ${p.deleted} deleted, ${p.unchanged} unchanged, ${p.failed} failed).`;
}

function planCounts(job: ResyncJob): Record<'create' | 'update' | 'delete', number> {
  const counts = { create: 0, update: 0, delete: 0 };
  for (const item of job.plan ?? []) counts[item.action] += 1;
  return counts;
}

function scopeText(request: ResyncJob['request']): Html {
  if (request.connectionIds !== null) return html`connections ${request.connectionIds.map((id, i) => html`${i > 0 ? ', ' : ''}<code>${id}</code>`)}`;
  if (request.providerIds === null) return html`all providers`;
  return html`provider${request.providerIds.length > 1 ? 's' : ''} ${request.providerIds.map((id, i) => html`${i > 0 ? ', ' : ''}<code>${id}</code>`)}`;
}

function auditDetails(entry: AuditEntry): string {
  return Object.entries(entry.details)
    .map(([key, value]) => `${key}=${value === null ? 'none' : String(value)}`)
    .join(', ');
}

/** What the sign-in form is bound to: the nonce of its cookie (hashed, as the cookie is the secret). */
function signInBinding(nonce: string): string {
  return `sign-in:${hashSecretToken(nonce)}`;
}

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
<input type="hidden" name="_csrf" value="${csrfToken(secrets, signInBinding(nonce))}">
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
    if (nonce === null || !csrfMatches(secrets, signInBinding(nonce), field(req, '_csrf'))) {
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

  // The job page's script polls this; without a session it answers 401 JSON, not a redirect.
  router.get('/jobs/:jobId.json', async (req, res) => {
    if (sessionOf(res) === null) {
      res.status(401).json({ error: { code: ErrorCode.UNAUTHENTICATED, message: 'You are not signed in, or your session has ended.' } });
      return;
    }
    const job = await admin.job(pathParam(req, 'jobId', jobId));
    res.json({ id: job.id, status: job.status, finished: finished(job), progress: job.progress });
  });

  router.use((req, res, next) => {
    if (sessionOf(res) !== null) return next();
    if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, '/admin/sign-in');
    next(new AppError({ code: ErrorCode.UNAUTHENTICATED, status: 401, message: 'You are not signed in, or your session has ended.' }));
  });
  router.use(requireCsrf(secrets));

  const send = (res: Response, o: { title: string; heading: string; current?: string; body: Html }) => {
    const session: WebSession = requiredSession(res);
    res.type('html').send(page({ ...o, area: 'admin', csrf: sessionCsrf(secrets, session), assets: adminAssets }));
  };
  const csrfField = (res: Response) => html`<input type="hidden" name="_csrf" value="${sessionCsrf(secrets, requiredSession(res))}">`;
  const retryForm = (res: Response, id: string, back: string) =>
    html`<form method="post" action="/admin/targets/${id}/retry" class="inline">${csrfField(res)}<input type="hidden" name="back" value="${back}"><button type="submit" class="secondary" aria-describedby="target-${id}">Retry</button></form>`;
  const retriedNotice = (req: Request) =>
    queryValue(req, 'retried') === '1' ? html`<p class="notice" role="status">The event was queued again; the sync worker will retry it shortly.</p>` : '';

  router.get('/', async (req, res) => {
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
        assets: adminAssets,
        body: html`${retriedNotice(req)}<h2>Calendar connections</h2>
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
    : html`<ul>${health.connectionsNeedingReauth.map((c) => html`<li>${c.kind} connection <code>${c.id}</code> of provider <a href="/admin/providers/${c.providerId}"><code>${c.providerId}</code></a></li>`)}</ul>`
}
<h2>Dead-lettered events</h2>
${
  health.deadTargets.length === 0
    ? html`<p>None.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">Target</th><th scope="col">Connection</th><th scope="col">Error code</th><th scope="col">Since</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>${health.deadTargets.map(
        (t) =>
          html`<tr><td><code id="target-${t.id}">${t.id}</code></td><td><code>${t.connectionId}</code></td><td>${t.lastErrorCode ?? 'unknown'}</td><td>${t.deadAt}</td><td>${retryForm(res, t.id, '/admin')}</td></tr>`,
      )}</tbody></table></div>`
}`,
      }),
    );
  });

  router.post('/targets/:targetId/retry', async (req, res) => {
    const id = pathParam(req, 'targetId', targetId);
    const back = field(req, 'back');
    await admin.retryTarget(id, ACTOR);
    res.redirect(303, `${RETRY_BACK.test(back) ? back : '/admin'}?retried=1`);
  });

  const resyncForm = (res: Response, o: { providerId?: string; error?: string } = {}) => {
    const error = o.error;
    send(res, {
      title: 'Resync – sessionsync',
      heading: 'Resync',
      current: '/admin/resync',
      body: html`<p>A resync compares each connected calendar with what sessionsync holds and repairs the difference. A dry run only lists what it would change.</p>
${error !== undefined ? html`<p class="error" role="alert" id="resync-error">${error}</p>` : ''}
<form method="post" action="/admin/resync">
${csrfField(res)}
<label for="resync-provider">Provider id</label>
<input type="text" id="resync-provider" name="providerId" value="${o.providerId ?? ''}" maxlength="64" autocomplete="off" spellcheck="false" aria-describedby="resync-provider-hint${error !== undefined ? ' resync-error' : ''}">
<p class="hint" id="resync-provider-hint">Leave empty to resync every provider.</p>
<div class="check"><input type="checkbox" id="resync-dry-run" name="dryRun" value="true"><label class="inline" for="resync-dry-run">Dry run</label></div>
<button type="submit">Resync</button>
</form>`,
    });
  };

  router.get('/resync', (_req, res) => resyncForm(res));

  router.post('/resync', async (req, res) => {
    const providerId = field(req, 'providerId').trim();
    if (providerId !== '' && !idSchema.safeParse(providerId).success) {
      res.status(400);
      resyncForm(res, { providerId, error: 'A provider id is 1 to 64 characters of A-Z, a-z, 0-9, _ or -.' });
      return;
    }
    const job = await admin.queueResync({ providerIds: providerId === '' ? null : [providerId], connectionIds: null, dryRun: field(req, 'dryRun') === 'true' }, ACTOR);
    res.redirect(303, `/admin/jobs/${job.id}`);
  });

  router.get('/jobs/:jobId', async (req, res) => {
    const job = await admin.job(pathParam(req, 'jobId', jobId));
    const done = finished(job);
    const p = job.progress;
    const row = (label: string, value: Html | string | number) => html`<tr><th scope="row">${label}</th><td>${value}</td></tr>`;
    const plan = job.plan ?? [];
    const outcome = !done
      ? html`<h2>Progress</h2>
<p id="job-live" role="status" aria-live="polite" data-job-poll="/admin/jobs/${job.id}.json">${progressText(job)}</p>
<p><a href="/admin/jobs/${job.id}">Refresh</a></p>`
      : html`<h2>${job.status === 'failed' ? 'Result' : job.request.dryRun ? 'Result of the dry run' : 'Result'}</h2>
<p id="job-live" role="status">${progressText(job)}</p>
${job.error !== null ? html`<p class="error" role="alert">The job failed: ${job.error}</p>` : ''}
${
  job.request.dryRun && job.plan !== null
    ? html`<table><tbody>
${row('Connections', p.total)}
${row('Would create', planCounts(job).create)}
${row('Would update', planCounts(job).update)}
${row('Would delete', planCounts(job).delete)}
</tbody></table>`
    : html`<table><tbody>
${row('Connections', `${p.done} of ${p.total}`)}
${row('Created', p.created)}
${row('Updated', p.updated)}
${row('Deleted', p.deleted)}
${row('Unchanged', p.unchanged)}
${row('Failed', p.failed)}
</tbody></table>`
}
${
  job.request.dryRun && job.status === 'succeeded'
    ? html`<h2>Plan</h2>
${
  plan.length === 0
    ? html`<p>Nothing to change.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">Action</th><th scope="col">Connection</th><th scope="col">Session</th><th scope="col">Calendar event</th><th scope="col">Reason</th></tr></thead><tbody>${plan
        .slice(0, PLAN_ROWS)
        .map(
          (item) =>
            html`<tr><td>${item.action}</td><td><code>${item.connectionId}</code></td><td>${item.sessionId === null ? '–' : html`<code>${item.sessionId}</code>`}</td><td>${item.externalId === null ? '–' : html`<code>${item.externalId}</code>`}</td><td>${item.reason}</td></tr>`,
        )}</tbody></table></div>${plan.length > PLAN_ROWS ? html`<p>The first ${PLAN_ROWS} of ${plan.length} planned changes are shown.</p>` : ''}`
}
<p><a href="/admin/resync">Start another resync</a></p>`
    : html`<p><a href="/admin/resync">Start another resync</a></p>`
}`;
    send(res, {
      title: 'Resync job – sessionsync',
      heading: 'Resync job',
      body: html`<table><tbody>
${row('Job', html`<code>${job.id}</code>`)}
${row('Scope', scopeText(job.request))}
${row('Mode', job.request.dryRun ? 'Dry run (plan only, writes nothing)' : 'Resync (writes changes)')}
${row('Status', html`<span id="job-status">${STATUS_LABEL[job.status]}</span>`)}
${row('Queued at', job.createdAt)}
${row('Started at', job.startedAt ?? 'not yet')}
${row('Finished at', job.finishedAt ?? 'not yet')}
</tbody></table>
${outcome}`,
    });
  });

  router.get('/providers', async (req, res) => {
    const q = queryValue(req, 'q').trim().slice(0, 200);
    const found = q === '' ? null : await admin.searchProviders(q, PROVIDER_RESULTS + 1);
    send(res, {
      title: 'Providers – sessionsync',
      heading: 'Providers',
      current: '/admin/providers',
      body: html`<form method="get" action="/admin/providers" role="search">
<label for="provider-search">Search providers</label>
<input type="search" id="provider-search" name="q" value="${q}" maxlength="200" aria-describedby="provider-search-hint">
<p class="hint" id="provider-search-hint">Part of a provider id or name.</p>
<button type="submit">Search</button>
</form>
${
  found === null
    ? ''
    : html`<h2>Results</h2>
${
  found.length === 0
    ? html`<p>No provider matches.</p>`
    : html`<table><thead><tr><th scope="col">Provider id</th><th scope="col">Name</th></tr></thead><tbody>${found
        .slice(0, PROVIDER_RESULTS)
        .map((p) => html`<tr><td><a href="/admin/providers/${p.id}"><code>${p.id}</code></a></td><td>${p.name}</td></tr>`)}</tbody></table>${
        found.length > PROVIDER_RESULTS ? html`<p>Only the first ${PROVIDER_RESULTS} are shown; narrow the search.</p>` : ''
      }`
}`
}`,
    });
  });

  router.get('/providers/:providerId', async (req, res) => {
    const providerId = pathParam(req, 'providerId', idSchema);
    const { provider, feeds, connections, errors, offboardings } = await admin.providerOverview(providerId, PROVIDER_ERRORS);
    const back = `/admin/providers/${provider.id}`;
    send(res, {
      title: 'Provider – sessionsync',
      heading: 'Provider',
      current: '/admin/providers',
      body: html`${retriedNotice(req)}<table><tbody>
<tr><th scope="row">Provider id</th><td><code>${provider.id}</code></td></tr>
<tr><th scope="row">Name</th><td>${provider.name}</td></tr>
<tr><th scope="row">Time zone</th><td>${provider.timezone}</td></tr>
${provider.offboardedAt === null ? '' : html`<tr><th scope="row">Left the practice</th><td>${provider.offboardedAt}</td></tr>`}
</tbody></table>
<h2>Calendar feeds</h2>
${
  feeds.length === 0
    ? html`<p>None.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">Feed</th><th scope="col">Label</th><th scope="col">Last fetched</th><th scope="col">By</th><th scope="col">State</th></tr></thead><tbody>${feeds.map(
        (f) =>
          html`<tr><td><code>${f.id}</code></td><td>${f.label ?? '–'}</td><td>${f.lastFetchedAt ?? 'never'}</td><td>${f.lastUserAgent ?? '–'}</td><td>${f.revokedAt === null ? 'active' : `revoked ${f.revokedAt}`}</td></tr>`,
      )}</tbody></table></div>`
}
<h2>Calendar connections</h2>
${
  connections.length === 0
    ? html`<p>None.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">Connection</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Last synced</th><th scope="col">Last error</th></tr></thead><tbody>${connections.map(
        (c) =>
          html`<tr><td><code>${c.id}</code></td><td>${c.kind}</td><td>${c.cleanup === null ? c.status : `disconnecting (${c.cleanup.reason})`}</td><td>${c.lastSyncedAt ?? 'never'}</td><td>${c.lastErrorCode ?? '–'}</td></tr>`,
      )}</tbody></table></div>`
}
${
  offboardings.length === 0
    ? ''
    : html`<h2>Offboarding</h2>${offboardings.map(
        (o) => html`<p>Requested ${o.requestedAt} by <code>${o.actor}</code> (${o.mode === 'delete' ? 'delete the record' : 'keep the record'}); ${o.finishedAt === null ? 'under way' : `finished ${o.finishedAt}`}; ${o.feedsTombstoned} feed URL${o.feedsTombstoned === 1 ? '' : 's'} tombstoned.</p>
<div class="table-scroll"><table><thead><tr><th scope="col">Connection</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Events removed</th><th scope="col">Events left</th><th scope="col">Grant</th><th scope="col">Reason</th></tr></thead><tbody>${o.connections.map(
          (c) => html`<tr><td><code>${c.connectionId}</code></td><td>${c.kind}</td><td>${c.status}</td><td>${c.eventsRemoved}</td><td>${c.eventsLeft}</td><td>${c.grant ?? '–'}</td><td>${c.reason ?? '–'}</td></tr>`,
        )}</tbody></table></div>`,
      )}`
}
<h2>Recent sync errors</h2>
${
  errors.length === 0
    ? html`<p>None.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">Target</th><th scope="col">Connection</th><th scope="col">State</th><th scope="col">Error code</th><th scope="col">Attempts</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead><tbody>${errors.map(
        (t) =>
          html`<tr><td><code id="target-${t.id}">${t.id}</code></td><td><code>${t.connectionId}</code></td><td>${t.deadAt !== null ? `dead since ${t.deadAt}` : 'retrying'}</td><td>${t.lastErrorCode ?? 'unknown'}</td><td>${t.attempts}</td><td>${t.deadAt !== null ? retryForm(res, t.id, back) : ''}</td></tr>`,
      )}</tbody></table></div>`
}
<h2>Resync this provider</h2>
<form method="post" action="/admin/resync">
${csrfField(res)}
<input type="hidden" name="providerId" value="${provider.id}">
<div class="check"><input type="checkbox" id="provider-dry-run" name="dryRun" value="true"><label class="inline" for="provider-dry-run">Dry run</label></div>
<button type="submit">Resync</button>
</form>`,
    });
  });

  router.get('/audit', async (req, res) => {
    const rawBefore = queryValue(req, 'before');
    const parsed = rawBefore === '' ? null : auditBefore.safeParse(rawBefore);
    if (parsed !== null && !parsed.success) throw new AppError({ code: ErrorCode.BAD_REQUEST, status: 400, message: 'That page of the audit log does not exist.' });
    const beforeId = parsed?.data;
    const entries = await admin.audit({ limit: AUDIT_PAGE + 1, ...(beforeId !== undefined ? { beforeId } : {}) });
    const shown = entries.slice(0, AUDIT_PAGE);
    const last = shown.at(-1);
    const older = entries.length > AUDIT_PAGE && last !== undefined ? last.id : null;
    send(res, {
      title: 'Audit log – sessionsync',
      heading: 'Audit log',
      current: '/admin/audit',
      body: html`<p>Admin actions, newest first. Ids only.</p>
${
  shown.length === 0
    ? html`<p>No entries${beforeId !== undefined ? ' older than these' : ''}.</p>`
    : html`<div class="table-scroll"><table><thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead><tbody>${shown.map(
        (e) => html`<tr><td>${e.at}</td><td>${e.actor}</td><td>${e.action}</td><td><code>${e.target}</code></td><td>${auditDetails(e)}</td></tr>`,
      )}</tbody></table></div>`
}
${
  older !== null || beforeId !== undefined
    ? html`<nav aria-label="Audit log pages" class="pager">${beforeId !== undefined ? html`<a href="/admin/audit">Newest</a>` : ''}${older !== null ? html`<a href="/admin/audit?before=${older}">Older</a>` : ''}</nav>`
    : ''
}`,
    });
  });

  router.post('/sign-out', async (_req, res) => {
    await sessions.revoke(requiredSession(res));
    clearSessionCookie(res, publicBaseUrl);
    res.redirect(303, '/admin/sign-in');
  });

  router.use((_req, _res, next) => {
    next(noSuchPage());
  });
  router.use(htmlErrors(deps.logger, secrets, 'admin'));
  return router;
}

