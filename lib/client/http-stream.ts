/**
 * The HTTP-streaming {@link ClientTransport} ([HS-*] in docs/protocol.md, docs/transports.md): for
 * networks that refuse WebSockets. Server→client frames arrive on one long `fetch` whose body is
 * read as a stream of Server-Sent-Events (`EventSource` cannot send an `Authorization` header);
 * client→server frames leave as POSTs, one at a time, batched, numbered so that the server puts
 * them back in order whichever node each reaches. A separate entry
 * (`switchyardjs/client/http-stream`) so browser pages that never need it do not download it.
 * @module
 */
import { SUBPROTOCOL } from '../protocol.js';
import { fallbackTransport, type NamedTransport } from './fallback.js';
import type { ClientTransport, TransportConnection, TransportEvents } from './transport.js';

/** Most bytes one POST carries (a single larger frame still goes alone). */
const MAX_BATCH_BYTES = 256 * 1024;
/** Tries of one POST that failed transiently (network, 502/503/504) before the stream is given up. */
const POST_TRIES = 5;
const POST_RETRY_MS = 250;
/** How long a transport that failed to open is skipped before it is tried first again (ms, [HS-9]). */
const RETRY_PREFERRED_MS = 60_000;

/** Turns the WebSocket URL of an endpoint into its HTTP-streaming URL ([HS-1]): same host, path + `/stream`. */
export function streamUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.replace(/\/$/, '') + '/stream';
  u.searchParams.set('v', SUBPROTOCOL);
  return u.toString();
}

/** One HTTP-streaming connection: the stream being read and the POST queue. */
class StreamConnection implements TransportConnection {
  private readonly abort = new AbortController();
  private readonly url: string;
  private readonly headers: Record<string, string> = {};
  private session = '';
  private seq = 0;
  private queue: string[] = [];
  private posting = false;
  private flushQueued = false;
  private state: 'opening' | 'open' | 'closed' = 'opening';

  constructor(
    wsUrl: string,
    token: string | undefined,
    private readonly on: TransportEvents,
  ) {
    this.url = streamUrl(wsUrl);
    if (token) this.headers.authorization = 'Bearer ' + token;
    void this.run();
  }

  private async run(): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.url, {
        headers: { ...this.headers, accept: 'text/event-stream' },
        cache: 'no-store',
        signal: this.abort.signal,
      });
    } catch (err) {
      this.on.error?.(err);
      return this.finish(1006, `stream request failed: ${(err as Error).message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      // [HS-2] fetch reads a refusal's status (a browser's WebSocket cannot): 400/401/403 would be refused again.
      const refused = res.status === 400 || res.status === 401 || res.status === 403;
      return this.finish(1006, `stream refused with HTTP ${res.status}`, refused ? res.status : undefined);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        // One pass over the chunk, one copy of the unfinished tail (not one per event).
        let from = 0;
        let end: number;
        while ((end = buffer.indexOf('\n\n', from)) !== -1) {
          const event = buffer.slice(from, end);
          from = end + 2;
          if (this.state === 'closed') return;
          this.event(event);
        }
        buffer = buffer.slice(from);
      }
    } catch {
      /* the stream broke: reported as 1006 below */
    }
    this.finish(1006, 'stream ended');
  }

  /** One SSE event: `event:` names the kind (absent: a frame), `data:` lines carry it. */
  private event(text: string): void {
    // The common case: one frame on one data line.
    if (text.startsWith('data: ') && text.indexOf('\n') === -1) return this.on.frame(text.slice(6));
    let kind = 'message';
    let data = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
      else if (line.startsWith('event:')) kind = line.slice(6).trim();
    }
    if (kind === 'message') return this.on.frame(data);
    if (kind === 'session') {
      this.session = data;
      this.state = 'open';
      this.on.open?.();
      return;
    }
    if (kind === 'close') {
      let c: { code?: unknown; reason?: unknown } = {};
      try {
        c = JSON.parse(data);
      } catch {
        /* a malformed close still ends the stream */
      }
      this.finish(typeof c.code === 'number' ? c.code : 1006, typeof c.reason === 'string' ? c.reason : '');
    }
  }

  send(text: string): boolean {
    if (this.state !== 'open') return false;
    this.queue.push(text);
    // Frames sent in one turn leave in one POST.
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        void this.flush();
      });
    }
    return true;
  }

  /** [HS-6] One POST at a time, in order; a transient failure retries the same numbered batch. */
  private async flush(): Promise<void> {
    if (this.posting || this.queue.length === 0 || this.state !== 'open') return;
    this.posting = true;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.length < MAX_BATCH_BYTES))
      bytes += this.queue[n++]!.length + 1;
    const batch = this.queue.splice(0, n);
    const seq = this.seq++;
    for (let attempt = 1; this.state === 'open'; attempt++) {
      let status = 0;
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: {
            ...this.headers,
            'content-type': 'text/plain;charset=UTF-8',
            'switchyard-session': this.session,
            'switchyard-seq': String(seq),
          },
          body: batch.join('\n'),
          signal: this.abort.signal,
        });
        status = res.status;
        await res.body?.cancel().catch(() => {});
      } catch {
        /* network failure: status 0, retried */
      }
      if (status >= 200 && status < 300) break;
      const transient = status === 0 || status === 502 || status === 503 || status === 504;
      if (!transient || attempt >= POST_TRIES)
        return this.finish(1006, `POST failed with HTTP ${status || 'network error'}`);
      await new Promise((r) => setTimeout(r, POST_RETRY_MS * attempt));
    }
    this.posting = false;
    void this.flush();
  }

  close(code: number, reason: string): void {
    this.finish(code, reason);
  }

  private finish(code: number, reason: string, refused?: number): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue = [];
    this.abort.abort();
    this.on.close(refused === undefined ? { code, reason } : { code, reason, refused: { status: refused } });
  }
}

/**
 * The HTTP-streaming transport. Use it as the fallback: `connect(url, { transports: ['websocket',
 * httpStream] })`, or alone: `connect(url, { transport: httpStream })`.
 */
export const httpStream: NamedTransport = {
  name: 'http-stream',
  checkUrl: (url) => (/^wss?:\/\//.test(url) ? undefined : 'must start with ws:// or wss://'),
  open: (url, token, on) => new StreamConnection(url, token, on),
  chain: (transports, websocket, openTimeout) => {
    if (transports.length === 0)
      throw new TypeError("switchyard client: transports must be a non-empty array like ['websocket', httpStream]");
    const list = transports.map((x): NamedTransport => {
      if (x === 'websocket') return { ...websocket, name: 'websocket' };
      if (x === 'http-stream') return httpStream;
      const e = x as NamedTransport;
      if (typeof e !== 'object' || e === null || typeof e.open !== 'function' || typeof e.name !== 'string') {
        throw new TypeError(
          `switchyard client: unknown transport ${String(x)}; use 'websocket' or httpStream from 'switchyardjs/client/http-stream'`,
        );
      }
      return e;
    });
    return fallbackTransport(list, openTimeout, RETRY_PREFERRED_MS);
  },
};

export type { ClientTransport };
