// `npm run migrate`: applies pending migrations to the configured database and exits.
// `npm start` applies them too; this exists for deploys that migrate before rolling out.
import { loadConfig } from '../src/config.js';
import { createStore } from '../src/store/index.js';

const config = loadConfig();
const store = await createStore(config.database, { migrate: true });
await store.close();
const where = config.database.kind === 'sqlite' ? config.database.filename : new URL(config.database.url).host;
console.log(`migrations applied to the ${config.database.kind} database at ${where}`);
