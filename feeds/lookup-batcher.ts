import type { FeedRevision } from '../src/domain/index.js';

// On PostgreSQL every poll asks the database which feed its token names and at which revision
// (other processes commit, so nothing cached can vouch for it). Polls that arrive together share
// one query: each waits for a query that starts after it arrived, so none can miss a commit made
// before it (a revocation answered to anyone holds for it), and a burst of polls costs one round
// trip instead of one each.

/** The store's batch lookup: the answer for each token hash found (unknown and revoked absent). */
export type FindFeedRevisions = (tokenHashes: readonly string[]) => Promise<ReadonlyMap<string, FeedRevision>>;

interface Waiter {
  resolve(found: FeedRevision | null): void;
  reject(error: unknown): void;
}

/** Most token hashes one query asks for. */
const MAX_BATCH = 500;

export class LookupBatcher {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(private readonly findAll: FindFeedRevisions) {}

  find(tokenHash: string): Promise<FeedRevision | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(tokenHash);
      if (waiters === undefined) this.pending.set(tokenHash, [{ resolve, reject }]);
      else waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks of this turn: every poll read in it joins the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const hashes = [...batch.keys()];
    for (let i = 0; i < hashes.length; i += MAX_BATCH) {
      const slice = hashes.slice(i, i + MAX_BATCH);
      this.findAll(slice).then(
        (found) => {
          for (const hash of slice) for (const w of batch.get(hash) ?? []) w.resolve(found.get(hash) ?? null);
        },
        (error: unknown) => {
          for (const hash of slice) for (const w of batch.get(hash) ?? []) w.reject(error);
        },
      );
    }
  }
}
