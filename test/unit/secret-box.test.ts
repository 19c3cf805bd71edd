import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { createSecretBox, DEFAULT_KEY_ID, parseEncryptionKey, type EncryptionKey } from '../../src/crypto/secret-box.js';

describe('SecretBox', () => {
  const box = createSecretBox(randomBytes(32));

  it('when a secret is sealed and opened with the same context, then it round-trips and the ciphertext hides it', () => {
    const sealed = box.seal('ya29.access-token', 'connection:c1');
    assert.ok(!sealed.includes('ya29'));
    assert.equal(box.open(sealed, 'connection:c1'), 'ya29.access-token');
  });

  it('when the same secret is sealed twice, then the ciphertexts differ (random IV)', () => {
    assert.notEqual(box.seal('x', 'c'), box.seal('x', 'c'));
  });

  it('when opened under another context, another key or after tampering, then it throws', () => {
    const sealed = box.seal('secret', 'connection:c1');
    assert.throws(() => box.open(sealed, 'connection:c2'));
    assert.throws(() => createSecretBox(randomBytes(32)).open(sealed, 'connection:c1'));
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2]!, 'base64url');
    body[0] = body[0]! ^ 1;
    assert.throws(() => box.open([parts[0], parts[1], body.toString('base64url'), parts[3]].join('.'), 'connection:c1'));
    assert.throws(() => box.open('garbage', 'connection:c1'));
  });

  it('when a signed payload is verified, then it comes back; altered or foreign signatures give null', () => {
    const signed = box.sign({ connectionId: 'c1', nonce: 'n' });
    assert.deepEqual(box.verify(signed), { connectionId: 'c1', nonce: 'n' });
    const [data, mac] = signed.split('.');
    const altered = Buffer.from(JSON.stringify({ connectionId: 'c2', nonce: 'n' })).toString('base64url');
    assert.equal(box.verify(`${altered}.${mac}`), null);
    assert.equal(box.verify(`${data}.${mac!.slice(0, -2)}AA`), null);
    assert.equal(createSecretBox(randomBytes(32)).verify(signed), null);
    assert.equal(box.verify('nodot'), null);
  });

  it('when a key is given as 64 hex chars or 43 base64url chars, then it parses; other lengths do not', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseEncryptionKey(key.toString('hex')), key);
    assert.deepEqual(parseEncryptionKey(key.toString('base64url')), key);
    assert.equal(parseEncryptionKey('too-short'), null);
    assert.throws(() => createSecretBox(randomBytes(16)));
  });
});

/** A value as the one-key SecretBox of before key ids sealed it: "v1.<iv>.<ct>.<tag>" under ENCRYPTION_KEY. */
function sealV1(masterKey: Buffer, plaintext: string, context: string): string {
  const encKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sessionsync/secret-box/aes-256-gcm', 32));
  const iv = Buffer.alloc(12, 9);
  const cipher = createCipheriv('aes-256-gcm', encKey, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** A state as the one-key SecretBox of before signed it. */
function signV1(masterKey: Buffer, payload: object): string {
  const macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'sessionsync/secret-box/hmac-state', 32));
  const data = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${data}.${createHmac('sha256', macKey).update(data).digest('base64url')}`;
}

describe('SecretBox with a key list', () => {
  const oldKey: EncryptionKey = { id: 'k2025', key: Buffer.alloc(32, 1) };
  const newKey: EncryptionKey = { id: 'k2026', key: Buffer.alloc(32, 2) };
  const before = createSecretBox([oldKey]);
  const during = createSecretBox([newKey, oldKey]);
  const after = createSecretBox([newKey]);

  it('when a value is sealed, then it names the first key: v2.<keyId>.<iv>.<ct>.<tag>', () => {
    const parts = during.seal('ya29.token', 'connection-tokens:c1').split('.');
    assert.equal(parts.length, 5);
    assert.deepEqual(parts.slice(0, 2), ['v2', 'k2026']);
    assert.equal(during.currentKeyId, 'k2026');
    assert.equal(createSecretBox(randomBytes(32)).seal('x', 'c').split('.')[1], DEFAULT_KEY_ID);
  });

  it('when the list holds several keys, then a value sealed under any of them opens', () => {
    assert.equal(during.open(before.seal('old secret', 'ctx'), 'ctx'), 'old secret');
    assert.equal(during.open(during.seal('new secret', 'ctx'), 'ctx'), 'new secret');
    assert.equal(after.open(during.seal('new secret', 'ctx'), 'ctx'), 'new secret');
  });

  it('when a key is removed from the list, then what only it sealed no longer opens', () => {
    const sealed = before.seal('old secret', 'ctx');
    assert.throws(() => after.open(sealed, 'ctx'), /does not open with any configured encryption key/);
    assert.throws(() => createSecretBox([{ id: 'k2025', key: Buffer.alloc(32, 3) }]).open(sealed, 'ctx'));
  });

  it('when a v1 value (no key id) was sealed by the old ENCRYPTION_KEY, then any list holding that key opens it', () => {
    const sealed = sealV1(oldKey.key, 'pkce verifier', 'pkce:c1');
    assert.equal(createSecretBox(oldKey.key).open(sealed, 'pkce:c1'), 'pkce verifier');
    assert.equal(during.open(sealed, 'pkce:c1'), 'pkce verifier');
    assert.throws(() => after.open(sealed, 'pkce:c1'));
    assert.throws(() => during.open(sealed, 'pkce:c2'));
  });

  it('when a key is listed under another id than the one it sealed with, then its values still open (GCM tells the key)', () => {
    const renamed = createSecretBox([newKey, { id: 'renamed', key: oldKey.key }]);
    assert.equal(renamed.open(before.seal('s', 'ctx'), 'ctx'), 's');
  });

  it('when any part of a v2 value is tampered with, then it does not open', () => {
    const sealed = during.seal('secret', 'ctx');
    const parts = sealed.split('.');
    for (const index of [2, 3, 4]) {
      const bytes = Buffer.from(parts[index]!, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      const tampered = parts.map((p, i) => (i === index ? bytes.toString('base64url') : p)).join('.');
      assert.throws(() => during.open(tampered, 'ctx'), `part ${index}`);
    }
    assert.throws(() => during.open(`${sealed}.extra`, 'ctx'), /not a sealed value/);
    assert.throws(() => during.open(['v3', ...parts.slice(1)].join('.'), 'ctx'), /not a sealed value/);
  });

  it('when a value is resealed, then it comes back under the first key, or null when it already is', () => {
    const old = before.seal('s', 'ctx');
    const resealed = during.reseal(old, 'ctx');
    assert.ok(resealed !== null);
    assert.equal(resealed.split('.')[1], 'k2026');
    assert.equal(after.open(resealed, 'ctx'), 's');
    assert.equal(during.reseal(resealed, 'ctx'), null);
    assert.ok(during.reseal(sealV1(newKey.key, 's', 'ctx'), 'ctx') !== null, 'a v1 value is resealed even under the first key');
    assert.throws(() => after.reseal(old, 'ctx'));
  });

  it('when states are signed, then the first key signs, any listed key verifies, and a removed key does not', () => {
    const payload = { c: 'conn-1', n: 'nonce' };
    assert.deepEqual(during.verify(before.sign(payload)), payload);
    assert.deepEqual(during.verify(signV1(oldKey.key, payload)), payload);
    assert.deepEqual(after.verify(during.sign(payload)), payload);
    assert.equal(after.verify(before.sign(payload)), null);
    assert.equal(during.sign(payload), after.sign(payload));
    assert.equal(during.verify(`${during.sign(payload)}.extra`), null);
  });

  it('when the key derived for another purpose is asked for, then it comes from the oldest key, as from ENCRYPTION_KEY before', () => {
    const info = 'sessionsync/join-link/hmac';
    assert.deepEqual(during.deriveKey(info), createSecretBox(oldKey.key).deriveKey(info));
    assert.deepEqual(during.deriveKey(info), Buffer.from(hkdfSync('sha256', oldKey.key, Buffer.alloc(0), info, 32)));
  });

  it('when the list is empty, an id is repeated or malformed, or a key is not 32 bytes, then it is refused', () => {
    assert.throws(() => createSecretBox([]), RangeError);
    assert.throws(() => createSecretBox([newKey, { ...oldKey, id: 'k2026' }]), /used twice/);
    assert.throws(() => createSecretBox([{ id: 'a.b', key: Buffer.alloc(32) }]), RangeError);
    assert.throws(() => createSecretBox([{ id: 'short', key: Buffer.alloc(16) }]), RangeError);
  });
});
