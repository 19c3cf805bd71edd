import type { Clock, Store } from '../domain/index.js';

/**
 * Runs fn while renewing every lease of `owner` (accounts and targets) every third of leaseMs,
 * so that short leases hold as long as the work does and a killed process frees them quickly.
 * A failed renewal is reported, not thrown: the work goes on, and the lease may lapse.
 */
export async function withLeaseHeartbeat<T>(
  deps: { store: Pick<Store, 'renewLeases'>; clock: Clock; owner: string; leaseMs: number; onError: (err: unknown) => void },
  fn: () => Promise<T>,
): Promise<T> {
  const renew = () => {
    const now = deps.clock.now();
    deps.store.renewLeases(deps.owner, now.toISOString(), new Date(now.getTime() + deps.leaseMs).toISOString()).catch(deps.onError);
  };
  const heartbeat = setInterval(renew, deps.leaseMs / 3);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
  }
}
