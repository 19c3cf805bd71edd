// `npm run bench` (last part): a soak of feed polling. Calendar apps poll feeds all day while the
// practice platform keeps changing sessions; this checks that the real server, as one process on
// its zero-config SQLite file, keeps answering correctly and does not grow under that load:
// - 200 concurrent poll loops over keep-alive connections, 10 on each of 20 providers' feeds, half
//   asking for gzip and half for identity, each sending If-None-Match with the last ETag it got;
// - meanwhile ~20 session changes per second (reschedules, cancellations, new sessions) over the
//   API, so that every feed changes about once a second and is rendered again;
// - every 200 body is checked to be a complete calendar (BEGIN:VCALENDAR ... END:VCALENDAR, as many
//   BEGIN:VEVENT as END:VEVENT), and every 200th is also parsed with ical.js once polling stops;
// - the server's RSS (VmRSS of its own process, not this load generator's) every 500 ms.
// Pass: 0 network errors, 0 statuses other than 200/304, 0 incomplete bodies, 0 change errors,
// the change rate reached, RSS at the end < 50% above RSS after a warm-up. Exits 1 otherwise.
// Writes the figures as JSON to bench-results/soak.json (git-ignored) as well.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import ICAL from 'ical.js';
import { REPO_ROOT, ServerGroup, type ServerProcess, type StopResult } from '../test/support/processes.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 20);
// RSS growth is measured from the end of the warm-up. Expect ~+50 MiB of it to be one step a few
// seconds into the load, V8 doubling the young generation (64 -> 128 MiB in /metrics'
// nodejs_heap_space_size_total_bytes{space="new"}) once the allocation rate is high, not a leak:
// the table's "2nd half" figure, growth over the soak's second half alone, is the one a leak moves.
const WARMUP_SECONDS = Number(process.env.BENCH_SOAK_WARMUP_SECONDS ?? 2);
const PROVIDERS = 20;
const SESSIONS_PER_PROVIDER = 200;
const POLLERS = 200;
const CHANGES_PER_SECOND = 20;
/** ical.js parses the first and then every this-many-th 200 body (the structural check sees all). */
const PARSE_EVERY = 200;
const RSS_GROWTH_LIMIT = 0.5;
/** The change loop must reach this share of CHANGES_PER_SECOND, or the soak did not test what it says. */
const MIN_CHANGE_RATE_SHARE = 0.9;
const POLL_TIMEOUT_MS = 10_000;
const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
const HOUR_MS = 3_600_000;
const MIB = 1024 * 1024;

// ---- server and API -------------------------------------------------------------------------

/** The real server, one process, default role (all) on the default SQLite file in a fresh temp dir. */
function startSoakServer(group: ServerGroup): Promise<ServerProcess> {
  return group.start({
    name: 'soak',
    env: {
      ADMIN_TOKEN,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    },
  });
}

interface ApiAnswer {
  status: number;
  text: string;
}

async function api(server: ServerProcess, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

async function must(server: ServerProcess, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await api(server, method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return JSON.parse(res.text) as unknown;
}

/** Reads VmRSS of `pid` in bytes, or null once the process is gone. */
function readRss(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** CPU seconds so far: of the whole machine (busy, in cores x seconds), of the server, of this process. */
interface CpuSnapshot {
  wallMs: number;
  machine: number;
  server: number;
  self: number;
}

/** /proc/stat and /proc/<pid>/stat count in USER_HZ ticks, 100 a second on Linux. */
const TICKS_PER_SECOND = 100;

function cpuSnapshot(pid: number): CpuSnapshot | null {
  try {
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // Fields after the ")" that closes the command name: the 12th and 13th are utime and stime.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').map(Number);
    const usage = process.cpuUsage();
    return {
      wallMs: performance.now(),
      machine: (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND,
      server: ((fields[11] ?? 0) + (fields[12] ?? 0)) / TICKS_PER_SECOND,
      self: (usage.user + usage.system) / 1e6,
    };
  } catch {
    return null;
  }
}

/** Cores used on average between two snapshots; `others` is everything but the server and this process. */
function coresUsed(a: CpuSnapshot | null, b: CpuSnapshot | null): { server: number; loadGenerator: number; others: number } | null {
  if (a === null || b === null) return null;
  const seconds = (b.wallMs - a.wallMs) / 1000;
  const server = (b.server - a.server) / seconds;
  const loadGenerator = (b.self - a.self) / seconds;
  return { server, loadGenerator, others: Math.max(0, (b.machine - a.machine) / seconds - server - loadGenerator) };
}

// ---- the practice's data: one session per hour slot, so no change can ever overlap ------------

interface SessionState {
  id: string;
  slot: number;
  status: 'scheduled' | 'cancelled';
  /** A change to it is in flight: the next change picks another session. */
  busy: boolean;
}

interface ProviderState {
  id: string;
  sessions: SessionState[];
  /** Slots are never reused: every reschedule and new session takes a fresh one. */
  nextSlot: number;
  feedPath: string;
}

// Slot 0 starts at the next full hour a day from now: inside the feed window, and in the future.
const firstSlotMs = Math.ceil((Date.now() + 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;
const slotStart = (slot: number) => new Date(firstSlotMs + slot * HOUR_MS).toISOString();

function sessionBody(session: SessionState): unknown {
  return {
    start: slotStart(session.slot),
    durationMinutes: 50,
    client: { id: `c-${session.id}`, firstName: 'Client', lastName: session.id },
    status: session.status,
  };
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function seedProvider(server: ServerProcess, index: number): Promise<ProviderState> {
  const id = `soak${index}`;
  await must(server, 'PUT', `/api/v1/providers/${id}`, { name: `Dr. Soak ${index}`, timezone: 'America/New_York' });
  await must(server, 'PUT', `/api/v1/providers/${id}/locations/video`, {
    kind: 'virtual',
    name: 'Video',
    url: `https://doxy.me/dr${index}`,
    instructions: 'Check in a few minutes early.',
    waitingRoom: true,
  });
  const provider: ProviderState = { id, sessions: [], nextSlot: 0, feedPath: '' };
  for (let i = 0; i < SESSIONS_PER_PROVIDER; i++) provider.sessions.push({ id: `s${i}`, slot: provider.nextSlot++, status: 'scheduled', busy: false });
  await inParallel(provider.sessions, 4, async (s) => void (await must(server, 'PUT', `/api/v1/providers/${id}/sessions/${s.id}`, sessionBody(s))));
  const { url } = (await must(server, 'POST', `/api/v1/providers/${id}/feeds`, { label: 'soak' })) as { url: string };
  provider.feedPath = new URL(url).pathname;
  return provider;
}

// ---- counters -------------------------------------------------------------------------------

class PhaseStats {
  polls = 0;
  ok = 0;
  notModified = 0;
  readonly otherStatuses = new Map<number, number>();
  readonly errors = new Map<string, number>();
  bodiesChecked = 0;
  incomplete = 0;
  readonly incompleteReasons: string[] = [];
  readonly pollMs: number[] = [];
  changes = 0;
  changeErrors = 0;
  readonly changeErrorSamples: string[] = [];
  readonly changeMs: number[] = [];
  readonly changesByKind = { reschedule: 0, cancel: 0, create: 0 };

  countError(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }

  countIncomplete(reason: string): void {
    this.incomplete++;
    if (this.incompleteReasons.length < 5) this.incompleteReasons.push(reason);
  }
}

const sum = (map: ReadonlyMap<unknown, number>) => [...map.values()].reduce((a, b) => a + b, 0);

function merged<K>(a: ReadonlyMap<K, number>, b: ReadonlyMap<K, number>): Map<K, number> {
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

/** maxOf(samples) overflows the call stack past ~100,000 samples. */
function maxOf(samples: readonly number[]): number {
  return samples.reduce((a, b) => (b > a ? b : a), Number.NEGATIVE_INFINITY);
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

// ---- polling --------------------------------------------------------------------------------

interface Poller {
  path: string;
  gzip: boolean;
  etag: string | undefined;
}

interface Answer {
  status: number;
  etag: string | undefined;
  encoding: string | undefined;
  body: Buffer;
  ms: number;
}

/** One GET over the shared keep-alive agent, the whole body read. */
function get(agent: http.Agent, port: number, path: string, headers: http.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({ agent, host: '127.0.0.1', port, path, method: 'GET', headers, timeout: POLL_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        if (!res.complete) return reject(new Error('response cut short'));
        const etag = res.headers['etag'];
        const encoding = res.headers['content-encoding'];
        resolve({ status: res.statusCode ?? 0, etag, encoding, body: Buffer.concat(chunks), ms: performance.now() - started });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${POLL_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
}

function countLines(text: string, line: string): number {
  let count = 0;
  for (let at = text.indexOf(line); at !== -1; at = text.indexOf(line, at + line.length)) count++;
  return count;
}

/** The ICS text if `answer` holds a complete calendar, else why not. */
function checkCalendar(answer: Answer): { text: string; events: number } | { problem: string } {
  let bytes = answer.body;
  if (answer.encoding === 'gzip') {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      return { problem: `gunzip failed: ${(err as Error).message}` };
    }
  } else if (answer.encoding !== undefined) {
    return { problem: `unexpected Content-Encoding ${answer.encoding}` };
  }
  const text = bytes.toString('utf8');
  if (!text.startsWith('BEGIN:VCALENDAR\r\n')) return { problem: `does not begin with BEGIN:VCALENDAR (${JSON.stringify(text.slice(0, 40))})` };
  if (!text.endsWith('\r\nEND:VCALENDAR\r\n')) return { problem: `does not end with END:VCALENDAR (${JSON.stringify(text.slice(-40))})` };
  const begins = countLines(text, '\r\nBEGIN:VEVENT\r\n');
  const ends = countLines(text, '\r\nEND:VEVENT\r\n');
  if (begins !== ends) return { problem: `${begins} BEGIN:VEVENT but ${ends} END:VEVENT` };
  return { text, events: begins };
}

interface ParseSample {
  text: string;
  events: number;
}

function record(answer: Answer, poller: Poller, stats: PhaseStats, samples: ParseSample[]): void {
  stats.polls++;
  stats.pollMs.push(answer.ms);
  if (answer.status === 304) {
    stats.notModified++;
    return;
  }
  if (answer.status !== 200) {
    stats.otherStatuses.set(answer.status, (stats.otherStatuses.get(answer.status) ?? 0) + 1);
    return;
  }
  stats.ok++;
  poller.etag = answer.etag;
  stats.bodiesChecked++;
  const checked = checkCalendar(answer);
  if ('problem' in checked) return stats.countIncomplete(checked.problem);
  if ((stats.ok - 1) % PARSE_EVERY === 0) samples.push(checked);
}

async function pollLoop(agent: http.Agent, port: number, poller: Poller, deadline: number, stats: PhaseStats, samples: ParseSample[]): Promise<void> {
  while (performance.now() < deadline) {
    const headers: http.OutgoingHttpHeaders = { 'Accept-Encoding': poller.gzip ? 'gzip' : 'identity', 'User-Agent': 'sessionsync-soak' };
    if (poller.etag !== undefined) headers['If-None-Match'] = poller.etag;
    try {
      record(await get(agent, port, poller.path, headers), poller, stats, samples);
    } catch (err) {
      stats.countError((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      await delay(100); // a dead server must not turn the loop into a spin
    }
  }
}

/** ical.js must read as many events as the structural check counted VEVENTs. */
function parseSamples(samples: readonly ParseSample[], stats: PhaseStats): number {
  for (const sample of samples) {
    try {
      const events = new ICAL.Component(ICAL.parse(sample.text)).getAllSubcomponents('vevent');
      const usable = events.filter((e) => e.getFirstPropertyValue('uid') !== null && e.getFirstPropertyValue('dtstart') !== null).length;
      if (events.length !== sample.events || usable !== events.length) {
        stats.countIncomplete(`ical.js read ${events.length} events (${usable} with UID and DTSTART), the body has ${sample.events} VEVENTs`);
      }
    } catch (err) {
      stats.countIncomplete(`ical.js could not parse it: ${(err as Error).message}`);
    }
  }
  return samples.length;
}

// ---- session changes ------------------------------------------------------------------------

type ChangeKind = keyof PhaseStats['changesByKind'];

function pickKind(): ChangeKind {
  const r = Math.random();
  return r < 0.5 ? 'reschedule' : r < 0.75 ? 'cancel' : 'create';
}

function pickScheduled(provider: ProviderState): SessionState | undefined {
  const candidates = provider.sessions.filter((s) => s.status === 'scheduled' && !s.busy);
  return candidates[Math.floor(Math.random() * candidates.length)];
}

/** One change to a random provider: the session's next state, PUT as a whole. */
async function changeOne(server: ServerProcess, providers: readonly ProviderState[], stats: PhaseStats): Promise<void> {
  const provider = providers[Math.floor(Math.random() * providers.length)]!;
  let kind = pickKind();
  let session = kind === 'create' ? undefined : pickScheduled(provider);
  if (session === undefined) kind = 'create';
  const next: SessionState =
    session === undefined
      ? { id: `n${provider.nextSlot}`, slot: provider.nextSlot++, status: 'scheduled', busy: true }
      : kind === 'reschedule'
        ? { ...session, slot: provider.nextSlot++ }
        : { ...session, status: 'cancelled' };
  if (session === undefined) {
    session = next;
    provider.sessions.push(session);
  }
  session.busy = true;
  const started = performance.now();
  try {
    const res = await api(server, 'PUT', `/api/v1/providers/${provider.id}/sessions/${next.id}`, sessionBody(next));
    if (res.status === 200 || res.status === 201) {
      session.slot = next.slot;
      session.status = next.status;
      stats.changes++;
      stats.changesByKind[kind]++;
    } else {
      stats.changeErrors++;
      if (stats.changeErrorSamples.length < 5) stats.changeErrorSamples.push(`${kind} ${provider.id}/${next.id}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  } catch (err) {
    stats.changeErrors++;
    if (stats.changeErrorSamples.length < 5) stats.changeErrorSamples.push(`${kind} ${provider.id}/${next.id}: ${(err as Error).message}`);
  } finally {
    stats.changeMs.push(performance.now() - started);
    session.busy = false;
  }
}

/** Starts change number n at start + n / rate: paced by elapsed time, so a slow answer does not make it drift. */
async function changeLoop(server: ServerProcess, providers: readonly ProviderState[], deadline: number, stats: PhaseStats): Promise<void> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  while (performance.now() < deadline) {
    const due = Math.floor(((performance.now() - started) / 1000) * CHANGES_PER_SECOND);
    for (; issued < due; issued++) {
      const change: Promise<void> = changeOne(server, providers, stats).finally(() => inFlight.delete(change));
      inFlight.add(change);
    }
    const nextAt = started + ((issued + 1) / CHANGES_PER_SECOND) * 1000;
    await delay(Math.max(0, Math.min(nextAt, deadline) - performance.now()));
  }
  await Promise.all(inFlight);
}

// ---- one phase: pollers and changes together ----------------------------------------------

interface PhaseResult {
  stats: PhaseStats;
  seconds: number;
  parsed: number;
}

async function runPhase(server: ServerProcess, agent: http.Agent, pollers: readonly Poller[], providers: readonly ProviderState[], seconds: number): Promise<PhaseResult> {
  const stats = new PhaseStats();
  const samples: ParseSample[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all([...pollers.map((p) => pollLoop(agent, server.port, p, deadline, stats, samples)), changeLoop(server, providers, deadline, stats)]);
  const elapsed = (performance.now() - started) / 1000;
  // Parsed after the clock stopped, so that ical.js does not slow the pollers down.
  return { stats, seconds: elapsed, parsed: parseSamples(samples, stats) };
}

// ---- report ---------------------------------------------------------------------------------

interface Criterion {
  name: string;
  ok: boolean;
}

const fmtMs = (samples: readonly number[]) => `${percentile(samples, 50).toFixed(1)} / ${percentile(samples, 99).toFixed(1)} / ${maxOf(samples).toFixed(0)} ms`;
const fmtMap = (map: ReadonlyMap<unknown, number>) => (map.size === 0 ? '0' : [...map].map(([k, v]) => `${String(k)}: ${v}`).join(', '));
const mib = (bytes: number) => (bytes / MIB).toFixed(1);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function printTable(rows: readonly (readonly [string, string, string])[]): void {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [metric, value, limit] of rows) console.log(`${metric.padEnd(w0)}  ${value.padEnd(w1)}  ${limit}`.trimEnd());
}

// ---- main -----------------------------------------------------------------------------------

interface RssFigures {
  seeded: number;
  warm: number;
  peak: number;
  final: number;
  samples: { phase: 'warm-up' | 'soak'; ms: number; bytes: number }[];
}

interface SoakResult {
  role: string;
  identityBytes: number;
  gzipBytes: number;
  warm: PhaseResult;
  soak: PhaseResult;
  cpu: ReturnType<typeof coresUsed>;
  rss: RssFigures;
  alive: boolean;
  warnings: string[];
  stopped: StopResult;
}

/** Seeds the server, polls it through the warm-up and the soak while the sessions change, stops it. */
async function measure(server: ServerProcess): Promise<SoakResult> {
  const providers = await Promise.all(Array.from({ length: PROVIDERS }, (_, i) => seedProvider(server, i)));
  const seeded = readRss(server.pid) ?? Number.NaN;

  const agent = new http.Agent({ keepAlive: true, maxSockets: POLLERS + 16 });
  const pollers: Poller[] = Array.from({ length: POLLERS }, (_, i) => ({ path: providers[i % PROVIDERS]!.feedPath, gzip: i % 2 === 0, etag: undefined }));
  const identityBytes = (await get(agent, server.port, providers[0]!.feedPath, { 'Accept-Encoding': 'identity' })).body.length;
  const gzipBytes = (await get(agent, server.port, providers[0]!.feedPath, { 'Accept-Encoding': 'gzip' })).body.length;
  console.log(
    `soak: ${POLLERS} pollers on ${PROVIDERS} feeds (${SESSIONS_PER_PROVIDER} sessions, ${(identityBytes / 1024).toFixed(0)} KiB, gzip ${(gzipBytes / 1024).toFixed(0)} KiB), ` +
      `${CHANGES_PER_SECOND} changes/s, ${SECONDS} s after ${WARMUP_SECONDS} s warm-up; one server process (role ${server.role}, SQLite), node ${process.version}, ${os.cpus().length} cores`,
  );

  const samples: RssFigures['samples'] = [];
  let phase: 'warm-up' | 'soak' = 'warm-up';
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const bytes = readRss(server.pid);
    if (bytes !== null) samples.push({ phase, ms: Math.round(performance.now() - t0), bytes });
  }, 500);
  const warm = await runPhase(server, agent, pollers, providers, WARMUP_SECONDS);
  const rssWarm = readRss(server.pid) ?? Number.NaN;
  phase = 'soak';
  const cpuBefore = cpuSnapshot(server.pid);
  const soak = await runPhase(server, agent, pollers, providers, SECONDS);
  const cpu = coresUsed(cpuBefore, cpuSnapshot(server.pid));
  const rssFinal = readRss(server.pid) ?? Number.NaN;
  clearInterval(sampler);
  agent.destroy();

  const peak = Math.max(rssFinal, ...samples.filter((x) => x.phase === 'soak').map((x) => x.bytes));
  const alive = server.running();
  const warnings = server.warnings().map((w) => w.msg ?? JSON.stringify(w));
  const stopped = await server.stop();
  return { role: server.role, identityBytes, gzipBytes, warm, soak, cpu, rss: { seeded, warm: rssWarm, peak, final: rssFinal, samples }, alive, warnings, stopped };
}

function phaseJson(p: PhaseResult) {
  const { stats } = p;
  const spread = (ms: readonly number[]) => ({ p50: percentile(ms, 50), p99: percentile(ms, 99), max: maxOf(ms) });
  return {
    seconds: p.seconds,
    polls: stats.polls,
    pollsPerSecond: stats.polls / p.seconds,
    ok: stats.ok,
    notModified: stats.notModified,
    otherStatuses: Object.fromEntries(stats.otherStatuses),
    errors: Object.fromEntries(stats.errors),
    bodiesChecked: stats.bodiesChecked,
    parsed: p.parsed,
    incomplete: stats.incomplete,
    incompleteReasons: stats.incompleteReasons,
    pollMs: spread(stats.pollMs),
    changes: stats.changes,
    changesPerSecond: stats.changes / p.seconds,
    changesByKind: stats.changesByKind,
    changeErrors: stats.changeErrors,
    changeErrorSamples: stats.changeErrorSamples,
    changeMs: spread(stats.changeMs),
  };
}

/** Prints the table and the verdict, writes bench-results/soak.json; true when every criterion holds. */
function report(r: SoakResult): boolean {
  const { stats: s, seconds } = r.soak;
  const w = r.warm.stats;
  const errorsByKind = merged(w.errors, s.errors);
  const statusesByCode = merged(w.otherStatuses, s.otherStatuses);
  const incomplete = s.incomplete + w.incomplete;
  const changeErrors = s.changeErrors + w.changeErrors;
  const changeRate = s.changes / seconds;
  const minChangeRate = MIN_CHANGE_RATE_SHARE * CHANGES_PER_SECOND;
  const growth = (r.rss.final - r.rss.warm) / r.rss.warm;
  const peakGrowth = (r.rss.peak - r.rss.warm) / r.rss.warm;
  // Growth over the soak's second half alone: a leak keeps growing, a heap settling in does not.
  const soakSamples = r.rss.samples.filter((x) => x.phase === 'soak');
  const midRss = soakSamples[Math.floor(soakSamples.length / 2)]?.bytes ?? Number.NaN;
  const lateGrowth = (r.rss.final - midRss) / midRss;
  const criteria: Criterion[] = [
    { name: 'server alive to the end', ok: r.alive },
    { name: 'polls answered with 200', ok: s.ok > 0 },
    { name: '0 network errors', ok: sum(errorsByKind) === 0 },
    { name: '0 statuses other than 200/304', ok: sum(statusesByCode) === 0 },
    { name: '0 incomplete bodies', ok: incomplete === 0 },
    { name: '0 change errors', ok: changeErrors === 0 },
    { name: `change rate >= ${minChangeRate}/s`, ok: changeRate >= minChangeRate },
    { name: `RSS growth < ${pct(RSS_GROWTH_LIMIT)}`, ok: growth < RSS_GROWTH_LIMIT },
  ];
  const verdict = (i: number) => (criteria[i]?.ok ? 'ok' : 'FAIL');

  printTable([
    ['metric (soak window; failures incl. warm-up)', 'value', 'criterion'],
    ['polls/s', `${Math.round(s.polls / seconds)} (${s.polls} in ${seconds.toFixed(1)} s)`, ''],
    ['200s / 304s', `${s.ok} / ${s.notModified}`, ''],
    ['other statuses', fmtMap(statusesByCode), `= 0  ${verdict(3)}`],
    ['network errors', fmtMap(errorsByKind), `= 0  ${verdict(2)}`],
    ['bodies checked (every 200)', `${s.bodiesChecked + w.bodiesChecked}, ical.js-parsed ${r.soak.parsed + r.warm.parsed}`, ''],
    ['incomplete bodies', String(incomplete), `= 0  ${verdict(4)}`],
    ['poll latency p50 / p99 / max', fmtMs(s.pollMs), ''],
    ['changes/s', `${changeRate.toFixed(1)} (${s.changesByKind.reschedule} resched., ${s.changesByKind.cancel} cancel, ${s.changesByKind.create} new)`, `>= ${minChangeRate}  ${verdict(6)}`],
    ['change errors', String(changeErrors), `= 0  ${verdict(5)}`],
    ['change latency p50 / p99 / max', fmtMs(s.changeMs), ''],
    ['CPU cores: server / load gen. / others', r.cpu === null ? 'n/a' : `${r.cpu.server.toFixed(2)} / ${r.cpu.loadGenerator.toFixed(2)} / ${r.cpu.others.toFixed(2)} of ${os.cpus().length}`, ''],
    ['RSS seeded / warm / peak / final', `${mib(r.rss.seeded)} / ${mib(r.rss.warm)} / ${mib(r.rss.peak)} / ${mib(r.rss.final)} MiB`, ''],
    ['RSS growth final (peak; 2nd half)', `${pct(growth)} (${pct(peakGrowth)}; ${pct(lateGrowth)})`, `< ${pct(RSS_GROWTH_LIMIT)}  ${verdict(7)}`],
  ]);
  for (const why of [...w.incompleteReasons, ...s.incompleteReasons].slice(0, 5)) console.log(`  incomplete body: ${why}`);
  for (const why of [...w.changeErrorSamples, ...s.changeErrorSamples].slice(0, 5)) console.log(`  change error: ${why}`);
  if (r.cpu !== null && r.cpu.others > 0.25) console.log(`  note: other processes used ${r.cpu.others.toFixed(2)} cores during the soak: rates and latencies are lower than on an idle machine`);
  const distinct = [...new Set(r.warnings)];
  console.log(`server: ${r.warnings.length} log lines at warn or above${distinct.length > 0 ? ` (${distinct.slice(0, 3).join('; ')})` : ''}; SIGTERM: exit ${r.stopped.code ?? r.stopped.signal} after ${r.stopped.ms.toFixed(0)} ms`);

  const failures = criteria.filter((c) => !c.ok).map((c) => c.name);
  console.log(failures.length === 0 ? 'soak: PASS' : `soak: FAIL: ${failures.join('; ')}`);

  const setup = { providers: PROVIDERS, sessionsPerProvider: SESSIONS_PER_PROVIDER, pollers: POLLERS, changesPerSecond: CHANGES_PER_SECOND, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, role: r.role, database: 'sqlite', feedBytes: r.identityBytes, feedGzipBytes: r.gzipBytes };
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().map((c) => c.model)[0],
    cores: os.cpus().length,
    setup,
    warmup: phaseJson(r.warm),
    soak: phaseJson(r.soak),
    cpuCores: r.cpu,
    rss: { ...r.rss, growth, peakGrowth, lateGrowth },
    server: { alive: r.alive, warnings: r.warnings, stop: r.stopped },
    criteria,
    pass: failures.length === 0,
  };
  mkdirSync(`${REPO_ROOT}bench-results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}bench-results/soak.json`, `${JSON.stringify(json, null, 2)}\n`);
  return failures.length === 0;
}

const group = new ServerGroup();
const pass = await startSoakServer(group)
  .then(measure)
  .then(report)
  .finally(() => group.cleanup());
process.exit(pass ? 0 : 1);
