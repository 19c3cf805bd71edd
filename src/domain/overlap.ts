// Overlap guard: two sessions in the same meeting room (same linkKey) at the same time would put
// one client into another client's session, which the telehealth rules forbid.
import { compareText } from './text.js';

export interface BookedSlot {
  sessionId: string;
  /** ISO instants; the slot is the half-open interval [start, end). */
  start: string;
  end: string;
  /** linkKey() of the session's telehealth link; null for an in-person session. */
  linkKey: string | null;
}

export interface LinkConflict {
  /** A candidate session. */
  sessionId: string;
  /** A session (existing or another candidate) booked in the same room at an overlapping time. */
  conflictsWith: string;
}

interface Entry {
  slot: BookedSlot;
  startMs: number;
  endMs: number;
  candidate: boolean;
}

function toEntry(slot: BookedSlot, candidate: boolean): Entry {
  const startMs = Date.parse(slot.start);
  const endMs = Date.parse(slot.end);
  // A silently skipped slot would let two clients into one room: bad data fails loudly.
  if (Number.isNaN(startMs) || Number.isNaN(endMs)) {
    throw new RangeError(`Slot of session ${slot.sessionId} has an invalid start or end instant.`);
  }
  return { slot, startMs, endMs, candidate };
}

/**
 * Every (candidate, other) pair in the same room whose intervals overlap; `other` is an existing
 * slot or another candidate (a batch such as a series must not overlap itself), and both
 * directions of a candidate-candidate pair are reported. Back-to-back slots (end == next start)
 * do not overlap; in-person slots (linkKey null) and empty intervals (end <= start) never conflict;
 * a session never conflicts with itself. An existing slot whose sessionId is among the candidates
 * is ignored: the candidate replaces it (a reschedule moves the session out of its old slot).
 * Results are ordered by candidate start, candidate id, other start, other id, whatever the input
 * order. Cost: per room, a sort plus a sweep that visits only overlapping pairs,
 * O(n log n + overlapping pairs).
 */
export function findLinkConflicts(candidates: readonly BookedSlot[], existing: readonly BookedSlot[]): LinkConflict[] {
  const replaced = new Set(candidates.map((c) => c.sessionId));
  const rooms = new Map<string, Entry[]>();
  const add = (entry: Entry): void => {
    const key = entry.slot.linkKey;
    if (key === null || entry.endMs <= entry.startMs) return;
    const room = rooms.get(key);
    if (room === undefined) rooms.set(key, [entry]);
    else room.push(entry);
  };
  for (const slot of candidates) if (slot.linkKey !== null) add(toEntry(slot, true));
  for (const slot of existing) if (slot.linkKey !== null && !replaced.has(slot.sessionId)) add(toEntry(slot, false));

  const found = new Map<string, { self: Entry; other: Entry }>();
  const record = (self: Entry, other: Entry): void => {
    const key = `${self.slot.sessionId}\u0000${other.slot.sessionId}`;
    if (!found.has(key)) found.set(key, { self, other });
  };
  for (const room of rooms.values()) {
    room.sort((a, b) => a.startMs - b.startMs);
    for (let i = 0; i < room.length; i += 1) {
      const a = room[i]!;
      // Sorted by start: b.start >= a.start, so b overlaps a exactly when b.start < a.end.
      for (let j = i + 1; j < room.length && room[j]!.startMs < a.endMs; j += 1) {
        const b = room[j]!;
        if (a.slot.sessionId === b.slot.sessionId) continue;
        if (a.candidate) record(a, b);
        if (b.candidate) record(b, a);
      }
    }
  }

  return [...found.values()]
    .sort(
      (x, y) =>
        x.self.startMs - y.self.startMs ||
        compareText(x.self.slot.sessionId, y.self.slot.sessionId) ||
        x.other.startMs - y.other.startMs ||
        compareText(x.other.slot.sessionId, y.other.slot.sessionId),
    )
    .map(({ self, other }) => ({ sessionId: self.slot.sessionId, conflictsWith: other.slot.sessionId }));
}
