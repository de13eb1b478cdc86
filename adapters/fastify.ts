/**
 * `switchyardjs/fastify`: a Fastify 5 plugin working together with `@fastify/websocket`.
 *
 * The WebSocket endpoint is a Fastify route. `@fastify/websocket` dispatches every upgrade
 * request through Fastify's router, so the app's `onRequest`, `preValidation` and `preHandler`
 * hooks (auth, rate limiting) run first and can refuse it with a normal reply (401, 429) before
 * any handshake. The route's own `preHandler`, which runs after all of them, takes the raw
 * upgrade and hands it to the upgrade handler of `switchyardjs/http`, so origin, subprotocol and
 * `authenticate` checks are identical to every other adapter and also happen before the handshake.
 *
 * The hub is available as `fastify.switchyard`; clients are closed (1001) in `preClose` and
 * the hub's resources are released in `onClose`. Connections are logged through `fastify.log`.
 * Fastify, `@fastify/websocket` and `fastify-plugin` are optional peer dependencies.
 *
 * ```js
 * await app.register(websocket);
 * await app.register(switchyard, { hub, path: '/realtime', api: { apiKey: process.env.SWITCHYARD_API_KEY } });
 * ```
 * @module switchyard/fastify
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type {} from '@fastify/websocket';
import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { optionError, SwitchyardError, type ErrorName } from '../lib/errors.js';
import { Switchyard } from '../lib/hub.js';
import type { SwitchyardOptions } from '../lib/options.js';
import type { AuthRequest } from '../lib/transport.js';
import { createApi, errorReply, type HttpApiOptions } from './http-api.js';
import { createUpgradeHandler } from './http.js';
import { createStreamHandler, STREAM_SUFFIX } from './http-stream.js';

export type { ApiAuthRequest, HttpApiOptions } from './http-api.js';

/**
 * What `authenticate` receives from this plugin: `raw` is the upgrade's `FastifyRequest`, after
 * the app's hooks ran (so `request.user` set by an auth hook is there). Annotate the hook with it:
 * `authenticate: ({ raw }: FastifyAuthRequest) => raw.user ?? null`.
 */
export type FastifyAuthRequest = AuthRequest<FastifyRequest>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub mounted by `switchyardjs/fastify`. */
    switchyard: Switchyard;
  }
}

/** Options of the Fastify plugin. */
export interface FastifySwitchyardOptions {
  /** The hub to mount. Default: a new hub built from `hubOptions`, logging through `fastify.log`. */
  hub?: Switchyard;
  /** Options of the hub the plugin creates when `hub` is not given. Default `{}`. */
  hubOptions?: SwitchyardOptions;
  /** Path of the WebSocket route. Default `'/realtime'`. A plain GET on it gets 426. */
  path?: string;
  /**
   * Serve the HTTP-streaming fallback as Fastify routes at `<path>/stream` ([HS-*],
   * docs/transports.md), after the app's hooks like the WebSocket route. Default true.
   */
  httpStreaming?: boolean;
  /**
   * The HTTP API, registered as Fastify routes under `api.prefix` (default `'/realtime/api'`),
   * so the app's hooks run for it too; `authorize` receives the Fastify request as `raw`.
   * Default `false` (no API).
   */
  api?: HttpApiOptions | false;
}

// @fastify/websocket keeps the upgrade socket and its first bytes on the raw request under
// private symbols; without them (never seen in practice) the request socket and no head are used.
function upgradeParts(raw: IncomingMessage): { socket: Duplex; head: Buffer } {
  const bag = raw as unknown as Record<symbol, unknown>;
  const find = (d: string): unknown => {
    const s = Object.getOwnPropertySymbols(raw).find((k) => k.description === d);
    return s && bag[s];
  };
  const head = find('ws-head');
  return {
    socket: (find('ws-socket') as Duplex | undefined) ?? raw.socket,
    head: Buffer.isBuffer(head) ? head : Buffer.alloc(0),
  };
}

const STATUS_ERROR: Record<number, ErrorName> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'MESSAGE_TOO_LARGE',
  415: 'BAD_JSON',
  429: 'RATE_LIMITED',
};

const plugin: FastifyPluginAsync<FastifySwitchyardOptions> = async (fastify, opts) => {
  const { path = '/realtime', api = false, httpStreaming = true } = opts;
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw optionError('path', "a URL path starting with '/', e.g. '/realtime'", path);
  if (typeof httpStreaming !== 'boolean') throw optionError('httpStreaming', 'true or false', httpStreaming);
  if (opts.hub !== undefined && !(opts.hub instanceof Switchyard))
    throw optionError('hub', 'a Switchyard instance', opts.hub);
  const hub = opts.hub ?? new Switchyard({ logger: fastify.log, ...opts.hubOptions });
  fastify.decorate('switchyard', hub);

  const onConnection = (c: { id: string }): void =>
    fastify.log.debug({ connectionId: c.id }, 'switchyard client connected');
  const onDisconnect = (c: { id: string; code: number }): void =>
    fastify.log.debug({ connectionId: c.id, code: c.code }, 'switchyard client disconnected');
  // A hub this plugin created logs its own lifecycle to fastify.log; one passed in may have no logger.
  if (opts.hub) hub.on('connection', onConnection).on('disconnect', onDisconnect);

  const upgrade = createUpgradeHandler(hub);
  fastify.route({
    method: 'GET',
    url: path,
    // Route-level hooks run after the app's hooks of every stage, so those decide first.
    preHandler: async (request, reply) => {
      if (!request.ws) return;
      reply.hijack();
      const { socket, head } = upgradeParts(request.raw);
      await upgrade(request.raw, socket, head, request).catch((err: unknown) => {
        request.log.warn({ err }, 'switchyard upgrade failed');
        socket.destroy();
      });
    },
    handler: async (_request, reply) => {
      reply.code(426).header('upgrade', 'websocket');
      return {
        error: {
          code: 116,
          name: 'NOT_FOUND',
          message: `${path} is a WebSocket endpoint; connect with the switchyard client`,
        },
      };
    },
  });

  if (httpStreaming) {
    // authenticate receives the Fastify request as `raw`, as on the WebSocket route.
    const requests = new WeakMap<IncomingMessage, FastifyRequest>();
    const stream = createStreamHandler(hub, path, (req) => requests.get(req) ?? req);
    await fastify.register(async (child) => {
      // The stream handler reads POST bodies itself (bounded, one frame per line): Fastify must leave them unread.
      child.removeAllContentTypeParsers();
      child.addContentTypeParser('*', (_request, _payload, done) => done(null));
      child.route({
        method: ['GET', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH'],
        url: path.replace(/\/$/, '') + STREAM_SUFFIX,
        handler: async (request, reply) => {
          reply.hijack();
          requests.set(request.raw, request);
          stream(request.raw, reply.raw);
        },
      });
    });
  }

  if (api) {
    const core = createApi(hub, { ...api, prefix: api.prefix ?? '/realtime/api' });
    // Encapsulated: the raw-body parser and the error envelope apply to the API routes only.
    await fastify.register(
      async (child) => {
        child.removeAllContentTypeParsers();
        child.addContentTypeParser(
          '*',
          { parseAs: 'buffer', bodyLimit: api.maxBodyBytes ?? 1 << 20 },
          (_req, body, done) => done(null, body),
        );
        child.setErrorHandler((err: FastifyError, request, reply) => {
          const status = err.statusCode ?? 500;
          if (status >= 500) request.log.error({ err }, 'switchyard HTTP API request failed');
          const name = STATUS_ERROR[status] ?? (status < 500 ? 'BAD_FRAME' : 'INTERNAL');
          const r = errorReply(new SwitchyardError(name, status < 500 ? err.message : undefined), status);
          return reply.code(r.status).headers(r.headers).send(r.body);
        });
        child.route({
          method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
          url: '/*',
          handler: async (request, reply) => {
            const r = await core.handle({
              method: request.method,
              path: core.match(request.url) ?? '/',
              query: new URL(request.url, 'http://x').searchParams,
              headers: request.headers,
              body: async () => request.body,
              raw: request,
            });
            return reply
              .code(r.status)
              .headers({ 'cache-control': 'no-store', ...r.headers })
              .send(r.body);
          },
        });
      },
      { prefix: core.prefix },
    );
  }

  fastify.addHook('preClose', async () => {
    // Open WebSockets would keep server.close() waiting: end them (1001) first.
    await hub.close();
  });
  fastify.addHook('onClose', async () => {
    hub.off('connection', onConnection).off('disconnect', onDisconnect);
    await hub.close();
  });
};

/**
 * The plugin. Register `@fastify/websocket` first (it is declared as a dependency and checked).
 * @throws SwitchyardError (150) at registration for a bad option.
 */
export const switchyard = fp(plugin, { fastify: '5.x', name: 'switchyard', dependencies: ['@fastify/websocket'] });
export default switchyard;
