import { effectiveTelehealthUrl } from '../domain/calendar-event.js';
import { AppError, ErrorCode, findLinkConflicts, linkKey } from '../domain/index.js';
import type { BookedSlot, Location, Session, StoreTx } from '../domain/index.js';

export function slotOf(session: Session, locations: ReadonlyMap<string, Location>): BookedSlot {
  const location = session.locationId === null ? null : (locations.get(session.locationId) ?? null);
  const url = session.status === 'scheduled' ? effectiveTelehealthUrl(session, location) : null;
  return { sessionId: session.id, start: session.start, end: session.end, linkKey: url === null ? null : linkKey(url) };
}

/**
 * Refuses a write that would put two scheduled virtual sessions of one provider on the same
 * link at the same time: two clients in one room is the privacy failure the seed article warns
 * of. `candidates` are the sessions as they will be after the write, `locations` the locations
 * as they will be; checked inside the writing transaction so that concurrent writes cannot race.
 */
export async function assertNoLinkConflicts(
  tx: StoreTx,
  providerId: string,
  candidates: readonly Session[],
  locations: ReadonlyMap<string, Location>,
): Promise<void> {
  const slots = candidates.map((s) => slotOf(s, locations)).filter((s) => s.linkKey !== null);
  if (slots.length === 0) return;
  const from = slots.reduce((min, s) => (s.start < min ? s.start : min), slots[0]!.start);
  const to = slots.reduce((max, s) => (s.end > max ? s.end : max), slots[0]!.end);
  const candidateIds = new Set(candidates.map((c) => c.id));
  const existing = (await tx.listSessions(providerId, { status: 'scheduled', endAfter: from, startBefore: to }))
    .filter((s) => !candidateIds.has(s.id))
    .map((s) => slotOf(s, locations));

  const conflicts = findLinkConflicts(slots, existing);
  const first = conflicts[0];
  if (first === undefined) return;
  throw new AppError({
    code: ErrorCode.SESSION_OVERLAP,
    status: 409,
    message: `Session ${first.sessionId} would overlap session ${first.conflictsWith} on the same telehealth link; clients must never overlap.`,
    details: { sessionId: first.sessionId, conflictsWith: first.conflictsWith, conflicts },
  });
}
