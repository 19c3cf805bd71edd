// `npm run portal-link -- <providerId>`: prints a single-use link (15 minutes) that opens the
// provider's portal, against the configured database and PUBLIC_BASE_URL.
import { loadConfig } from '../src/config.js';
import { WebSessionService } from '../src/services/web-session-service.js';
import { createStore } from '../src/store/index.js';

const providerId = process.argv[2];
if (providerId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(providerId)) {
  process.stderr.write('usage: npm run portal-link -- <providerId>\n');
  process.exit(2);
}
const config = loadConfig();
const store = await createStore(config.database, { migrate: true });
try {
  const sessions = new WebSessionService({ store, clock: { now: () => new Date() }, publicBaseUrl: config.publicBaseUrl });
  const { url, expiresAt } = await sessions.issuePortalLink(providerId, 'cli');
  console.log(url);
  process.stderr.write(`single use, valid until ${expiresAt}\n`);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await store.close();
}
