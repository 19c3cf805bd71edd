// A stretch of an assembled feed body, as the chunked gzip and the ETag see it.

/** A stretch of an assembled body: the calendar's head (with its VTIMEZONEs), one event, or its end. */
export interface BodySpan {
  /** Its bytes are source[offset, offset + length) (an event fragment is a span as it is). */
  readonly source: Buffer;
  readonly offset: number;
  readonly length: number;
  /** The event's digest, or null for the head and the end. */
  readonly digest: Buffer | null;
}

/** A span's (or an event fragment's) bytes, as a view (no copy). */
export function spanBytes(span: BodySpan): Buffer {
  return span.source.subarray(span.offset, span.offset + span.length);
}
