// `npm run bench` (incremental rendering): what the first poll after a change costs a calendar
// app, against a poll answered from the cache, both over HTTP on one feed of 5,000 events; and,
// as a profile below it, a cold render per event against the straightforward ical-generator
// build of the same events (test/support/reference-renderer.ts).
//
// Two cache hits: back to back (polled again at once), and after the platform wrote the same
// session again unchanged (what platforms re-send all the time; it changes no feed). The first
// poll after a change follows a platform write too, which leaves the server's caches and CPU
// colder than a poll right after a poll does (one zlib call then took 0.1-0.6 ms against 0.04 ms
// in a loop): only the hit after an unchanged write differs from it in the change alone.
// The client polls as soon as the write's answer is in, so the poll after a change waits for what
// is left of the render the write started (FeedService refreshOnChange): it is timed as it comes,
// and the render's own time is reported below the table.
// Writes bench-results/incremental.json (git-ignored) as well.
import { testJoinLinks } from '../test/support/builders.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DateTime } from 'luxon';
import { renderCalendar } from '../feeds/index.js';
import { feedCalendarMeta } from '../feeds/feed-service.js';
import { toCalendarEvent } from '../src/domain/calendar-event.js';
import { noMetrics } from '../src/metrics.js';
import { REPO_ROOT } from '../test/support/processes.js';
import { BENCH_NOW, BENCH_TOKEN, startBenchApp } from './bench-app.js';
import { renderCalendarReference } from '../test/support/reference-renderer.js';

interface ClientTimings {
  warmupPolls: number;
  bytes: number;
  rows: { encoding: 'identity' | 'gzip'; hits: number[]; hitsAfterWrite: number[]; afterChange: number[] }[];
}

/** Per change, the polls in the order the client makes them: after the change, back to back, after an unchanged write. */
const POLLS_PER_CHANGE = 5;
const isHit = (k: number) => k % POLLS_PER_CHANGE === 1 || k % POLLS_PER_CHANGE === 2;
const isHitAfterWrite = (k: number) => k % POLLS_PER_CHANGE >= 3;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

const HOUR = 3_600_000;
// 50-minute sessions in 2-hour slots from 55 days back: 5,000 of them fit the 425-day window.
const firstSlot = BENCH_NOW.getTime() - 55 * 24 * HOUR;
const sessionBody = (i: number, shifted: boolean) => {
  const start = new Date(firstSlot + i * 2 * HOUR + (shifted ? HOUR : 0)).toISOString();
  return { start, durationMinutes: 50, client: { id: `c${i}`, firstName: 'Client', lastName: `Number${i}` } };
};

/** The calendar app and the platform: polls (node:http, keep-alive) and one change before each round. */
async function runClient(base: string, feedUrl: string, sessions: number, changes: number): Promise<ClientTimings> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const poll = (encoding: 'identity' | 'gzip'): Promise<{ ms: number; bytes: Buffer; etag: string }> =>
    new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = http.get(feedUrl, { agent, headers: { 'Accept-Encoding': encoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () => {
          // Timed to the last byte; joined and checked after the clock stops.
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (res.statusCode !== 200) return reject(new Error(`poll: ${res.statusCode}`));
          const raw = Buffer.concat(chunks);
          resolve({ ms, bytes: res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw, etag: res.headers.etag ?? '' });
        });
      });
      req.once('error', reject);
    });
  // The platform's write, on a connection of its own, its answer read to the end before the poll.
  // Not fetch(): it resolves at the headers and undici went on working in this process while the
  // poll after it was timed, 2-3 ms of every after-change figure (the server's own time was not).
  const platform = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const put = (i: number, shift: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify(sessionBody(i, shift));
      const req = http.request(`${base}/api/v1/providers/p1/sessions/s${i}`, { method: 'PUT', agent: platform, headers: { Authorization: `Bearer ${BENCH_TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.once('error', reject);
        res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT s${i}: ${res.statusCode}`))));
      });
      req.once('error', reject);
      req.end(body);
    });

  const first = await poll('identity');
  const events = (first.bytes.toString('utf8').match(/BEGIN:VEVENT/g) ?? []).length;
  if (events !== sessions) throw new Error(`the feed has ${events} events, not ${sessions}`);
  for (let i = 0; i < 21; i++) await poll(i % 2 === 0 ? 'gzip' : 'identity'); // warm-up: JIT, sockets, gzip
  const shifted = new Set<number>();
  const rows: ClientTimings['rows'] = [];
  for (const encoding of ['identity', 'gzip'] as const) {
    const hits: number[] = [];
    const hitsAfterWrite: number[] = [];
    const afterChange: number[] = [];
    for (let c = 0; c < changes; c++) {
      // One session moves by an hour (into the free hour of its slot), or back where it was.
      const i = (c * 97) % sessions;
      const shift = !shifted.has(i);
      if (shift) shifted.add(i);
      else shifted.delete(i);
      await put(i, shift);
      const changed = await poll(encoding);
      afterChange.push(changed.ms);
      const expected = `DTSTART;TZID=America/New_York:${DateTime.fromISO(sessionBody(i, shift).start).setZone('America/New_York').toFormat("yyyyMMdd'T'HHmmss")}\r\n`;
      const at = changed.bytes.indexOf(`UID:p1.s${i}@bench.example`);
      const shown = changed.bytes.indexOf(expected, at);
      if (at < 0 || shown < 0 || shown > at + 400) throw new Error(`the poll after change ${c} does not show it`);
      for (let h = 0; h < 2; h++) hits.push((await poll(encoding)).ms);
      for (let h = 0; h < 2; h++) {
        await put(i, shift);
        const hit = await poll(encoding);
        if (hit.etag !== changed.etag) throw new Error(`writing session ${i} again unchanged changed the feed`);
        hitsAfterWrite.push(hit.ms);
      }
    }
    rows.push({ encoding, hits, hitsAfterWrite, afterChange });
  }
  agent.destroy();
  platform.destroy();
  return { warmupPolls: 22, bytes: first.bytes.length, rows };
}

if (process.argv[2] === '--client') {
  const [base = '', feedUrl = '', sessions = '0', changes = '0'] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(await runClient(base, feedUrl, Number(sessions), Number(changes))));
  process.exit(0);
}

const SESSIONS = Number(process.env.BENCH_INCREMENTAL_SESSIONS ?? 5000);
const CHANGES = Number(process.env.BENCH_INCREMENTAL_CHANGES ?? 100);

// The server's own time per poll (from the feed route's observer), beside what the client waits;
// and each render's, which after a change runs just after the write's answer (FeedService
// refreshOnChange), so that a poll that comes at once waits for what is left of it.
const serverTimes: number[] = [];
const renderTimes: number[] = [];
const metrics = {
  ...noMetrics(),
  feedPoll: (_method: string, _status: number, seconds: number) => void serverTimes.push(seconds * 1000),
  feedRendered: (seconds: number) => void renderTimes.push(seconds * 1000),
};
const { base, api, store, close } = await startBenchApp(metrics);
for (let i = 0; i < SESSIONS; i += 16) {
  await Promise.all(Array.from({ length: Math.min(16, SESSIONS - i) }, (_, k) => api('PUT', `/api/v1/providers/p1/sessions/s${i + k}`, sessionBody(i + k, false))));
}
const { url } = (await api('POST', '/api/v1/providers/p1/feeds', {})) as { url: string };
const feedUrl = `${base}${new URL(url).pathname}`;

// The client runs in a process of its own (this script with --client): in this one, its
// garbage (2.2 MB per poll) made the server's collector run in the server's timings.
// BENCH_PROFILE=<file.cpuprofile>: the server's CPU profile while the client runs (not the set-up).
// The feed is rendered (cold) before the profile starts, so that it holds the client's polls alone.
const serverPolls = process.env.BENCH_PROFILE ? 1 : 0;
if (serverPolls > 0) await (await fetch(feedUrl)).arrayBuffer();
const inspector = process.env.BENCH_PROFILE ? new (await import('node:inspector/promises')).Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.start');
}
// With this process's flags: tsx's loader when run from source, none when run compiled.
const client = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--client', base, feedUrl, String(SESSIONS), String(CHANGES)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
client.stdout.on('data', (c: Buffer) => (out += c.toString()));
const [code] = (await once(client, 'exit')) as [number | null];
if (code !== 0) throw new Error(`the bench client exited ${code}`);
const timings = JSON.parse(out) as ClientTimings;
if (inspector) {
  const { profile } = await inspector.post('Profiler.stop');
  writeFileSync(process.env.BENCH_PROFILE ?? '', JSON.stringify(profile));
}
// Server times come in the order the client polled: warm-up, then per change POLLS_PER_CHANGE.
const byPoll = serverTimes.slice(serverPolls + timings.warmupPolls);
const rows = timings.rows.map((r, e) => {
  const slice = byPoll.slice(e * CHANGES * POLLS_PER_CHANGE, (e + 1) * CHANGES * POLLS_PER_CHANGE);
  const hitMs = median(r.hits);
  const hitAfterWriteMs = median(r.hitsAfterWrite);
  const afterChangeMs = median(r.afterChange);
  return {
    encoding: r.encoding,
    hitMs,
    hitAfterWriteMs,
    afterChangeMs,
    ratio: afterChangeMs / hitAfterWriteMs,
    ratioBackToBack: afterChangeMs / hitMs,
    serverHitMs: median(slice.filter((_, k) => isHit(k))),
    serverHitAfterWriteMs: median(slice.filter((_, k) => isHitAfterWrite(k))),
    serverAfterChangeMs: median(slice.filter((_, k) => k % POLLS_PER_CHANGE === 0)),
    // One render per change, after the cold one of the first poll.
    renderAfterChangeMs: median(renderTimes.slice(1 + e * CHANGES, 1 + (e + 1) * CHANGES)),
  };
});

// Profile: cold render per event, assembled from fragments vs one ical-generator calendar.
const provider = (await store.getProvider('p1'))!;
const sessions = await store.listSessions('p1', { status: 'scheduled' });
const location = await store.getLocation('p1', 'video');
const calendarEvents = sessions.map((s) => toCalendarEvent(s, provider, location, testJoinLinks));
const meta = feedCalendarMeta(provider);
const timePerEvent = (render: () => string): number => {
  render();
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const started = process.hrtime.bigint();
    render();
    runs.push(Number(process.hrtime.bigint() - started) / 1e3 / calendarEvents.length);
  }
  return median(runs);
};
const fragmentsUs = timePerEvent(() => renderCalendar(meta, calendarEvents));
const referenceUs = timePerEvent(() => renderCalendarReference(meta, calendarEvents));
if (renderCalendar(meta, calendarEvents) !== renderCalendarReference(meta, calendarEvents)) throw new Error('the two renders differ');

console.log(`\nincremental rendering over HTTP: one feed of ${SESSIONS} events (${(timings.bytes / 1024 / 1024).toFixed(1)} MiB), ${CHANGES} changes of one session each, node ${process.version}, ${os.cpus().length} cores`);
console.log('cache hit after an unchanged write (A), back to back (B); the first poll after a change (C); ratio C/A, target <= 3x; C/B beside it');
console.log(`${'poll'.padEnd(10)} ${'A'.padStart(9)} ${'B'.padStart(9)} ${'C'.padStart(9)} ${'C/A'.padStart(7)} ${'C/B'.padStart(7)}   server time: A, B, C`);
const ms = (v: number) => `${v.toFixed(2)} ms`.padStart(9);
for (const r of rows) {
  console.log(
    `${r.encoding.padEnd(10)} ${ms(r.hitAfterWriteMs)} ${ms(r.hitMs)} ${ms(r.afterChangeMs)} ${`${r.ratio.toFixed(2)}x`.padStart(7)} ${`${r.ratioBackToBack.toFixed(2)}x`.padStart(7)}   ${r.serverHitAfterWriteMs.toFixed(2)}, ${r.serverHitMs.toFixed(2)}, ${r.serverAfterChangeMs.toFixed(2)} ms`,
  );
}
console.log(`profile, the render after a change (just after the write's answer, not in the poll's server time): ${rows.map((r) => `${r.encoding} ${r.renderAfterChangeMs.toFixed(2)} ms`).join(', ')} (${renderTimes.length - 1} renders for ${2 * CHANGES} changes)`);
console.log(`profile, cold render of ${calendarEvents.length} events: ${fragmentsUs.toFixed(1)} us/event from fragments, ${referenceUs.toFixed(1)} us/event as one ical-generator calendar (${(fragmentsUs / referenceUs).toFixed(2)}x)`);

mkdirSync(`${REPO_ROOT}bench-results`, { recursive: true });
writeFileSync(
  `${REPO_ROOT}bench-results/incremental.json`,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.cpus().length, sessions: SESSIONS, bytes: timings.bytes, changes: CHANGES, rows, coldRenderUsPerEvent: { fragments: fragmentsUs, reference: referenceUs } }, null, 2)}\n`,
);
await close();
