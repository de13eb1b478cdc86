/**
 * The node:http side of the HTTP API: reading a bounded body, writing a reply, and
 * {@link httpApi} for bare `node:http`. The request handling itself is framework-agnostic and
 * lives in `lib/http-api.ts`; Express, Fastify and Koa mount the same core.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SwitchyardError } from '../lib/errors.js';
import type { Switchyard } from '../lib/hub.js';
import { createApi, type ApiReply, type HttpApiOptions } from '../lib/http-api.js';

export * from '../lib/http-api.js';

/**
 * Reads a request body up to `max` bytes. Rejects with error 104 as soon as the body (or its
 * Content-Length) is larger, without buffering the rest.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new SwitchyardError('MESSAGE_TOO_LARGE', `request body is larger than ${max} bytes`);
    if (Number(req.headers['content-length']) > max) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Writes an {@link ApiReply}: as JSON, or as is when the reply sets its own `content-type`
 * (`/metrics`, the admin page). A 413 also closes the connection so the unread body is not drained.
 */
export function sendReply(res: ServerResponse, reply: ApiReply): void {
  if (res.headersSent) return void res.end();
  const text =
    typeof reply.body === 'string' && reply.headers['content-type'] ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(reply.status === 413 && { connection: 'close' }),
    ...reply.headers,
  });
  res.end(text);
}

/**
 * Mounts the HTTP API on bare `node:http`: call the returned handler first in your request
 * listener. It returns true when it took the request (its path is under `prefix`); otherwise it
 * calls `next` (when given) and returns false. A body a parser already read (`req.body`) is used as is.
 * @throws SwitchyardError (150) for bad options, see {@link HttpApiOptions}.
 */
export function httpApi(hub: Switchyard, options: HttpApiOptions) {
  const api = createApi(hub, options);
  const max = options.maxBodyBytes ?? 1 << 20;
  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): boolean => {
    const path = api.match(req.url);
    if (path === undefined) {
      next?.();
      return false;
    }
    const pre = req as IncomingMessage & { body?: unknown };
    const body = (): Promise<unknown> =>
      pre.body !== undefined && req.readableEnded ? Promise.resolve(pre.body) : readBody(req, max);
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    void api
      .handle({ method: req.method ?? 'GET', path, query, headers: req.headers, body, raw: req })
      .then((reply) => sendReply(res, reply));
    return true;
  };
}
