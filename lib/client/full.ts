/**
 * `switchyardjs/client/full`: the client SDK with everything the default browser bundle has no
 * room for (it is held to 8 KB gzip, test/packaging.test.ts): the HTTP-streaming fallback and the
 * `transports` option ([HS-9]), binary payloads ([BIN-*]) and uplink awareness ([UP-*]). Same API
 * as `switchyardjs/client`, plus those. The Node entry of `switchyardjs/client` is this client.
 * @module switchyard/client/full
 */
import type { Position } from '../engine.js';
import type { HistoryResult, ServerFrame } from '../protocol.js';
import { dataOf, payloadFields } from './binary.js';
import { ClientError, CLOSED, CONNECTION_LOST } from './errors.js';
import type { NamedTransport } from './fallback.js';
import { httpStream } from './http-stream.js';
import { Client as BaseClient, type ClientOptions, type Endpoints } from './index.js';
import type { ClientTransport } from './transport.js';
import { webSocketTransport, type WebSocketConstructor } from './transport-websocket.js';
import { networkDown, PROBE_TIMEOUT_MS, watchUplink } from './uplink.js';

export * from './index.js';
export { httpStream, streamUrl } from './http-stream.js';
export type { NamedTransport } from './fallback.js';

/** Options of the full client: those of `switchyardjs/client`, plus `transports`. */
export interface FullClientOptions extends ClientOptions {
  /**
   * Transports to try, in order, on each connection attempt ([HS-9], docs/transports.md):
   * `'websocket'`, `'http-stream'` (or `httpStream`), or your own `ClientTransport` with a `name`.
   * One that fails to open (or stays silent for `timeout` ms) hands the attempt to the next at
   * once; it is skipped for a minute, then tried first again, so a client that fell back returns
   * to WebSockets once the network allows. Overrides `transport`. Default: the WebSocket alone.
   */
  transports?: readonly ('websocket' | 'http-stream' | NamedTransport)[];
}

/** The transport the `transports` option asks for, or the one `transport` names. */
function transportOf(options: FullClientOptions): ClientTransport | undefined {
  const t = options.transports;
  if (t === undefined) return options.transport;
  const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  // Without any WebSocket implementation the chain can still be HTTP streaming alone.
  const websocket: ClientTransport = WS
    ? webSocketTransport(WS, options.WebSocket !== undefined)
    : {
        open: () => {
          throw new Error('no WebSocket implementation');
        },
      };
  return httpStream.chain!(t, websocket, options.timeout ?? 10_000);
}

/** A {@link BaseClient} with HTTP-streaming fallback, binary payloads and uplink awareness. */
export class Client extends BaseClient {
  /** @internal [UP-1] The platform reported no network. */ declare netDown: boolean;
  /** @internal */ declare unwatch: () => void;

  constructor(url: string | readonly string[] | Endpoints, options: FullClientOptions = {}) {
    const transport = transportOf(options);
    super(url, transport ? { ...options, transport } : options);
    this.netDown = false;
    this.unwatch = watchUplink((s) =>
      s === 'offline' ? this.networkLost() : s === 'online' ? this.networkBack() : this.pageResumed(),
    );
    if (networkDown()) this.networkLost();
  }

  /** The transport of the latest connection: `'websocket'`, `'http-stream'`, or a custom transport's `name`. */
  get transport(): string {
    return (this.o.transport as { name?: string }).name ?? 'websocket';
  }

  /** @internal [BIN-2] Bytes leave as base64 in `bin`. */
  override sendRaw(obj: object): boolean {
    const f = obj as { op?: string; data?: unknown };
    return super.sendRaw(f.op === 'pub' ? { ...f, data: undefined, ...payloadFields(f.data) } : obj);
  }

  /** @internal [BIN-2] A `msg` carrying `bin` is handed over as a Uint8Array. */
  override frame(f: ServerFrame): void {
    if (f.op === 'msg' && f.bin !== undefined) f.data = dataOf(f);
    super.frame(f);
  }

  override async history(channel: string, options: { since?: Position; limit?: number } = {}): Promise<HistoryResult> {
    const r = await super.history(channel, options);
    for (const m of r.messages as (HistoryResult['messages'][number] & { bin?: string })[]) {
      if (m.bin === undefined) continue;
      m.data = dataOf(m);
      delete m.bin;
    }
    return r;
  }

  /** @internal */
  override stop(code: number, reason: string): void {
    this.unwatch?.();
    super.stop(code, reason);
  }

  /** The connection is gone without a close from the server: tell, and fail what waited on it. */
  private dropped(reason: string): void {
    this.link.stop();
    // 1000: a browser's WebSocket.close() throws for any code but 1000 and 3000-4999.
    this.link.close(CLOSED, reason);
    this.lost(new ClientError(CONNECTION_LOST, 'connection closed before the reply'));
    this.emit('disconnected', { code: CONNECTION_LOST, reason, willReconnect: true });
  }

  /** [UP-1] No network: drop the connection (it cannot work) and wait, without spending the backoff. */
  private networkLost(): void {
    if (this.netDown || this.state === 'closed') return;
    this.netDown = true;
    if (this.link.current) this.dropped('network lost');
    else this.link.stop();
    this.setState('offline');
  }

  /** [UP-2] The network is back: connect now, as a first attempt. */
  private networkBack(): void {
    if (!this.netDown) return;
    this.netDown = false;
    if (this.state === 'closed') return;
    this.setState('reconnecting');
    void this.link.open();
  }

  /** [UP-3] Back from hidden/frozen: a waiting reconnect goes now; an open connection is probed with a short deadline. */
  private pageResumed(): void {
    if (this.netDown || this.state === 'closed') return;
    if (this.state === 'reconnecting' && !this.link.current) {
      this.link.stop();
      void this.link.open();
      return;
    }
    const conn = this.link.current;
    if (this.state !== 'connected' || !conn) return;
    this.request({ op: 'ping' }, PROBE_TIMEOUT_MS).catch(() => {
      if (this.link.current !== conn || this.state !== 'connected') return;
      // Dead while the page slept: reconnect at once rather than after the heartbeat and a backoff.
      this.dropped('no reply to a probe after the page resumed');
      this.setState('reconnecting');
      void this.link.open();
    });
  }
}

/**
 * Connects like `switchyardjs/client`'s `connect`, with `transports`, binary payloads and uplink
 * awareness. Throws a TypeError for an invalid URL or option.
 */
export function connect(url: string | readonly string[] | Endpoints, options: FullClientOptions = {}): Client {
  return new Client(url, options);
}
