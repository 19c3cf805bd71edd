// `npm run bench` (memory part): what the rendered-feed cache holds after one poll of every feed
// of 2,000 providers with 200 sessions each, at the default byte budget (FEED_CACHE_MAX_BYTES),
// against the process's RSS before the polls. A profile of memory, not a benchmark of speed.
import { testJoinLinks } from '../test/support/builders.js';
import { performance } from 'node:perf_hooks';
import { FeedService } from '../feeds/index.js';
import type { Session } from '../src/domain/index.js';
import { createSqliteStore } from '../src/store/index.js';
import { aProvider, aSession, aVirtualLocation } from '../test/support/builders.js';

const PROVIDERS = Number(process.env.BENCH_MEMORY_PROVIDERS ?? 2000);
const SESSIONS = Number(process.env.BENCH_MEMORY_SESSIONS ?? 200);
const BUDGET = Number(process.env.BENCH_MEMORY_BUDGET ?? 128 * 1024 * 1024);
const now = new Date('2026-11-02T12:00:00.000Z');
const clock = { now: () => now };
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

const store = await createSqliteStore({ filename: ':memory:' });
const seedFeeds = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: 0 });
const tokens: string[] = [];
const seeded = performance.now();
for (let p = 0; p < PROVIDERS; p++) {
  const providerId = `p${p}`;
  const sessions: Session[] = Array.from({ length: SESSIONS }, (_, i) => {
    const start = new Date(Date.parse('2026-11-03T14:00:00.000Z') + i * 36 * 3_600_000);
    return aSession({
      providerId,
      id: `s${i}`,
      uid: `${providerId}.s${i}@bench.example`,
      start: start.toISOString(),
      end: new Date(start.getTime() + 50 * 60_000).toISOString(),
      locationId: 'loc-video',
    });
  });
  await store.transaction(async (tx) => {
    await tx.putProvider(aProvider({ id: providerId, name: `Dr. Provider ${p}` }));
    await tx.putLocation(aVirtualLocation({ providerId, url: `https://doxy.me/${providerId}` }));
    await tx.putSessions(sessions);
  });
  const created = await seedFeeds.create(providerId, null);
  tokens.push(new URL(created.url).pathname.slice('/feeds/'.length, -'.ics'.length));
}
console.log(`memory profile: ${PROVIDERS} providers x ${SESSIONS} sessions seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s, node ${process.version}`);

global.gc?.();
const before = process.memoryUsage().rss;
const feeds = new FeedService({ joinLinks: testJoinLinks, store, clock, publicBaseUrl: 'https://x', pastDays: 60, futureDays: 365, cacheMaxBytes: BUDGET });
const started = performance.now();
let bodyBytes = 0;
for (const token of tokens) {
  const feed = await feeds.render(token);
  if (feed === null) throw new Error('a feed did not render');
  bodyBytes += feed.length + feed.gzipped().length;
}
const seconds = (performance.now() - started) / 1000;
global.gc?.();
const after = process.memoryUsage().rss;
console.log(`every feed polled once (gzip too): ${mib(bodyBytes)} rendered in ${seconds.toFixed(1)} s = ${((seconds * 1e6) / (PROVIDERS * SESSIONS)).toFixed(1)} us per event`);
console.log(`cache: ${mib(feeds.cachedBytes)} held of a ${mib(BUDGET)} budget; RSS ${mib(before)} before the polls, ${mib(after)} after (+${mib(after - before)})`);
await store.close();
