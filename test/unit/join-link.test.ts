import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSecretBox } from '../../src/crypto/secret-box.js';
import { createJoinLinks, hashJoinToken, isWellFormedJoinToken, JOIN_LINK_KEY_INFO } from '../../src/domain/index.js';

describe('createJoinLinks', () => {
  const key = createSecretBox(randomBytes(32)).deriveKey(JOIN_LINK_KEY_INFO);
  const links = createJoinLinks({ key, publicBaseUrl: 'https://sync.example.test/' });

  it('when asked twice for one session, then the token is the same, 32 base64url characters (192 bits), and the URL is /j/<token>', () => {
    const a = links.token({ providerId: 'p1', id: 's1' });
    assert.equal(links.token({ providerId: 'p1', id: 's1' }), a);
    assert.ok(isWellFormedJoinToken(a));
    assert.equal(links.url({ providerId: 'p1', id: 's1' }), `https://sync.example.test/j/${a}`);
    assert.equal(links.tokenHash({ providerId: 'p1', id: 's1' }), hashJoinToken(a));
    assert.match(hashJoinToken(a), /^[0-9a-f]{64}$/);
  });

  it('when ids differ or could be joined ambiguously, or the key differs, then the tokens differ', () => {
    const tokens = new Set([
      links.token({ providerId: 'p1', id: 's1' }),
      links.token({ providerId: 'p1', id: 's2' }),
      links.token({ providerId: 'p1:s', id: '1' }),
      links.token({ providerId: 'p1', id: 's:1' }),
      createJoinLinks({ key: createSecretBox(randomBytes(32)).deriveKey(JOIN_LINK_KEY_INFO), publicBaseUrl: 'https://x' }).token({ providerId: 'p1', id: 's1' }),
    ]);
    assert.equal(tokens.size, 5);
  });

  it('when more sessions are asked for than the tokens kept, twice over, then every token is the HMAC of its session under the key', () => {
    const expected = (providerId: string, id: string) =>
      createHmac('sha256', key).update(`join:${JSON.stringify([providerId, id])}`).digest().subarray(0, 24).toString('base64url');
    const fresh = createJoinLinks({ key, publicBaseUrl: 'https://x' });
    for (const round of [0, 1]) {
      for (let i = 0; i < 20_050; i++) {
        const session = { providerId: `p${i % 7}`, id: `s${i}` };
        const token = fresh.token(session);
        if (token !== expected(session.providerId, session.id)) assert.fail(`round ${round}, session ${i}: ${token}`);
      }
    }
  });

  it('when the SecretBox is asked for one of its own keys by deriveKey, then it refuses', () => {
    assert.throws(() => createSecretBox(randomBytes(32)).deriveKey('sessionsync/secret-box/aes-256-gcm'), RangeError);
  });
});
