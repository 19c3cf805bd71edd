import { randomUUID } from 'node:crypto';
import pg from 'pg';

// Feed lookups cached across processes on PostgreSQL, without a query per poll and without a
// cached answer ever outliving a change (issue 8: "a revoked feed URL answers 404 from every
// process at once"). A notification alone is not enough: it reaches the other processes a little
// after the commit, so a poll that another process answers right after the writer's response could
// still see the old answer. Hence a fence:
//
// - A process that caches (a listener) LISTENs on the feed channel over a dedicated connection and
//   holds a lease in feed_listeners, renewed over that same connection. It trusts its cache only
//   while the lease it last renewed is live and the connection is up; otherwise feedLookupEpoch()
//   is null and every poll asks the database, as before.
// - A transaction that changes feed lookups NOTIFYs the channel (delivered when it commits). Each
//   listener that hears it first moves its epoch (dropping every cached answer), then acknowledges.
// - After the commit, the writer waits until every listener with a live lease has acknowledged, or
//   until that listener's lease has run out (a killed or cut-off process), before it answers.
//
// So a poll that starts after the writer answered finds every other process either past the
// notification or no longer trusting its cache. Lease times are the database's clock throughout
// (now() in SQL, remaining milliseconds handed back), so processes on other machines need no
// clock agreement; each side rounds in the safe direction.

export interface FeedFenceOptions {
  /** How the listening connection connects: as the pool's connections (its schema included). */
  client: pg.ClientConfig;
  /** The store's pool: the writer's one query for the live leases goes through it. */
  pool: pg.Pool;
  /** The channel of feed changes; acknowledgements travel on `${channel}_ack`. */
  channel: string;
  /** How long a listener's lease lasts (default 2000 ms), renewed every third of it. */
  leaseMs?: number;
  /** Told when the fence's connection fails (it reconnects by itself). */
  onError?: (err: unknown) => void;
}

/** What a transaction that changed feed lookups sends, and waits on once committed. */
export interface FenceTicket {
  payload: string;
  seq: number;
}

interface Waiter {
  acked: Set<string>;
  wake: (() => void) | null;
}

const RECONNECT_MS = [100, 250, 500, 1000, 2000, 5000];
/** What a provider id named in a notification may hold (the API's ids: src/http/schemas.ts). */
const API_ID = /^[A-Za-z0-9_-]+$/;
/** Most characters of ids a notification names: PostgreSQL's payload limit is 8,000 bytes. */
const MAX_NAMED = 7_000;

export class FeedFence {
  readonly id = randomUUID();
  readonly #options: Required<Omit<FeedFenceOptions, 'onError'>> & Pick<FeedFenceOptions, 'onError'>;
  readonly #ackChannel: string;
  #client: pg.Client | null = null;
  #connecting: Promise<void> | null = null;
  #stopped = false;
  #failures = 0;
  #renewTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Moves on every change heard from another process, and on this process's own commits. */
  #epoch = 0;
  /** performance.now() until which this process may trust its cache (0: not at all). */
  #trustedUntil = 0;
  /** Whether this process listens (asked for an epoch once): only then it holds a lease. */
  #listening = false;
  #seq = 0;
  readonly #waiters = new Map<number, Waiter>();
  #onRevised: ((providerIds: ReadonlySet<string>) => void) | undefined;

  constructor(options: FeedFenceOptions) {
    this.#options = { leaseMs: 2000, ...options };
    this.#ackChannel = `${options.channel}_ack`;
  }

  /**
   * The epoch of this process's feed cache while the fence holds it (listening, lease live), else
   * null. The first call starts listening: only processes that answer polls hold a lease.
   */
  epoch(): number | null {
    if (!this.#listening && !this.#stopped) {
      this.#listening = true;
      const client = this.#client;
      if (client === null) void this.#connect();
      else this.#renew(client).catch((err: unknown) => this.#failed(client, err));
    }
    return performance.now() < this.#trustedUntil ? this.#epoch : null;
  }

  /** The NOTIFY statement's channel for the transaction that changes feed lookups. */
  get channel(): string {
    return this.#options.channel;
  }

  /**
   * Called with the providers whose feed revision another process's commit moved, when that
   * commit named them (see ticket), once this process has heard and acknowledged it.
   */
  onRevised(listener: (providerIds: ReadonlySet<string>) => void): void {
    this.#onRevised = listener;
  }

  /**
   * For the transaction that changes feed lookups: what to NOTIFY with (delivered at commit),
   * naming the providers whose feed revision it moved so that listeners can refresh their copies;
   * none when they would not fit a notification (8,000 bytes) or an id holds other characters
   * than an API id may (A-Z, a-z, 0-9, _ and -): listeners then just drop what they cached.
   */
  ticket(revised: ReadonlySet<string> = new Set()): FenceTicket {
    // A writer hears the acknowledgements on the same connection; until it is up (the first write
    // of a process that polls nothing), it waits for the listeners' leases instead.
    if (this.#client === null && !this.#stopped) void this.#connect();
    this.#seq += 1;
    this.#waiters.set(this.#seq, { acked: new Set(), wake: null });
    const ids = [...revised];
    const named = ids.length > 0 && ids.every((id) => API_ID.test(id)) ? ids.join(',') : '';
    const payload = `${this.id}:${this.#seq}`;
    return { payload: named !== '' && named.length <= MAX_NAMED ? `${payload}:${named}` : payload, seq: this.#seq };
  }

  /** This process's own commit (and, called before COMMIT too, the moment just before it). */
  ownCommit(): void {
    this.#epoch += 1;
  }

  /** The transaction did not commit: nothing to wait for. */
  abandon(ticket: FenceTicket): void {
    this.#waiters.delete(ticket.seq);
  }

  /**
   * After the commit: resolves once every other listener with a live lease has acknowledged the
   * change, or its lease has run out. Asks the database which leases are live (one query).
   */
  async settle(ticket: FenceTicket): Promise<void> {
    const waiter = this.#waiters.get(ticket.seq);
    if (waiter === undefined) return;
    try {
      const { rows } = await this.#options.pool.query<{ id: string; remaining: string }>(
        `SELECT id, (EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::bigint AS remaining FROM feed_listeners WHERE lease_until > now() AND id <> $1`,
        [this.id],
      );
      const started = performance.now();
      // Waited from when the answer arrived, which is after the database read the remainders.
      const deadlines = new Map(rows.map((r) => [r.id, started + Number(r.remaining)]));
      for (;;) {
        const now = performance.now();
        let next = Number.POSITIVE_INFINITY;
        for (const [listener, deadline] of deadlines) {
          if (waiter.acked.has(listener) || deadline <= now) deadlines.delete(listener);
          else next = Math.min(next, deadline);
        }
        if (deadlines.size === 0) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, next - now));
          waiter.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter.wake = null;
      }
    } finally {
      this.#waiters.delete(ticket.seq);
    }
  }

  async close(): Promise<void> {
    this.#stopped = true;
    this.#trustedUntil = 0;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = null;
    if (client !== null) {
      await client.query('DELETE FROM feed_listeners WHERE id = $1', [this.id]).catch(() => undefined);
      await client.end().catch(() => undefined);
    }
    for (const waiter of this.#waiters.values()) waiter.wake?.();
  }

  #failed(client: pg.Client, err: unknown): void {
    this.#options.onError?.(err);
    this.#lost(client);
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    // Nothing heard from here on: the cache is not to be trusted until listening again.
    this.#trustedUntil = 0;
    this.#epoch += 1;
    clearTimeout(this.#renewTimer);
    void client.end().catch(() => undefined);
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#stopped || this.#reconnectTimer !== undefined) return;
    const wait = RECONNECT_MS[Math.min(this.#failures, RECONNECT_MS.length - 1)] ?? 5000;
    this.#failures += 1;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#connect();
    }, wait);
    this.#reconnectTimer.unref();
  }

  #connect(): Promise<void> {
    this.#connecting ??= (async () => {
      const client = new pg.Client(this.#options.client);
      client.on('error', (err) => {
        this.#options.onError?.(err);
        this.#lost(client);
      });
      client.on('end', () => this.#lost(client));
      client.on('notification', (message) => this.#heard(client, message));
      try {
        await client.connect();
        // The channel names are ours (letters, digits and _ only), so quoting them is enough.
        await client.query(`LISTEN "${this.#options.channel}"`);
        await client.query(`LISTEN "${this.#ackChannel}"`);
        if (this.#stopped) {
          await client.end();
          return;
        }
        this.#client = client;
        // Whatever was cached before listening may be stale: start from a new epoch.
        this.#epoch += 1;
        // Leases of processes long gone: nobody waits for them, but they need not stay.
        await client.query(`DELETE FROM feed_listeners WHERE lease_until < now() - interval '1 hour'`);
        // Only a process that answers polls from memory holds a lease (and is waited for).
        if (this.#listening) await this.#renew(client);
        this.#failures = 0;
      } catch (err) {
        this.#options.onError?.(err);
        await client.end().catch(() => undefined);
        if (this.#client === client) this.#client = null;
        this.#reconnectLater();
      }
    })().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  /** Renews the lease over the listening connection; trusted until the database's lease end, counted from before the request. */
  async #renew(client: pg.Client): Promise<void> {
    const asked = performance.now();
    const { rows } = await client.query<{ remaining: string }>(
      `INSERT INTO feed_listeners (id, lease_until) VALUES ($1, now() + make_interval(secs => $2::double precision / 1000))
       ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until
       RETURNING (EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::bigint AS remaining`,
      [this.id, this.#options.leaseMs],
    );
    if (this.#client !== client) return;
    this.#trustedUntil = asked + Number(rows[0]?.remaining ?? 0);
    this.#renewTimer = setTimeout(() => {
      this.#renew(client).catch((err: unknown) => this.#failed(client, err));
    }, this.#options.leaseMs / 3);
    this.#renewTimer.unref();
  }

  #heard(client: pg.Client, message: pg.Notification): void {
    const payload = message.payload ?? '';
    if (message.channel === this.#options.channel) {
      const [writer, seq, named] = payload.split(':');
      if (writer === this.id) return;
      // Dropped first, acknowledged after: once the writer hears this, no poll here sees the old answer.
      this.#epoch += 1;
      client.query('SELECT pg_notify($1, $2)', [this.#ackChannel, `${this.id}:${writer}:${seq}`]).catch((err: unknown) => this.#options.onError?.(err));
      if (named !== undefined && named !== '') this.#onRevised?.(new Set(named.split(',')));
      return;
    }
    if (message.channel === this.#ackChannel) {
      const [listener, writer, seq] = payload.split(':');
      if (writer !== this.id || listener === undefined) return;
      const waiter = this.#waiters.get(Number(seq));
      if (waiter === undefined) return;
      waiter.acked.add(listener);
      waiter.wake?.();
    }
  }
}
