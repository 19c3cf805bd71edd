import type { SecretBox } from '../crypto/secret-box.js';
import { createJoinLinks, JOIN_LINK_KEY_INFO } from '../domain/index.js';
import type { Clock, JoinLinks, Store } from '../domain/index.js';

// The key of the stable join links (/j/<token>) is stored, sealed, in the settings table, so that
// rotating ENCRYPTION_KEYS never changes a link: clients hold the URLs in their invites and the
// sessions hold SHA-256 of the tokens. It is the key derived from the oldest key of the list
// (SecretBox.deriveKey), which on an upgrade is the ENCRYPTION_KEY the links were made with, and
// once stored it stays, whatever keys come and go.

export const JOIN_LINK_KEY_SETTING = 'join-link-key';
/** The additional data of the sealed setting: the setting's name, bound to the row. */
export const JOIN_LINK_KEY_CONTEXT = `setting:${JOIN_LINK_KEY_SETTING}`;

export class JoinLinkKeyError extends Error {
  constructor(cause: unknown) {
    super(
      'The stored join-link key does not open with the configured encryption keys: put back the key it was sealed with ' +
        '(run npm run rotate-keys before removing a key from ENCRYPTION_KEYS).',
      { cause },
    );
    this.name = 'JoinLinkKeyError';
  }
}

/** The sealed join-link key as stored, after storing the derived one if none was (see loadJoinLinkKey). */
export async function storeJoinLinkKeyIfAbsent(deps: { store: Store; secrets: SecretBox; clock: Clock }): Promise<string> {
  const { store, secrets } = deps;
  const stored = await store.getSetting(JOIN_LINK_KEY_SETTING);
  if (stored !== null) return stored;
  const derived = secrets.seal(secrets.deriveKey(JOIN_LINK_KEY_INFO).toString('base64url'), JOIN_LINK_KEY_CONTEXT);
  const at = deps.clock.now().toISOString();
  return store.transaction((tx) => tx.putSettingIfAbsent(JOIN_LINK_KEY_SETTING, derived, at));
}

/**
 * The join-link key: the stored one, or (first start of this version, or a new database) the one
 * derived as before, stored if absent. Two processes starting at once both read back the first
 * one stored, so they agree.
 */
export async function loadJoinLinkKey(deps: { store: Store; secrets: SecretBox; clock: Clock }): Promise<Buffer> {
  const sealed = await storeJoinLinkKeyIfAbsent(deps);
  let key: Buffer;
  try {
    key = Buffer.from(deps.secrets.open(sealed, JOIN_LINK_KEY_CONTEXT), 'base64url');
  } catch (err) {
    throw new JoinLinkKeyError(err);
  }
  if (key.length !== 32) throw new JoinLinkKeyError(new RangeError('the stored join-link key is not 32 bytes'));
  return key;
}

/** The /j/ links of this deployment: the stored join-link key and PUBLIC_BASE_URL. */
export async function loadJoinLinks(deps: { store: Store; secrets: SecretBox; clock: Clock; publicBaseUrl: string }): Promise<JoinLinks> {
  return createJoinLinks({ key: await loadJoinLinkKey(deps), publicBaseUrl: deps.publicBaseUrl });
}
