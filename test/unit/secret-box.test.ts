import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSecretBox, parseEncryptionKey } from '../../src/crypto/secret-box.js';

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
