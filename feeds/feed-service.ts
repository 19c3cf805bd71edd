import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { toInviteEvent } from '../src/domain/calendar-event.js';
import { ErrorCode, notFound, providerNotFound, writableProvider } from '../src/domain/index.js';
import type { CalendarMeta, Clock, FeedRevision, FeedToken, JoinLinks, Provider, Store } from '../src/domain/index.js';
import type { EditedGzip } from './chunked-gzip.js';
import { compactEditedGzip, editGzipBody, feedCalendarMeta, gzipBody, REFRESH_SECONDS, renderFeedBody, type FeedBody } from './feed-body.js';
import { generateFeedToken, hashFeedToken, isWellFormedFeedToken } from './feed-token.js';
import { FetchLog } from './fetch-log.js';
import { renderCalendar } from './ics-renderer.js';
import { LookupBatcher } from './lookup-batcher.js';

// The calendar's name and refresh interval, as every feed writes them.
export { feedCalendarMeta };

export interface FeedServiceOptions {
  store: Store;
  clock: Clock;
  publicBaseUrl: string;
  /** Builds the /j/ links of providers on joinLink 'stable'. */
  joinLinks: JoinLinks;
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
  /** Days the feed URLs of a provider who left serve an empty calendar before 410 (default 30). */
  tombstoneDays?: number;
  /**
   * Whether a cached feed is brought up to date just after a write changed it (see
   * refreshChanged), so that the next poll is a cache hit; off by default for tests that count
   * renders, on in the app.
   */
  refreshOnChange?: boolean;
}

export interface RenderedFeed {
  /** The feed token's id; '' for the empty calendar of a provider who left (nothing is noted for it). */
  feedId: string;
  providerId: string;
  /**
   * The ICS as UTF-8 bytes, in parts to send one after another (views into cached buffers, not
   * copied per render nor per poll); `length` bytes in all.
   */
  parts: readonly Buffer[];
  length: number;
  etag: string;
  /** The ETag of its gzip: another representation, so another entity tag (RFC 9110 8.8.3). */
  gzipEtag: string;
  /** When it was asked for (epoch ms). */
  at: number;
  /**
   * gzip of the body, made once per render (from the compressed chunks of the render before, so
   * that only the chunks holding changed events are deflated again) and reused by every poll.
   */
  gzipped(): Buffer;
  /**
   * The same bytes as gzipped(), as its answer sends them: the one buffer, or right after a
   * change the parts an edit of the gzip before is made of (see FeedService.gzipAnswerOf).
   */
  gzipAnswer(): Buffer | GzipParts;
}

/** A gzip as the parts to send one after another, length bytes in all. */
export interface GzipParts {
  readonly parts: readonly Buffer[];
  readonly length: number;
}

/** Whether a cached body is the one to serve for this lookup on this day. */
function isCurrent(entry: CacheEntry, found: Lookup, day: number): boolean {
  return entry.revision === found.feedRevision && entry.createdAt === found.providerCreatedAt && entry.day === day;
}

class ServedFeed implements RenderedFeed {
  constructor(
    private readonly service: FeedService,
    readonly feedId: string,
    readonly providerId: string,
    private readonly entry: CacheEntry,
    /** When it was asked for (epoch ms): the time its fetch is noted at. */
    readonly at: number,
  ) {}

  get parts(): readonly Buffer[] {
    return this.entry.parts;
  }

  get length(): number {
    return this.entry.length;
  }

  get etag(): string {
    return this.entry.etag;
  }

  get gzipEtag(): string {
    return this.entry.gzipEtag;
  }

  gzipped(): Buffer {
    return this.service.gzipOf(this.providerId, this.entry);
  }

  gzipAnswer(): Buffer | GzipParts {
    return this.service.gzipAnswerOf(this.providerId, this.entry);
  }
}

export interface CreatedFeed {
  feed: FeedToken;
  url: string;
  webcalUrl: string;
}

/** A cached body, with the provider (createdAt) and feedRevision it was rendered from, and its window's UTC day. */
interface CacheEntry extends FeedBody {
  createdAt: string;
  revision: number;
  day: number;
  /** Its gzip as an edit of the gzip before (gzipAnswerOf), until gzip is made; else undefined. */
  edited?: EditedGzip | undefined;
  /** Made by a refresh after a write and not served since: a write after it is left to the next poll. */
  unpolled: boolean;
}

/**
 * Heap a cached event holds beyond its bytes (fragment fields, its digest's buffer, the session
 * version and its strings, map and array slots): ~980 B measured as the heap delta, after two
 * full collections, of rendering a 5,000-event feed (node --expose-gc, Node 24).
 */
const EVENT_OVERHEAD_BYTES = 1024;

/**
 * A token's answer, kept while the store's feedLookupEpoch() stays the same; and but for its
 * feedRevision while feedTokenEpoch() does (NaN: not kept).
 */
interface Lookup extends FeedRevision {
  epoch: number;
  tokenEpoch: number;
}

/** A lookup, and the provider row it was brought up to date from (what a render may start from). */
interface Found {
  lookup: Lookup;
  provider: Provider | undefined;
}

/** Most token answers kept; past it the oldest go (a lookup is one query to make again). */
const MAX_LOOKUPS = 100_000;

const DAY_MS = 86_400_000;

/**
 * The deflate level of feed gzips: 1, as nginx's gzip_comp_level defaults to for bodies made per
 * request. A feed is the same event template thousands of times, which level 1's greedy matching
 * finds as well as level 6's lazy one: on the 5,000-event bench feed (2.74 MB), gzipSync made
 * 263,535 B at 1 and 260,549 B at 6, in 4.6 ms against 9.6 ms; one 35 kB chunk deflated in 29 us
 * against 84 us, which is what the first gzip poll after a change waits for.
 */
const GZIP_LEVEL = 1;

function entrySize(entry: CacheEntry): number {
  return entry.retained + (entry.gzip?.length ?? entry.inheritedBytes) + entry.events.size * EVENT_OVERHEAD_BYTES;
}

export class FeedService {
  // Map iteration order is insertion order, so re-inserting on a hit makes this an LRU.
  private readonly cache = new Map<string, CacheEntry>();
  private cacheBytes = 0;
  // The render under way per provider, and for which revision and day: concurrent polls of a
  // just-changed feed share one render (on PostgreSQL every store call is a real wait, so each
  // poll would render again), and a provider's renders run one after another.
  private readonly rendering = new Map<string, { key: string; promise: Promise<CacheEntry | null> }>();
  // Keyed by the token's hash, never the token: no plaintext secret stays in memory.
  private readonly lookups = new Map<string, Lookup>();
  /** The token hashes kept in lookups, by provider (some may have gone since): what refresh brings up to date. */
  private readonly tokensOf = new Map<string, Set<string>>();
  private windowDay = Number.NaN;
  private windowBounds = { from: '', to: '' };

  private readonly fetchLog: FetchLog;
  private readonly batcher: LookupBatcher;
  /** Cached providers changed by a commit, waiting for refreshChanged. */
  private readonly changed = new Set<string>();
  private refreshing = false;
  /** The refresh scheduled or under way (resolved when there is none). */
  private refreshRun: Promise<void> = Promise.resolve();
  private readonly stopHearing: () => void;

  constructor(private readonly options: FeedServiceOptions) {
    this.batcher = new LookupBatcher((hashes) => options.store.findFeedRevisions(hashes));
    this.fetchLog = new FetchLog(options.store, options.fetchFlushMs ?? 0, options.onFetchLogError ?? (() => undefined));
    this.stopHearing = options.refreshOnChange === true ? options.store.onFeedsChanged((ids) => this.refreshSoon(ids)) : () => undefined;
  }

  /**
   * Stops bringing cached feeds up to date after writes (the app's shutdown): resolves once a
   * refresh under way is done, so that the store can close under none.
   */
  stop(): Promise<void> {
    this.stopHearing();
    this.changed.clear();
    return this.refreshRun;
  }

  /** Resolves once the refreshes that writes so far asked for are done (for tests). */
  refreshed(): Promise<void> {
    return this.refreshRun;
  }

  private async assertProvider(providerId: string): Promise<Provider> {
    const provider = await this.options.store.getProvider(providerId);
    if (provider === null) throw providerNotFound(providerId);
    return provider;
  }

  feedUrl(token: string): string {
    return `${this.options.publicBaseUrl}/feeds/${token}.ics`;
  }

  async create(providerId: string, label: string | null): Promise<CreatedFeed> {
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
      // Under the lock that offboarding takes, which tombstones every feed it finds: checked
      // before it, a feed made while the provider left would have been live and missed.
      writableProvider(await tx.getProvider(providerId), providerId);
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
  private window(day: number): { from: string; to: string } {
    if (day !== this.windowDay) {
      this.windowBounds = {
        from: new Date((day - this.options.pastDays) * DAY_MS).toISOString(),
        to: new Date((day + this.options.futureDays + 1) * DAY_MS).toISOString(),
      };
      this.windowDay = day;
    }
    return this.windowBounds;
  }

  /**
   * The feed behind a secret token, or null for an unknown, revoked or malformed token (callers
   * answer all three the same way). A poll that changed nothing costs no query on SQLite (the
   * store's feedLookupEpoch() tells whether any answer may have changed; on PostgreSQL the feed
   * fence keeps it across processes, so a revocation through any process holds at once on every
   * other), and one indexed query while the store cannot tell (PostgreSQL without the fence).
   */
  async render(token: string): Promise<RenderedFeed | null> {
    if (!isWellFormedFeedToken(token)) return null;
    const answer = await this.lookup(hashFeedToken(token));
    if (answer === null) return null;
    const found = answer.lookup;
    const { providerId } = found;
    const now = this.options.clock.now().getTime();
    const day = Math.floor(now / DAY_MS);

    const cached = this.cache.get(providerId);
    if (cached !== undefined && isCurrent(cached, found, day)) return this.served(found, cached, now);
    const entry = await this.renderOnce(providerId, found.feedRevision, day, answer.provider);
    // renderOnce cached it (or it was the cached body already).
    if (entry === null) return null;
    entry.unpolled = false;
    return new ServedFeed(this, found.feedId, providerId, entry, now);
  }

  /** A cache hit: counted, made the most recently used, and served. */
  private served(found: Lookup, entry: CacheEntry, now: number): RenderedFeed {
    this.options.metrics?.feedCacheHit();
    entry.unpolled = false;
    this.remember(found.providerId, entry);
    // A class, not an object literal with a closure: one allocation per poll, nothing else.
    return new ServedFeed(this, found.feedId, found.providerId, entry, now);
  }

  /**
   * The feed behind a token when all it takes is in memory and still holds (SQLite: the store's
   * feedLookupEpoch() unchanged since the token was looked up, the body of that revision and
   * day cached): answered without a query or an await. Undefined when render() must be asked,
   * for a token it cannot vouch for included.
   */
  peek(token: string): RenderedFeed | undefined {
    const epoch = this.options.store.feedLookupEpoch();
    if (epoch === null || !isWellFormedFeedToken(token)) return undefined;
    const known = this.lookups.get(hashFeedToken(token));
    if (known === undefined || known.epoch !== epoch) return undefined;
    const entry = this.cache.get(known.providerId);
    const now = this.options.clock.now().getTime();
    if (entry === undefined || !isCurrent(entry, known, Math.floor(now / DAY_MS))) return undefined;
    return this.served(known, entry, now);
  }

  /** The gzip of a cached body, made once (see RenderedFeed.gzipped). */
  gzipOf(providerId: string, entry: CacheEntry): Buffer {
    if (entry.gzip === null) {
      // From the edit sent for the poll before, when there was one: its parts joined.
      const made = entry.edited === undefined ? gzipBody(entry, entry.gzipChunks, { level: GZIP_LEVEL }) : compactEditedGzip(entry, entry.edited);
      entry.edited = undefined;
      entry.gzip = made.gzip;
      entry.gzipChunks = made.chunks;
      // Counted once made, if the entry is still cached; what it inherited goes.
      if (this.cache.get(providerId) === entry) {
        this.cacheBytes += made.gzip.length - entry.inheritedBytes;
        this.evict();
      }
      entry.inheritedBytes = 0;
    }
    return entry.gzip;
  }

  /**
   * The gzip of a cached body as its answer sends it (see RenderedFeed.gzipAnswer). The first
   * gzip poll after a change sends the gzip before it edited (editGzipBody: views of it around
   * the changed chunks, deflated anew), the same bytes without walking every chunk or copying
   * the whole gzip; the one buffer later polls send is made just after, off the poll's path.
   */
  gzipAnswerOf(providerId: string, entry: CacheEntry): Buffer | GzipParts {
    if (entry.gzip !== null) return entry.gzip;
    if (entry.edited === undefined) {
      const edited = editGzipBody(entry, GZIP_LEVEL);
      if (edited === null) return this.gzipOf(providerId, entry);
      entry.edited = edited;
      // After this poll's answer is written (the check phase follows the poll phase that wrote it).
      setImmediate(() => {
        if (entry.edited !== edited) return;
        try {
          this.gzipOf(providerId, entry);
        } catch {
          // Nothing here may throw into the event loop (it would end the process): the gzip is
          // then made whole (gzipPieces) when next asked for.
          entry.edited = undefined;
          entry.gzipEdits = null;
        }
      });
    }
    return entry.edited;
  }

  private async lookup(tokenHash: string): Promise<Found | null> {
    const { store } = this.options;
    const epoch = store.feedLookupEpoch();
    const known = this.lookups.get(tokenHash);
    if (known !== undefined && known.epoch === epoch) return { lookup: known, provider: undefined };
    // Only revisions moved since (a session written, the common case): the token names the same
    // feed, and the provider's row, which the render reads anyway, tells the revision.
    const tokenEpoch = store.feedTokenEpoch();
    if (known !== undefined && epoch !== null && known.tokenEpoch === tokenEpoch) {
      const provider = await store.getProvider(known.providerId);
      const updated = provider === null ? null : this.broughtUp(tokenHash, known, provider, epoch, tokenEpoch);
      if (provider !== null && updated !== null) return { lookup: updated, provider };
    }
    // Without an epoch (PostgreSQL) every poll asks: polls that arrive together ask in one query.
    const found = epoch === null ? await this.batcher.find(tokenHash) : await store.findFeedRevision(tokenHash);
    if (found === null) {
      this.lookups.delete(tokenHash);
      return null;
    }
    const answer: Lookup = { ...found, epoch: epoch ?? Number.NaN, tokenEpoch: epoch === null ? Number.NaN : (tokenEpoch ?? Number.NaN) };
    // Unknown tokens are not kept, so junk cannot grow this; live ones past the cap start over.
    if (epoch !== null) {
      if (this.lookups.size >= MAX_LOOKUPS) {
        this.lookups.clear();
        this.tokensOf.clear();
      }
      this.keep(tokenHash, answer);
    }
    return { lookup: answer, provider: undefined };
  }

  /**
   * A kept lookup brought to the provider row read after `epoch` and `tokenEpoch` were, and kept,
   * when only revisions can have moved since it was kept (the same token epoch, the same
   * provider); else null. If anything committed after those were read, the lookup is older than
   * it, and the next poll looks it up again.
   */
  private broughtUp(tokenHash: string, known: Lookup, provider: Provider, epoch: number, tokenEpoch: number | null): Lookup | null {
    if (known.tokenEpoch !== tokenEpoch || provider.id !== known.providerId || provider.createdAt !== known.providerCreatedAt) return null;
    const updated: Lookup = { ...known, feedRevision: provider.feedRevision, epoch };
    this.keep(tokenHash, updated);
    return updated;
  }

  private keep(tokenHash: string, lookup: Lookup): void {
    this.lookups.set(tokenHash, lookup);
    let hashes = this.tokensOf.get(lookup.providerId);
    if (hashes === undefined) this.tokensOf.set(lookup.providerId, (hashes = new Set()));
    hashes.add(tokenHash);
  }

  /**
   * Makes `entry` the newest cached for the provider, replacing (and uncounting) the one before;
   * or, not `promoted`, puts it in the place of the one before, as recently used as that was (a
   * refresh after a write is no poll: a feed nobody polls any more must still age out).
   */
  private remember(providerId: string, entry: CacheEntry, promoted = true): void {
    const previous = this.cache.get(providerId);
    if (!promoted && previous !== undefined && entrySize(entry) <= this.options.cacheMaxBytes) {
      // Map.set of a key it holds keeps the key's place in the iteration (LRU) order.
      this.cache.set(providerId, entry);
      this.cacheBytes += entrySize(entry) - entrySize(previous);
      this.evict();
      return;
    }
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

  /**
   * Renders the provider's feed at (at least) `revision` for the window of `day`, and caches it;
   * null when the provider is gone. One render per provider at a time, each starting from the
   * one before it (whose fragments it reuses, and whose events map it takes over). The provider
   * row is read first and its revision labels the body: the sessions read after it hold every
   * change up to that revision. `given` is that row when the caller has just read it; it is read
   * again when another render ran first (which may have moved past it).
   */
  private renderOnce(providerId: string, revision: number, day: number, given?: Provider, promoted = true): Promise<CacheEntry | null> {
    const key = `${revision}|${day}`;
    const current = this.rendering.get(providerId);
    if (current?.key === key) return current.promise;
    const fresh = current === undefined ? given : undefined;
    const started = process.hrtime.bigint();
    const promise = (current?.promise.catch(() => null) ?? Promise.resolve(null))
      .then(async (): Promise<CacheEntry | null> => {
        const provider = fresh ?? (await this.options.store.getProvider(providerId));
        if (provider === null) return null;
        // Fragments of another provider that had this id (deleted, created again) never hold.
        const cached = this.cache.get(providerId);
        const previous = cached?.createdAt === provider.createdAt ? cached : undefined;
        // Its gzip made now if an edit of it is pending, so that this body's gzip can be an edit too.
        if (previous?.edited !== undefined) this.gzipOf(providerId, previous);
        // The render before this one may have reached this revision already.
        if (previous !== undefined && previous.revision === provider.feedRevision && previous.day === day) return previous;
        const { from, to } = this.window(day);
        const body = await renderFeedBody(this.options.store, provider, { endAfter: from, startBefore: to }, previous && { body: previous, revision: previous.revision, sameWindow: previous.day === day }, this.options.joinLinks);
        const entry: CacheEntry = { ...body, createdAt: provider.createdAt, revision: provider.feedRevision, day, unpolled: false };
        this.remember(providerId, entry, promoted);
        this.options.metrics?.feedRendered(Number(process.hrtime.bigint() - started) / 1e9);
        return entry;
      })
      .finally(() => {
        if (this.rendering.get(providerId)?.promise === promise) this.rendering.delete(providerId);
      });
    this.rendering.set(providerId, { key, promise });
    return promise;
  }

  /**
   * Notes providers a commit changed; those with a cached feed that was polled since it was last
   * refreshed are refreshed once this turn of the event loop is done. So writes in a row with no
   * poll between (a platform moving many sessions one by one) render once, not once each: sequential
   * PUTs to a provider whose 5,000-event feed was cached took ~2.0-2.3 ms each refreshing after every
   * one, against ~1.2-1.5 ms with none (scripts/bench-incremental.ts's feed, 300 PUTs).
   */
  private refreshSoon(providerIds: ReadonlySet<string>): void {
    for (const providerId of providerIds) if (this.cache.get(providerId)?.unpolled === false) this.changed.add(providerId);
    if (this.changed.size === 0 || this.refreshing) return;
    this.refreshing = true;
    // In the check phase: after the writer's answer, which the commit's caller sends in this turn.
    this.refreshRun = new Promise((resolve) => setImmediate(() => resolve(this.refreshChanged())));
  }

  /**
   * Brings the cached feeds of providers changed by writes up to date (and their
   * gzip, when one was asked for), as their next poll would: a calendar app's poll after a change
   * then finds the body rendered, and waits only if it comes before that is done. Only feeds in
   * the cache, so only those that are polled; in their place in the LRU order. On PostgreSQL,
   * other processes' writes too, as the feed fence hears them (Store.onFeedsChanged). Never rejects.
   */
  private async refreshChanged(): Promise<void> {
    while (this.changed.size > 0) {
      const providerId = this.changed.values().next().value as string;
      this.changed.delete(providerId);
      try {
        await this.refresh(providerId);
      } catch {
        // Best effort (the store away, say): the next poll renders and answers what it finds.
      }
    }
    this.refreshing = false;
  }

  private async refresh(providerId: string): Promise<void> {
    const cached = this.cache.get(providerId);
    if (cached === undefined) return;
    const { store } = this.options;
    // Read before the provider (see broughtUp).
    const epoch = store.feedLookupEpoch();
    const tokenEpoch = store.feedTokenEpoch();
    const provider = await store.getProvider(providerId);
    const day = Math.floor(this.options.clock.now().getTime() / DAY_MS);
    // Left to the poll: a provider gone or made anew, a window that moved, nothing changed.
    if (provider === null || provider.createdAt !== cached.createdAt || cached.day !== day || provider.feedRevision === cached.revision) return;
    // The provider's tokens at the revision just read, as lookup() brings them up to date (a
    // token names the same feed while feedTokenEpoch stays): the next poll needs no query at all.
    if (epoch !== null) {
      for (const tokenHash of this.tokensOf.get(providerId) ?? []) {
        const known = this.lookups.get(tokenHash);
        if (known !== undefined) this.broughtUp(tokenHash, known, provider, epoch, tokenEpoch);
      }
    }
    const gzipAsked = cached.gzip !== null || cached.edited !== undefined;
    const entry = await this.renderOnce(providerId, provider.feedRevision, day, provider, false);
    if (entry !== null && entry !== cached) entry.unpolled = true;
    // As the first gzip poll would: an edit of the gzip before, joined into one after this turn.
    if (entry !== null && gzipAsked && this.cache.get(providerId) === entry && entry.gzip === null) this.gzipAnswerOf(providerId, entry);
  }

  /**
   * What a token that render() did not find answers once its provider has left: the empty
   * calendar under the same name for tombstoneDays from then (so that every subscribed app clears
   * its copy), 'gone' after (410), or null when it is no tombstone (404, unknown or revoked).
   */
  async tombstone(token: string): Promise<RenderedFeed | 'gone' | null> {
    if (!isWellFormedFeedToken(token)) return null;
    const found = await this.options.store.findFeedTombstone(hashFeedToken(token));
    if (found === null) return null;
    const now = this.options.clock.now();
    if (now.getTime() >= Date.parse(found.since) + (this.options.tombstoneDays ?? 30) * DAY_MS) return 'gone';
    return emptyFeed(found.providerId, found.calendarName, now.getTime());
  }

  /** Best-effort bookkeeping of a poll, noted in memory (see FetchLog); never rejects. */
  recordFetch(feed: Pick<RenderedFeed, 'feedId' | 'at'>, userAgent: string | null): Promise<void> {
    if (feed.feedId === '') return Promise.resolve();
    return this.fetchLog.record(feed.feedId, feed.at, userAgent);
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
    return renderCalendar(meta, [toInviteEvent(session, provider, location, this.options.joinLinks)], { method: 'PUBLISH' });
  }
}

/** An empty calendar's bytes, ETag and gzip by calendar name: apps poll a tombstone for 30 days. */
const emptyBodies = new Map<string, { body: Buffer; etag: string; gzip: Buffer }>();
const MAX_EMPTY_BODIES = 1000;

/** An empty calendar of this name: what a tombstoned feed URL serves (ETag from its bytes). */
function emptyFeed(providerId: string, calendarName: string, at: number): RenderedFeed {
  let made = emptyBodies.get(calendarName);
  if (made === undefined) {
    const meta: CalendarMeta = { name: calendarName, productId: 'sessionsync', refreshIntervalSeconds: REFRESH_SECONDS };
    const body = Buffer.from(renderCalendar(meta, []), 'utf8');
    made = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, gzip: gzipSync(body) };
    if (emptyBodies.size >= MAX_EMPTY_BODIES) emptyBodies.clear();
    emptyBodies.set(calendarName, made);
  }
  const { body, etag, gzip } = made;
  return { feedId: '', providerId, parts: [body], length: body.length, etag, gzipEtag: `${etag.slice(0, -1)}-gzip"`, at, gzipped: () => gzip, gzipAnswer: () => gzip };
}
