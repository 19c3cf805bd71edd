// `npm run bench`: feed rendering for one provider with N sessions (default 1,000).
// Reports medians and ratios against a baseline measured in the same run (JSON.stringify of the
// same CalendarEvent[]), so figures compare across machines; nothing here is asserted.
import { testJoinLinks } from '../test/support/builders.js';
import { performance } from 'node:perf_hooks';
import { toCalendarEvent } from '../src/domain/calendar-event.js';
import { FeedService, renderCalendar } from '../feeds/index.js';
import { feedCalendarMeta } from '../feeds/feed-service.js';
import { LocationService } from '../src/services/location-service.js';
import { ProviderService } from '../src/services/provider-service.js';
import { SessionService } from '../src/services/session-service.js';
import { createSqliteStore } from '../src/store/index.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const now = new Date('2026-11-02T12:00:00.000Z');
const clock = { now: () => now };

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function measure(name: string, fn: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up: JIT and statement caches
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  const m = median(samples);
  console.log(`${name.padEnd(44)} median ${m.toFixed(3).padStart(9)} ms`);
  return m;
}

const store = await createSqliteStore({ filename: ':memory:' });
await new ProviderService({ joinLinks: testJoinLinks, store, clock }).put('p1', {
  name: 'Dr. Ada Byron',
  email: null,
  timezone: 'America/New_York',
  privacy: { mode: 'initials', baaAttested: true },
});
await new LocationService({ joinLinks: testJoinLinks, store, clock }).put('p1', 'video', {
  kind: 'virtual',
  name: 'Video',
  url: 'https://doxy.me/drbyron',
  instructions: 'Check in a few minutes early; the waiting room lets you in.',
  waitingRoom: true,
});
const sessions = new SessionService({ joinLinks: testJoinLinks, store, clock, uidDomain: 'bench.example' });
const seedStart = Date.parse('2026-11-03T14:00:00.000Z');
for (let i = 0; i < SESSIONS; i++) {
  // One 50-minute session per hour-long slot, so none overlaps on the shared link.
  const start = new Date(seedStart + i * 3_600_000 * 7);
  await sessions.put('p1', `s${i}`, {
    start: start.toISOString(),
    end: new Date(start.getTime() + 50 * 60_000).toISOString(),
    locationId: null,
    telehealthUrl: null,
    client: { id: `c${i}`, firstName: 'Client', lastName: `Number${i}` },
    status: 'scheduled',
  });
}

const provider = (await store.getProvider('p1'))!;
const location = (await store.getLocation('p1', 'video'))!;
const stored = await store.listSessions('p1', { status: 'scheduled' });
const events = stored.map((s) => toCalendarEvent(s, provider, location, testJoinLinks));
const token = (await new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 0 }).create('p1', null)).url
  .split('/feeds/')[1]!
  .replace(/\.ics$/, '');
const uncached = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 0 });
const cached = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 64 * 1024 * 1024 });

console.log(`feed benchmark: ${stored.length} sessions, ${ROUNDS} rounds, node ${process.version}`);
const baseline = await measure('baseline: JSON.stringify(CalendarEvent[])', () => JSON.stringify(events));
const mapOnly = await measure('toCalendarEvent x N', () => stored.map((s) => toCalendarEvent(s, provider, location, testJoinLinks)));
const icsOnly = await measure('renderCalendar (ICS text only)', () => renderCalendar(feedCalendarMeta(provider), events));
const cold = await measure('feed render, cache off (store+map+ICS)', () => uncached.render(token));
const hit = await measure('feed render, cache hit', () => cached.render(token));
const body = (await cached.render(token))!;
console.log(`feed body: ${(body.length / 1024).toFixed(0)} KiB, gzip ${((await cached.render(token))!.gzipped().length / 1024).toFixed(0)} KiB`);
console.log('ratios (lower is better):');
console.log(`  toCalendarEvent / baseline      ${(mapOnly / baseline).toFixed(1)}x`);
console.log(`  renderCalendar / baseline       ${(icsOnly / baseline).toFixed(1)}x`);
console.log(`  cold feed render / baseline     ${(cold / baseline).toFixed(1)}x`);
console.log(`  cache hit / cold feed render    ${(hit / cold).toFixed(4)}x`);
await store.close();
