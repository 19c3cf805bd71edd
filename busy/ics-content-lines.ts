import type { TimeSlicer } from './time-slicer.js';

// iCalendar content lines (RFC 5545 §3.1): physical lines are unfolded into logical ones and split
// into name, parameters and value. The text is walked with indexOf instead of being split into an
// array, so a large feed costs no second copy and the walk can pause between any two lines.

/** Logical lines longer than this keep only their head: enough for the name of a property we skip. */
export const MAX_LINE_CHARS = 64 * 1024;
const PHYSICAL_LINES_PER_CHECK = 256;
const NO_PARAMS: ReadonlyMap<string, string> = new Map();

export interface ContentLine {
  /** Upper case, e.g. "DTSTART". */
  name: string;
  /** Upper-case parameter names to their unquoted values (a list stays comma-joined); the first of a repeated name wins. */
  params: ReadonlyMap<string, string>;
  value: string;
}

/**
 * Calls `onLine` with every logical line in order, yielding to the event loop when the slicer's
 * budget is spent. `overlong` says the line was cut at MAX_LINE_CHARS. Stops early when `onLine`
 * returns false. A byte-order mark at the start is skipped; CRLF and LF both end a line.
 */
export async function forEachContentLine(
  text: string,
  slicer: TimeSlicer,
  onLine: (line: string, overlong: boolean) => boolean,
): Promise<void> {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  // The line being unfolded: its first piece, and the continuations when it has any.
  let head: string | null = null;
  let rest: string[] | null = null;
  let length = 0;
  let overlong = false;
  let sinceCheck = 0;
  const flush = (): boolean => {
    if (head === null) return true;
    const line = rest === null ? head : head + rest.join('');
    const cut = overlong;
    head = null;
    rest = null;
    overlong = false;
    return onLine(line, cut);
  };

  while (pos < text.length) {
    let newline = text.indexOf('\n', pos);
    if (newline === -1) newline = text.length;
    const end = newline > pos && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
    const first = text.charCodeAt(pos);
    if ((first === 32 || first === 9) && head !== null) {
      // A continuation: its leading space or tab is the fold, not content.
      if (!overlong) {
        const take = Math.min(end - pos - 1, MAX_LINE_CHARS - length);
        (rest ??= []).push(text.slice(pos + 1, pos + 1 + take));
        length += take;
        overlong = take < end - pos - 1;
      }
    } else {
      if (!flush()) return;
      if (end > pos) {
        overlong = end - pos > MAX_LINE_CHARS;
        head = text.slice(pos, overlong ? pos + MAX_LINE_CHARS : end);
        length = head.length;
      }
    }
    pos = newline + 1;
    sinceCheck += 1;
    if (sinceCheck >= PHYSICAL_LINES_PER_CHECK) {
      sinceCheck = 0;
      if (slicer.due()) await slicer.yield();
    }
  }
  flush();
}

/** The upper-case property name of a logical line: everything before the first ";" or ":". */
export function propertyName(line: string): string {
  let i = 0;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (c === 59 || c === 58) break; // ';' or ':'
    i += 1;
  }
  const name = line.slice(0, i);
  return /^[A-Z0-9-]+$/.test(name) ? name : name.trim().toUpperCase();
}

/** Splits a logical line into name, parameters and value; null when it is not a content line. */
export function parseContentLine(line: string): ContentLine | null {
  let i = 0;
  while (i < line.length && line[i] !== ';' && line[i] !== ':') i += 1;
  const name = line.slice(0, i).trim().toUpperCase();
  if (name === '' || i >= line.length) return null;
  if (line[i] === ':') return { name, params: NO_PARAMS, value: line.slice(i + 1) };
  const params = new Map<string, string>();
  while (line[i] === ';') {
    const eq = line.indexOf('=', i + 1);
    if (eq === -1) return null;
    const paramName = line.slice(i + 1, eq).trim().toUpperCase();
    i = eq + 1;
    const values: string[] = [];
    for (;;) {
      if (line[i] === '"') {
        const close = line.indexOf('"', i + 1);
        if (close === -1) return null;
        values.push(line.slice(i + 1, close));
        i = close + 1;
      } else {
        const start = i;
        while (i < line.length && line[i] !== ',' && line[i] !== ';' && line[i] !== ':') i += 1;
        values.push(line.slice(start, i));
      }
      if (line[i] !== ',') break;
      i += 1;
    }
    if (!params.has(paramName)) params.set(paramName, values.join(','));
  }
  if (line[i] !== ':') return null;
  return { name, params, value: line.slice(i + 1) };
}
