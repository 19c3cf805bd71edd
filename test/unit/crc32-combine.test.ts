import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32Combine, crc32Rebased, crc32Shift } from '../../feeds/crc32-combine.js';

// The gzip trailer's CRC is combined from the chunks' CRCs: it must be zlib's CRC of the bytes
// joined, for any split, including empty pieces and the CRC 0.

describe('crc32Combine', () => {
  it('when two byte strings are joined, then the combined CRC is the CRC of the join', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        assert.equal(crc32Combine(crc32(a), crc32(b), crc32Shift(b.length)), crc32(Buffer.concat([a, b])));
      }),
      { seed: 1952, numRuns: 300 },
    );
  });

  it('when many pieces are folded in order from 0, then the result is the CRC of them all', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 500 }), { maxLength: 30 }), (pieces) => {
        let crc = 0;
        for (const piece of pieces) crc = crc32Combine(crc, crc32(piece), crc32Shift(piece.length));
        assert.equal(crc, crc32(Buffer.concat(pieces)));
      }),
      { seed: 1951, numRuns: 200 },
    );
  });

  it('when a piece is large (10 MB of zeros after a byte), then the shift still holds', () => {
    const big = Buffer.alloc(10_000_000);
    const head = Buffer.from('x');
    assert.equal(crc32Combine(crc32(head), crc32(big), crc32Shift(big.length)), crc32(Buffer.concat([head, big])));
  });

  it('when the CRC of a join and of its first part are known, then crc32Rebased with an empty prefix (CRC 0) gives that of the second', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const joined = crc32(Buffer.concat([a, b]));
        assert.equal(crc32Rebased(joined, crc32(a), 0, crc32Shift(b.length)), crc32(b));
      }),
      { seed: 1953, numRuns: 300 },
    );
  });

  it('when the bytes after a prefix stay and the prefix changes, then crc32Rebased gives the CRC behind the new prefix', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), (a, other, b) => {
        const rebased = crc32Rebased(crc32(Buffer.concat([a, b])), crc32(a), crc32(other), crc32Shift(b.length));
        assert.equal(rebased, crc32(Buffer.concat([other, b])));
      }),
      { seed: 1954, numRuns: 300 },
    );
  });

  it('when a length is negative or not an integer, then crc32Shift throws a RangeError', () => {
    assert.throws(() => crc32Shift(-1), RangeError);
    assert.throws(() => crc32Shift(1.5), RangeError);
  });
});
