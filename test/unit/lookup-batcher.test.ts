import assert from 'node:assert/strict';
import { LookupBatcher } from '../../feeds/lookup-batcher.js';
import type { FeedRevision } from '../../src/domain/index.js';

const revision = (n: number): FeedRevision => ({ feedId: `f${n}`, providerId: 'p1', providerCreatedAt: '2026-11-01T00:00:00.000Z', feedRevision: n });

describe('LookupBatcher', () => {
  it('when polls ask in the same turn, then one query answers them all, each with its own answer', async () => {
    const queries: string[][] = [];
    const batcher = new LookupBatcher(async (hashes) => {
      queries.push([...hashes]);
      return new Map(hashes.filter((h) => h !== 'unknown').map((h) => [h, revision(Number(h.slice(1)))]));
    });
    const answers = await Promise.all([batcher.find('h1'), batcher.find('h2'), batcher.find('h1'), batcher.find('unknown')]);
    assert.deepEqual(queries, [['h1', 'h2', 'unknown']]);
    assert.deepEqual(answers, [revision(1), revision(2), revision(1), null]);
  });

  it('when a poll asks while a query is under way, then it waits for a query of its own, never the one begun before it', async () => {
    const queries: string[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let revisionNow = 1;
    const batcher = new LookupBatcher(async (hashes) => {
      queries.push([...hashes]);
      const seen = revisionNow;
      if (queries.length === 1) await gate;
      return new Map(hashes.map((h) => [h, revision(seen)]));
    });
    const first = batcher.find('h');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(queries.length, 1, 'the first query is under way');
    // A commit (a revision bump, a revocation) lands now; a poll after it must see it.
    revisionNow = 2;
    const second = batcher.find('h');
    release();
    assert.equal((await first)?.feedRevision, 1);
    assert.equal((await second)?.feedRevision, 2);
    assert.equal(queries.length, 2);
  });

  it('when the query fails, then every poll of its batch is told, and the next batch asks again', async () => {
    let fail = true;
    const batcher = new LookupBatcher(async (hashes) => {
      if (fail) throw new Error('database away');
      return new Map(hashes.map((h) => [h, revision(1)]));
    });
    const results = await Promise.allSettled([batcher.find('a'), batcher.find('b')]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    fail = false;
    assert.deepEqual(await batcher.find('a'), revision(1));
  });

  it('when more than 500 tokens ask in one turn, then they go in queries of at most 500', async () => {
    const sizes: number[] = [];
    const batcher = new LookupBatcher(async (hashes) => {
      sizes.push(hashes.length);
      return new Map();
    });
    await Promise.all(Array.from({ length: 1201 }, (_, i) => batcher.find(`h${i}`)));
    assert.deepEqual(sizes, [500, 500, 201]);
  });
});
