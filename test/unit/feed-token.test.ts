import assert from 'node:assert/strict';
import { generateFeedToken, hashFeedToken, isWellFormedFeedToken } from '../../feeds/index.js';

describe('feed tokens', () => {
  describe('generateFeedToken', () => {
    it('when a token is generated, then it is 43 base64url characters encoding 32 bytes', () => {
      const token = generateFeedToken();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(token, 'base64url').length, 32);
    });

    it('when two tokens are generated, then they differ', () => {
      assert.notEqual(generateFeedToken(), generateFeedToken());
    });
  });

  describe('hashFeedToken', () => {
    it('when a token is hashed, then the hash is 64 lowercase hex characters', () => {
      assert.match(hashFeedToken(generateFeedToken()), /^[0-9a-f]{64}$/);
    });

    it('when the same token is hashed twice, then the hashes are equal and are its SHA-256', () => {
      const token = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
      assert.equal(hashFeedToken(token), hashFeedToken(token));
      // printf %s <token> | sha256sum (the token encodes the bytes 0..31)
      assert.equal(hashFeedToken(token), 'ea866a757e4c38babfa8127cbe9a409d3e1f93a00ff1488ff735fcf917afffd0');
    });

    it('when two different tokens are hashed, then the hashes differ', () => {
      assert.notEqual(hashFeedToken(generateFeedToken()), hashFeedToken(generateFeedToken()));
    });
  });

  describe('isWellFormedFeedToken', () => {
    it('when any last character is tried, then exactly those that round-trip through 32 bytes are well formed', () => {
      const token = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (const last of alphabet) {
        const s = `${token.slice(0, 42)}${last}`;
        assert.equal(isWellFormedFeedToken(s), Buffer.from(s, 'base64url').toString('base64url') === s, s);
      }
    });

    it('when given a generated token, then it is well formed', () => {
      assert.equal(isWellFormedFeedToken(generateFeedToken()), true);
    });

    it('when given a wrong length, padding, a foreign character or unused bits set, then it is not well formed', () => {
      const token = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
      for (const s of [
        '',
        token.slice(0, 42),
        `${token}A`,
        `${token}=`,
        `${token.slice(0, 42)}+`,
        `${token.slice(0, 42)}/`,
        `${token.slice(0, 21)}.${token.slice(22)}`,
        // Last character "9" sets the 2 bits beyond the 32nd byte: no 32-byte token encodes to it.
        `${token.slice(0, 42)}9`,
      ]) {
        assert.equal(isWellFormedFeedToken(s), false, JSON.stringify(s));
      }
    });
  });
});
