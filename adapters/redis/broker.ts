/**
 * {@link Broker} on Redis pub/sub with interest-based routing: a node SUBSCRIBEs only to the
 * channels its clients watch and PSUBSCRIBEs only to their patterns, so Redis sends it nothing
 * else. Messages are "<offset>:<epoch>:<payload>" on `<prefix>m:<channel>`.
 * @module
 */
import type { Broker, BrokerMessage, BrokerSink } from '../../lib/engine.js';
import { matchesPattern } from '../../lib/options.js';
import { RedisUnavailableError, type RedisConnection } from './connection.js';
import { patternToGlob } from './glob.js';

const isPattern = (ch: string) => ch.includes('*') || ch.includes('>');

/** Broker half of the Redis engine. Created by `redisEngine()`. */
export class RedisBroker implements Broker {
  private sink: BrokerSink | undefined;
  private readyOnce = false;
  private closed = false;
  // Redis sends one copy per matching exact/pattern subscription, back to back; the last
  // delivered message is remembered so each reaches the hub once.
  private last = '';
  private readonly patterns = new Map<string, string>();
  private readonly onReady = () => {
    // The first ready is the initial connect; later ones are reconnects, after node-redis has
    // re-sent every SUBSCRIBE/PSUBSCRIBE, so a re-check now cannot miss a newer message.
    if (!this.readyOnce) {
      this.readyOnce = true;
      return;
    }
    // The re-check reads the store through the command client: wait until it is back too.
    if (this.conn.cmd.isReady) this.interrupt();
    else this.conn.cmd.once?.('ready', this.interrupt) ?? this.interrupt();
  };
  private readonly interrupt = () => {
    if (!this.closed) this.sink?.interrupted();
  };

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
  ) {}

  private readonly onMessage = (raw: string, busChannel: string) => {
    const channel = busChannel.slice(this.prefix.length + 2);
    this.deliver(channel, raw);
  };

  private readonly onPatternMessage = (raw: string, busChannel: string) => {
    const channel = busChannel.slice(this.prefix.length + 2);
    for (const p of this.patterns.keys()) if (matchesPattern(p, channel)) return this.deliver(channel, raw);
  };

  private deliver(channel: string, raw: string): void {
    const a = raw.indexOf(':');
    const b = raw.indexOf(':', a + 1);
    if (a < 0 || b < 0 || !this.sink) return;
    const id = channel + '\n' + raw.slice(0, b);
    if (id === this.last) return;
    this.last = id;
    this.sink.message({ channel, offset: Number(raw.slice(0, a)), epoch: raw.slice(a + 1, b), payload: raw.slice(b + 1) });
  }

  async start(sink: BrokerSink): Promise<void> {
    this.sink = sink;
    this.readyOnce = this.conn.sub.isReady;
    this.conn.sub.on('ready', this.onReady);
    await this.conn.start('both');
    this.readyOnce = true;
  }

  async publish(m: BrokerMessage): Promise<void> {
    await this.conn.run(['PUBLISH', `${this.prefix}m:${m.channel}`, `${m.offset}:${m.epoch}:${m.payload}`]);
  }

  private async withSub(fn: () => Promise<unknown>): Promise<void> {
    await this.conn.start('both');
    if (!this.conn.sub.isReady || this.closed) throw new RedisUnavailableError('subscriber connection is not ready');
    try {
      await fn();
    } catch (err) {
      throw new RedisUnavailableError(err);
    }
  }

  async subscribe(channel: string): Promise<void> {
    if (!isPattern(channel)) return this.withSub(() => this.conn.sub.subscribe(`${this.prefix}m:${channel}`, this.onMessage));
    const glob = patternToGlob(`${this.prefix}m:`, channel);
    this.patterns.set(channel, glob);
    // Two switchyard patterns can share a glob (`a.*` and `a.>`): one PSUBSCRIBE serves both.
    if ([...this.patterns].filter(([, g]) => g === glob).length > 1) return;
    try {
      await this.withSub(() => this.conn.sub.pSubscribe(glob, this.onPatternMessage));
    } catch (err) {
      this.patterns.delete(channel);
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!isPattern(channel)) {
      if (this.conn.sub.isOpen) await this.conn.sub.unsubscribe(`${this.prefix}m:${channel}`, this.onMessage).catch(() => {});
      return;
    }
    const glob = this.patterns.get(channel);
    this.patterns.delete(channel);
    if (glob === undefined || [...this.patterns.values()].includes(glob)) return;
    if (this.conn.sub.isOpen) await this.conn.sub.pUnsubscribe(glob, this.onPatternMessage).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sink = undefined;
    this.conn.sub.off?.('ready', this.onReady);
    await this.conn.close('sub');
  }
}
