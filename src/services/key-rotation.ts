import type { SecretBox } from '../crypto/secret-box.js';
import type { Clock, SealedValue, SealedValueChange, SealedValueKind, Store, StoreTx } from '../domain/index.js';
import { tokensSealContext } from '../sync/index.js';
import { SEAL_CONTEXT as BUSY_URL_SEAL_CONTEXT } from './busy-service.js';
import { pkceVerifierContext } from './connection-service.js';
import { JOIN_LINK_KEY_CONTEXT, JOIN_LINK_KEY_SETTING, storeJoinLinkKeyIfAbsent } from './join-link-key.js';

// Key rotation (npm run rotate-keys): every sealed value that the first key of ENCRYPTION_KEYS
// did not seal is sealed again under it, with its own context, so that the other keys can then be
// removed. Safe while the service runs: values are read in pages outside any transaction and
// swapped in one transaction per page by compare-and-set on the value read, under the same lock
// the service takes to write that row (connection, provider), so a token refreshed meanwhile is
// never overwritten, and a row written back whole from an earlier read cannot undo a swap.

/** What rotation visits: the sealed columns, and the sealed settings. */
export type RotationKind = SealedValueKind | 'setting';

export const ROTATION_KINDS: readonly RotationKind[] = ['connection-tokens', 'pkce-verifier', 'busy-source-url', 'setting'];

export interface RotationCounts {
  /** Sealed again under the first key. */
  resealed: number;
  /** Already under the first key: left as they are. */
  current: number;
  /** Opened by no configured key (damaged, or sealed by a key no longer listed): left as they are. */
  unopenable: number;
  /** Written by someone else between this run's read and its write: left to them (run again). */
  changed: number;
}

export interface RotationReport {
  /** The id of the key everything opened is now sealed under. */
  keyId: string;
  counts: Record<RotationKind, RotationCounts>;
  /** The rows whose value opens with no key: ids only, never a value. */
  unopenable: string[];
}

export interface RotationOptions {
  store: Store;
  secrets: SecretBox;
  clock: Clock;
  /** Rows per page and per transaction (default 200). */
  batchSize?: number;
}

export const DEFAULT_BATCH_SIZE = 200;

function contextOf(value: SealedValue): string {
  switch (value.kind) {
    case 'connection-tokens':
      return tokensSealContext(value.connectionId);
    case 'pkce-verifier':
      return pkceVerifierContext(value.connectionId);
    case 'busy-source-url':
      return BUSY_URL_SEAL_CONTEXT;
    default: {
      const unknown: never = value;
      throw new Error(`unknown sealed value ${String(unknown)}`);
    }
  }
}

/** Ids only: what a report may name. */
function describe(value: SealedValue): string {
  return value.kind === 'busy-source-url' ? `busy source ${value.providerId}/${value.sourceId}` : `connection ${value.connectionId} (${value.kind})`;
}

/** The lock the service takes before it writes the row (see ConnectionService, BusyService). */
function lockOf(value: SealedValue): { key: string; take: (tx: StoreTx) => Promise<void> } {
  return value.kind === 'busy-source-url'
    ? { key: `provider:${value.providerId}`, take: (tx) => tx.lockProvider(value.providerId) }
    : { key: `connection:${value.connectionId}`, take: (tx) => tx.lockConnection(value.connectionId) };
}

function zero(): RotationCounts {
  return { resealed: 0, current: 0, unopenable: 0, changed: 0 };
}

export async function rotateSealedValues(options: RotationOptions): Promise<RotationReport> {
  const { store, secrets } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  const report: RotationReport = {
    keyId: secrets.currentKeyId,
    counts: { 'connection-tokens': zero(), 'pkce-verifier': zero(), 'busy-source-url': zero(), setting: zero() },
    unopenable: [],
  };

  for (const kind of ['connection-tokens', 'pkce-verifier', 'busy-source-url'] as const) {
    const counts = report.counts[kind];
    let after: SealedValue | null = null;
    for (;;) {
      const page = await store.listSealedValues(kind, after, batchSize);
      const last = page[page.length - 1];
      if (last === undefined) break;
      after = last;
      const changes: SealedValueChange[] = [];
      for (const value of page) {
        let next: string | null;
        try {
          next = secrets.reseal(value.sealed, contextOf(value));
        } catch {
          counts.unopenable += 1;
          report.unopenable.push(describe(value));
          continue;
        }
        if (next === null) counts.current += 1;
        else changes.push({ value, next });
      }
      if (changes.length > 0) {
        const locks = new Map(changes.map((c) => lockOf(c.value)).map((l) => [l.key, l]));
        const applied = await store.transaction(async (tx) => {
          // In one order, so that two transactions taking several of these locks never deadlock.
          for (const key of [...locks.keys()].sort()) await locks.get(key)!.take(tx);
          return tx.compareAndSetSealedValues(changes);
        });
        for (const done of applied) {
          if (done) counts.resealed += 1;
          else counts.changed += 1;
        }
      }
      if (page.length < batchSize) break;
    }
  }

  // The join-link key: stored first if this database has none yet (derived from the oldest key,
  // as the service would), so that removing that key afterwards cannot change a link.
  const counts = report.counts.setting;
  const sealed = await storeJoinLinkKeyIfAbsent(options);
  let next: string | null = null;
  try {
    next = secrets.reseal(sealed, JOIN_LINK_KEY_CONTEXT);
    if (next === null) counts.current += 1;
  } catch {
    counts.unopenable += 1;
    report.unopenable.push(`setting ${JOIN_LINK_KEY_SETTING}`);
  }
  if (next !== null) {
    const at = options.clock.now().toISOString();
    const resealed = next;
    const done = await store.transaction((tx) => tx.compareAndSetSetting(JOIN_LINK_KEY_SETTING, sealed, resealed, at));
    if (done) counts.resealed += 1;
    else counts.changed += 1;
  }
  return report;
}

/** Whether every value that opens is under the first key now (nothing was written meanwhile). */
export function rotationComplete(report: RotationReport): boolean {
  return ROTATION_KINDS.every((kind) => report.counts[kind].changed === 0);
}

const KIND_LABELS: Record<RotationKind, string> = {
  'connection-tokens': 'connection tokens (connections.sealed_tokens)',
  'pkce-verifier': 'pending PKCE verifiers (connections.pending_sealed_verifier)',
  'busy-source-url': 'busy source addresses (busy_sources.url_sealed)',
  setting: 'sealed settings (settings: join-link-key)',
};

/** The report as lines for a terminal: counts per kind and the ids of unopenable rows, never a value. */
export function formatRotationReport(report: RotationReport): string[] {
  const lines = [`re-sealing under key ${report.keyId}:`];
  for (const kind of ROTATION_KINDS) {
    const c = report.counts[kind];
    lines.push(`  ${KIND_LABELS[kind]}: ${c.resealed} re-sealed, ${c.current} already under ${report.keyId}, ${c.unopenable} could not be opened, ${c.changed} changed meanwhile`);
  }
  for (const row of report.unopenable) lines.push(`  could not be opened (left as it is): ${row}`);
  lines.push(
    rotationComplete(report)
      ? `done: every value that opens is sealed under ${report.keyId}; the other keys can be removed from ENCRYPTION_KEYS.`
      : 'some values changed while this ran: run npm run rotate-keys again before removing a key.',
  );
  return lines;
}
