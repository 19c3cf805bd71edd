import assert from 'node:assert/strict';
import { RETRY_BASE_MS, RETRY_MAX_MS, retryDelayMs } from '../../src/sync/retry-policy.js';

describe('retryDelayMs', () => {
  it('when attempts grow, then the delay doubles within its jitter band and is capped', () => {
    assert.equal(retryDelayMs(1, null, () => 0), RETRY_BASE_MS / 2);
    assert.equal(retryDelayMs(1, null, () => 1), RETRY_BASE_MS);
    assert.equal(retryDelayMs(3, null, () => 1), RETRY_BASE_MS * 4);
    assert.equal(retryDelayMs(40, null, () => 1), RETRY_MAX_MS);
    assert.equal(retryDelayMs(40, null, () => 0), RETRY_MAX_MS / 2);
  });

  it('when the vendor sent Retry-After, then the delay is never shorter', () => {
    assert.equal(retryDelayMs(1, 7_000, () => 0), 7_000);
    assert.equal(retryDelayMs(10, 7_000, () => 0), Math.max(7_000, Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** 9) / 2));
  });

  it('when jitter varies, then delays for the same attempt differ (bursts spread out)', () => {
    assert.notEqual(retryDelayMs(4, null, () => 0.1), retryDelayMs(4, null, () => 0.9));
  });
});
