// `npm run bench` (busy sources): what reading a 2 MB Outlook export costs, over the API a
// provider's portal or the worker uses (POST .../busy-sources/:id/refresh: the guarded fetch from
// a local server, the ICS reading, the store), against a ceiling for the same bytes in the same
// run: fetch() of them and node-ical's parseICS (what the straightforward build would do, without
// storing anything). Also its peak memory and the longest the event loop was held.
// Writes bench-results/busy.json (git-ignored) as well.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import nodeIcal from 'node-ical';
import { createIcsReader } from '../busy/index.js';
import { REPO_ROOT } from '../test/support/processes.js';
import { startBenchApp } from './bench-app.js';

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const ROUNDS = Number(process.env.BENCH_BUSY_ROUNDS ?? 7);

/** An Exchange-style published calendar of ~2 MB: weekly series with exceptions, singles, all-day. */
function outlookExport(targetBytes: number): string {
  const head = [
    'BEGIN:VCALENDAR', 'METHOD:PUBLISH', 'PRODID:Microsoft Exchange Server 2010', 'VERSION:2.0', 'X-WR-CALNAME:Calendar',
    'BEGIN:VTIMEZONE', 'TZID:Eastern Standard Time',
    'BEGIN:STANDARD', 'DTSTART:16010101T020000', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=11', 'END:STANDARD',
    'BEGIN:DAYLIGHT', 'DTSTART:16010101T020000', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=2SU;BYMONTH=3', 'END:DAYLIGHT',
    'END:VTIMEZONE',
  ];
  const lines = [...head];
  const pad = (n: number) => String(n).padStart(2, '0');
  let size = lines.join('\r\n').length;
  for (let i = 0; size < targetBytes; i++) {
    const day = new Date(Date.UTC(2026, 0, 1) + (i % 700) * 86_400_000);
    const date = `${day.getUTCFullYear()}${pad(day.getUTCMonth() + 1)}${pad(day.getUTCDate())}`;
    const hour = 8 + (i % 9);
    const event = [
      'BEGIN:VEVENT',
      `DESCRIPTION:Agenda item ${i}: quarterly review of the budget\\, staffing and the new intake process.\\n\\nJoin online: https://teams.example.com/l/meetup-join/${i.toString(36).padStart(12, '0')}`,
      `UID:040000008200E00074C5B7101A82E0080000000${i.toString(16).padStart(8, '0')}`,
      `SUMMARY;LANGUAGE=en-US:Meeting ${i}`,
      `DTSTART;TZID=Eastern Standard Time:${date}T${pad(hour)}0000`,
      `DTEND;TZID=Eastern Standard Time:${date}T${pad(hour)}4500`,
      ...(i % 20 === 0 ? [`RRULE:FREQ=WEEKLY;UNTIL=20271231T000000Z;INTERVAL=1;BYDAY=${['MO', 'TU', 'WE', 'TH', 'FR'][i % 5]};WKST=SU`, `EXDATE;TZID=Eastern Standard Time:${date}T${pad(hour)}0000`] : []),
      'CLASS:PUBLIC', 'PRIORITY:5', 'DTSTAMP:20261101T120000Z', 'TRANSP:OPAQUE', 'STATUS:CONFIRMED', 'SEQUENCE:0',
      `LOCATION;LANGUAGE=en-US:Conference Room ${i % 12}`,
      `X-MICROSOFT-CDO-BUSYSTATUS:${i % 11 === 0 ? 'FREE' : i % 13 === 0 ? 'TENTATIVE' : 'BUSY'}`,
      'X-MICROSOFT-CDO-IMPORTANCE:1', 'X-MICROSOFT-DISALLOW-COUNTER:FALSE',
      'END:VEVENT',
    ];
    lines.push(...event);
    size += event.join('\r\n').length + 2;
  }
  lines.push('END:VCALENDAR');
  return `${lines.join('\r\n')}\r\n`;
}

const body = Buffer.from(outlookExport(2 * 1024 * 1024));
let served = 0;
const calendarServer = http.createServer((_req, res) => {
  served += 1;
  // A new ETag every time: every refresh reads and stores the whole calendar.
  res.writeHead(200, { 'Content-Type': 'text/calendar; charset=utf-8', ETag: `"v${served}"`, 'Content-Length': body.length }).end(body);
});
await new Promise<void>((resolve) => calendarServer.listen(0, '127.0.0.1', resolve));
const calendarHost = `127.0.0.1:${(calendarServer.address() as AddressInfo).port}`;
const calendarUrl = `http://${calendarHost}/owa/calendar/secret/calendar.ics`;

const app = await startBenchApp(undefined, undefined, {
  busy: { ics: createIcsReader({ allowHosts: new Set([calendarHost]), maxBytes: 5 * 1024 * 1024, uidDomain: 'bench.example' }), refreshMinutes: 15 },
});
await app.api('PUT', '/api/v1/providers/p1/busy-sources/outlook', { kind: 'ics', url: calendarUrl });

const gc = (globalThis as { gc?: () => void }).gc;
async function measured<T>(work: () => Promise<T>): Promise<{ ms: number; peakHeapMiB: number; maxLoopMs: number; result: T }> {
  gc?.();
  const base = process.memoryUsage();
  let peak = base.heapUsed + base.external + base.arrayBuffers;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.external + m.arrayBuffers);
  }, 1);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  // The timer that measures a stall fires after it: give it that turn before reading.
  await new Promise((resolve) => setTimeout(resolve, 5));
  loop.disable();
  clearInterval(sampler);
  const end = process.memoryUsage();
  peak = Math.max(peak, end.heapUsed + end.external + end.arrayBuffers);
  return { ms, peakHeapMiB: (peak - (base.heapUsed + base.external + base.arrayBuffers)) / 2 ** 20, maxLoopMs: loop.max / 1e6, result };
}

const refresh = async () => {
  const res = await fetch(`${app.base}/api/v1/providers/p1/busy-sources/outlook/refresh`, { method: 'POST', headers: { Authorization: 'Bearer bench-admin-token-0123456789abcdef' } });
  const json = (await res.json()) as { status: string; intervals: number; lastError: string | null };
  if (json.status !== 'ok') throw new Error(`refresh: ${JSON.stringify(json)}`);
  return json.intervals;
};
const ceiling = async () => {
  const text = await (await fetch(calendarUrl)).text();
  return Object.keys(nodeIcal.sync.parseICS(text)).length;
};

await refresh();
await ceiling();
const ours: Awaited<ReturnType<typeof measured<number>>>[] = [];
const top: Awaited<ReturnType<typeof measured<number>>>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  ours.push(await measured(refresh));
  top.push(await measured(ceiling));
}
const row = (runs: typeof ours) => ({ ms: median(runs.map((r) => r.ms)), peakHeapMiB: median(runs.map((r) => r.peakHeapMiB)), maxLoopMs: Math.max(...runs.map((r) => r.maxLoopMs)) });
const result = { ours: row(ours), ceiling: row(top), intervals: ours[0]?.result ?? 0, events: top[0]?.result ?? 0 };

console.log(`\nbusy source refresh: an Outlook export of ${(body.length / 2 ** 20).toFixed(2)} MiB (${result.events} components), median of ${ROUNDS}, node ${process.version}, ${os.cpus().length} cores`);
console.log(`${'path'.padEnd(44)} ${'time'.padStart(9)} ${'peak heap'.padStart(10)} ${'longest loop stall'.padStart(19)}`);
console.log(`${'POST .../refresh (fetch, read, store)'.padEnd(44)} ${`${result.ours.ms.toFixed(0)} ms`.padStart(9)} ${`${result.ours.peakHeapMiB.toFixed(0)} MiB`.padStart(10)} ${`${result.ours.maxLoopMs.toFixed(0)} ms`.padStart(19)}`);
console.log(`${'ceiling: fetch + node-ical parseICS'.padEnd(44)} ${`${result.ceiling.ms.toFixed(0)} ms`.padStart(9)} ${`${result.ceiling.peakHeapMiB.toFixed(0)} MiB`.padStart(10)} ${`${result.ceiling.maxLoopMs.toFixed(0)} ms`.padStart(19)}`);
console.log(`ratio (ceiling time / ours): ${(result.ceiling.ms / result.ours.ms).toFixed(2)}x; ${result.intervals} busy intervals stored`);

mkdirSync(`${REPO_ROOT}bench-results`, { recursive: true });
writeFileSync(`${REPO_ROOT}bench-results/busy.json`, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cores: os.cpus().length, bytes: body.length, ...result }, null, 2)}\n`);
await app.close();
await new Promise((resolve) => calendarServer.close(resolve));
