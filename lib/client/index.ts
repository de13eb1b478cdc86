/**
 * `switchyardjs/client`: the client SDK for browsers and Node. Reconnects with full-jitter
 * backoff, resubscribes and recovers every subscription from its last position, retries QoS 1
 * publishes from a bounded offline queue, and de-duplicates deliveries by offset.
 *
 * In Node, `switchyardjs/client` resolves to an entry that supplies the `ws` package as the
 * WebSocket implementation; in browsers the global `WebSocket` is used and `ws` never loads.
 * @module switchyard/client
 */
import { EventEmitter } from 'eventemitter3';
import { CLOSE, shouldReconnect } from '../close-codes.js';
import type { Position } from '../engine.js';
import { REFUSAL_CLOSE_PROTOCOL, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX, type HistoryResult, type PresenceResult, type PresenceResultWire, type PresenceUsersResultWire, type PublishResult, type QoS, type SubscribeResult } from '../protocol.js';
import type { PresenceUsersResult } from '../user-presence.js';
import { backoffDelay } from './backoff.js';
import { fetchToken, runRefresh, type TokenProvider } from './refresh.js';
import { Subscription, type Message, type MessageHandler, type SubscribeOptions } from './subscription.js';

export { Subscription } from './subscription.js';
export type { TokenProvider } from './refresh.js';
export type { Discontinuity, Message, MessageHandler, SubscribeOptions, SubscriptionEvents } from './subscription.js';
export { CLOSE, shouldReconnect } from '../close-codes.js';
export type { Position } from '../engine.js';
export type { HistoryResult, PresenceMember, PresenceResult, PublishResult, QoS, SubscribeResult } from '../protocol.js';
export type { PresenceUser, PresenceUsersResult } from '../user-presence.js';

/** The subset of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** Options of {@link connect}. */
export interface ClientOptions {
  /**
   * Token for the server's `authenticate` hook (sent in the subprotocol header, never in the URL).
   * A function (the app's `getToken`) is called on every (re)connect and whenever the server asks
   * for a refresh before the connection's credentials expire; the new token then travels over the
   * open socket (docs/identity.md). A throw is retried with the reconnect backoff (reported as
   * `tokenError`); returning `null` means "no credentials" and stops the client (state `closed`,
   * code 4510 NO_TOKEN). A fixed string cannot be refreshed: an expiring connection then closes
   * with 4010 and reconnects with the same string.
   */
  token?: TokenProvider;
  /** Reconnect after a non-terminal close (default true) with full-jitter backoff between `minDelay` (500 ms) and `maxDelay` (20,000 ms). */
  reconnect?: boolean | { minDelay?: number; maxDelay?: number };
  /** Milliseconds a request (subscribe, QoS 0 publish, history) waits for its reply (default 10,000). */
  timeout?: number;
  /**
   * Milliseconds a QoS 1 publish keeps retrying across reconnects before it rejects (default 60,000).
   * Retries after a transient error (201, 202, 106, no reply) wait a growing, jittered delay
   * (200 ms doubling to 5 s), and all QoS 1 sends are paced under the server's announced publish rate.
   */
  publishTimeout?: number;
  /**
   * Calls held while not connected (default 1,000), counted separately for QoS 1 publishes and for
   * other calls (QoS 0 publishes, history, presence); beyond it the call rejects at once with
   * `offline queue full`.
   */
  offlineQueue?: number;
  /** WebSocket implementation (default: global `WebSocket`; the Node entry passes `ws`). */
  WebSocket?: WebSocketConstructor;
}

/** Connection state. */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Events of a {@link Client}. */
export interface ClientEvents {
  /** The state changed. */
  state: (state: ClientState) => void;
  /** Connected and welcomed; `connectionId` is the server's id for support and logs. */
  connected: (info: { connectionId: string }) => void;
  /** The socket closed; `willReconnect` says whether the client will try again. */
  disconnected: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  /** The client stopped for good: `close()` was called or the server sent a terminal code. */
  closed: (info: { code: number; reason: string }) => void;
  /** A connection-level error frame from the server. */
  error: (err: ClientError) => void;
  /** The token provider threw or returned a non-string, or the server refused a refreshed token (120); it is retried with backoff. */
  tokenError: (err: unknown) => void;
  /** The server accepted a refreshed token; `expiresIn` is the new lifetime in ms (absent: it no longer expires). */
  refreshed: (info: { expiresIn?: number }) => void;
  /** The server subscribed this client to a channel (docs/identity.md); listen with `sub.on('message', ...)`. */
  serverSubscription: (sub: Subscription) => void;
}

/** An error reply from the server: `code` is from the registry in docs/errors.md. */
export class ClientError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** Options of {@link Client.publish}. */
export interface ClientPublishOptions {
  /** 0 (default): sent once, acknowledged when the server stored it. 1: retried across reconnects with a message id so it is stored exactly once. */
  qos?: QoS;
}

/** Whether an error is the server's refusal (a registry code) rather than a lost connection or timeout. */
function isRefusal(err: unknown): err is ClientError {
  return err instanceof ClientError && err.code >= 100 && err.code < 1000;
}

interface Pending {
  resolve: (res: unknown) => void;
  /** Runs synchronously on the reply, before frames that follow it in the same read (a promise continuation would run after them). */
  onReply?: (res: unknown) => void;
  reject: (err: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface QueuedPublish {
  channel: string;
  data: unknown;
  mid: string;
  /** `performance.now()` after which the publish fails (monotonic: a wall-clock jump neither expires nor extends it). */
  deadline: number;
  id?: number;
  /** Fires at the deadline even while disconnected, so a publish never waits forever. */
  expiry?: ReturnType<typeof setTimeout>;
  /** Pending retry after a transient server error. */
  retry?: ReturnType<typeof setTimeout>;
  /** Transient failures so far: each retry waits longer (full jitter, growing from `RETRY_MIN_MS` to `RETRY_MAX_MS`). */
  attempt: number;
  /** Sent on this connection and waiting for its reply. */
  inFlight?: boolean;
  settled?: boolean;
  resolve: (r: PublishResult) => void;
  reject: (e: Error) => void;
}

/**
 * Server errors after which a QoS 1 publish is retried with the same id: nothing was stored
 * (201), the node is going away (202), or the connection's publish rate was exceeded (106; the
 * retry waits for the bucket to refill).
 */
const RETRYABLE_PUBLISH_CODES = new Set([106, 201, 202]);
/** Smallest and largest ceiling of the jittered, growing delay before a QoS 1 publish is retried after a transient error. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;
/** Publish rate assumed until the server announces its own in `welcome` (`pr`): the server's default `limits.publishesPerSecond`. */
const DEFAULT_PUBLISH_RATE = 100;

/**
 * Acks are batched for this long (one cumulative frame per channel), unless half of the server's
 * in-flight window is processed first: then they go at once so the window never fills.
 */
const ACK_DELAY_MS = 100;

function base64url(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomId(): string {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function posInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new TypeError(`switchyard client: ${name} must be a positive integer (got ${String(v)})`);
  return v;
}

/** A connection to a switchyard server that survives disconnects. Create it with {@link connect}. */
export class Client extends EventEmitter<ClientEvents> {
  state: ClientState = 'connecting';
  private ws: WebSocketLike | undefined;
  private readonly subs = new Map<string, Subscription<any>>();
  private readonly pending = new Map<number, Pending>();
  private readonly outbox: QueuedPublish[] = [];
  /** QoS 0 publishes, history and presence reads made before the connection is up: each resumes (or fails) once. */
  private readonly waiting = new Set<(err?: Error) => void>();
  private readonly acks = new Map<string, number>();
  /** Last offset acknowledged per channel, to send early once half the in-flight window is processed. */
  private readonly ackedUpTo = new Map<string, number>();
  /** The server's `limits.inflightWindow`, from `welcome` (protocol v1 servers that omit it: 256). */
  private inflightWindow = 256;
  /** The server's `limits.publishesPerSecond`, from `welcome` (`pr`): QoS 1 sends are paced under it. */
  private publishRate = DEFAULT_PUBLISH_RATE;
  /** Token bucket mirroring the server's per-connection one, so paced sends never earn a 106. */
  private publishTokens = DEFAULT_PUBLISH_RATE;
  private tokensAt = 0;
  /** QoS 1 publishes due to be sent on this connection, oldest first; `pump()` sends them as tokens allow. */
  private readonly sendQueue: QueuedPublish[] = [];
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;
  private heartbeat = 0;
  private nextId = 1;
  /** The socket a refresh is running for, so one `refresh` request starts one loop. */
  private refreshing: WebSocketLike | undefined;
  private attempt = 0;
  private welcomed = false;
  /** Whether the WebSocket is the platform's own (a browser's), which cannot report an upgrade's HTTP status. */
  private readonly browserSocket: boolean;
  private readonly o: Required<Omit<ClientOptions, 'token' | 'reconnect' | 'WebSocket'>> & {
    reconnect: false | { minDelay: number; maxDelay: number };
    WebSocket: WebSocketConstructor;
    token: ClientOptions['token'];
  };

  /** Every endpoint given to {@link connect}; reconnects try them in turn. */
  readonly urls: readonly string[];
  private urlIndex = 0;

  constructor(url: string | readonly string[], options: ClientOptions = {}) {
    super();
    const urls = typeof url === 'string' ? [url] : Array.isArray(url) ? [...url] : [];
    if (urls.length === 0) throw new TypeError(`switchyard client: url must be a ws:// or wss:// URL or a non-empty array of them (got ${String(url)})`);
    for (const u of urls) if (typeof u !== 'string' || !/^wss?:\/\//.test(u)) throw new TypeError(`switchyard client: url must start with ws:// or wss:// (got ${String(u)})`);
    this.urls = urls;
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.browserSocket = options.WebSocket === undefined;
    if (!WS) throw new TypeError('switchyard client: no WebSocket implementation; pass options.WebSocket (in Node import from "switchyardjs/client", which supplies ws)');
    const r = options.reconnect ?? true;
    if (typeof r !== 'boolean' && (typeof r !== 'object' || r === null)) throw new TypeError('switchyard client: reconnect must be a boolean or {minDelay, maxDelay}');
    const reconnect = r === false ? false : { minDelay: posInt('reconnect.minDelay', r === true ? undefined : r.minDelay, 500), maxDelay: posInt('reconnect.maxDelay', r === true ? undefined : r.maxDelay, 20_000) };
    if (options.token !== undefined && typeof options.token !== 'string' && typeof options.token !== 'function') throw new TypeError('switchyard client: token must be a string or a function returning one (or null)');
    this.o = {
      token: options.token,
      reconnect,
      timeout: posInt('timeout', options.timeout, 10_000),
      publishTimeout: posInt('publishTimeout', options.publishTimeout, 60_000),
      offlineQueue: posInt('offlineQueue', options.offlineQueue, 1_000),
      WebSocket: WS,
    };
    void this.open();
  }

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  private async open(): Promise<void> {
    // [TR-5] A browser's WebSocket hides the status of a refused upgrade: ask the server to say why with a close code instead.
    let protocols = this.browserSocket ? [SUBPROTOCOL, REFUSAL_CLOSE_PROTOCOL] : [SUBPROTOCOL];
    const t = await fetchToken(this.o.token);
    if (this.state === 'closed') return;
    if ('none' in t) return this.stop(CLOSE.NO_TOKEN, 'token provider returned null: no credentials');
    if ('failed' in t) {
      // Connecting without the token would only be refused: retry the provider with backoff.
      this.emit('tokenError', t.failed);
      if (this.o.reconnect === false) return this.stop(CLOSE.NO_TOKEN, 'token provider failed and reconnect is off');
      return this.scheduleReconnect();
    }
    if (t.token) protocols = [...protocols, TOKEN_PROTOCOL_PREFIX + base64url(t.token)];
    let ws: WebSocketLike;
    try {
      ws = new this.o.WebSocket(this.url, protocols);
    } catch (err) {
      this.stop(1006, `cannot open WebSocket: ${(err as Error).message}`);
      return;
    }
    this.ws = ws;
    this.welcomed = false;
    let refused: string | undefined;
    ws.onmessage = (ev) => this.onFrame(typeof ev.data === 'string' ? ev.data : String(ev.data));
    ws.onerror = (ev) => {
      // Node (ws) reports the HTTP status of a refused upgrade; browsers do not expose it.
      const m = /Unexpected server response: (\d+)/.exec(String((ev as { message?: string })?.message ?? (ev as { error?: Error })?.error?.message ?? ''));
      if (m && (m[1] === '401' || m[1] === '403' || m[1] === '400')) refused = `upgrade refused with HTTP ${m[1]}`;
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.watchdog);
      this.failPending(new ClientError(1006, 'connection closed before the reply'));
      if (refused) return this.stop(CLOSE.KICKED, refused);
      const again = this.state !== 'closed' && this.o.reconnect !== false && shouldReconnect(ev.code);
      this.emit('disconnected', { code: ev.code, reason: ev.reason, willReconnect: again });
      if (!again) return this.stop(ev.code, ev.reason);
      this.scheduleReconnect();
    };
  }

  /** The endpoint of the current (or next) connection attempt. */
  get url(): string {
    return this.urls[this.urlIndex];
  }

  private scheduleReconnect(): void {
    if (this.state === 'closed' || this.o.reconnect === false) return;
    this.setState('reconnecting');
    // With several endpoints (nodes of a cluster) each attempt goes to the next one, so a dead
    // node costs one attempt; every node serves the same streams, so recovery works on any.
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const delay = backoffDelay(this.attempt++, this.o.reconnect.minDelay, this.o.reconnect.maxDelay);
    this.reconnectTimer = setTimeout(() => void this.open(), delay);
  }

  private stop(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.watchdog);
    clearTimeout(this.ackTimer);
    clearTimeout(this.pumpTimer);
    this.sendQueue.length = 0;
    const err = new ClientError(code, `client closed: ${reason || code}`);
    this.failPending(err);
    for (const p of this.outbox.splice(0)) this.settle(p, err);
    for (const w of [...this.waiting]) w(err);
    for (const s of this.subs.values()) s.closed(err);
    this.emit('closed', { code, reason });
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private sendRaw(obj: object): boolean {
    if (!this.ws || this.ws.readyState !== 1 || !this.welcomed) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  private request<T>(frame: Record<string, unknown>, timeout = this.o.timeout, onReply?: (res: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const p: Pending = { resolve: resolve as (r: unknown) => void, reject, onReply: onReply as ((r: unknown) => void) | undefined };
      p.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ClientError(0, `request timed out after ${timeout} ms`));
      }, timeout);
      this.pending.set(id, p);
      if (!this.sendRaw({ ...frame, id })) {
        clearTimeout(p.timer);
        this.pending.delete(id);
        reject(new ClientError(0, `not connected (state ${this.state})`));
      }
    });
  }

  /**
   * Runs `send` now when connected, else once the connection is up — so a call made right after
   * `connect()` or during a reconnect is not refused. Bounded: at most `offlineQueue` calls wait,
   * each at most `timeout` ms; `close()` or a terminal close rejects them.
   */
  private whenConnected<T>(send: () => Promise<T>): Promise<T> {
    if (this.state === 'connected') return send();
    if (this.state === 'closed') return Promise.reject(new ClientError(0, 'client is closed'));
    if (this.waiting.size >= this.o.offlineQueue) return Promise.reject(new ClientError(0, `offline queue full (${this.o.offlineQueue} calls waiting)`));
    return new Promise<T>((resolve, reject) => {
      const resume = (err?: Error): void => {
        clearTimeout(timer);
        this.waiting.delete(resume);
        if (err) reject(err);
        else send().then(resolve, reject);
      };
      const timer = setTimeout(() => resume(new ClientError(0, `not connected after ${this.o.timeout} ms (state ${this.state})`)), this.o.timeout);
      this.waiting.add(resume);
    });
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const limit = this.heartbeat * 2 + 1_000;
    const check = (): void => {
      const idle = Date.now() - this.lastFrameAt;
      if (idle >= limit) {
        // The server stopped talking: treat the connection as dead and reconnect.
        const ws = this.ws;
        ws?.close(4001, 'heartbeat timeout');
        if (ws && ws.onclose) ws.onclose({ code: CLOSE.HEARTBEAT_TIMEOUT, reason: 'no heartbeat from server' });
        return;
      }
      this.watchdog = setTimeout(check, limit - idle);
    };
    this.watchdog = setTimeout(check, limit);
  }

  private onFrame(text: string): void {
    this.lastFrameAt = Date.now();
    let f: Record<string, any>;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    switch (f.op) {
      case 'msg': {
        const msg: Message = { channel: f.ch, data: f.data, offset: f.off, epoch: f.ep };
        // Each frame is for exactly one subscription: the pattern it names, else the exact channel.
        const target = this.subs.get(typeof f.sub === 'string' ? f.sub : f.ch);
        if (target && target.pattern === (typeof f.sub === 'string')) target.deliver(msg);
        break;
      }
      case 'ok':
      case 'err': {
        const p = this.pending.get(f.id);
        if (p) {
          this.pending.delete(f.id);
          clearTimeout(p.timer);
          if (f.op === 'ok') {
            p.onReply?.(f.res ?? {});
            p.resolve(f.res ?? {});
          }
          else p.reject(new ClientError(f.code, f.msg));
        } else if (f.op === 'err') this.emit('error', new ClientError(f.code, f.msg));
        break;
      }
      case 'ping':
        this.sendRaw({ op: 'pong' });
        break;
      case 'drop':
        this.subs.get(f.ch)?.dropped(f.n);
        break;
      case 'gap':
        this.subs.get(f.ch)?.gap(f.position, f.reason === 'reset' ? 'reset' : 'trimmed');
        break;
      case 'join':
      case 'leave':
        this.subs.get(f.ch)?.presenceEvent(f.op, f.m);
        break;
      case 'ujoin':
      case 'uleave':
        this.subs.get(f.ch)?.userPresenceEvent(f.op, f.u);
        break;
      case 'refresh':
        this.startRefresh();
        break;
      case 'end': {
        // [END-1] the server ended this subscription (121 revoked, 122 hub.unsubscribe).
        const sub = this.subs.get(f.ch);
        if (!sub) break;
        this.subs.delete(f.ch);
        this.acks.delete(f.ch);
        this.ackedUpTo.delete(f.ch);
        sub.ended(new ClientError(f.code, f.msg));
        break;
      }
      case 'welcome':
        this.welcomed = true;
        this.heartbeat = f.hb;
        if (Number.isSafeInteger(f.win) && f.win > 0) this.inflightWindow = f.win;
        if (Number.isSafeInteger(f.pr) && f.pr > 0) this.publishRate = f.pr;
        // A new connection starts with a full bucket on the server, so here too.
        this.publishTokens = this.publishRate;
        this.tokensAt = performance.now();
        this.attempt = 0;
        this.armWatchdog();
        this.setState('connected');
        this.emit('connected', { connectionId: f.cid });
        this.syncServerSubscriptions(Array.isArray(f.subs) ? f.subs : [], false);
        for (const s of this.subs.values()) void this.sendSubscribe(s);
        // Everything queued goes again, in order and paced; retries waiting for their backoff keep waiting.
        this.sendQueue.length = 0;
        for (const p of this.outbox) {
          p.inFlight = false;
          if (!p.retry) this.sendQueue.push(p);
        }
        this.pump();
        for (const w of [...this.waiting]) w();
        break;
    }
  }

  /** Answers the server's `refresh` request once per socket (a second request while one runs is redundant). */
  private startRefresh(): void {
    const ws = this.ws;
    if (!ws || this.refreshing === ws) return;
    this.refreshing = ws;
    const reconnect = this.o.reconnect === false ? { minDelay: 500, maxDelay: 20_000 } : this.o.reconnect;
    void runRefresh(
      {
        provider: this.o.token,
        current: () => this.ws === ws && this.state === 'connected',
        send: (token) => this.request({ op: 'refresh', token }),
        done: (res) => {
          const r = res as { exp?: unknown; subs?: unknown };
          this.syncServerSubscriptions(Array.isArray(r.subs) ? r.subs : [], true);
          this.emit('refreshed', typeof r.exp === 'number' ? { expiresIn: r.exp } : {});
        },
        failed: (err) => this.emit('tokenError', err),
        noToken: () => this.shutdown(CLOSE.NO_TOKEN, 'token provider returned null: no credentials'),
        minDelay: reconnect.minDelay,
        maxDelay: reconnect.maxDelay,
      },
      (ms) => new Promise((resolve) => (this.refreshTimer = setTimeout(resolve, ms))),
    ).finally(() => {
      if (this.refreshing === ws) this.refreshing = undefined;
    });
  }

  /**
   * [SSUB-3] Makes the server-side subscriptions match the server's list: new channels become
   * subscriptions (announced with `serverSubscription`), withdrawn ones end with 121. `subscribeNow`
   * subscribes new ones at once (after a refresh); after `welcome` the caller resubscribes all.
   */
  private syncServerSubscriptions(list: unknown[], subscribeNow: boolean): void {
    const granted = new Map<string, QoS>();
    for (const x of list as Array<{ ch?: unknown; qos?: unknown }>) if (typeof x?.ch === 'string') granted.set(x.ch, x.qos === 1 ? 1 : 0);
    for (const sub of [...this.subs.values()]) {
      if (!sub.server || granted.has(sub.channel)) continue;
      this.subs.delete(sub.channel);
      sub.ended(new ClientError(121, `${sub.channel} is no longer granted by the server`));
    }
    for (const [ch, qos] of granted) {
      if (this.subs.has(ch)) continue;
      const sub: Subscription<any> = new Subscription(this, ch, (m) => void sub.emit('message', m), qos, undefined, false, false, true);
      this.subs.set(ch, sub);
      this.emit('serverSubscription', sub);
      if (subscribeNow) void this.sendSubscribe(sub);
    }
  }

  /** The subscription of `channel` (a server-side one included), if any. */
  subscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  private async sendSubscribe(sub: Subscription<any>): Promise<void> {
    const since = sub.resumeFrom;
    const frame: Record<string, unknown> = { op: 'sub', ch: sub.channel };
    if (sub.qos === 1) frame.qos = 1;
    if (since) frame.since = since;
    if (sub.presenceEvents) frame.presence = true;
    if (sub.userPresenceEvents) frame.users = true;
    try {
      // The replay follows the reply immediately: the subscription must learn the result before it sees them.
      await this.request<SubscribeResult>(frame, undefined, (res) => {
        if (sub.active && this.subs.get(sub.channel) === sub) sub.subscribed(res, since !== undefined);
      });
    } catch (err) {
      if (!isRefusal(err)) return; // disconnected or timed out: the next welcome resubscribes
      this.subs.delete(sub.channel);
      sub.refused(err);
    }
  }

  /**
   * Subscribes to a channel or pattern. The handler receives each message once, in offset order.
   * Throws a TypeError when already subscribed to `channel` on this client.
   */
  subscribe<T = unknown>(channel: string, handler: MessageHandler<T>, options: SubscribeOptions = {}): Subscription<T> {
    if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('switchyard client: channel must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError('switchyard client: handler must be a function');
    if (this.subs.has(channel)) throw new TypeError(`switchyard client: already subscribed to ${channel}; unsubscribe first`);
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1) throw new TypeError('switchyard client: qos must be 0 or 1');
    const presence = options.presence ?? false;
    if (typeof presence !== 'boolean') throw new TypeError('switchyard client: presence must be a boolean');
    if (presence && (channel.includes('*') || channel.includes('>'))) throw new TypeError('switchyard client: presence events need an exact channel');
    const userPresence = options.userPresence ?? false;
    if (typeof userPresence !== 'boolean') throw new TypeError('switchyard client: userPresence must be a boolean');
    if (userPresence && (channel.includes('*') || channel.includes('>'))) throw new TypeError('switchyard client: user presence events need an exact channel');
    const sub = new Subscription<T>(this, channel, handler, qos, options.since, presence, userPresence);
    this.subs.set(channel, sub);
    if (this.state === 'connected') void this.sendSubscribe(sub);
    return sub;
  }

  /** @internal */
  remove(sub: Subscription<any>): void {
    if (this.subs.get(sub.channel) !== sub) return;
    this.subs.delete(sub.channel);
    this.acks.delete(sub.channel);
    this.ackedUpTo.delete(sub.channel);
    if (this.state === 'connected') this.request({ op: 'unsub', ch: sub.channel }).catch(() => {});
  }

  /** @internal Batches cumulative acks: one frame per channel per {@link ACK_DELAY_MS}, or sooner at half the window. */
  sendAck(channel: string, offset: number): void {
    this.acks.set(channel, offset);
    let last = this.ackedUpTo.get(channel);
    if (last === undefined) this.ackedUpTo.set(channel, (last = offset - 1));
    if (offset - last >= this.inflightWindow / 2) {
      this.flushAcks();
      return;
    }
    this.ackTimer ??= setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const [ch, off] of this.acks) if (this.sendRaw({ op: 'ack', ch, off })) this.ackedUpTo.set(ch, off);
    this.acks.clear();
  }

  /**
   * Publishes `data` to `channel`. Resolves with the stored position once the server acknowledged.
   * QoS 0 is sent once: made while not connected it waits for the connection (at most `timeout`
   * ms, at most `offlineQueue` waiting calls), and rejects after `timeout` without a reply or when
   * the connection drops first; it is never retried. QoS 1 waits in the offline queue and is
   * retried across reconnects until `publishTimeout`, and is stored exactly once.
   */
  publish(channel: string, data: unknown, options: ClientPublishOptions = {}): Promise<PublishResult> {
    const qos = options.qos ?? 0;
    if (qos === 0) {
      return this.whenConnected(() => {
        // Unpaced (a QoS 0 publish is never retried), but it uses up the same server-side bucket.
        this.takePublishToken();
        return this.request<PublishResult>({ op: 'pub', ch: channel, data });
      });
    }
    if (qos !== 1) return Promise.reject(new TypeError('switchyard client: qos must be 0 or 1'));
    if (this.state === 'closed') return Promise.reject(new ClientError(0, 'client is closed'));
    if (this.outbox.length >= this.o.offlineQueue) return Promise.reject(new ClientError(0, `offline queue full (${this.o.offlineQueue} publishes waiting)`));
    return new Promise((resolve, reject) => {
      const p: QueuedPublish = { channel, data, mid: randomId(), deadline: performance.now() + this.o.publishTimeout, attempt: 0, resolve, reject };
      p.expiry = setTimeout(() => this.settle(p, new ClientError(0, 'QoS 1 publish timed out')), this.o.publishTimeout);
      this.outbox.push(p);
      if (this.state === 'connected') this.enqueue(p);
    });
  }

  /** Takes a QoS 1 publish out of the outbox and settles it once (a late ack after expiry is ignored). */
  private settle(p: QueuedPublish, outcome: Error | PublishResult): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.expiry);
    clearTimeout(p.retry);
    const i = this.outbox.indexOf(p);
    if (i !== -1) this.outbox.splice(i, 1);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  /** Tokens left in the mirror of the server's per-connection publish bucket, refilled at `publishRate` per second. */
  private refillPublishTokens(): number {
    const now = performance.now();
    this.publishTokens = Math.min(this.publishRate, this.publishTokens + ((now - this.tokensAt) * this.publishRate) / 1000);
    this.tokensAt = now;
    return this.publishTokens;
  }

  private takePublishToken(): boolean {
    if (this.refillPublishTokens() < 1) return false;
    this.publishTokens -= 1;
    return true;
  }

  /** Queues a QoS 1 publish for sending on the current connection. */
  private enqueue(p: QueuedPublish): void {
    if (p.settled || p.inFlight || this.sendQueue.includes(p)) return;
    this.sendQueue.push(p);
    this.pump();
  }

  /** Sends queued QoS 1 publishes as fast as the server's announced rate allows, never faster. */
  private pump(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    while (this.sendQueue.length && this.state === 'connected' && this.welcomed) {
      const p = this.sendQueue[0];
      if (p.settled) {
        this.sendQueue.shift();
        continue;
      }
      if (!this.takePublishToken()) {
        // Wake when the next token is there; one timer for the whole queue.
        const wait = Math.ceil(((1 - this.publishTokens) * 1000) / this.publishRate);
        this.pumpTimer = setTimeout(() => this.pump(), Math.max(1, wait));
        return;
      }
      this.sendQueue.shift();
      void this.sendQueued(p);
    }
  }

  private async sendQueued(p: QueuedPublish): Promise<void> {
    if (p.settled) return;
    const left = p.deadline - performance.now();
    if (left <= 0) return this.settle(p, new ClientError(0, 'QoS 1 publish timed out'));
    p.inFlight = true;
    try {
      const res = await this.request<PublishResult>({ op: 'pub', ch: p.channel, data: p.data, mid: p.mid }, Math.min(left, this.o.timeout));
      this.settle(p, res);
    } catch (err) {
      p.inFlight = false;
      if (p.settled) return;
      if (isRefusal(err) && !RETRYABLE_PUBLISH_CODES.has(err.code)) return this.settle(p, err);
      if (isRefusal(err) || (err instanceof ClientError && err.code === 0 && this.state === 'connected')) {
        // Transient (not stored, node closing, rate exceeded, or no reply in time on a live
        // connection): retry with the same id after a growing, jittered delay, so a backlog
        // after an outage is spread out instead of hammering the server; the publish deadline
        // bounds it all. After a 106 the server's bucket is empty: so is ours.
        if (isRefusal(err) && err.code === 106) this.publishTokens = 0;
        clearTimeout(p.retry);
        p.retry = setTimeout(() => {
          p.retry = undefined;
          if (this.state === 'connected' && this.welcomed) this.enqueue(p);
        }, backoffDelay(p.attempt++, RETRY_MIN_MS, RETRY_MAX_MS));
        return;
      }
      // Connection lost: the next welcome sends it again (same mid, so no duplicate).
    }
  }

  /**
   * Reads a channel's history (authorized by the server like a subscribe). Made while not
   * connected it waits for the connection like a QoS 0 publish.
   */
  history(channel: string, options: { since?: Position; limit?: number } = {}): Promise<HistoryResult> {
    const frame: Record<string, unknown> = { op: 'hist', ch: channel };
    if (options.since) frame.since = options.since;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.whenConnected(() => this.request<HistoryResult>(frame));
  }

  /**
   * Who is subscribed to a presence channel right now: at most the server's
   * `limits.maxPresenceMembers` members, `truncated` when there are more. Rejects with a
   * `ClientError`: 117 when the channel has no presence, 107 when `authorize` denies. Made while
   * not connected it waits for the connection like a QoS 0 publish.
   */
  async presence(channel: string): Promise<PresenceResult> {
    const res = await this.whenConnected(() => this.request<PresenceResultWire>({ op: 'presence', ch: channel }));
    return {
      members: res.members.map((m) => ('info' in m ? { connectionId: m.cid, info: m.info } : { connectionId: m.cid })),
      truncated: res.truncated === true,
    };
  }

  /**
   * Presence by user: at most the server's `limits.maxPresenceMembers` users of a channel, each
   * with its number of connections across all nodes. Rejects with a `ClientError`: 117 when the
   * channel's rule has no `userPresence: true`, 107 when `authorize` denies.
   */
  async presenceUsers(channel: string): Promise<PresenceUsersResult> {
    const res = await this.request<PresenceUsersResultWire>({ op: 'presence', ch: channel, users: true });
    return {
      users: res.users.map((u) => ('info' in u ? { userId: u.id, connections: u.n, info: u.info } : { userId: u.id, connections: u.n })),
      truncated: res.truncated === true,
    };
  }

  /** Closes the connection for good (no reconnect). Pending requests reject. */
  close(): void {
    this.shutdown(1000, 'client closed');
  }

  /** Stops for good, reporting `code` (e.g. 4510 NO_TOKEN) in `closed`; the socket closes with 1000. */
  private shutdown(code: number, reason: string): void {
    const ws = this.ws;
    this.stop(code, reason);
    this.ws = undefined;
    ws?.close(1000, 'client closed');
  }
}

/**
 * Connects to a switchyard endpoint, e.g. `connect('ws://localhost:3000/realtime')`, or to any of
 * several nodes of a cluster (`connect(['ws://a/realtime', 'ws://b/realtime'])`): each reconnect
 * tries the next URL. Throws a TypeError for an invalid URL or option.
 */
export function connect(url: string | readonly string[], options: ClientOptions = {}): Client {
  return new Client(url, options);
}
