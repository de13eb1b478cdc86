/**
 * {@link Broker} on Redis pub/sub with interest-based routing: a node subscribes only to the
 * channels its clients watch, so Redis sends it nothing else. Messages are
 * "<offset>:<epoch>:<payload>" on the channel's bus channel (see channels.ts).
 *
 * One Redis / Sentinel: SUBSCRIBE per channel, PSUBSCRIBE per pattern.
 * Cluster: SSUBSCRIBE per channel (the message stays inside the channel's shard), and a pattern
 * SSUBSCRIBEs the feed of its first segment (`chat.*` → feed of `chat`), which carries
 * "<channel>\n<offset>:<epoch>:<payload>" for every channel under it. A pattern whose first
 * segment is a wildcard (`*.x`, `>`) cannot be served by one shard and is refused.
 * @module
 */
import { isPattern } from '../../lib/channel-name.js';
import type { Broker, BrokerMessage, BrokerSink } from '../../lib/engine.js';
import { matchesPattern } from '../../lib/options.js';
import { busChannel, channelOf, feedChannel } from './channels.js';
import { RedisUnavailableError, type RedisConnection } from './connection.js';
import { patternToGlob } from './glob.js';
import { ShardHealer } from './shard-heal.js';

type Listener = (message: string, channel: string) => void;
interface PubSub {
  subscribe(c: string, l: Listener): Promise<unknown>;
  unsubscribe(c: string, l?: Listener): Promise<unknown>;
  pSubscribe(c: string, l: Listener): Promise<unknown>;
  pUnsubscribe(c: string, l?: Listener): Promise<unknown>;
  sSubscribe(c: string, l: Listener): Promise<unknown>;
  sUnsubscribe(c: string, l?: Listener): Promise<unknown>;
}

/** Broker half of the Redis engine. Created by `redisEngine()`. */
export class RedisBroker implements Broker {
  private sink: BrokerSink | undefined;
  private closed = false;
  // Redis sends one copy per matching exact/pattern subscription, back to back; the last
  // delivered message is remembered so each reaches the hub once.
  private last = '';
  /** Pattern → what it is subscribed through (a glob, or on a cluster a feed channel). */
  private readonly patterns = new Map<string, string>();
  /** Exact channels subscribed (a cluster feed skips them: their own shard channel delivers them). */
  private readonly exact = new Set<string>();
  /** Subscriber connections (by node on a cluster) that were lost and are not back yet. */
  private readonly down = new Set<string>();
  /** Our own subscribe calls in flight (a shard connection they open is not an interruption). */
  private subscribing = 0;
  private started = false;
  private readonly onDown = (node?: { host: string; port: number }) => {
    this.down.add(node ? `${node.host}:${node.port}` : '');
  };
  private readonly onReady = (node?: { host: string; port: number }) => {
    if (!this.started) return;
    // A connection that is back after a loss: node-redis has re-sent its subscriptions, so a
    // re-check now cannot miss a newer message. On a cluster a shard connection that appears
    // without a subscribe of ours is node-redis following a slot that moved (resharding,
    // failover): re-check too.
    const back = this.down.delete(node ? `${node.host}:${node.port}` : '');
    if (!back && !(this.sharded && this.subscribing === 0)) return;
    // The re-check reads the store through the command client: wait until it is back too.
    const cmd = this.conn.cmd as { isReady: boolean; once?(e: string, fn: () => void): unknown };
    if (cmd.isReady || !cmd.once) this.interrupt();
    else cmd.once('ready', this.interrupt);
  };
  private readonly interrupt = () => {
    if (!this.closed) this.sink?.interrupted();
  };

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    private readonly patternFeed: boolean,
  ) {}

  private get sharded(): boolean {
    return this.conn.topology === 'cluster';
  }

  private get ps(): PubSub {
    return this.conn.sub as unknown as PubSub;
  }

  private readonly onMessage = (raw: string, bus: string) => {
    this.deliver(channelOf(this.prefix, bus, this.sharded), raw);
  };

  private readonly onPatternMessage = (raw: string, bus: string) => {
    const channel = channelOf(this.prefix, bus, false);
    for (const p of this.patterns.keys()) if (matchesPattern(p, channel)) return this.deliver(channel, raw);
  };

  private readonly onFeedMessage = (raw: string) => {
    const nl = raw.indexOf('\n');
    if (nl < 0) return;
    const channel = raw.slice(0, nl);
    if (this.exact.has(channel)) return;
    for (const p of this.patterns.keys())
      if (matchesPattern(p, channel)) return this.deliver(channel, raw.slice(nl + 1));
  };

  private deliver(channel: string, raw: string): void {
    const a = raw.indexOf(':');
    const b = raw.indexOf(':', a + 1);
    if (a < 0 || b < 0 || !this.sink) return;
    const id = channel + '\n' + raw.slice(0, b);
    if (id === this.last) return;
    this.last = id;
    this.sink.message({
      channel,
      offset: Number(raw.slice(0, a)),
      epoch: raw.slice(a + 1, b),
      payload: raw.slice(b + 1),
    });
  }

  // Sentinel: after the primary changed, node-redis moves the subscriber connection to the new
  // primary and re-subscribes there. Any pub/sub call waits for that to finish, so the re-check
  // runs once a no-op UNSUBSCRIBE resolves.
  private readonly onTopology = (event?: { type?: string }) => {
    if (!this.started || event?.type !== 'MASTER_CHANGE') return;
    this.onDown();
    this.ps.unsubscribe(`${this.prefix}none`, this.onMessage).then(
      () => this.onReady(),
      () => this.onReady(),
    );
  };

  // Region (single primary + local replica): the primary may come back restarted, without its
  // newest writes; the streams it no longer trusts start over at their next use. A re-check
  // once it is back makes that next use now, so subscribers learn of a loss without waiting
  // for a publish (the replica they listen to stays connected throughout).
  private primaryLost = false;
  private readonly onPrimaryLost = () => {
    this.primaryLost = true;
  };
  private readonly onPrimaryBack = () => {
    if (!this.primaryLost || !this.started) return;
    this.primaryLost = false;
    this.interrupt();
  };

  // Cluster: after a slot moved or a shard failed over, every sharded subscription is made again
  // on the shard that owns its slot now, then every live subscription is re-checked.
  private healer: ShardHealer | undefined;
  private readonly resubscribeShards = async (): Promise<void> => {
    const subs: Array<[string, Listener]> = [...this.exact].map((c) => [
      busChannel(this.prefix, c, true),
      this.onMessage,
    ]);
    for (const via of new Set(this.patterns.values())) subs.push([via, this.onFeedMessage]);
    for (const [bus, listener] of subs) {
      await this.ps.sUnsubscribe(bus, listener).catch(() => {});
      await this.ps.sSubscribe(bus, listener);
    }
  };

  async start(sink: BrokerSink): Promise<void> {
    this.sink = sink;
    this.conn.onSub(this.onReady, this.onDown);
    if (this.sharded) (this.healer = new ShardHealer(this.conn, this.resubscribeShards, this.interrupt)).start();
    // With a region's replica the subscriber connection is the replica's, which a change of
    // primary does not touch: the command client tells (see onPrimaryBack).
    if (this.conn.topology === 'sentinel')
      (this.conn.replica ? this.conn.cmd : this.conn.sub).on('topology-change', this.onTopology);
    if (this.conn.replica && this.conn.topology === 'single') {
      this.conn.cmd.on('reconnecting', this.onPrimaryLost);
      this.conn.cmd.on('ready', this.onPrimaryBack);
    }
    await this.conn.start('both');
    this.started = true;
  }

  /** Publishes outside the append script (the hub does not call this: the engine's append publishes). */
  async publish(m: BrokerMessage): Promise<void> {
    const text = `${m.offset}:${m.epoch}:${m.payload}`;
    if (!this.sharded) return void (await this.conn.run(['PUBLISH', busChannel(this.prefix, m.channel, false), text]));
    await this.conn.run(['SPUBLISH', busChannel(this.prefix, m.channel, true), text]);
    if (this.patternFeed)
      await this.conn.run(['SPUBLISH', feedChannel(this.prefix, m.channel), `${m.channel}\n${text}`]);
  }

  private async withSub(fn: () => Promise<unknown>): Promise<void> {
    await this.conn.start('both');
    const ready = this.conn.topology === 'sentinel' ? await this.conn.sentinelReady('sub') : this.conn.sub.isReady;
    if (!ready || this.closed) throw new RedisUnavailableError('subscriber connection is not ready');
    this.subscribing++;
    try {
      await fn();
    } catch (err) {
      throw new RedisUnavailableError(err);
    } finally {
      this.subscribing--;
    }
  }

  /** How a pattern is subscribed: a PSUBSCRIBE glob, or on a cluster the feed of its first segment. */
  private via(pattern: string): string {
    if (!this.sharded) return patternToGlob(`${this.prefix}m:`, pattern);
    const first = pattern.split('.')[0];
    if (first === '*' || first === '>')
      throw new Error(
        `pattern ${pattern} starts with a wildcard: on a Redis Cluster a pattern needs a literal first segment (docs/scaling.md)`,
      );
    return feedChannel(this.prefix, pattern);
  }

  async subscribe(channel: string): Promise<void> {
    if (!isPattern(channel)) {
      this.exact.add(channel);
      const bus = busChannel(this.prefix, channel, this.sharded);
      try {
        await this.withSub(() =>
          this.sharded ? this.ps.sSubscribe(bus, this.onMessage) : this.ps.subscribe(bus, this.onMessage),
        );
      } catch (err) {
        this.exact.delete(channel);
        throw err;
      }
      return;
    }
    const via = this.via(channel);
    this.patterns.set(channel, via);
    // Two switchyard patterns can share a glob or feed (`a.*` and `a.>`): one subscription serves both.
    if ([...this.patterns].filter(([, g]) => g === via).length > 1) return;
    try {
      await this.withSub(() =>
        this.sharded ? this.ps.sSubscribe(via, this.onFeedMessage) : this.ps.pSubscribe(via, this.onPatternMessage),
      );
    } catch (err) {
      this.patterns.delete(channel);
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!isPattern(channel)) {
      this.exact.delete(channel);
      const bus = busChannel(this.prefix, channel, this.sharded);
      if (this.conn.sub.isOpen)
        await (this.sharded
          ? this.ps.sUnsubscribe(bus, this.onMessage)
          : this.ps.unsubscribe(bus, this.onMessage)
        ).catch(() => {});
      return;
    }
    const via = this.patterns.get(channel);
    this.patterns.delete(channel);
    if (via === undefined || [...this.patterns.values()].includes(via)) return;
    if (this.conn.sub.isOpen)
      await (this.sharded
        ? this.ps.sUnsubscribe(via, this.onFeedMessage)
        : this.ps.pUnsubscribe(via, this.onPatternMessage)
      ).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sink = undefined;
    this.conn.offSub(this.onReady, this.onDown);
    this.conn.sub.off?.('topology-change', this.onTopology);
    this.healer?.stop();
    this.conn.cmd.off?.('topology-change', this.onTopology);
    this.conn.cmd.off?.('reconnecting', this.onPrimaryLost);
    this.conn.cmd.off?.('ready', this.onPrimaryBack);
    await this.conn.close('sub');
  }
}
