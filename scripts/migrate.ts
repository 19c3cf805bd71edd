// `npm run migrate`: applies pending migrations to the configured database and exits.
// `npm start` applies them too; this exists for deploys that migrate before rolling out.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { createSqliteStore } from '../src/store/index.js';

const config = loadConfig();
await mkdir(path.dirname(path.resolve(config.database.filename)), { recursive: true });
const store = await createSqliteStore({ filename: config.database.filename, migrate: true });
await store.close();
console.log(`migrations applied to ${config.database.kind} database ${config.database.filename}`);
