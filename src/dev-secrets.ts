import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
