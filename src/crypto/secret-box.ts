import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

// Secrets at rest (OAuth tokens, PKCE verifiers) are sealed with AES-256-GCM; OAuth `state`
// values are signed with HMAC-SHA256. Both keys are derived from the one ENCRYPTION_KEY with
// HKDF so that a signature can never be replayed as a ciphertext or the other way round.

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface SecretBox {
  /** "v1.<iv>.<ciphertext>.<tag>" (base64url); `context` is bound as additional data. */
  seal(plaintext: string, context: string): string;
  /** Throws when the value was not sealed by this key for this context. */
  open(sealed: string, context: string): string;
  /** "<payload>.<mac>" where payload is base64url JSON. */
  sign(payload: object): string;
  /** The payload when the MAC is valid, else null (constant-time comparison). */
  verify(signed: string): unknown;
  /** A 32-byte key for one other purpose (HKDF of ENCRYPTION_KEY with `info`); the same info, the same key. */
  deriveKey(info: string): Buffer;
}

export function parseEncryptionKey(value: string): Buffer | null {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64url');
  return key.length === 32 ? key : null;
}

export function createSecretBox(masterKey: Buffer): SecretBox {
  if (masterKey.length !== 32) throw new RangeError('ENCRYPTION_KEY must be 32 bytes');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, 32));
  const encKey = derive('sessionsync/secret-box/aes-256-gcm');
  const macKey = derive('sessionsync/secret-box/hmac-state');

  const mac = (data: string) => createHmac('sha256', macKey).update(data).digest();

  return {
    deriveKey(info) {
      if (info.startsWith('sessionsync/secret-box/')) throw new RangeError('that info names a key of the SecretBox itself');
      return derive(info);
    },
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [version, iv, body, tag] = sealed.split('.');
      if (version !== VERSION || !iv || body === undefined || !tag) throw new Error('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
    sign(payload) {
      const data = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
      return `${data}.${mac(data).toString('base64url')}`;
    },
    verify(signed) {
      const [data, signature] = signed.split('.');
      if (!data || !signature) return null;
      const expected = mac(data);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      try {
        return JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as unknown;
      } catch {
        return null;
      }
    },
  };
}
