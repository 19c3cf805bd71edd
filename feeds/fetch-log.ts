import type { Store } from '../src/domain/index.js';

// Fetch bookkeeping of feed polls (lastFetchedAt, lastUserAgent, fetchCount), coalesced in memory:
// a poll that changed nothing writes nothing to the database. Each feed's pending figures are
// flushed at most every `flushMs` and at shutdown; a crash loses at most that interval's
// bookkeeping, never data. flushMs 0 writes every poll through (tests).

interface Pending {
  /** Epoch milliseconds: made an ISO string once per flush, not once per poll. */
  at: number;
  userAgent: string | null;
  count: number;
}

export class FetchLog {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<Store, 'recordFeedFetch'>,
    private readonly flushMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Notes one poll; resolves once it is written (write-through) or queued (coalesced). */
  record(feedId: string, at: number, userAgent: string | null): Promise<void> {
    const previous = this.pending.get(feedId);
    if (previous === undefined) this.pending.set(feedId, { at, userAgent, count: 1 });
    else {
      previous.at = at;
      previous.userAgent = userAgent;
      previous.count += 1;
    }
    if (this.flushMs === 0) return this.flush();
    if (this.timer === null) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  /** Writes everything pending (one statement per feed); shutdown awaits it. */
  flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = new Map();
    // Flushes run one after another, so a feed's count never races its own earlier flush.
    this.flushing = this.flushing.then(async () => {
      for (const [feedId, { at, userAgent, count }] of batch) {
        try {
          await this.store.recordFeedFetch(feedId, new Date(at).toISOString(), userAgent, count);
        } catch (err) {
          this.onError(err);
        }
      }
    });
    return this.flushing;
  }
}
