/**
 * `switchyardjs/http`: mounts a hub on a bare `node:http` (or `https`) server. It answers only
 * upgrade requests for its own path; every other upgrade is left to the server's other
 * listeners (another `ws` server, Vite HMR, a second hub).
 * @module switchyard/http
 */
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { optionError } from '../lib/errors.js';
import type { Switchyard } from '../lib/hub.js';
import { REFUSAL_CLOSE_PROTOCOL, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../lib/protocol.js';
import { CLOSE } from '../lib/close-codes.js';
import type { AuthRequest } from '../lib/transport.js';
import { isIntIn } from '../lib/integers.js';
import { ENVELOPE_BYTES } from '../lib/validate.js';
import { createStreamHandler } from './http-stream.js';
import { bindSocket } from './ws-transport.js';

/**
 * What `authenticate` receives from this adapter: `raw` is the upgrade's `IncomingMessage`.
 * Annotate the hook with it: `authenticate: ({ raw, token }: HttpAuthRequest) => ...`.
 */
export type HttpAuthRequest = AuthRequest<IncomingMessage>;

/** Options of {@link attach}. */
export interface AttachOptions {
  /** URL path of the WebSocket endpoint, e.g. `/realtime` (required). Query strings are ignored when matching. */
  path: string;
  /**
   * Milliseconds after which an upgrade request for another path that no listener answered is
   * ended, so it does not hang forever (as engine.io does). `false` leaves such sockets alone.
   * Default 1,000.
   */
  unhandledUpgradeTimeout?: number | false;
  /**
   * Serve the HTTP-streaming fallback at `<path>/stream` ([HS-*], docs/transports.md) for clients
   * whose network refuses WebSockets. Default true. It is served by intercepting the server's
   * `request` event for that one path (the way engine.io mounts itself); `false` leaves every
   * plain HTTP request to the server's own listeners.
   */
  httpStreaming?: boolean;
}

/** Handle returned by {@link attach}. */
export interface Attachment {
  /** Stops answering upgrades on the path (open connections stay; use `hub.close()` to end them). */
  detach(): void;
}

// Marks requests a switchyard endpoint took, so other endpoints' unhandled-upgrade timers spare them.
const CLAIMED = Symbol.for('switchyard.upgrade.claimed');

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Reads the offered subprotocols: whether `switchyard.v1` is among them, the token entry, if any, and whether the client asks to learn a refusal ([TR-5]). */
export function parseProtocols(header: string | undefined): { v1: boolean; token?: string; refusalClose: boolean } {
  const out: { v1: boolean; token?: string; refusalClose: boolean } = { v1: false, refusalClose: false };
  for (const p of (header ?? '').split(',')) {
    const v = p.trim();
    if (v === SUBPROTOCOL) out.v1 = true;
    else if (v === REFUSAL_CLOSE_PROTOCOL) out.refusalClose = true;
    else if (v.startsWith(TOKEN_PROTOCOL_PREFIX)) {
      try {
        out.token = Buffer.from(v.slice(TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
      } catch {
        /* an undecodable token is treated as absent */
      }
    }
  }
  return out;
}

/**
 * Creates the upgrade handler shared by every adapter: checks origin, subprotocol and
 * authentication before the handshake completes, then hands the socket to the hub.
 * Resolves once the request was answered.
 */
export function createUpgradeHandler(
  hub: Switchyard,
): (req: IncomingMessage, socket: Duplex, head: Buffer, raw?: unknown) => Promise<void> {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // ws closes with 1009 above this; smaller oversize frames get error 104 from the validator.
    maxPayload: hub.options.limits.maxMessageBytes * 2 + ENVELOPE_BYTES,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  hub.once('close', () => wss.close());
  return async (req, socket, head, raw) => {
    (req as unknown as Record<symbol, boolean>)[CLAIMED] = true;
    // Errors during async authentication must not become uncaught exceptions.
    const onError = (): void => void socket.destroy();
    socket.on('error', onError);
    const refuse = (status: number, reason: string): void => {
      hub.refused(status, reason, req.socket.remoteAddress);
      refuseUpgrade(socket, status, reason);
    };
    if (hub.isClosing) return refuseUpgrade(socket, 503, 'server shutting down');
    if (!hub.originAllowed(req.headers.origin, req.headers.host, requestScheme(req)))
      return refuse(403, 'origin not allowed');
    const protocols = parseProtocols(req.headers['sec-websocket-protocol']);
    if (!protocols.v1) return refuse(400, `expected subprotocol ${SUBPROTOCOL}`);
    const authReq: AuthRequest = {
      headers: req.headers,
      url: req.url ?? '/',
      remoteAddress: req.socket.remoteAddress,
      token: protocols.token,
      raw: raw ?? req,
    };
    const outcome = await hub.authenticate(authReq);
    if (!outcome.ok) {
      // [TR-5] A browser cannot read the status of a refused upgrade: if it asked, complete the
      // handshake only to close with a terminal code that says why (never for transient 500/503).
      if (protocols.refusalClose && (outcome.status === 401 || outcome.status === 403) && !socket.destroyed) {
        socket.removeListener('error', onError);
        return wss.handleUpgrade(req, socket, head, (ws) =>
          ws.close(CLOSE.AUTH_REFUSED, `${outcome.status} ${outcome.reason}`),
        );
      }
      return refuseUpgrade(socket, outcome.status, outcome.reason);
    }
    if (socket.destroyed) return;
    socket.removeListener('error', onError);
    wss.handleUpgrade(req, socket, head, (ws) =>
      bindSocket(hub, ws, outcome.user, outcome.identity, req.socket.remoteAddress),
    );
  };
}

/**
 * The scheme a browser used to reach us: `https` over TLS, or when a TLS-terminating proxy says so
 * in `X-Forwarded-Proto` (a cross-site page cannot set that header on a WebSocket request).
 */
function requestScheme(req: IncomingMessage): 'http' | 'https' {
  const fwd = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim().toLowerCase();
  if (first === 'https' || first === 'http') return first;
  return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

/** Path part of a request URL, without the query. */
export function requestPath(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

/**
 * Mounts `hub` on `server` at `options.path`.
 * @throws SwitchyardError (150) when `path` is missing or does not start with `/`, or
 * `unhandledUpgradeTimeout` is not a positive integer or false.
 */
export function attach(hub: Switchyard, server: Server, options: AttachOptions): Attachment {
  return attachUpgrades(hub, server, options);
}

/**
 * The upgrade listener behind every adapter's `attach`: answers its own path, leaves others to
 * other listeners. `rawFor` lets a framework hand `authenticate` its own request object (a Koa
 * context, say) instead of the IncomingMessage.
 */
export function attachUpgrades(
  hub: Switchyard,
  server: Server,
  options: AttachOptions,
  rawFor?: (req: IncomingMessage) => unknown,
): Attachment {
  if (typeof options !== 'object' || options === null)
    throw optionError('attach options', "an object like { path: '/realtime' }", options);
  const { path, unhandledUpgradeTimeout = 1_000, httpStreaming = true } = options;
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw optionError('path', "a URL path starting with '/', e.g. '/realtime'", path);
  if (unhandledUpgradeTimeout !== false && !isIntIn(unhandledUpgradeTimeout, 1)) {
    throw optionError('unhandledUpgradeTimeout', 'a positive number of milliseconds or false', unhandledUpgradeTimeout);
  }
  if (typeof httpStreaming !== 'boolean') throw optionError('httpStreaming', 'true or false', httpStreaming);
  const unmountStreams = httpStreaming ? mountStreams(server, createStreamHandler(hub, path, rawFor)) : () => {};
  const handle = createUpgradeHandler(hub);
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (requestPath(req.url) === path) {
      handle(req, socket, head, rawFor?.(req)).catch(() => socket.destroy());
      return;
    }
    if (unhandledUpgradeTimeout === false) return;
    setTimeout(() => {
      const claimed = (req as unknown as Record<symbol, boolean>)[CLAIMED];
      if (!claimed && socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0)
        socket.end();
    }, unhandledUpgradeTimeout).unref();
  };
  server.on('upgrade', onUpgrade);
  // Stays attached after hub.close() so late upgrades get 503 instead of a dropped socket.
  return {
    detach: () => {
      server.off('upgrade', onUpgrade);
      unmountStreams();
    },
  };
}

/**
 * Puts `handle` in front of the server's `request` listeners: requests it takes never reach them,
 * the rest do, in their order. Node's EventEmitter cannot stop an event half-way, so (as engine.io
 * does) the existing listeners are moved behind one dispatcher; listeners added later still run
 * for every request, so the endpoint's path must be one the app does not serve itself.
 */
function mountStreams(server: Server, handle: (req: IncomingMessage, res: ServerResponse) => boolean): () => void {
  const others = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    if (handle(req, res)) return;
    for (const l of others) l.call(server, req, res);
  };
  server.on('request', dispatch);
  return () => {
    server.off('request', dispatch);
    for (const l of others) server.on('request', l);
  };
}

export {
  httpApi,
  HTTP_STATUS,
  type ApiAuthRequest,
  type HttpApiOptions,
  type IncomingHttpHeaders,
} from './http-api.js';
