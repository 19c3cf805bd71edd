// Public surface of the Google adapter: factories and plain types only (no googleapis types).
export { createGoogleConnector } from './google-connector.js';
export type { GoogleConnectorDeps } from './google-connector.js';
export { createGoogleOAuth, GOOGLE_DEFAULT_SCOPES } from './google-oauth.js';
export type { GoogleConfig } from './google-oauth.js';
export { toGoogleEvent } from './google-event-mapper.js';
export type { GoogleEventBody } from './google-event-mapper.js';
