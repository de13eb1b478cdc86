/**
 * The node-redis clients an engine uses, reduced to the calls it makes, and their lifecycle:
 * one command client (storage, publishes) and one subscriber client (pub/sub needs its own
 * connection). Both run with node-redis' offline queue disabled, so a command issued while
 * Redis is unreachable rejects at once instead of waiting, unbounded, for a reconnect.
 * @module
 */

/** The subset of a node-redis v5+ client the engine needs. */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  readonly options?: { disableOfflineQueue?: boolean };
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy(): void;
  duplicate(): RedisClientLike;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: string, fn: (...args: any[]) => void): unknown;
  off?(event: string, fn: (...args: any[]) => void): unknown;
  once?(event: string, fn: (...args: any[]) => void): unknown;
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener?: (message: string, channel: string) => void): Promise<unknown>;
  pSubscribe(pattern: string, listener: (message: string, channel: string) => void): Promise<unknown>;
  pUnsubscribe(pattern: string, listener?: (message: string, channel: string) => void): Promise<unknown>;
}

/** Logger the engine reports connection trouble to (pino-compatible subset). */
export interface RedisLogger {
  warn(obj: object, msg: string): void;
}

/** Error a command gets while Redis is unreachable; the hub turns it into 201 ENGINE_UNAVAILABLE. */
export class RedisUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`redis unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RedisUnavailableError';
  }
}

/** Whether `err` is node-redis' ErrorReply (or a subclass): Redis answered, with an error. */
function isReplyError(err: unknown): boolean {
  for (let p = err === null || typeof err !== 'object' ? null : Object.getPrototypeOf(err); p; p = Object.getPrototypeOf(p)) {
    if (p.constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

/** Shared state of one engine's clients. */
export class RedisConnection {
  private readonly ready: { cmd?: Promise<void>; sub?: Promise<void> } = {};
  private closed = false;

  constructor(
    readonly cmd: RedisClientLike,
    readonly sub: RedisClientLike,
    private readonly owned: boolean,
    private readonly connectTimeout: number,
    private readonly logger: RedisLogger | undefined,
  ) {
    // node-redis emits 'error' on every failed (re)connect; an unhandled 'error' would crash the process.
    for (const [name, c] of [['command', cmd], ['subscriber', sub]] as const) {
      c.on('error', (err: Error) => this.logger?.warn({ err: err.message, client: name }, 'redis connection error'));
    }
  }

  /**
   * Resolves once the client(s) are ready, or after `connectTimeout` ms if Redis is down at
   * startup (commands then reject until it comes up; node-redis keeps reconnecting). The
   * storage alone needs only the command client; the broker needs both.
   */
  start(which: 'cmd' | 'both' = 'cmd'): Promise<void> {
    const connect = (c: RedisClientLike, key: 'cmd' | 'sub') =>
      (this.ready[key] ??= (async () => {
        if (c.isOpen) return;
        const p = c.connect().then(() => undefined);
        p.catch(() => {});
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.connectTimeout)))]);
        clearTimeout(timer);
      })());
    if (which === 'cmd') return connect(this.cmd, 'cmd');
    return Promise.all([connect(this.cmd, 'cmd'), connect(this.sub, 'sub')]).then(() => undefined);
  }

  /** Runs a command, turning connection failures into {@link RedisUnavailableError}. */
  async run(args: string[]): Promise<unknown> {
    await this.start();
    if (this.closed) throw new RedisUnavailableError('engine closed');
    try {
      return await this.cmd.sendCommand(args);
    } catch (err) {
      // A reply error from Redis itself (e.g. NOSCRIPT, WRONGTYPE) is not an outage.
      if (isReplyError(err)) throw err;
      throw new RedisUnavailableError(err);
    }
  }

  /**
   * Closes one client. The storage closes the command client (only if the engine created it),
   * the broker the subscriber; the hub closes the broker first, so its publishes still work.
   */
  async close(which: 'cmd' | 'sub'): Promise<void> {
    if (which === 'cmd') this.closed = true;
    const c = which === 'cmd' ? this.cmd : this.sub;
    if (!c.isOpen || (which === 'cmd' && !this.owned)) return;
    try {
      if (!c.isReady) throw new Error('not ready');
      await (c.close ? c.close() : c.quit!());
    } catch {
      c.destroy();
    }
  }
}
