/**
 * `switchyardjs/koa`: Koa 3 integration. {@link switchyard} is middleware that exposes the hub as
 * `ctx.state.switchyard` and answers the HTTP API; {@link attach} mounts the WebSocket endpoint
 * on the server `app.listen()` returns and, given the app, hands `authenticate` a Koa context
 * (`req.raw`) so it can read `ctx.cookies` (signed with `app.keys`) like your routes do.
 * Koa is an optional peer dependency: only this subpath loads it.
 *
 * ```js
 * app.use(switchyard(hub, { api: { apiKey: process.env.SWITCHYARD_API_KEY } }));
 * const server = app.listen(3000);
 * attach(hub, server, { path: '/realtime', app });
 * ```
 * @module switchyard/koa
 */
import { ServerResponse, type Server } from 'node:http';
import type Koa from 'koa';
import { optionError } from '../lib/errors.js';
import type { Switchyard } from '../lib/hub.js';
import type { AuthRequest } from '../lib/transport.js';
import { createApi, readBody, type HttpApiOptions } from './http-api.js';
import { attachUpgrades, type AttachOptions, type Attachment } from './http.js';

export type { AttachOptions, Attachment } from './http.js';
export type { ApiAuthRequest, HttpApiOptions } from './http-api.js';

declare module 'koa' {
  interface DefaultState {
    /** The hub, set by the `switchyardjs/koa` middleware for every request after it. */
    switchyard: Switchyard;
  }
}

/**
 * What `authenticate` receives when {@link attach} is given the app: `raw` is a Koa `Context`
 * (`ctx.cookies` with `app.keys`, `ctx.state`). Annotate the hook with it:
 * `authenticate: ({ raw }: KoaAuthRequest) => ...`. Without `app`, `raw` is the plain
 * `IncomingMessage` (`HttpAuthRequest`).
 */
export type KoaAuthRequest = AuthRequest<Koa.Context>;

/** Options of the Koa middleware. */
export interface KoaOptions {
  /**
   * The HTTP API, mounted under `api.prefix` (default `'/realtime/api'`); `false` mounts none and
   * the middleware only sets `ctx.state.switchyard`. Default `false`. The `authorize` option
   * receives the Koa context as `raw`.
   */
  api?: HttpApiOptions | false;
}

/**
 * Koa middleware: sets `ctx.state.switchyard` and answers requests under the API prefix
 * (anything else goes to the next middleware). A body a parser such as `@koa/bodyparser` already
 * read (`ctx.request.body`) is used as is.
 * @throws SwitchyardError (150) for bad options, see {@link HttpApiOptions}.
 */
export function switchyard(hub: Switchyard, options: KoaOptions = {}): Koa.Middleware {
  if (typeof options !== 'object' || options === null)
    throw optionError('koa options', 'an object like { api: { apiKey } }', options);
  const apiOptions = options.api || undefined;
  const api = apiOptions ? createApi(hub, apiOptions) : undefined;
  const max = apiOptions?.maxBodyBytes || 1 << 20;
  return async (ctx, next) => {
    ctx.state.switchyard = hub;
    const path = api?.match(ctx.url);
    if (!api || path === undefined) return next();
    const parsed = (ctx.request as { body?: unknown }).body;
    const reply = await api.handle({
      method: ctx.method,
      path,
      query: new URLSearchParams(ctx.querystring),
      headers: ctx.headers,
      body: () => (parsed !== undefined ? Promise.resolve(parsed) : readBody(ctx.req, max)),
      raw: ctx,
    });
    ctx.status = reply.status;
    ctx.set({ 'cache-control': 'no-store', ...(reply.status === 413 && { connection: 'close' }), ...reply.headers });
    ctx.body = reply.body;
  };
}

/** Options of {@link attach}. */
export interface KoaAttachOptions extends AttachOptions {
  /** The Koa app: when given, `authenticate` receives a Koa context (`ctx.cookies`, `ctx.state`) as `req.raw`. */
  app?: Koa;
}

/**
 * Mounts the WebSocket endpoint at `options.path` on the server `app.listen()` returns. Upgrades
 * for other paths are left to other listeners (ended after `unhandledUpgradeTimeout` ms when
 * none answers). Origin, subprotocol and authentication checks run before the handshake.
 * @throws SwitchyardError (150) when `path` is missing or does not start with `/`, or `unhandledUpgradeTimeout` is not a positive integer or false.
 */
export function attach(hub: Switchyard, server: Server, options: KoaAttachOptions): Attachment {
  const app = options?.app;
  // A context on a detached response: the hook can read cookies and state; nothing it sets is sent.
  return attachUpgrades(
    hub,
    server,
    options,
    app ? (req) => app.createContext(req, new ServerResponse(req)) : undefined,
  );
}
