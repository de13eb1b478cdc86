/**
 * `switchyardjs/express`: Express 5 integration. The HTTP API is an Express router you mount with
 * `app.use(path, ...)`; the WebSocket endpoint attaches to the server `app.listen()` returns
 * (Express routes plain HTTP only, so upgrades are answered by the shared upgrade handler of
 * `switchyardjs/http`, with the same origin, subprotocol and authentication checks).
 * Express is an optional peer dependency: only this subpath loads it.
 *
 * ```js
 * app.use('/realtime/api', apiRouter(hub, { apiKey: process.env.SWITCHYARD_API_KEY }));
 * const server = app.listen(3000);
 * attach(hub, server, { path: '/realtime' });
 * ```
 * @module switchyard/express
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Switchyard } from '../lib/hub.js';
import { httpApi, type HttpApiOptions } from './http-api.js';

export { attach, type AttachOptions, type Attachment } from './http.js';
export type { ApiAuthRequest, HttpApiOptions } from './http-api.js';

/**
 * The HTTP API as an Express router. Mount it under a path: `app.use('/realtime/api', apiRouter(hub, opts))`.
 * `options.prefix` defaults to `''` (the mount path is the prefix). Requests under the mount are
 * answered here (unknown endpoints get 404 with error 116); everything else goes on with `next()`.
 * A body `express.json()` already parsed is used as is (its own size limit then applies); otherwise
 * the body is read here, limited to `maxBodyBytes`.
 * The app's middleware before the router runs first, so your own auth can guard the API; the
 * `authorize` option receives the Express `req` as `raw`.
 * @throws SwitchyardError (150) for bad options, see {@link HttpApiOptions}.
 */
export function apiRouter(hub: Switchyard, options: HttpApiOptions): Router {
  const prefix = options?.prefix ?? '';
  const handle = httpApi(hub, { ...options, prefix });
  const router = express.Router();
  router.use((req: Request, res: Response, next) => {
    // With no prefix the mount path is the only boundary; at the root it would swallow every route.
    if (prefix === '' && req.baseUrl === '') return next(new Error("switchyard: mount apiRouter under a path, e.g. app.use('/realtime/api', apiRouter(hub, opts))"));
    handle(req, res, next);
  });
  return router;
}

/**
 * Runs Express/connect middleware (a session, cookie parser, passport deserializer) on a request
 * outside Express — typically the upgrade request inside `authenticate`, so the WebSocket
 * endpoint sees the same `req.session`/`req.user` as your routes:
 *
 * ```js
 * authenticate: async ({ raw }) => ((await runMiddleware(raw, session)) ? raw.user ?? null : null)
 * ```
 *
 * Resolves true when every middleware called `next()`, false when one ended the response
 * instead (treat it as refused). Rejects when one calls `next(err)` or throws (the upgrade is then
 * refused with 500). The response the middleware sees is detached from the socket: headers and
 * cookies it sets are not sent, and Express-only response helpers (`res.status`) are absent.
 */
export async function runMiddleware(req: IncomingMessage, ...middleware: RequestHandler[]): Promise<boolean> {
  const res = new ServerResponse(req);
  for (const mw of middleware) {
    const passed = await new Promise<boolean>((resolve, reject) => {
      res.end = ((): ServerResponse => {
        resolve(false);
        return res;
      }) as ServerResponse['end'];
      const next = (err?: unknown): void => (err && err !== 'route' && err !== 'router' ? reject(err) : resolve(true));
      try {
        Promise.resolve(mw(req as Request, res as unknown as Response, next)).catch(reject);
      } catch (err) {
        reject(err);
      }
    });
    if (!passed) return false;
  }
  return true;
}
