import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { toCalendarEvent, toInviteEvent } from '../src/domain/calendar-event.js';
import { ErrorCode, notFound } from '../src/domain/index.js';
import type { CalendarMeta, Clock, FeedToken, Location, Provider, Store } from '../src/domain/index.js';
import { generateFeedToken, hashFeedToken, isWellFormedFeedToken } from './feed-token.js';
import { FetchLog } from './fetch-log.js';
import { renderCalendar } from './ics-renderer.js';

export interface FeedServiceOptions {
  store: Store;
  clock: Clock;
  publicBaseUrl: string;
  pastDays: number;
  futureDays: number;
  /**
   * Most bytes of rendered bodies (and their gzip) kept in memory, one entry per provider, least
   * recently polled dropped first; 0 disables the cache. Bytes, not entries: one feed can be 2 MB.
   */
  cacheMaxBytes: number;
  /** Told of every render (with its time) and cache hit. */
  metrics?: { feedRendered(seconds: number): void; feedCacheHit(): void };
  /** Fetch bookkeeping is written at most this often per feed (0: every poll, as tests want). */
  fetchFlushMs?: number;
  /** Told of a bookkeeping write that failed (it is dropped: best effort). */
  onFetchLogError?: (err: unknown) => void;
}

export interface RenderedFeed {
  feedId: string;
  providerId: string;
  /** The ICS as UTF-8 bytes: encoded once per render, not once per poll. */
  body: Buffer;
  etag: string;
  /** gzip of body, made once per render and reused by every poll that asks for it. */
  gzipped(): Buffer;
}

export interface CreatedFeed {
  feed: FeedToken;
  url: string;
  webcalUrl: string;
}

interface CacheEntry {
  key: string;
  body: Buffer;
  etag: string;
  gzip: Buffer | null;
}

const DAY_MS = 86_400_000;
const REFRESH_SECONDS = 3600;

function entrySize(entry: CacheEntry): number {
  return entry.body.length + (entry.gzip?.length ?? 0);
}

function strongEtag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

export function feedCalendarMeta(provider: Provider): CalendarMeta {
  return { name: `Sessions – ${provider.name}`, productId: 'sessionsync', refreshIntervalSeconds: REFRESH_SECONDS };
}

export class FeedService {
  // Map iteration order is insertion order, so re-inserting on a hit makes this an LRU.
  private readonly cache = new Map<string, CacheEntry>();
  private cacheBytes = 0;
  // Renders under way, by provider and cache key: concurrent polls of a just-changed feed share
  // one render (on PostgreSQL every store call is a real wait, so each poll would render again).
  private readonly rendering = new Map<string, Promise<CacheEntry>>();

  private readonly fetchLog: FetchLog;

  constructor(private readonly options: FeedServiceOptions) {
    this.fetchLog = new FetchLog(options.store, options.fetchFlushMs ?? 0, options.onFetchLogError ?? (() => undefined));
  }

  private async assertProvider(providerId: string): Promise<Provider> {
    const provider = await this.options.store.getProvider(providerId);
    if (provider === null) throw notFound(ErrorCode.PROVIDER_NOT_FOUND, `Provider ${providerId} does not exist.`);
    return provider;
  }

  feedUrl(token: string): string {
    return `${this.options.publicBaseUrl}/feeds/${token}.ics`;
  }

  async create(providerId: string, label: string | null): Promise<CreatedFeed> {
    await this.assertProvider(providerId);
    const token = generateFeedToken();
    const feed: FeedToken = {
      id: randomUUID(),
      providerId,
      label,
      tokenHash: hashFeedToken(token),
      createdAt: this.options.clock.now().toISOString(),
      revokedAt: null,
      lastFetchedAt: null,
      lastUserAgent: null,
      fetchCount: 0,
    };
    await this.options.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      await tx.putFeed(feed);
    });
    const url = this.feedUrl(token);
    return { feed, url, webcalUrl: url.replace(/^https?:/, 'webcal:') };
  }

  async list(providerId: string): Promise<FeedToken[]> {
    await this.assertProvider(providerId);
    return (await this.options.store.listFeeds(providerId)).filter((f) => f.revokedAt === null);
  }

  /** Revokes one feed URL; recorded in the audit log with who did it. */
  async revoke(providerId: string, feedId: string, actor: string): Promise<void> {
    await this.assertProvider(providerId);
    const at = this.options.clock.now().toISOString();
    await this.options.store.transaction(async (tx) => {
      if (!(await tx.revokeFeed(providerId, feedId, at))) throw notFound(ErrorCode.FEED_NOT_FOUND, `Feed ${feedId} does not exist.`);
      await tx.appendAudit({ at, actor, action: 'feed.revoke', target: `feed:${feedId}`, details: { providerId } });
    });
  }

  /** The feed window moves once per UTC day, so a day's polls share one rendering. */
  private window(): { from: string; to: string; day: string } {
    const dayStart = Math.floor(this.options.clock.now().getTime() / DAY_MS) * DAY_MS;
    return {
      from: new Date(dayStart - this.options.pastDays * DAY_MS).toISOString(),
      to: new Date(dayStart + (this.options.futureDays + 1) * DAY_MS).toISOString(),
      day: new Date(dayStart).toISOString().slice(0, 10),
    };
  }

  private async renderBody(provider: Provider, from: string, to: string): Promise<string> {
    const { store } = this.options;
    const [locations, sessions] = await Promise.all([
      store.listLocations(provider.id),
      store.listSessions(provider.id, { status: 'scheduled', endAfter: from, startBefore: to }),
    ]);
    const byId = new Map<string, Location>(locations.map((l) => [l.id, l]));
    const events = sessions.map((s) => toCalendarEvent(s, provider, s.locationId === null ? null : (byId.get(s.locationId) ?? null)));
    return renderCalendar(feedCalendarMeta(provider), events);
  }

  /**
   * The feed behind a secret token, or null for an unknown, revoked or malformed token (callers
   * answer all three the same way). A poll that changed nothing costs one indexed lookup.
   */
  async render(token: string): Promise<RenderedFeed | null> {
    if (!isWellFormedFeedToken(token)) return null;
    const active = await this.options.store.findActiveFeed(hashFeedToken(token));
    if (active === null) return null;
    const { provider, feed } = active;
    const window = this.window();
    const key = `${provider.feedRevision}|${window.day}`;

    let entry = this.cache.get(provider.id);
    if (entry?.key === key) {
      this.options.metrics?.feedCacheHit();
    } else {
      entry = await this.renderOnce(provider, key, window);
    }
    this.remember(provider.id, entry);
    const cached = entry;
    return {
      feedId: feed.id,
      providerId: provider.id,
      body: cached.body,
      etag: cached.etag,
      gzipped: () => {
        if (cached.gzip === null) {
          cached.gzip = gzipSync(cached.body);
          // Counted once made, if the entry is still cached.
          if (this.cache.get(provider.id) === cached) {
            this.cacheBytes += cached.gzip.length;
            this.evict();
          }
        }
        return cached.gzip;
      },
    };
  }

  /** Makes `entry` the newest cached for the provider, replacing (and uncounting) the one before. */
  private remember(providerId: string, entry: CacheEntry): void {
    const previous = this.cache.get(providerId);
    if (previous !== undefined) {
      this.cache.delete(providerId);
      this.cacheBytes -= entrySize(previous);
    }
    // An entry larger than the whole budget is served but never kept.
    if (entrySize(entry) > this.options.cacheMaxBytes) return;
    this.cache.set(providerId, entry);
    this.cacheBytes += entrySize(entry);
    this.evict();
  }

  /** Drops the least recently polled entries until the cache fits its byte budget. */
  private evict(): void {
    for (const [providerId, entry] of this.cache) {
      if (this.cacheBytes <= this.options.cacheMaxBytes) return;
      this.cache.delete(providerId);
      this.cacheBytes -= entrySize(entry);
    }
  }

  /** Bytes the rendered-body cache holds now (bodies and their gzip), for tests and metrics. */
  get cachedBytes(): number {
    return this.cacheBytes;
  }

  private renderOnce(provider: Provider, key: string, window: { from: string; to: string }): Promise<CacheEntry> {
    const flight = `${provider.id}|${key}`;
    let pending = this.rendering.get(flight);
    if (pending === undefined) {
      const started = process.hrtime.bigint();
      pending = this.renderBody(provider, window.from, window.to)
        .then((text): CacheEntry => {
          const body = Buffer.from(text, 'utf8');
          this.options.metrics?.feedRendered(Number(process.hrtime.bigint() - started) / 1e9);
          return { key, body, etag: strongEtag(body), gzip: null };
        })
        .finally(() => this.rendering.delete(flight));
      this.rendering.set(flight, pending);
    }
    return pending;
  }

  /** Best-effort bookkeeping of a poll; runs after the response is sent and never rejects. */
  recordFetch(feedId: string, userAgent: string | null): Promise<void> {
    return this.fetchLog.record(feedId, this.options.clock.now().toISOString(), userAgent);
  }

  /** Writes the bookkeeping still held in memory; shutdown calls it before closing the store. */
  flushFetches(): Promise<void> {
    return this.fetchLog.flush();
  }

  /** The one-event file the platform attaches to a client's confirmation and reminders. */
  async invite(providerId: string, sessionId: string): Promise<string> {
    const provider = await this.assertProvider(providerId);
    const session = await this.options.store.getSession(providerId, sessionId);
    if (session === null) throw notFound(ErrorCode.SESSION_NOT_FOUND, `Session ${sessionId} does not exist.`);
    const location = session.locationId === null ? null : await this.options.store.getLocation(providerId, session.locationId);
    const meta: CalendarMeta = { name: `Session with ${provider.name}`, productId: 'sessionsync', refreshIntervalSeconds: REFRESH_SECONDS };
    return renderCalendar(meta, [toInviteEvent(session, provider, location)], { method: 'PUBLISH' });
  }
}
