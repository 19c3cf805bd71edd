// CRC-32 (the gzip polynomial, as zlib.crc32 computes it) of a concatenation from the CRCs of its
// pieces, without reading their bytes again: zlib's crc32_combine, which Node does not expose.
// A gzip trailer carries the CRC of the whole body (RFC 1952 2.3.1); after a change to one event
// of a 2.2 MB feed, reading all of it again for the CRC took longer than everything else.
//
// The algorithm is zlib's (crc32.c, 1.2.12 on): a CRC is a polynomial over GF(2) in reflected bit
// order, and appending n zero bytes to a message multiplies its CRC by x^(8n) mod P. So
// crc(A ‖ B) = crc(A) · x^(8·len(B)) mod P  xor  crc(B).

/** The CRC-32 polynomial, reflected. */
const POLY = 0xedb88320;

/** a · b mod P, reflected bit order (bit 31 is x^0). */
function multModP(a: number, b: number): number {
  // x^n mod P is never 0 (P has a constant term), so a is 0 only if misused; without this the
  // loop below would not end.
  if (a === 0) return 0;
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..31: the factors x2nModP multiplies together. */
const X2N = (() => {
  const table = new Array<number>(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let k = 1; k < 32; k++) table[k] = p = multModP(p, p);
  return table;
})();

/** x^(n · 2^k) mod P. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31] as number, p);
    n = Math.floor(n / 2);
    k += 1;
  }
  return p;
}

/**
 * The factor that shifts a CRC past `length` bytes: computed once per piece (O(log length)),
 * then each combine with it is one multiplication.
 */
export function crc32Shift(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length ${length} is not a byte count`);
  return x2nModP(length, 3);
}

/** crc32(A ‖ B) from crc32(A), crc32(B) and crc32Shift(len(B)). */
export function crc32Combine(crcA: number, crcB: number, shiftB: number): number {
  return (multModP(shiftB, crcA) ^ crcB) >>> 0;
}

/**
 * crc32(A' ‖ B) from crc32(A ‖ B), crc32(A), crc32(A') and crc32Shift(len(B)), whatever the
 * lengths of A and A': the CRC after the same bytes B behind another prefix. The combine is
 * linear, so this is (crc32(A) xor crc32(A')) · x^(8·len(B)) xor crc32(A ‖ B): one
 * multiplication, without crc32(B) or its bytes. With the CRCs of a body's prefixes kept, the CRC
 * of any run of its pieces after any new prefix comes from two of them (crc32(B) itself: A' empty,
 * CRC 0), however many pieces the run holds.
 */
export function crc32Rebased(crcAB: number, crcA: number, crcOtherA: number, shiftB: number): number {
  return crcA === crcOtherA ? crcAB : (multModP(shiftB, (crcA ^ crcOtherA) >>> 0) ^ crcAB) >>> 0;
}
