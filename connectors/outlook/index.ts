// Public surface of the Outlook / Microsoft 365 adapter: a CalendarConnector and an OAuthProvider.
// Microsoft Graph types stay inside this folder.
export { createOutlookConnector } from './outlook-connector.js';
export type { OutlookConnectorDeps } from './outlook-connector.js';
export { createMicrosoftOAuth, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, DEFAULT_MICROSOFT_SCOPES } from './microsoft-oauth.js';
export type { MicrosoftConfig, MicrosoftHttpDeps } from './microsoft-oauth.js';
export { toGraphEvent } from './graph-event-mapper.js';
export type { GraphEventWrite } from './graph-event-mapper.js';
