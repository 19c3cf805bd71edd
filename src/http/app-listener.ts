import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Express } from 'express';

/** A part of the app answered ahead of Express: true when it took the request. */
export type AheadOfExpress = ((req: IncomingMessage, res: ServerResponse) => boolean) & { readonly routes: readonly string[] };

/**
 * The app as a server runs it: one request listener that offers each request to `ahead` (the
 * feed routes) and gives Express only what that did not take. Feed polls are nearly all the
 * traffic and the cheapest answers; Express's entry (its request and response prototypes
 * swapped in, its router walked) cost a 304 more than its own work did (npm run bench).
 */
export interface App {
  (req: IncomingMessage, res: ServerResponse): void;
  /** An http.Server on this listener, listening, as Express's app.listen gives. */
  listen(port: number, host?: string, callback?: () => void): Server;
  /** The Express app behind it (its router, for the route listing). */
  readonly express: Express;
  /** Routes answered ahead of Express, as "GET /feeds/:file". */
  readonly aheadRoutes: readonly string[];
}

export function appListener(ahead: AheadOfExpress, express: Express): App {
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (!ahead(req, res)) express(req, res);
  };
  return Object.assign(listener, {
    listen: (port: number, host?: string, callback?: () => void): Server => {
      const server = http.createServer(listener);
      return host === undefined ? server.listen(port, callback) : server.listen(port, host, callback);
    },
    express,
    aheadRoutes: ahead.routes,
  });
}
