/**
 * The node-redis clients an engine uses, reduced to the calls it makes, and their lifecycle:
 * one command client (storage, publishes) and one subscriber client (pub/sub needs its own
 * connection). Three deployments are supported: one Redis (`createClient`), Redis Sentinel
 * (`createSentinel`, which follows failovers) and Redis Cluster (`createCluster`, which routes
 * each command by its first key and uses sharded pub/sub). Every client runs with node-redis'
 * offline queue disabled, so a command issued while Redis is unreachable rejects at once
 * instead of waiting, unbounded, for a reconnect.
 * @module
 */

/** How the engine reaches Redis. */
export type RedisTopology = 'single' | 'sentinel' | 'cluster';

/** A pub/sub message listener, as node-redis calls it. */
export type RedisMessageListener = (message: string, channel: string) => void;

/** The subset of a node-redis v5+ client (`createClient`) the engine needs. */
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
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  on(event: string, fn: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  off?(event: string, fn: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  once?(event: string, fn: (...args: any[]) => void): unknown;
  subscribe(channel: string, listener: RedisMessageListener): Promise<unknown>;
  unsubscribe(channel: string, listener?: RedisMessageListener): Promise<unknown>;
  pSubscribe(pattern: string, listener: RedisMessageListener): Promise<unknown>;
  pUnsubscribe(pattern: string, listener?: RedisMessageListener): Promise<unknown>;
}

/** What the engine uses of a node-redis cluster (`createCluster`) or sentinel (`createSentinel`) client. */
export interface RedisGroupLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  close(): Promise<unknown>;
  destroy(): unknown;
  /** Cluster: `(firstKey, isReadonly, args)`; sentinel: `(isReadonly, args)`. */
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  sendCommand(...args: any[]): Promise<unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  on(event: string, fn: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  off?(event: string, fn: (...args: any[]) => void): unknown;
  subscribe?(channel: string, listener: RedisMessageListener): Promise<unknown>;
  unsubscribe?(channel: string, listener?: RedisMessageListener): Promise<unknown>;
  pSubscribe?(pattern: string, listener: RedisMessageListener): Promise<unknown>;
  pUnsubscribe?(pattern: string, listener?: RedisMessageListener): Promise<unknown>;
  sSubscribe?(channel: string, listener: RedisMessageListener): Promise<unknown>;
  sUnsubscribe?(channel: string, listener?: RedisMessageListener): Promise<unknown>;
  /** Cluster only: the primaries, a client for one of them, and the primary of a key's slot. */
  readonly masters?: Array<{ host: string; port: number }>;
  readonly nodeByAddress?: Map<string, unknown>;
  nodeClient?(node: unknown): Promise<RedisNodeClientLike>;
  getNodeClientForKey?(key: string): Promise<RedisNodeClientLike>;
}

/** One node's client inside a cluster client. */
export interface RedisNodeClientLike {
  sendCommand(args: string[]): Promise<unknown>;
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
  for (
    let p = err === null || typeof err !== 'object' ? null : Object.getPrototypeOf(err);
    p;
    p = Object.getPrototypeOf(p)
  ) {
    if (p.constructor?.name === 'ErrorReply') return true;
  }
  return false;
}

/** The key a command is routed by on a cluster: EVAL/EVALSHA name theirs after numkeys. */
function firstKey(args: string[]): string | undefined {
  const c = args[0];
  if (c === 'EVALSHA' || c === 'EVAL') return Number(args[2]) > 0 ? args[3] : undefined;
  return args[1];
}

// Events after which the Redis server behind a connection may be another one (or the same one
// restarted): the run ids the storage trusts must be read again before the next script.
const SERVER_MAY_CHANGE = ['connect', 'node-connect', 'topology-change', 'reconnecting', 'node-reconnecting'];
// Events after which a subscriber connection is ready (again, after an interruption) …
const SUB_READY = ['ready', 'node-ready'];
// … and events saying it was interrupted.
const SUB_DOWN = ['reconnecting', 'node-reconnecting'];

/** Shared state of one engine's clients. */
export class RedisConnection {
  private readonly ready: { cmd?: Promise<void>; sub?: Promise<void>; replica?: Promise<void> } = {};
  /** node-redis' first connect of each client while it is still running (cleared when it settles). */
  private readonly firstConnect: { cmd?: Promise<void>; sub?: Promise<void>; replica?: Promise<void> } = {};
  private closed = false;
  private runs: Promise<string> | undefined;
  /** Counts events after which the server behind a connection may have changed. */
  private generation = 0;
  private readonly forgetRuns = () => {
    this.generation++;
    this.runs = undefined;
  };

  constructor(
    readonly topology: RedisTopology,
    readonly cmd: RedisClientLike | RedisGroupLike,
    readonly sub: RedisClientLike | RedisGroupLike,
    private readonly owned: boolean,
    private readonly connectTimeout: number,
    private readonly logger: RedisLogger | undefined,
    /**
     * A region's local replica (docs/regions.md): reads go to it, and `sub` is a duplicate of
     * it (live messages come from the replica, which Redis replication gives every publish of
     * the primary). Commands that write always go to `cmd`, the primary.
     */
    readonly replica?: RedisClientLike,
  ) {
    // node-redis emits 'error' on every failed (re)connect; an unhandled 'error' would crash the process.
    for (const [name, c] of [
      ['command', cmd],
      ['subscriber', sub],
      ['replica', replica],
    ] as const) {
      if (!c) continue;
      c.on('error', (err: unknown) =>
        this.logger?.warn(
          { err: err instanceof Error ? err.message : String(err), client: name },
          'redis connection error',
        ),
      );
    }
    for (const e of SERVER_MAY_CHANGE) cmd.on(e, this.forgetRuns);
  }

  /**
   * Adds `ready` for every "a subscriber connection is ready" event and `down` (optional) for
   * every "a subscriber connection was lost" event. On a cluster both name the node's
   * `{ host, port }` (node-redis keeps one connection per shard); elsewhere they get nothing.
   */
  onSub(
    ready: (node?: { host: string; port: number }) => void,
    down?: (node?: { host: string; port: number }) => void,
  ): void {
    for (const e of SUB_READY) this.sub.on(e, ready);
    if (down) for (const e of SUB_DOWN) this.sub.on(e, down);
  }

  // biome-ignore lint/suspicious/noExplicitAny: node-redis listeners take event-specific arguments; unknown[] would make every typed handler unassignable
  offSub(ready: (...a: any[]) => void, down?: (...a: any[]) => void): void {
    for (const e of SUB_READY) this.sub.off?.(e, ready);
    if (down) for (const e of SUB_DOWN) this.sub.off?.(e, down);
  }

  /**
   * Resolves once the client(s) are ready, or after `connectTimeout` ms if Redis is down at
   * startup (commands then reject until it comes up; node-redis keeps reconnecting). The
   * storage alone needs only the command client; the broker needs both.
   */
  start(which: 'cmd' | 'both' = 'cmd'): Promise<void> {
    const connect = (c: RedisClientLike | RedisGroupLike, key: 'cmd' | 'sub' | 'replica') =>
      (this.ready[key] ??= (async () => {
        if (c.isOpen) return;
        const p = c.connect().then(() => undefined);
        p.catch(() => {});
        this.firstConnect[key] = p;
        const settled = () => {
          if (this.firstConnect[key] === p) this.firstConnect[key] = undefined;
        };
        p.then(settled, settled);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.connectTimeout)))]);
        clearTimeout(timer);
      })());
    const replica = this.replica ? connect(this.replica, 'replica') : Promise.resolve();
    if (which === 'cmd') return Promise.all([connect(this.cmd, 'cmd'), replica]).then(() => undefined);
    return Promise.all([connect(this.cmd, 'cmd'), replica, connect(this.sub, 'sub')]).then(() => undefined);
  }

  /**
   * Sentinel: whether a client may take a command now. node-redis' sentinel client holds
   * commands while it looks for a primary; the engine refuses them instead (as a single client
   * with its offline queue disabled does), but only after the first connection: that one takes
   * several round trips (sentinel, primary discovery, primary), which on a loaded machine can
   * outlast the hub's start, so until it completes a command waits for it, up to
   * `connectTimeout`, like the start itself.
   */
  async sentinelReady(which: 'cmd' | 'sub'): Promise<boolean> {
    const c = which === 'cmd' ? this.cmd : this.sub;
    if (c.isReady) return true;
    const first = this.firstConnect[which];
    if (!first) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      first.catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.connectTimeout))),
    ]);
    clearTimeout(timer);
    return c.isReady;
  }

  private send(args: string[]): Promise<unknown> {
    if (this.topology === 'cluster') return (this.cmd as RedisGroupLike).sendCommand(firstKey(args), false, args);
    // node-redis' sentinel client holds commands while it looks for a new primary; a deadline
    // keeps the storage contract (reject promptly while Redis is unreachable).
    if (this.topology === 'sentinel')
      return (this.cmd as RedisGroupLike).sendCommand(false, args, {
        abortSignal: AbortSignal.timeout(this.connectTimeout),
      });
    return (this.cmd as RedisClientLike).sendCommand(args);
  }

  /** Runs a command (routed by its first key on a cluster), turning connection failures into {@link RedisUnavailableError}. */
  async run(args: string[]): Promise<unknown> {
    await this.start();
    if (this.closed) throw new RedisUnavailableError('engine closed');
    try {
      return await this.send(args);
    } catch (err) {
      // A reply error from Redis itself (e.g. NOSCRIPT, WRONGTYPE) is not an outage.
      if (isReplyError(err)) throw err;
      throw new RedisUnavailableError(err);
    }
  }

  /**
   * The run ids of the primaries this engine talks to, as " id1 id2 … " (one on a single Redis
   * or Sentinel, one per primary on a cluster). Read with INFO once per connection and read
   * again after any (re)connect or topology change, so a restarted or promoted server, whose
   * run id is new, is never mistaken for the one that wrote a stream.
   */
  runIds(): Promise<string> {
    if (!this.runs) {
      const p = this.readRunIds();
      p.catch(() => {
        if (this.runs === p) this.runs = undefined;
      });
      this.runs = p;
    }
    return this.runs;
  }

  /** Forgets the cached run ids (after NOSCRIPT: the server's script cache is new, maybe the server too). */
  staleRunIds(): void {
    this.forgetRuns();
  }

  /**
   * Runs the command `build(runIds)` on the primary of `key`, with run ids that are current
   * when it is sent: the target's connection is established first (on a cluster), the run ids
   * are read under the same connection generation, and the command is sent without anything
   * in between (no queue, no redirect node-redis would follow with stale arguments). A MOVED
   * or ASK reply is followed here, with fresh run ids. This is what keeps a stream written by
   * a server that restarted or was replaced by its replica from being trusted. `stampsOf`
   * extracts, from the reply, the run ids of the streams the command used (see the
   * post-check below).
   */
  async runChecked(
    key: string,
    build: (runIds: string) => string[],
    stampsOf?: (reply: unknown) => string[],
  ): Promise<unknown> {
    let ask: string | undefined;
    for (let attempt = 0; ; attempt++) {
      await this.start();
      if (this.closed) throw new RedisUnavailableError('engine closed');
      try {
        if (this.topology === 'sentinel') await this.sentinelReady('cmd');
        const g = this.generation;
        let target: RedisNodeClientLike | undefined;
        if (this.topology === 'cluster') {
          const c = this.cmd as RedisGroupLike;
          const node = ask === undefined ? undefined : c.nodeByAddress!.get(ask);
          target = node ? await c.nodeClient!(node) : await c.getNodeClientForKey!(key);
        }
        const runs = await this.runIds();
        if (g !== this.generation) {
          if (attempt < 5) continue;
          throw new RedisUnavailableError('the Redis topology keeps changing');
        }
        // Sentinel holds commands while it switches primaries: refuse instead, as a single client does.
        if (this.topology === 'sentinel' && !this.cmd.isReady)
          throw new RedisUnavailableError('no primary (failover in progress)');
        const args = build(runs);
        let reply: unknown;
        if (!target) reply = await this.send(args);
        else if (ask === undefined) reply = await target.sendCommand(args);
        else reply = (await Promise.all([target.sendCommand(['ASKING']), target.sendCommand(args)]))[1];
        // node-redis' sentinel client may hold a command across a failover and run it on the new
        // primary. If the primary changed meanwhile and the stream the command used carries a
        // run id that is no longer current, its answer rests on stale trust: fail it (the
        // publisher retries; the next command, with current run ids, starts the stream over).
        if (g !== this.generation && stampsOf) {
          const fresh = await this.runIds();
          if (stampsOf(reply).some((stamp) => !fresh.includes(` ${stamp} `)))
            throw new RedisUnavailableError('the Redis primary changed while the command ran');
        }
        return reply;
      } catch (err) {
        if (!isReplyError(err)) {
          // On a cluster the slot's primary may be dead: have node-redis read the slot map again
          // (it does so by itself only after several reconnect attempts).
          this.refreshTopology();
          throw err instanceof RedisUnavailableError ? err : new RedisUnavailableError(err);
        }
        const msg = (err as Error).message;
        // The command reached a server its run ids do not name (node-redis moved it to a new
        // primary after they were read): the script wrote nothing; read them again and retry.
        if (msg.startsWith('STALERUNIDS') && attempt < 5) {
          this.forgetRuns();
          continue;
        }
        const redirect = /^(MOVED|ASK) \d+ (\S+)$/.exec(msg);
        if (!redirect || attempt >= 5) throw err;
        ask = undefined;
        if (redirect[1] === 'ASK') ask = redirect[2];
        // MOVED: let node-redis follow it once with a harmless command, which refreshes its slot map.
        else await this.run(['EXISTS', key]).catch(() => {});
      }
    }
  }

  private lastRefresh = 0;

  /**
   * Cluster only: asks node-redis to read the slot map again (at most every 500 ms), for the
   * command and the subscriber client. Uses node-redis' `_slots.rediscover()`, which it calls
   * itself on MOVED; without it a dead primary's slots stay mapped to it until node-redis'
   * reconnect tracker gives up on it.
   */
  refreshTopology(): void {
    if (this.topology !== 'cluster' || Date.now() - this.lastRefresh < 500) return;
    this.lastRefresh = Date.now();
    for (const c of new Set([this.cmd, this.sub])) {
      type Inner = { _slots?: { rediscover?(start?: unknown): Promise<unknown> } };
      const slots = ((c as unknown as { _self?: Inner })._self ?? (c as unknown as Inner))._slots;
      slots?.rediscover?.(undefined)?.catch(() => {});
    }
  }

  private async readRunIds(): Promise<string> {
    // Read again if the topology changed while reading: an answer from before it may be stale.
    for (let attempt = 0; attempt < 5; attempt++) {
      const g = this.generation;
      const ids = await this.readRunIdsOnce();
      if (g === this.generation) return ids;
    }
    throw new RedisUnavailableError('the Redis topology keeps changing');
  }

  private async readRunIdsOnce(): Promise<string> {
    await this.start();
    const info: string[] = [];
    try {
      if (this.topology === 'cluster') {
        const c = this.cmd as RedisGroupLike;
        for (const m of c.masters ?? [])
          info.push(String(await (await c.nodeClient!(m)).sendCommand(['INFO', 'server'])));
      } else info.push(String(await this.send(['INFO', 'server'])));
    } catch (err) {
      if (isReplyError(err)) throw err;
      throw new RedisUnavailableError(err);
    }
    const ids = info.map((s) => /run_id:(\w+)/.exec(s)?.[1]).filter((s): s is string => !!s);
    if (ids.length === 0) throw new RedisUnavailableError('INFO server answered without a run_id');
    return ' ' + ids.join(' ') + ' ';
  }

  /**
   * Closes one client. The storage closes the command client (only if the engine created it),
   * the broker the subscriber; the hub closes the broker first, so its publishes still work.
   */
  async close(which: 'cmd' | 'sub' | 'replica'): Promise<void> {
    if (which === 'cmd') {
      this.closed = true;
      if (this.replica) await this.close('replica');
    }
    const c = which === 'cmd' ? this.cmd : which === 'sub' ? this.sub : this.replica!;
    if (which === 'cmd') for (const e of SERVER_MAY_CHANGE) c.off?.(e, this.forgetRuns);
    if (!c.isOpen || (which === 'cmd' && !this.owned)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A client still in its first connect (e.g. a hub closed right after it started) is let
    // finish it, bounded by connectTimeout: destroying it mid-handshake left its socket open
    // behind node-redis' back, and that socket kept the process alive after hub.close().
    const first = this.firstConnect[which];
    if (first) {
      await Promise.race([
        first.catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.connectTimeout))),
      ]);
      clearTimeout(timer);
    }
    try {
      if (!c.isReady) throw new Error('not ready');
      // A graceful close waits for replies; one from a server that just died never comes.
      const late = new Promise(
        (_, reject) => (timer = setTimeout(() => reject(new Error('close timed out')), this.connectTimeout)),
      );
      await Promise.race([c.close ? c.close() : (c as RedisClientLike).quit!(), late]);
    } catch {
      await c.destroy();
    } finally {
      clearTimeout(timer);
    }
  }
}
