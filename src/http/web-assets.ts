import { hash } from 'node:crypto';
import { Router } from 'express';
import type { Request, Response } from 'express';

// The static files of the portal and admin console, held as strings (as migrations.ts holds its
// SQL) so that the compiled build serves them without copying assets. Pages link them with a
// content hash in the query, so they can be cached for a year and a new build is fetched at once.

const APP_CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 100%; line-height: 1.5; }
body { margin: 0; color: #1a1a1a; background: #ffffff; }
a { color: #0645ad; }
a:focus, button:focus, input:focus, textarea:focus, summary:focus { outline: 3px solid #1a56db; outline-offset: 2px; }
.skip-link { position: absolute; left: -10000px; top: 0; padding: 0.5rem 1rem; background: #ffffff; color: #0645ad; }
.skip-link:focus { left: 0.5rem; top: 0.5rem; z-index: 10; }
.site-header { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; padding: 0.75rem 1rem; border-bottom: 1px solid #c4c4c4; }
.brand { margin: 0; font-weight: 700; }
.site-header nav { flex: 1 1 20rem; }
.site-header nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0; padding: 0; list-style: none; }
.site-header nav a[aria-current="page"] { font-weight: 700; color: #1a1a1a; }
.sign-out { margin-left: auto; }
main { max-width: 48rem; margin: 0 auto; padding: 1rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
label { display: block; font-weight: 600; margin: 1rem 0 0.25rem; }
label.inline { display: inline; font-weight: 400; margin: 0 0 0 0.25rem; }
input[type="text"], input[type="url"], input[type="password"], textarea { display: block; width: 100%; padding: 0.5rem; font: inherit; color: #1a1a1a; background: #ffffff; border: 1px solid #6b6b6b; border-radius: 4px; }
textarea { min-height: 6rem; }
.check { margin-top: 1rem; }
button { margin-top: 1rem; padding: 0.5rem 1rem; font: inherit; color: #ffffff; background: #1a56db; border: 1px solid #1a56db; border-radius: 4px; cursor: pointer; }
button.secondary { color: #1a1a1a; background: #f2f2f2; border-color: #6b6b6b; }
a.button { display: inline-block; padding: 0.5rem 1rem; color: #ffffff; background: #1a56db; border: 1px solid #1a56db; border-radius: 4px; text-decoration: none; }
a.button:focus-visible { outline: 3px solid #1a1a1a; outline-offset: 2px; }
.sign-out button { margin-top: 0; }
.hint { color: #4a4a4a; margin: 0.25rem 0 0; }
.notice { padding: 0.75rem 1rem; border: 1px solid #1e7b34; background: #eef8f0; border-radius: 4px; }
.error { padding: 0.75rem 1rem; border: 1px solid #b3261e; background: #fdeeee; border-radius: 4px; }
.warning { padding: 0.75rem 1rem; border: 1px solid #8a5a00; background: #fff6e0; border-radius: 4px; }
.verdict { min-height: 1.5rem; margin: 0.5rem 0 0; }
.inline-form { display: inline-block; margin-right: 0.5rem; }
fieldset { margin: 1rem 0 0; padding: 0.5rem 1rem 1rem; border: 1px solid #6b6b6b; border-radius: 4px; }
legend { font-weight: 600; padding: 0 0.25rem; }
.choice { margin: 0.5rem 0 0; }
select { display: block; padding: 0.5rem; font: inherit; color: #1a1a1a; background: #ffffff; border: 1px solid #6b6b6b; border-radius: 4px; max-width: 100%; }
.preview { padding: 0.75rem 1rem; border: 1px solid #6b6b6b; border-radius: 4px; background: #f7f7f7; }
.status { font-weight: 600; }
.status.ok { color: #1e7b34; }
.status.bad { color: #b3261e; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dl.facts dd { margin: 0; }
ul.day-items { padding: 0; list-style: none; }
ul.day-items li { padding: 0.5rem 0.75rem; margin: 0.25rem 0; border-left: 4px solid #1a56db; }
ul.day-items li.busy { border-left-color: #6b6b6b; background: #e8e8e8; color: #1a1a1a; }
.day-items .time { font-variant-numeric: tabular-nums; margin-right: 0.5rem; }
ul.feeds { padding: 0; list-style: none; }
ul.feeds li { padding: 0.75rem 0; border-bottom: 1px solid #c4c4c4; }
ul.feeds form { display: inline; }
ul.offices .address { display: block; white-space: pre-line; margin: 0.25rem 0; }
ul.offices a { margin-right: 0.75rem; }
.field-error { margin: 0.25rem 0 0; padding: 0.5rem 0.75rem; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid #c4c4c4; }
code, .url { overflow-wrap: anywhere; }
input[type="search"] { display: block; width: 100%; padding: 0.5rem; font: inherit; color: #1a1a1a; background: #ffffff; border: 1px solid #6b6b6b; border-radius: 4px; }
form.inline { display: inline; }
form.inline button { margin-top: 0; }
.table-scroll { overflow-x: auto; }
.pager { display: flex; gap: 1rem; margin-top: 1rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 30rem) {
  .site-header { padding: 0.5rem; }
  .sign-out { margin-left: 0; }
  main { padding: 0.75rem; }
  button { width: 100%; }
  ul.feeds form button { width: auto; }
}
`;

// Plain browser JavaScript: progressive enhancement only (every form works without it). Text is
// written with textContent, never as markup.
const PORTAL_JS = `"use strict";
(function () {
  function liveLinkCheck() {
    var input = document.getElementById("telehealth-url");
    var verdict = document.getElementById("link-verdict");
    var waiting = document.getElementById("waiting-room");
    if (!input || !verdict) return;
    var timer = null;
    var asked = 0;
    function show(lines, kind) {
      verdict.textContent = "";
      verdict.className = "verdict" + (kind ? " " + kind : "");
      lines.forEach(function (line) {
        var p = document.createElement("p");
        p.textContent = line;
        verdict.appendChild(p);
      });
    }
    function check() {
      var value = input.value.trim();
      if (value === "") { show([], ""); return; }
      var mine = ++asked;
      var query = "url=" + encodeURIComponent(value) + (waiting && waiting.checked ? "&waitingRoom=true" : "");
      fetch("/portal/link-check?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (body) {
          if (mine !== asked || !body) return;
          if (!body.ok) { show(["Refused: " + body.reason], "error"); return; }
          var lines = [body.platform ? "Recognised platform: " + body.platform.name + "." : "Not a recognised platform."];
          show(lines.concat(body.warnings), body.warnings.length > 0 ? "warning" : "notice");
        })
        .catch(function () { /* the server's answer on save still shows the verdict */ });
    }
    function later() {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(check, 300);
    }
    input.addEventListener("input", later);
    if (waiting) waiting.addEventListener("change", later);
  }
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        var status = document.getElementById(button.getAttribute("data-status"));
        if (!source || !navigator.clipboard) return;
        navigator.clipboard.writeText(source.textContent || "").then(function () {
          if (status) status.textContent = "Copied.";
        });
      });
    });
  }
  function livePrivacyPreview() {
    var form = document.getElementById("privacy-form");
    var summary = document.getElementById("preview-summary");
    var when = document.getElementById("preview-when");
    var needsBaa = document.getElementById("preview-needs-baa");
    var baa = document.getElementById("baa-attested");
    if (!form || !summary) return;
    var asked = 0;
    function update() {
      var chosen = form.querySelector("input[name=mode]:checked");
      var mine = ++asked;
      var query = "mode=" + encodeURIComponent(chosen ? chosen.value : "none") + (baa && baa.checked ? "&baaAttested=true" : "");
      fetch("/portal/privacy/preview?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (body) {
          if (mine !== asked || !body) return;
          summary.textContent = body.summary;
          if (when) when.textContent = body.when;
          if (needsBaa) needsBaa.hidden = !body.needsBaa;
        })
        .catch(function () { /* the page after saving shows the preview too */ });
    }
    form.querySelectorAll("input[name=mode]").forEach(function (input) { input.addEventListener("change", update); });
    if (baa) baa.addEventListener("change", update);
  }
  function start() { liveLinkCheck(); copyButtons(); livePrivacyPreview(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
`;

// The admin console's job page: polls the job's JSON every 500 ms, writes its progress into the
// page's live region, and reloads once the job has finished (the server renders the plan or result).
const ADMIN_JS = `"use strict";
(function () {
  function watchJob() {
    var live = document.querySelector("[data-job-poll]");
    if (!live) return;
    var url = live.getAttribute("data-job-poll");
    var status = document.getElementById("job-status");
    function label(s) { return s === "queued" ? "Queued" : s === "running" ? "Running" : s === "succeeded" ? "Finished" : "Failed"; }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (job) {
          if (!job) { setTimeout(poll, 2000); return; }
          var p = job.progress;
          var text = label(job.status) + ": " + p.done + " of " + p.total + " connections done (" + p.created + " created, " + p.updated + " updated, " + p.deleted + " deleted, " + p.unchanged + " unchanged, " + p.failed + " failed).";
          if (live.textContent !== text) live.textContent = text;
          if (status && status.textContent !== label(job.status)) status.textContent = label(job.status);
          if (job.finished) window.location.reload();
          else setTimeout(poll, 500);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 500);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchJob);
  else watchJob();
})();
`;

const version = (body: string) => hash('sha256', body, 'hex').slice(0, 12);

export const webAssets = {
  css: `/web/app.css?v=${version(APP_CSS)}`,
  js: `/web/portal.js?v=${version(PORTAL_JS)}`,
  adminJs: `/web/admin.js?v=${version(ADMIN_JS)}`,
};

export function webAssetsRouter(): Router {
  const router = Router();
  const serve = (body: string, type: string) => {
    const bytes = Buffer.from(body, 'utf8');
    return (_req: Request, res: Response) => {
      res.set({ 'Content-Type': type, 'Cache-Control': 'public, max-age=31536000, immutable' }).send(bytes);
    };
  };
  router.get('/app.css', serve(APP_CSS, 'text/css; charset=utf-8'));
  router.get('/portal.js', serve(PORTAL_JS, 'text/javascript; charset=utf-8'));
  router.get('/admin.js', serve(ADMIN_JS, 'text/javascript; charset=utf-8'));
  return router;
}
