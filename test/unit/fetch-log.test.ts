import assert from 'node:assert/strict';
import { FetchLog } from '../../feeds/fetch-log.js';

type Write = [feedId: string, at: string, userAgent: string | null, count: number | undefined];

function recorder(fail = false): { writes: Write[]; store: { recordFeedFetch(...args: Write): Promise<void> } } {
  const writes: Write[] = [];
  return {
    writes,
    store: {
      recordFeedFetch: async (...args: Write) => {
        if (fail) throw new Error('database gone');
        writes.push(args);
      },
    },
  };
}

describe('FetchLog', () => {
  it('when a feed is polled three times before a flush, then one write carries the count and the latest time and user agent', async () => {
    const { writes, store } = recorder();
    const log = new FetchLog(store, 60_000, () => undefined);
    await log.record('feed-1', Date.parse('2026-11-02T12:00:00.000Z'), 'Google-Calendar-Importer');
    await log.record('feed-1', Date.parse('2026-11-02T12:00:01.000Z'), 'Google-Calendar-Importer');
    await log.record('feed-2', Date.parse('2026-11-02T12:00:01.500Z'), null);
    await log.record('feed-1', Date.parse('2026-11-02T12:00:02.000Z'), 'Microsoft Outlook');
    assert.deepEqual(writes, [], 'polls write nothing by themselves');

    await log.flush();

    assert.deepEqual(writes, [
      ['feed-1', '2026-11-02T12:00:02.000Z', 'Microsoft Outlook', 3],
      ['feed-2', '2026-11-02T12:00:01.500Z', null, 1],
    ]);
    await log.flush();
    assert.equal(writes.length, 2, 'nothing is written twice');
  });

  it('when the flush interval is 0, then every poll is written through', async () => {
    const { writes, store } = recorder();
    const log = new FetchLog(store, 0, () => undefined);
    await log.record('feed-1', Date.parse('2026-11-02T12:00:00.000Z'), 'ua');
    await log.record('feed-1', Date.parse('2026-11-02T12:00:01.000Z'), 'ua');
    assert.deepEqual(writes.map((w) => w[3]), [1, 1]);
  });

  it('when the interval passes, then the timer flushes by itself', async () => {
    const { writes, store } = recorder();
    let flushed: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (flushed = resolve));
    const log = new FetchLog({ recordFeedFetch: async (...args: Write) => (await store.recordFeedFetch(...args), flushed()) }, 1, () => undefined);
    await log.record('feed-1', Date.parse('2026-11-02T12:00:00.000Z'), null);
    await done;
    assert.deepEqual(writes, [['feed-1', '2026-11-02T12:00:00.000Z', null, 1]]);
  });

  it('when a write fails, then the error is reported and the other feeds are still written', async () => {
    const errors: unknown[] = [];
    const log = new FetchLog(recorder(true).store, 60_000, (err) => errors.push(err));
    await log.record('feed-1', Date.parse('2026-11-02T12:00:00.000Z'), null);
    await log.record('feed-2', Date.parse('2026-11-02T12:00:00.000Z'), null);
    await log.flush();
    assert.equal(errors.length, 2);
  });
});
