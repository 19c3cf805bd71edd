import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_KEY_ID, parseEncryptionKey, type EncryptionKey } from './crypto/secret-box.js';

/**
 * Development convenience: a secret that is not configured is generated once into
 * <dataDir>/<name> (mode 0600) and reused on later starts. Production refuses to start without
 * the configured value (see config.ts), so these files exist only on developer machines.
 */
export async function loadOrCreateDevSecret(dataDir: string, name: string): Promise<{ value: string; file: string; created: boolean }> {
  const file = path.resolve(dataDir, name);
  try {
    const value = (await readFile(file, 'utf8')).trim();
    if (value.length >= 43) return { value, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return { value, file, created: true };
}

/**
 * The configured encryption keys, or (development, none configured) the one generated into
 * <dataDir>/encryption-key as a one-key list; `generated` tells which file, for the warning.
 */
export async function encryptionKeysOrDevKey(
  configured: readonly EncryptionKey[] | undefined,
  dataDir: string,
): Promise<{ keys: readonly EncryptionKey[]; generated: { file: string; created: boolean } | null }> {
  if (configured !== undefined) return { keys: configured, generated: null };
  const generated = await loadOrCreateDevSecret(dataDir, 'encryption-key');
  const key = parseEncryptionKey(generated.value);
  if (key === null) throw new Error('the development encryption key file is damaged; delete it to make a new one');
  return { keys: [{ id: DEFAULT_KEY_ID, key }], generated: { file: generated.file, created: generated.created } };
}
