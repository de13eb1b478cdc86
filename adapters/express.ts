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
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import express, { type Express, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Switchyard } from '../lib/hub.js';
import type { AuthRequest } from '../lib/transport.js';
import { httpApi, type HttpApiOptions } from './http-api.js';
import { attachUpgrades, type AttachOptions, type Attachment } from './http.js';

export type { AttachOptions, Attachment } from './http.js';
export type { ApiAuthRequest, HttpApiOptions } from './http-api.js';

/**
 * What `authenticate` receives when {@link attach} is given the app: `raw` is an Express `Request`
 * (`req.get()`, `req.query`, and whatever `runMiddleware` adds, such as `req.session`).
 * Annotate the hook with it: `authenticate: async ({ raw }: ExpressAuthRequest) => ...`.
 * Without `app`, `raw` is the plain `IncomingMessage` (`HttpAuthRequest`).
 */
export type ExpressAuthRequest = AuthRequest<Request>;

/** Options of {@link attach}. */
export interface ExpressAttachOptions extends AttachOptions {
  /** The Express app: when given, `authenticate` receives the upgrade request as an Express `Request` (`req.raw`). */
  app?: Express;
}

/**
 * Mounts the WebSocket endpoint at `options.path` on the server `app.listen()` returns (Express
 * never sees upgrade requests). Upgrades for other paths are left to other listeners. Origin,
 * subprotocol and authentication checks run before the handshake.
 * @throws SwitchyardError (150) when `path` is missing or does not start with `/`, or `unhandledUpgradeTimeout` is not a positive integer or false.
 */
export function attach(hub: Switchyard, server: Server, options: ExpressAttachOptions): Attachment {
  const app = options?.app;
  // Express turns a request into its Request the same way (app.handle): prototypes from the app,
  // a response alongside. The response is detached from the socket: nothing set on it is sent.
  const asExpress = (req: IncomingMessage): Request => {
    const res = new ServerResponse(req);
    Object.setPrototypeOf(req, app!.request);
    Object.setPrototypeOf(res, app!.response);
    Object.assign(req, { res });
    Object.assign(res, { req, locals: Object.create(null) });
    return req as Request;
  };
  return attachUpgrades(hub, server, options, app ? asExpress : undefined);
}

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
    if (prefix === '' && req.baseUrl === '')
      return next(
        new Error("switchyard: mount apiRouter under a path, e.g. app.use('/realtime/api', apiRouter(hub, opts))"),
      );
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
