import assert from 'node:assert/strict';
import { RateLimiter } from '../../src/sync/rate-limiter.js';

describe('RateLimiter', () => {
  it('when a burst is spent, then the next request waits for the refill and keys are independent', () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 3 });
    assert.deepEqual([0, 0, 0].map(() => limiter.take('a', 1_000)), [0, 0, 0]);
    assert.equal(limiter.take('a', 1_000), 100);
    assert.equal(limiter.take('b', 1_000), 0, 'another connection has its own bucket');
    assert.equal(limiter.take('a', 1_050), 50);
    assert.equal(limiter.take('a', 1_100), 0);
  });

  it('when idle for long, then the bucket refills only up to the burst', () => {
    const limiter = new RateLimiter({ perSecond: 5, burst: 2 });
    limiter.take('a', 0);
    limiter.take('a', 0);
    const taken = [0, 0, 0].map(() => limiter.take('a', 60_000));
    assert.deepEqual(taken, [0, 0, 200]);
  });
});
