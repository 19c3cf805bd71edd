import assert from 'node:assert/strict';
import { withLeaseHeartbeat } from '../../src/sync/lease-heartbeat.js';
import { FakeClock } from '../support/fake-clock.js';

describe('withLeaseHeartbeat', () => {
  it('when the work outlasts a third of the lease, then the leases are renewed to now plus the lease, and stop being renewed after', async () => {
    const clock = new FakeClock('2026-11-02T12:00:00.000Z');
    const renewals: [string, string, string][] = [];
    let renewed: () => void = () => undefined;
    const twice = new Promise<void>((resolve) => (renewed = () => renewals.length === 2 && resolve()));
    const store = {
      renewLeases: async (owner: string, now: string, until: string) => {
        renewals.push([owner, now, until]);
        renewed();
      },
    };
    const result = await withLeaseHeartbeat({ store, clock, owner: 'w1', leaseMs: 30, onError: () => undefined }, async () => {
      await twice;
      return 'done';
    });
    assert.equal(result, 'done');
    assert.deepEqual(renewals[0], ['w1', '2026-11-02T12:00:00.000Z', '2026-11-02T12:00:00.030Z']);
    const count = renewals.length;
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(renewals.length, count, 'no renewal once the work is done');
  });

  it('when a renewal fails, then it is reported and the work still finishes', async () => {
    const errors: unknown[] = [];
    let failed: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => (failed = resolve));
    const store = { renewLeases: async () => Promise.reject(new Error('database gone')) };
    const result = await withLeaseHeartbeat({ store, clock: new FakeClock('2026-11-02T12:00:00.000Z'), owner: 'w1', leaseMs: 3, onError: (err) => (errors.push(err), failed()) }, async () => {
      await reported;
      return 7;
    });
    assert.equal(result, 7);
    assert.ok(errors.length >= 1);
  });
});
