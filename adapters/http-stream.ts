/**
 * The HTTP-streaming endpoint ([HS-*] in docs/protocol.md), for networks that refuse WebSockets:
 * `GET <path>/stream` opens a Server-Sent-Events response that carries the server's frames,
 * `POST <path>/stream` carries the client's frames. Same checks as the WebSocket upgrade (origin,
 * protocol version, `authenticate` before anything is streamed), same connection semantics (the
 * hub drives the stream through {@link StreamTransport}). A POST may land on any node: it is routed
 * to the stream's node through the engine's broker, so no sticky sessions are needed.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLOSE } from '../lib/close-codes.js';
import type { Switchyard } from '../lib/hub.js';
import { StreamSession, StreamTransport } from '../lib/http-stream-session.js';
import { SUBPROTOCOL } from '../lib/protocol.js';
import type { AuthRequest } from '../lib/transport.js';
import { ENVELOPE_BYTES } from '../lib/validate.js';

/** Suffix of the streaming endpoint under the WebSocket path: `/realtime` streams at `/realtime/stream`. */
export const STREAM_SUFFIX = '/stream';
/** [HS-2] Query parameter naming the protocol version (browsers forbid setting `Sec-WebSocket-Protocol` on a fetch). */
export const STREAM_VERSION_PARAM = 'v';
/** [HS-5] Header carrying the session id on POSTs. */
export const SESSION_HEADER = 'switchyard-session';
/** [HS-6] Header carrying a POST's sequence number. */
export const SEQ_HEADER = 'switchyard-seq';
/** Most frames one POST may carry. */
export const MAX_FRAMES_PER_POST = 256;

/** Where the request came from, for `authenticate`'s `raw` (see `attachUpgrades`' `rawFor`). */
export type RawFor = (req: IncomingMessage) => unknown;

function scheme(req: IncomingMessage): 'http' | 'https' {
  const fwd = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim().toLowerCase();
  if (first === 'https' || first === 'http') return first;
  return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1] : undefined;
}

/** Plain-text answer; `cors` headers are set already when the origin was allowed. */
function answer(res: ServerResponse, status: number, body = ''): void {
  if (res.headersSent) return void res.destroy();
  res.statusCode = status;
  if (body) res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

/**
 * [HS-8] Cross-origin pages: an allowed `Origin` is echoed (the SDK's fetch sends `Authorization`
 * and the session headers, so browsers preflight); a refused one gets no CORS headers at all.
 */
function allowCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('vary', 'Origin');
}

/** Reads a request body up to `max` bytes; resolves undefined when it is larger (the request is answered 413 by the caller). */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        return resolve(undefined);
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * Creates the request handler for `<path>/stream`. Returns true when the request was for it (and
 * is being answered), false for every other request, which the caller passes on.
 */
export function createStreamHandler(
  hub: Switchyard,
  path: string,
  rawFor?: RawFor,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const endpoint = path.replace(/\/$/, '') + STREAM_SUFFIX;
  const { limits } = hub.options;
  // A POST carries whole frames; one frame may be as large as a WebSocket message may be.
  const maxBody = Math.max(1 << 20, 2 * (limits.maxMessageBytes * 2 + ENVELOPE_BYTES));
  const flushAt = Math.max(1024, Math.min(64 * 1024, limits.queueHighWaterBytes >> 2));

  const open = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const refuse = (status: number, reason: string): void => {
      hub.refused(status, reason, req.socket.remoteAddress);
      answer(res, status, reason);
    };
    if (url.searchParams.get(STREAM_VERSION_PARAM) !== SUBPROTOCOL)
      return refuse(400, `expected ${STREAM_VERSION_PARAM}=${SUBPROTOCOL}`);
    const authReq: AuthRequest = {
      headers: req.headers,
      url: req.url ?? '/',
      remoteAddress: req.socket.remoteAddress,
      token: bearer(req),
      raw: rawFor ? rawFor(req) : req,
    };
    const outcome = await hub.authenticate(authReq);
    // [HS-2] Unlike a browser's WebSocket, fetch reads the status: a refusal is plain HTTP.
    if (!outcome.ok) return answer(res, outcome.status, outcome.reason);
    if (res.destroyed || req.socket.destroyed) return;
    try {
      await hub.streams.listen();
    } catch (err) {
      hub.log('warn', { err }, 'uplink channel subscribe failed; HTTP stream refused');
      return answer(res, 503, 'engine unavailable');
    }
    if (res.destroyed) return;
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx and friends buffer responses unless told not to; a buffered stream never arrives.
      'x-accel-buffering': 'no',
    });
    const transport = new StreamTransport(res, flushAt);
    const session = new StreamSession(hub.streams.newId(), transport, () => {
      // [HS-6] a batch never arrived: the client reconnects and recovers, retrying its QoS 1 publishes.
      transport.close(CLOSE.INSUFFICIENT_STATE, 'a POST never reached this stream');
      input.closed(CLOSE.INSUFFICIENT_STATE);
    });
    // [HS-3] The session id comes first: the client needs it for its first POST (the pong to a ping, say).
    res.write('event: session\ndata: ' + session.id + '\n\n');
    hub.streams.add(session);
    const input = hub.accept(transport, outcome.user, outcome.identity, req.socket.remoteAddress);
    session.input = input;
    const ended = (): void => {
      transport.markClosed();
      hub.streams.remove(session);
      // 1005: the client went away without saying why, as a WebSocket that closed without a code.
      input.closed(1005);
    };
    res.once('close', ended);
    // A stream refused by accept (hub full, closing) is closed by then.
    if (transport.closed) ended();
  };

  const uplink = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sid = req.headers[SESSION_HEADER];
    const seqText = req.headers[SEQ_HEADER];
    const seq = typeof seqText === 'string' && /^\d{1,15}$/.test(seqText) ? Number(seqText) : NaN;
    if (typeof sid !== 'string' || Number.isNaN(seq))
      return answer(res, 400, `expected ${SESSION_HEADER} and ${SEQ_HEADER} headers`);
    const body = await readBody(req, maxBody);
    if (body === undefined) return answer(res, 413, `a POST carries at most ${maxBody} bytes`);
    // [HS-6] one frame per line: JSON text never contains a raw newline.
    const frames = body.split('\n').filter((l) => l.length > 0);
    if (frames.length > MAX_FRAMES_PER_POST)
      return answer(res, 413, `a POST carries at most ${MAX_FRAMES_PER_POST} frames`);
    let outcome;
    try {
      outcome = await hub.streams.route(sid, seq, frames);
    } catch (err) {
      hub.log('warn', { err }, 'forwarding a POST to its stream node failed');
      return answer(res, 503, 'engine unavailable: retry');
    }
    if (outcome === 'unknown') return answer(res, 404, 'no such stream: reconnect');
    if (outcome === 'overflow') return answer(res, 409, 'too many batches out of order');
    answer(res, 204);
  };

  return (req, res) => {
    const q = (req.url ?? '/').indexOf('?');
    const pathname = q === -1 ? req.url : req.url!.slice(0, q);
    if (pathname !== endpoint) return false;
    const fail = (err: unknown): void => {
      hub.log('warn', { err }, 'HTTP stream request failed');
      answer(res, 500, 'internal error');
    };
    if (hub.isClosing) {
      answer(res, 503, 'server shutting down');
      return true;
    }
    if (!hub.originAllowed(req.headers.origin, req.headers.host, scheme(req))) {
      hub.refused(403, 'origin not allowed', req.socket.remoteAddress);
      answer(res, 403, 'origin not allowed');
      return true;
    }
    allowCors(req, res);
    if (req.method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET, POST');
      res.setHeader('access-control-allow-headers', `authorization, content-type, ${SESSION_HEADER}, ${SEQ_HEADER}`);
      res.setHeader('access-control-max-age', '600');
      answer(res, 204);
    } else if (req.method === 'GET') {
      open(req, res, new URL(req.url ?? '/', 'http://x')).catch(fail);
    } else if (req.method === 'POST') {
      uplink(req, res).catch(fail);
    } else {
      res.setHeader('allow', 'GET, POST, OPTIONS');
      answer(res, 405, 'GET opens a stream, POST sends frames');
    }
    return true;
  };
}
