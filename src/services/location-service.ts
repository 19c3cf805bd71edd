import { AppError, checkTelehealthLink, ErrorCode, notFound, providerNotFound, waitingRoomWarnings, writableProvider } from '../domain/index.js';
import type { Clock, JoinLinks, Location, Store, StoreTx } from '../domain/index.js';
import { refreshSessionEvents } from './event-refresh.js';
import { assertNoLinkConflicts } from './link-conflicts.js';
import type { UpsertResult } from './provider-service.js';

export type LocationInput =
  | { kind: 'virtual'; name: string | null; url: string; instructions: string | null; isDefault?: boolean; waitingRoom: boolean | null }
  | { kind: 'office'; name: string; address: string; isDefault?: boolean };

export interface LocationResult extends UpsertResult<Location> {
  warnings: string[];
}

export function linkRejected(path: string, reason: string): AppError {
  return new AppError({
    code: ErrorCode.TELEHEALTH_LINK_REJECTED,
    status: 400,
    message: `Telehealth link rejected: ${reason}`,
    details: [{ path, message: reason }],
  });
}

/** Everything but timestamps, in a fixed order (stored and built objects differ in key order). */
function contentOf(l: Location): unknown[] {
  return l.kind === 'virtual'
    ? [l.kind, l.name, l.url, l.instructions, l.isDefault, l.waitingRoom, l.platform]
    : [l.kind, l.name, l.address, l.isDefault];
}

function sameLocation(a: Location, b: Location): boolean {
  return JSON.stringify(contentOf(a)) === JSON.stringify(contentOf(b));
}

async function assertProvider(tx: StoreTx, providerId: string) {
  return writableProvider(await tx.getProvider(providerId), providerId);
}

export class LocationService {
  constructor(private readonly deps: { store: Store; clock: Clock; joinLinks: JoinLinks }) {}

  async put(providerId: string, locationId: string, input: LocationInput): Promise<LocationResult> {
    const now = this.deps.clock.now().toISOString();
    const warnings: string[] = [];
    type Common = Pick<Location, 'providerId' | 'id' | 'isDefault' | 'createdAt' | 'updatedAt'>;
    let build: (common: Common) => Location;
    if (input.kind === 'virtual') {
      const check = checkTelehealthLink(input.url);
      if (!check.ok) throw linkRejected('url', check.reason);
      warnings.push(...check.warnings, ...waitingRoomWarnings(check.platform, input.waitingRoom));
      const fields = {
        kind: 'virtual',
        name: input.name,
        url: check.url,
        instructions: input.instructions,
        waitingRoom: input.waitingRoom,
        platform: check.platform?.id ?? null,
      } as const;
      build = (common) => ({ ...fields, ...common });
    } else {
      const fields = { kind: 'office', name: input.name, address: input.address } as const;
      build = (common) => ({ ...fields, ...common });
    }

    return this.deps.store.transaction(async (tx): Promise<LocationResult> => {
      await tx.lockProvider(providerId);
      const provider = await assertProvider(tx, providerId);
      const all = await tx.listLocations(providerId);
      const existing = all.find((l) => l.id === locationId) ?? null;
      const otherDefault = all.some((l) => l.id !== locationId && l.isDefault);
      // Without an explicit choice, a location stays default if it was, and the first one becomes it.
      const isDefault = input.isDefault ?? (existing?.isDefault ?? !otherDefault);
      const location = build({ providerId, id: locationId, isDefault, createdAt: existing?.createdAt ?? now, updatedAt: now });
      if (existing !== null && sameLocation(existing, location)) return { value: existing, created: false, warnings };

      await tx.putLocation(location);
      if (isDefault) {
        for (const other of all) {
          if (other.id !== locationId && other.isDefault) await tx.putLocation({ ...other, isDefault: false, updatedAt: now });
        }
      }
      if (existing !== null) {
        const users = await tx.listSessions(providerId, { locationId });
        const locations = new Map(all.map((l) => [l.id, l] as const));
        locations.set(locationId, location);
        const nowUpcoming = users.filter((s) => s.status === 'scheduled' && s.end > now);
        await assertNoLinkConflicts(tx, providerId, nowUpcoming, locations);
        const changed = await refreshSessionEvents(tx, provider, users, now, this.deps.joinLinks);
        if (changed.length > 0) {
          await tx.bumpFeedRevision(providerId, now);
          await tx.markSessionsDirty(providerId, changed, now);
        }
      }
      return { value: location, created: existing === null, warnings };
    });
  }

  async list(providerId: string): Promise<Location[]> {
    const provider = await this.deps.store.getProvider(providerId);
    if (provider === null) throw providerNotFound(providerId);
    return this.deps.store.listLocations(providerId);
  }

  /** Refused while an upcoming scheduled session uses it; past sessions are detached. */
  async delete(providerId: string, locationId: string): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    await this.deps.store.transaction(async (tx) => {
      await tx.lockProvider(providerId);
      const provider = await assertProvider(tx, providerId);
      const location = await tx.getLocation(providerId, locationId);
      if (location === null) throw notFound(ErrorCode.LOCATION_NOT_FOUND, `Location ${locationId} does not exist.`);
      const users = await tx.listSessions(providerId, { locationId });
      const upcoming = users.filter((s) => s.status === 'scheduled' && s.end > now);
      if (upcoming.length > 0) {
        throw new AppError({
          code: ErrorCode.LOCATION_IN_USE,
          status: 409,
          message: `Location ${locationId} is used by ${upcoming.length} upcoming session(s); move or cancel them first.`,
          details: { sessionIds: upcoming.slice(0, 20).map((s) => s.id), count: upcoming.length },
        });
      }
      await tx.deleteLocation(providerId, locationId);
      const detached = users.map((s) => ({ ...s, locationId: null }));
      const changed = await refreshSessionEvents(tx, provider, detached, now, this.deps.joinLinks);
      if (changed.length === 0) return;
      await tx.bumpFeedRevision(providerId, now);
      await tx.markSessionsDirty(providerId, changed, now);
    });
  }
}
