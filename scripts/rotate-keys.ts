// `npm run rotate-keys [-- --batch-size <n>]`: seals every sealed value in the configured database
// again under the first key of ENCRYPTION_KEYS (each with its own context), in batches of 200 rows
// per transaction, and reports per kind what it re-sealed, what was already under that key and
// what no key opens (ids only, never a value). Safe while the service runs. Exit status 0 when
// everything that opens is under the first key (the other keys may then be removed), 1 when
// values changed meanwhile (run it again) or on a configuration error.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../src/config.js';
import { createSecretBox } from '../src/crypto/secret-box.js';
import { encryptionKeysOrDevKey } from '../src/dev-secrets.js';
import { DEFAULT_BATCH_SIZE, formatRotationReport, rotateSealedValues, rotationComplete, type RotationReport } from '../src/services/key-rotation.js';
import { createStore } from '../src/store/index.js';

export interface RotateKeysOptions {
  /** The environment to configure from (default process.env), as the service reads it. */
  env?: NodeJS.ProcessEnv;
  batchSize?: number;
}

/** Opens the configured store (migrated, as npm run migrate does), rotates, closes it. */
export async function rotateKeys(options: RotateKeysOptions = {}): Promise<RotationReport> {
  const config = loadConfig(options.env ?? process.env);
  const { keys } = await encryptionKeysOrDevKey(config.encryptionKeys, config.dataDir);
  const secrets = createSecretBox(keys);
  const store = await createStore(config.database, { migrate: true });
  try {
    return await rotateSealedValues({ store, secrets, clock: { now: () => new Date() }, batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE });
  } finally {
    await store.close();
  }
}

function parseArgs(argv: readonly string[]): { batchSize: number } | string {
  let batchSize = DEFAULT_BATCH_SIZE;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = arg === '--batch-size' ? argv[++i] : arg?.startsWith('--batch-size=') ? arg.slice('--batch-size='.length) : undefined;
    if (value === undefined || !/^[1-9][0-9]{0,5}$/.test(value)) return 'usage: npm run rotate-keys [-- --batch-size <1-999999>]';
    batchSize = Number(value);
  }
  return { batchSize };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n`);
    process.exit(2);
  }
  try {
    const report = await rotateKeys({ batchSize: args.batchSize });
    for (const line of formatRotationReport(report)) console.log(line);
    process.exitCode = rotationComplete(report) ? 0 : 1;
  } catch (err) {
    // A configuration error lists the bad keys (never their values); anything else by its name
    // and message only: this script handles secrets, and a stack adds nothing for an operator.
    process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `rotate-keys failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
