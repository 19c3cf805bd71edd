// Public surface of feeds/: the ICS renderer, feed-token helpers, and the feed service and HTTP
// handler that src/app.ts wires up.
export {
  assembleCalendar,
  joinParts,
  renderCalendar,
  renderEvent,
  spanBytes,
  type AssembledCalendar,
  type BodySpan,
  type EventFragment,
  type RenderCalendarOptions,
} from './ics-renderer.js';
export { generateFeedToken, hashFeedToken, isWellFormedFeedToken } from './feed-token.js';
export { FeedService, type FeedServiceOptions } from './feed-service.js';
export { feedRoutes, type FeedPollObserver, type FeedRoutes } from './feed-http.js';
