import assert from 'node:assert/strict';
import type { CalendarConnector } from '../../src/domain/index.js';
import { seedProvider } from '../support/seed.js';
import { testStores } from '../support/stores.js';
import { createSyncHarness, googleVendor, type SyncHarness } from '../support/sync-harness.js';

for (const [database, makeStore] of testStores())
describe(`SyncWorker loop (${database})`, () => {
  let h: SyncHarness;
  afterEach(async () => {
    await h.worker.stop();
    await h.close();
  });

  it('when a session is written while the loop idles, then the write wakes it and the event is pushed without waiting for a poll', async function () {
    // The idle loop would sleep 60 s; the 10 s test timeout fails this unless the write wakes it.
    this.timeout(10_000);
    let reached: (key: string) => void = () => undefined;
    const pushed = new Promise<string>((resolve) => (reached = resolve));
    h = await createSyncHarness([
      async () => {
        const rig = await googleVendor();
        const inner = rig.connector;
        const spy: CalendarConnector = {
          kind: inner.kind,
          upsert: async (...args) => {
            const result = await inner.upsert(...args);
            reached(args[4].key);
            return result;
          },
          remove: (...args) => inner.remove(...args),
          removeByKey: (...args) => inner.removeByKey(...args),
          listTagged: (...args) => inner.listTagged(...args),
          readBusy: (...args) => inner.readBusy(...args),
        };
        return { ...rig, connector: spy };
      },
    ], { store: await makeStore() });
    await seedProvider(h.t);
    await h.connect(h.vendors[0]!);
    h.worker.start();
    await h.t.platform.put('/api/v1/providers/p1/sessions/s1', { start: '2026-11-10T15:00:00Z', durationMinutes: 50 });
    assert.equal(await pushed, 'p1/s1');
    assert.equal(h.live(h.vendors[0]!).length, 1);
  });
});
