import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

// Secrets at rest (OAuth tokens, PKCE verifiers, busy source addresses, the join-link key) are
// sealed with AES-256-GCM; OAuth `state` values and CSRF tokens are signed with HMAC-SHA256. Both
// keys are derived from each master key with HKDF so that a signature can never be replayed as a
// ciphertext or the other way round. The master keys are an ordered list (ENCRYPTION_KEYS): the
// first seals and signs, every one opens and verifies, so a key can be rotated out (npm run
// rotate-keys re-seals what the others sealed).

/** Sealed before key ids: "v1.<iv>.<ciphertext>.<tag>", under the one ENCRYPTION_KEY of the time. */
const VERSION_1 = 'v1';
/** "v2.<keyId>.<iv>.<ciphertext>.<tag>". */
const VERSION_2 = 'v2';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const ENC_INFO = 'sessionsync/secret-box/aes-256-gcm';
const MAC_INFO = 'sessionsync/secret-box/hmac-state';

/** A key id: short, and free of the '.' that separates a sealed value's parts. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** The id ENCRYPTION_KEY gets as a one-key list: ENCRYPTION_KEY=k is ENCRYPTION_KEYS=default:k. */
export const DEFAULT_KEY_ID = 'default';

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface SecretBox {
  /** The id of the key that seals and signs (the first of the list). */
  readonly currentKeyId: string;
  /** "v2.<keyId>.<iv>.<ciphertext>.<tag>" (base64url) under the first key; `context` is bound as additional data. */
  seal(plaintext: string, context: string): string;
  /** Throws when no key of the list sealed the value for this context (also v1 values, sealed before key ids). */
  open(sealed: string, context: string): string;
  /**
   * The value sealed again under the first key, or null when it already is (v2 with the first
   * key's id, and that key opens it); throws like open when no key opens it.
   */
  reseal(sealed: string, context: string): string | null;
  /** "<payload>.<mac>" where payload is base64url JSON, under the first key. */
  sign(payload: object): string;
  /** The payload when the MAC is valid under any key of the list, else null (constant-time comparison). */
  verify(signed: string): unknown;
  /**
   * A 32-byte key for one other purpose: HKDF of the last (oldest) master key with `info`; the same
   * info, the same key. It changes when that key leaves the list, so whatever must outlive a
   * rotation stores what it derived (the join-link key lives sealed in the settings table).
   */
  deriveKey(info: string): Buffer;
}

export function parseEncryptionKey(value: string): Buffer | null {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64url');
  return key.length === 32 ? key : null;
}

interface DerivedKey {
  id: string;
  master: Buffer;
  enc: Buffer;
  mac: Buffer;
}

function deriveFrom(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}

function decrypt(enc: Buffer, iv: string, body: string, tag: string, context: string): string {
  const decipher = createDecipheriv('aes-256-gcm', enc, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

/** `keys`: the ordered list (first seals), or one master key alone (id DEFAULT_KEY_ID). */
export function createSecretBox(keys: Buffer | readonly EncryptionKey[]): SecretBox {
  const list: readonly EncryptionKey[] = Buffer.isBuffer(keys) ? [{ id: DEFAULT_KEY_ID, key: keys }] : keys;
  if (list.length === 0) throw new RangeError('the SecretBox needs at least one key');
  const seen = new Set<string>();
  const derived: DerivedKey[] = list.map(({ id, key }) => {
    if (key.length !== 32) throw new RangeError(`encryption key ${JSON.stringify(id)} must be 32 bytes`);
    if (!KEY_ID_PATTERN.test(id)) throw new RangeError('an encryption key id must be 1-32 characters of A-Z, a-z, 0-9, _ and -');
    if (seen.has(id)) throw new RangeError(`encryption key id ${JSON.stringify(id)} is used twice`);
    seen.add(id);
    return { id, master: key, enc: deriveFrom(key, ENC_INFO), mac: deriveFrom(key, MAC_INFO) };
  });
  const first = derived[0]!;
  const oldest = derived[derived.length - 1]!;

  /** The plaintext and the key that opened it. GCM authentication tells which key sealed a value. */
  const openWith = (sealed: string, context: string): { plaintext: string; key: DerivedKey; tagged: boolean } => {
    const parts = sealed.split('.');
    let keyId: string | undefined;
    let rest: (string | undefined)[];
    if (parts[0] === VERSION_2 && parts.length === 5) {
      keyId = parts[1];
      rest = parts.slice(2);
    } else if (parts[0] === VERSION_1 && parts.length === 4) {
      rest = parts.slice(1);
    } else {
      throw new Error('not a sealed value');
    }
    const [iv, body, tag] = rest;
    if (!iv || body === undefined || !tag) throw new Error('not a sealed value');
    // The key the value names first; then the others, in order: v1 values name none, and a key
    // may have been listed under another id than the one it sealed with.
    const named = derived.find((k) => k.id === keyId);
    const candidates = named === undefined ? derived : [named, ...derived.filter((k) => k !== named)];
    for (const key of candidates) {
      try {
        return { plaintext: decrypt(key.enc, iv, body, tag, context), key, tagged: key === named };
      } catch {
        // Not this key (or not this context, or tampered): the next one, if any.
      }
    }
    throw new Error('the value does not open with any configured encryption key for this context');
  };

  const mac = (key: DerivedKey, data: string) => createHmac('sha256', key.mac).update(data).digest();

  const box: SecretBox = {
    currentKeyId: first.id,
    deriveKey(info) {
      if (info.startsWith('sessionsync/secret-box/')) throw new RangeError('that info names a key of the SecretBox itself');
      return deriveFrom(oldest.master, info);
    },
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', first.enc, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION_2, first.id, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, context) {
      return openWith(sealed, context).plaintext;
    },
    reseal(sealed, context) {
      const opened = openWith(sealed, context);
      if (opened.key === first && opened.tagged) return null;
      return box.seal(opened.plaintext, context);
    },
    sign(payload) {
      const data = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
      return `${data}.${mac(first, data).toString('base64url')}`;
    },
    verify(signed) {
      const [data, signature, extra] = signed.split('.');
      if (!data || !signature || extra !== undefined) return null;
      const given = Buffer.from(signature, 'base64url');
      // Every key is compared, matched or not, so the time taken does not tell which key matched.
      let valid = false;
      for (const key of derived) {
        const expected = mac(key, data);
        if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
      }
      if (!valid) return null;
      try {
        return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as unknown;
      } catch {
        return null;
      }
    },
  };
  return box;
}
