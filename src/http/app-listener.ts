import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { FeedRoutes } from '../../feeds/index.js';

/**
 * The app as a server runs it (http.createServer(app)): one request listener that offers each
 * request to the feed routes and gives Express only what they did not take. Feed polls are nearly
 * all the traffic and the cheapest answers; Express's entry (its request and response prototypes
 * swapped in, its router walked) cost a 304 more than its own work did (npm run bench).
 */
export interface App {
  (req: IncomingMessage, res: ServerResponse): void;
  /** The Express app behind it (its router, for the route listing). */
  readonly express: Express;
  /** Routes answered ahead of Express, as "GET /feeds/:file". */
  readonly aheadRoutes: readonly string[];
}

export function appListener(feeds: FeedRoutes, express: Express): App {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (!feeds(req, res)) express(req, res);
  };
  return Object.assign(listener, { express, aheadRoutes: feeds.routes });
}
