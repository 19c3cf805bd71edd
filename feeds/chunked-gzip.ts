// Gzip of a feed body whose deflating costs O(what changed) instead of O(body). Gzipping a
// 5,000-event body (2.2 MB) whole takes 10-20 ms, more than re-assembling it from cached fragments,
// and calendar clients (Google, Outlook) ask for gzip on every poll. So the body is cut into chunks
// at content-defined boundaries, each chunk is deflated on its own and kept by a key derived from
// its content, and the gzip member is assembled from kept chunks: after one event changes, only
// the chunk that holds it (and at times the next one) is deflated again. The CRC-32 of the body
// is combined from the chunks' CRCs (body-chunks.ts keeps them), not read from 2.2 MB again.
//
// Standards and behaviour this relies on:
// - RFC 1951 3.2.3: a deflate stream is a sequence of blocks, only the last with BFINAL set; a
//   stored block (BTYPE 00) skips to a byte boundary before its LEN and NLEN. A chunk is deflated
//   with Z_SYNC_FLUSH instead of Z_FINISH, which per zlib's manual "completes the current deflate
//   block and follows it with an empty stored block that is three bits plus filler bits to the
//   next byte, followed by four bytes (00 00 ff ff)": no block is final and the chunk ends on a
//   byte boundary, so chunks concatenate as plain bytes. pigz builds its output the same way.
// - RFC 1951 3.2.3 also lets a back-reference reach into earlier blocks, up to 32 KiB back
//   (3.2.5). A chunk is deflated with the event just before it as a preset dictionary, as pigz
//   uses the end of the block before: those are exactly the bytes a decoder has just written, so
//   references into them resolve. Without it every chunk starts from an empty window, and on a
//   real 5,000-event feed (44:1 under gzipSync) the chunked gzip came out 2.04 times as large;
//   with it, 1.05. The price: a chunk's bytes depend on the event before it too, so changing the
//   last event of a chunk (about 1 in 64) also deflates the next one again.
// - The stream ends with an empty final block with fixed codes (RFC 1951 3.2.3, 3.2.6): BFINAL 1,
//   BTYPE 01, then the 7-bit end-of-block code 0000000, 10 bits packed from the low bit up:
//   03 00, which is also what zlib writes for an empty input with Z_FINISH.
// - RFC 1952 2.3: a gzip member is a 10-byte header, the deflate data, the CRC-32 of the
//   uncompressed data and its length mod 2^32, both little-endian. The header is constant (no
//   MTIME, no name), so the same body always gives the same bytes.
import { constants, deflateRawSync } from 'node:zlib';
import { bodyChunks, dictionarySpan, type BodyChunk } from './body-chunks.js';
import { crc32Combine } from './crc32-combine.js';
import { spanBytes, type BodySpan } from './ics-renderer.js';

// A span is a stretch of the body: its bytes, and a digest identifying them (an event's SHA-256),
// or null for a stretch without one (the calendar head, the end), whose bytes are hashed here.
export type { BodySpan };

/** Compressed chunks by identity, deflated at one level, as kept from one gzip to the next. */
export interface GzipChunks {
  readonly level: number;
  readonly byIdentity: ReadonlyMap<string, Buffer>;
}

export interface ChunkedGzip {
  /** One gzip member (RFC 1952) of the whole body. */
  gzip: Buffer;
  /** The chunks this gzip is made of, each a view into gzip (so nothing is kept twice). */
  chunks: GzipChunks;
  /** Chunks deflated by this call. */
  compressed: number;
  /** Chunks taken from previous (or repeated within this body) instead of deflated. */
  reused: number;
}

/** zlib's default, what gzipSync uses. */
const DEFAULT_LEVEL = 6;
/** How far back a deflate reference can reach (RFC 1951 3.2.5): more dictionary is never used. */
const WINDOW = 32 * 1024;

// ID1 ID2, CM 8 (deflate), FLG 0, MTIME 0 (none), XFL 0, OS 3 (Unix): what zlib's gzipSync writes
// at the default level, and constant, so the output depends on the body alone. (zlib sets XFL to 2
// at level 9 and 4 below level 2; it is a hint that decoders ignore.)
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * A stretch of the body as the gzip deflates it: a chunk (body-chunks.ts, event-layout.ts) with
 * what identifies its bytes and the bytes it is deflated against, its length, CRC-32 and
 * crc32Shift. Chunks are pieces as they are: no object per piece per gzip.
 */
export interface GzipPiece {
  readonly identity: string;
  readonly length: number;
  readonly crc: number;
  readonly shift: number;
}

/**
 * A piece's bytes, and those of the event before it, which a decoder has just written (its
 * dictionary; undefined for none): asked for only when the piece is deflated.
 */
export type PieceBytes<P> = (piece: P) => { bytes: Buffer; dictionary: Buffer | undefined };

/**
 * Gzips the body, given twice: as the parts it is sent in and span by span (the chunks are cut
 * from these, see body-chunks.ts); both must hold the same bytes. `chunks`, when given, must be
 * bodyChunks(spans) (a caller that has them saves the walk). See gzipPieces. Throws a RangeError
 * when parts and spans differ in length or the level is not 0..9.
 */
export function chunkedGzip(
  parts: readonly Buffer[],
  spans: readonly BodySpan[],
  previous: GzipChunks | undefined,
  options: { level?: number; chunks?: readonly BodyChunk[] } = {},
): ChunkedGzip {
  const chunks = options.chunks ?? bodyChunks(spans);
  const made = gzipPieces(
    chunks,
    (chunk) => {
      const before = dictionarySpan(spans, chunk);
      return { bytes: chunkBytes(spans, chunk), dictionary: before === undefined ? undefined : spanBytes(before) };
    },
    previous,
    options,
  );
  checkLength(parts, made.length);
  return made;
}

/**
 * One gzip member of the pieces in order. Deflates only the pieces that previous lacks; the
 * CRC-32 is combined from the pieces' own. The output is the same bytes whatever previous holds,
 * as long as previous came from this function: deflate gives the same bytes for the same input,
 * dictionary, level and zlib build, so a kept chunk is what deflating it again would give.
 * Throws a RangeError when the level is not 0..9.
 */
export function gzipPieces<P extends GzipPiece>(pieces: readonly P[], bytesOf: PieceBytes<P>, previous: GzipChunks | undefined, options: { level?: number } = {}): ChunkedGzip & { length: number } {
  const level = options.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`gzip level ${level} is not 0..9`);
  // Chunks kept at another level are not these chunks' bytes.
  const kept = previous?.level === level ? previous.byIdentity : undefined;
  const out: Buffer[] = [GZIP_HEADER];
  const keys: string[] = [];
  const fresh = new Map<string, Buffer>();
  let compressed = 0;
  let reused = 0;
  let crc = 0;
  let length = 0;
  for (const piece of pieces) {
    // The identity strings are the chunks' own, kept from render to render: their hashes are too.
    const key = piece.identity;
    let bytes = fresh.get(key) ?? kept?.get(key);
    if (bytes === undefined) {
      bytes = deflateChunk(bytesOf(piece), level);
      compressed += 1;
    } else {
      reused += 1;
    }
    fresh.set(key, bytes);
    keys.push(key);
    out.push(bytes);
    crc = crc32Combine(crc, piece.crc, piece.shift);
    length += piece.length;
  }
  out.push(FINAL_BLOCK, trailer(crc, length));
  const gzip = Buffer.concat(out);
  return { gzip, chunks: { level, byIdentity: viewsInto(gzip, keys, out) }, compressed, reused, length };
}

function checkLength(parts: readonly Buffer[], inSpans: number): void {
  let inParts = 0;
  for (const part of parts) inParts += part.length;
  if (inParts !== inSpans) throw new RangeError(`spans hold ${inSpans} bytes of a ${inParts}-byte body`);
}

/** A raw deflate stream with no final block, ending byte-aligned: one that can be followed by more. */
function deflateChunk(piece: { bytes: Buffer; dictionary: Buffer | undefined }, level: number): Buffer {
  const before = piece.dictionary;
  const dictionary = before?.subarray(Math.max(0, before.length - WINDOW));
  const out = deflateRawSync(piece.bytes, {
    level,
    finishFlush: constants.Z_SYNC_FLUSH,
    ...(dictionary !== undefined && dictionary.length > 0 ? { dictionary } : {}),
  });
  // Concatenation is sound only if zlib ended the chunk with the empty stored block it documents.
  if (out.length < SYNC_MARKER.length || !out.subarray(out.length - SYNC_MARKER.length).equals(SYNC_MARKER)) {
    throw new Error('zlib did not end a sync-flushed deflate stream with 00 00 ff ff');
  }
  return out;
}

/** A chunk's bytes in one buffer: copied straight from the spans' sources, with no view per span. */
function chunkBytes(spans: readonly BodySpan[], chunk: BodyChunk): Buffer {
  if (chunk.end - chunk.first === 1) return spanBytes(spans[chunk.first] as BodySpan);
  const out = Buffer.allocUnsafe(chunk.length);
  let at = 0;
  for (let i = chunk.first; i < chunk.end; i++) {
    const { source, offset, length } = spans[i] as BodySpan;
    source.copy(out, at, offset, offset + length);
    at += length;
  }
  return out;
}

function trailer(crc: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32LE(crc, 0);
  out.writeUInt32LE(length % 2 ** 32, 4);
  return out;
}

/** parts[i + 1] is the chunk keys[i]; the same key twice maps to its first place. */
function viewsInto(gzip: Buffer, keys: readonly string[], parts: readonly Buffer[]): Map<string, Buffer> {
  const views = new Map<string, Buffer>();
  let at = GZIP_HEADER.length;
  for (let i = 0; i < keys.length; i++) {
    const length = (parts[i + 1] as Buffer).length;
    const key = keys[i] as string;
    if (!views.has(key)) views.set(key, gzip.subarray(at, at + length));
    at += length;
  }
  return views;
}
