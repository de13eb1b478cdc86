/**
 * {@link PresenceStore} on Redis: the member list of a channel is shared by every node, and
 * joins/leaves made on one node reach the event watchers of the others.
 *
 * Keys (all under the engine's keyPrefix):
 *   `{channel}:p`  hash  connectionId -> "<nodeId>|<info JSON or empty>", same hash tag as the
 *                        channel's storage keys; Redis deletes it with its last field
 *   `n:<nodeId>`   string liveness key of a node, PX = presenceTtl, refreshed every presenceRefresh
 *   `n:<nodeId>:c` set   channels where that node has members (what to clean when it dies)
 *   `nodes`        set   node ids that may still own members
 * Events travel on the pub/sub channel `p:<channel>` (on a cluster the sharded channel
 * `{<channel>}:e`, in the slot of the member hash), subscribed only while a local
 * subscription watches the channel: "j\n<node>\n<cid>\n<info>" or "l\n<node>\n<cid>".
 * Pub/sub drops what is published while a subscription is interrupted, so after each
 * interruption every watched channel's hash is read again and the difference announced
 * (presence-resync.ts).
 *
 * A member whose node key is gone is never listed: `members()` skips it and deletes it, and a
 * periodic sweep on every node removes all members of a node whose key expired. Each removal
 * publishes one leave (the delete and the publish are one script, so two nodes cleaning up
 * the same member announce it once).
 * @module
 */
import { errorMessage } from '../../lib/errors.js';
import { randomHex } from '../../lib/random-id.js';
import type { PresenceMembers, PresenceSink, PresenceStore, StoredPresenceMember } from '../../lib/engine.js';
import { RedisUnavailableError, type RedisConnection, type RedisLogger } from './connection.js';
import { runScript, script, type Script } from './scripts.js';
import { channelOf, presenceChannel } from './channels.js';
import { ShardHealer } from './shard-heal.js';
import { AnnouncedMembers, RESYNC_MAX_MEMBERS } from './presence-resync.js';

type Listener = (message: string, channel: string) => void;

// HSET and PUBLISH in one step: a watcher that gets the event finds the member in a later list.
const JOIN = script(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call(ARGV[5], ARGV[3], ARGV[4])
return 1`);
// Deletes a member only if the given node still owns it (connection ids of two nodes can
// collide), and announces the leave only if this call deleted it.
const LEAVE = script(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call(ARGV[5], ARGV[3], ARGV[4])
  return 1
end
return 0`);

/** Hash entries asked for per HSCAN call (a hint to Redis, which may return somewhat more). */
const SCAN_BATCH = 500;
/** HSCAN calls one `members()` makes at most; past it the page is returned as truncated. */
const MAX_ROUNDS = 16;
// A hash of RESYNC_MAX_MEMBERS fields has up to 16,384 buckets (32,768 while Redis rehashes),
// and an HSCAN call visits about SCAN_BATCH of them: enough calls to reach its end.
const RESYNC_ROUNDS = 80;
/** Reads a resynchronization retries after a failure before waiting for the next interruption. */
const RESYNC_ATTEMPTS = 5;

/** A channel this node is subscribed to for events, and what its watchers were told. */
interface Watched {
  announced: AnnouncedMembers;
  /** A read of the member hash is in flight. */
  reading: boolean;
  /** Another interruption happened during that read: read again once it ends. */
  again: boolean;
}

/** Settings of {@link RedisPresence}, validated by `redisEngine()`. */
export interface RedisPresenceSettings {
  /** Liveness key TTL, ms: a node silent this long is dead and its members are dropped. */
  ttl: number;
  /** How often a node refreshes its liveness key and sweeps for dead nodes, ms (< ttl). */
  refresh: number;
}

/** Presence half of the Redis engine. Created by `redisEngine()`. */
export class RedisPresence implements PresenceStore {
  /** This node's id: random per store, hex (never contains "|" or a newline). */
  readonly nodeId = randomHex(12);
  private sink: PresenceSink | undefined;
  /** This node's memberships, to re-store them if Redis forgot them (node key had expired). */
  private readonly own = new Map<string, Map<string, string | undefined>>();
  /** Channels a local subscription watches, and those the subscriber client is subscribed to. */
  private readonly wanted = new Set<string>();
  private readonly subscribed = new Set<string>();
  /** Per subscribed channel, the remote members announced to its watchers (see resync). */
  private readonly watched = new Map<string, Watched>();
  /** Subscriber connections that were lost and are not back yet (`host:port` on a cluster, else ''). */
  private readonly down = new Set<string>();
  /** Our own SUBSCRIBEs in flight (a shard connection they open is not an interruption). */
  private subscribing = 0;
  /** Per channel, the SUBSCRIBE/UNSUBSCRIBE in flight: run one at a time so the last one wins. */
  private readonly ops = new Map<string, Promise<void>>();
  private alive: Promise<void> | undefined;
  private everAlive = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking = false;
  private closed = false;

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    private readonly settings: RedisPresenceSettings,
    private readonly logger: RedisLogger | undefined,
  ) {}

  /** The hash holding `channel`'s members. */
  key(channel: string): string {
    return `${this.prefix}{${channel}}:p`;
  }

  /** The pub/sub channel of `channel`'s presence events (sharded, in the channel's slot, on a cluster). */
  busChannel(channel: string): string {
    return presenceChannel(this.prefix, channel, this.sharded);
  }

  private get sharded(): boolean {
    return this.conn.topology === 'cluster';
  }

  private get publishCommand(): string {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  private get ps(): {
    subscribe(c: string, l: Listener): Promise<unknown>;
    unsubscribe(c: string, l?: Listener): Promise<unknown>;
  } {
    type Call = (c: string, l?: Listener) => Promise<unknown>;
    const sub = this.conn.sub as unknown as {
      subscribe: Call;
      unsubscribe: Call;
      sSubscribe: Call;
      sUnsubscribe: Call;
    };
    return this.sharded
      ? { subscribe: (c, l) => sub.sSubscribe(c, l), unsubscribe: (c, l) => sub.sUnsubscribe(c, l) }
      : { subscribe: (c, l) => sub.subscribe(c, l), unsubscribe: (c, l) => sub.unsubscribe(c, l) };
  }

  /** The liveness key of node `id`. */
  nodeKey(id: string): string {
    return `${this.prefix}n:${id}`;
  }

  private channelsKey(id: string): string {
    return `${this.prefix}n:${id}:c`;
  }

  private get nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  private eval(s: Script, keys: string[], args: string[]): Promise<unknown> {
    return runScript(this.conn, s, keys, args);
  }

  private warn(err: unknown, msg: string): void {
    // The hub closes the engine's clients before the store; a refresh in between is no news.
    if (!this.closed && !(err instanceof RedisUnavailableError && err.message.endsWith('engine closed')))
      this.logger?.warn({ err: errorMessage(err) }, msg);
  }

  /** Removes `cid` from `channel` if node `owner` still owns it, announcing the leave as `owner`'s. */
  private remove(channel: string, cid: string, owner: string): Promise<unknown> {
    return this.eval(
      LEAVE,
      [this.key(channel)],
      [cid, owner + '|', this.busChannel(channel), `l\n${owner}\n${cid}`, this.publishCommand],
    );
  }

  // ------------------------------------------------------------------ liveness

  /** Makes sure this node's liveness key exists and the refresh timer runs. */
  private ensureAlive(): Promise<void> {
    if (this.closed) return Promise.reject(new RedisUnavailableError('engine closed'));
    if (!this.alive) {
      const p = this.refresh().then(() => {
        if (this.closed || this.timer) return;
        this.timer = setInterval(() => void this.tick(), this.settings.refresh);
        this.timer.unref();
      });
      // A failed first refresh (Redis down) is retried by the next join.
      p.catch(() => {
        if (this.alive === p) this.alive = undefined;
      });
      this.alive = p;
    }
    return this.alive;
  }

  private async refresh(): Promise<void> {
    const old = await this.conn.run(['SET', this.nodeKey(this.nodeId), '1', 'PX', String(this.settings.ttl), 'GET']);
    await this.conn.run(['SADD', this.nodesKey, this.nodeId]);
    // The key had expired (this process stalled longer than the ttl, or Redis lost it): other
    // nodes may have dropped our members and announced them as left. Store them again.
    if (old === null && this.everAlive) await this.rejoinAll();
    this.everAlive = true;
  }

  private async rejoinAll(): Promise<void> {
    for (const [channel, members] of [...this.own]) {
      await this.conn.run(['SADD', this.channelsKey(this.nodeId), channel]);
      for (const [cid, info] of [...members]) await this.store(channel, cid, info);
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      await this.refresh();
      await this.sweep();
    } catch (err) {
      this.warn(err, 'presence refresh failed');
    } finally {
      this.ticking = false;
    }
  }

  /** Finds nodes whose liveness key expired; the node that claims one removes its members. */
  private async sweep(): Promise<void> {
    const ids = ((await this.conn.run(['SMEMBERS', this.nodesKey])) as string[]).filter((id) => id !== this.nodeId);
    const live = await Promise.all(ids.map((id) => this.conn.run(['EXISTS', this.nodeKey(id)])));
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (Number(live[i]) === 1 || this.closed) continue;
      // SREM answers 1 to one node only: exactly one node does the cleanup.
      if (Number(await this.conn.run(['SREM', this.nodesKey, id])) === 1) await this.reapNode(id);
    }
  }

  private async reapNode(id: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, channels] = (await this.conn.run(['SSCAN', this.channelsKey(id), cursor, 'COUNT', '100'])) as [
        string,
        string[],
      ];
      cursor = String(next);
      for (const channel of channels) await this.reapChannel(channel, id);
    } while (cursor !== '0' && !this.closed);
    if (!this.closed) await this.conn.run(['DEL', this.channelsKey(id)]);
  }

  private async reapChannel(channel: string, id: string): Promise<void> {
    const mark = id + '|';
    let cursor = '0';
    do {
      const [next, flat] = (await this.conn.run(['HSCAN', this.key(channel), cursor, 'COUNT', String(SCAN_BATCH)])) as [
        string,
        string[],
      ];
      cursor = String(next);
      for (let i = 0; i + 1 < flat.length; i += 2)
        if (flat[i + 1]!.startsWith(mark)) await this.remove(channel, flat[i]!, id);
    } while (cursor !== '0' && !this.closed);
  }

  // ------------------------------------------------------------------ PresenceStore

  private store(channel: string, cid: string, info: string | undefined): Promise<unknown> {
    const i = info ?? '';
    return this.eval(
      JOIN,
      [this.key(channel)],
      [cid, `${this.nodeId}|${i}`, this.busChannel(channel), `j\n${this.nodeId}\n${cid}\n${i}`, this.publishCommand],
    );
  }

  /** Stores a member of this node (and this node's liveness key first); announces the join to other nodes. */
  async join(channel: string, connectionId: string, info: string | undefined): Promise<void> {
    await this.ensureAlive();
    let members = this.own.get(channel);
    const forget = (m: Map<string, string | undefined>) => {
      if (m.size === 0 && this.own.get(channel) === m) this.own.delete(channel);
    };
    // The channel is recorded before the member, so whoever cleans up after this node finds it.
    let recorded: Promise<unknown> = Promise.resolve();
    if (!members) {
      const m = (members = new Map());
      this.own.set(channel, m);
      recorded = this.conn.run(['SADD', this.channelsKey(this.nodeId), channel]);
      recorded.catch(() => forget(m));
      // One Redis or Sentinel: both commands go down one connection, back to back, so Redis runs
      // them in that order and the join costs one round trip, not two (it matters for a node
      // whose primary is in another region, docs/regions.md). A cluster keeps the set and the
      // member hash on different shards: the member waits for the set.
      if (this.sharded) await recorded;
    }
    members.set(connectionId, info);
    const stored = this.store(channel, connectionId, info);
    try {
      await Promise.all([recorded, stored]);
    } catch (err) {
      members.delete(connectionId);
      forget(members);
      // The member may be stored although the channel is not recorded: take it back (best effort).
      if (
        await stored.then(
          () => true,
          () => false,
        )
      )
        await this.remove(channel, connectionId, this.nodeId).catch(() => {});
      throw err;
    }
  }

  /** Removes a member of this node and announces the leave; resolves when it was not a member. */
  async leave(channel: string, connectionId: string): Promise<void> {
    // After close this node counts as gone: its members expire with its liveness key.
    if (this.closed) return;
    const members = this.own.get(channel);
    members?.delete(connectionId);
    if (members?.size === 0) this.own.delete(channel);
    await this.remove(channel, connectionId, this.nodeId);
    if (members?.size === 0 && !this.own.has(channel))
      await this.conn.run(['SREM', this.channelsKey(this.nodeId), channel]);
  }

  /**
   * Up to `limit` live members of `channel`, in no particular order; `truncated` when there may be more.
   * Reads the hash in HSCAN batches until `limit` live members are found (at most
   * 16 batches; past that the page says `truncated`). Members of nodes whose
   * liveness key is gone are skipped and deleted (which announces their leave).
   */
  async members(channel: string, limit: number): Promise<PresenceMembers> {
    // A watcher that lists right after subscribing must not miss events between the list and
    // the end of our SUBSCRIBE: list only once the subscription is in place.
    await this.ops.get(channel);
    return this.scan(channel, limit, MAX_ROUNDS);
  }

  /**
   * Up to `limit` live members of `channel` in at most `maxRounds` HSCAN calls, leaving out
   * those of node `skip`; deletes (and announces the leave of) members of dead nodes, adding
   * their ids to `dead`.
   */
  private async scan(
    channel: string,
    limit: number,
    maxRounds: number,
    skip?: string,
    dead?: Set<string>,
  ): Promise<PresenceMembers> {
    const key = this.key(channel);
    const alive = new Map<string, boolean>([[this.nodeId, true]]);
    const seen = new Set<string>();
    const members: StoredPresenceMember[] = [];
    let more = false;
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, flat] = (await this.conn.run([
        'HSCAN',
        key,
        cursor,
        'COUNT',
        String(Math.min(SCAN_BATCH, limit + 1)),
      ])) as [string, string[]];
      cursor = String(next);
      const unknown = new Set<string>();
      for (let i = 1; i < flat.length; i += 2) {
        const v = flat[i]!;
        const node = v.slice(0, v.indexOf('|'));
        if (!alive.has(node)) unknown.add(node);
      }
      const ids = [...unknown];
      const live = await Promise.all(ids.map((id) => this.conn.run(['EXISTS', this.nodeKey(id)])));
      ids.forEach((id, i) => alive.set(id, Number(live[i]) === 1));
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const cid = flat[i]!;
        const v = flat[i + 1]!;
        const bar = v.indexOf('|');
        if (bar < 0) continue; // not written by this store
        const node = v.slice(0, bar);
        if (node === skip) continue;
        if (!alive.get(node)) {
          dead?.add(cid);
          this.remove(channel, cid, node).catch((err: unknown) => this.warn(err, 'presence cleanup failed'));
          continue;
        }
        // HSCAN may return an entry twice while Redis resizes the hash.
        if (seen.has(cid)) continue;
        seen.add(cid);
        if (members.length < limit)
          members.push({ connectionId: cid, info: bar === v.length - 1 ? undefined : v.slice(bar + 1) });
        else more = true;
      }
    } while (cursor !== '0' && !more && ++rounds < maxRounds);
    return { members, truncated: more || cursor !== '0' };
  }

  // ------------------------------------------------------------------ events

  private readonly onMessage = (raw: string, busChannel: string) => {
    const sink = this.sink;
    if (!sink) return;
    const channel = channelOf(this.prefix, busChannel, this.sharded);
    const a = raw.indexOf('\n');
    const b = raw.indexOf('\n', a + 1);
    if (a !== 1 || b < 0) return;
    // Our own events were announced locally already.
    if (raw.slice(a + 1, b) === this.nodeId) return;
    if (raw[0] === 'l') {
      this.watched.get(channel)?.announced.event(false, raw.slice(b + 1));
      return sink.leave(channel, raw.slice(b + 1));
    }
    const c = raw.indexOf('\n', b + 1);
    if (raw[0] !== 'j' || c < 0) return;
    this.watched.get(channel)?.announced.event(true, raw.slice(b + 1, c));
    sink.join(channel, {
      connectionId: raw.slice(b + 1, c),
      info: c === raw.length - 1 ? undefined : raw.slice(c + 1),
    });
  };

  // node-redis re-sends its subscriptions after a reconnect (before 'ready'), but events
  // published while the connection was down are gone: resynchronize every channel it carried.
  // Channels whose SUBSCRIBE failed (Redis was down at the time) are retried here.
  private readonly onReady = (node?: { host: string; port: number }) => {
    for (const channel of this.wanted) if (!this.subscribed.has(channel)) void this.sync(channel);
    const back = this.down.delete(node ? `${node.host}:${node.port}` : '');
    if (this.sharded) {
      // A shard connection that appears without a SUBSCRIBE of ours is node-redis following a
      // slot that moved, re-subscribing by itself: the healer re-subscribes (so the read comes
      // after a confirmed subscription) and resynchronizes. A lost one is the healer's already.
      if (!back && this.subscribing === 0 && this.watched.size > 0) this.healer?.kick();
      return;
    }
    if (!back) return;
    // The read goes through the command client: wait until it is back too.
    const cmd = this.conn.cmd as { isReady: boolean; once?(e: string, fn: () => void): unknown };
    if (cmd.isReady || !cmd.once) this.resyncAll();
    else cmd.once('ready', this.resyncAll);
  };
  private readonly onDown = (node?: { host: string; port: number }) => {
    this.down.add(node ? `${node.host}:${node.port}` : '');
  };

  // Sentinel: after the primary changed, node-redis moves the subscriber connection to the new
  // primary and re-subscribes there; a pub/sub call waits for that, so the resynchronization
  // starts once a no-op UNSUBSCRIBE resolved.
  private readonly onTopology = (event?: { type?: string }) => {
    if (event?.type !== 'MASTER_CHANGE') return;
    const done = () => this.resyncAll();
    this.ps.unsubscribe(`${this.prefix}none`, this.onMessage).then(done, done);
  };

  // Cluster: after a shard failed over or a slot moved, the event subscriptions are made again
  // on the shard that owns each slot now (node-redis leaves them on the dead primary).
  private healer: ShardHealer | undefined;
  private readonly resubscribeShards = async (): Promise<void> => {
    for (const channel of [...this.subscribed]) {
      // Queued behind the channel's own subscribe/unsubscribe, so a watcher that left meanwhile is not re-subscribed.
      await this.queue(channel, async () => {
        if (!this.subscribed.has(channel)) return;
        await this.ps.unsubscribe(this.busChannel(channel), this.onMessage).catch(() => {});
        this.subscribing++;
        try {
          await this.ps.subscribe(this.busChannel(channel), this.onMessage);
        } finally {
          this.subscribing--;
        }
      });
    }
  };

  /**
   * Registers the hub's sink for other nodes' joins and leaves. Events travel on pub/sub, which
   * loses those published while this node's subscription is interrupted (connection drop,
   * Sentinel or cluster failover, slot move); after each interruption the store reads every
   * watched channel's members and reports the difference (see `resync`), so watchers end with
   * the exact member set. Channels past 10,000 other-node members are not resynchronized (docs/presence.md).
   */
  watch(sink: PresenceSink): void {
    this.sink = sink;
    this.conn.onSub(this.onReady, this.onDown);
    if (this.sharded && !this.healer)
      (this.healer = new ShardHealer(this.conn, this.resubscribeShards, this.resyncAll)).start();
    if (this.conn.topology === 'sentinel') this.conn.sub.on('topology-change', this.onTopology);
  }

  /** Subscribes to (or unsubscribes from) `channel`'s presence events; failures are logged and retried on reconnect. */
  interest(channel: string, watching: boolean): void {
    if (this.closed) return;
    if (watching) this.wanted.add(channel);
    else this.wanted.delete(channel);
    void this.sync(channel);
    // Watcher-only nodes sweep too, so their watchers hear about dead nodes' members.
    if (watching) this.ensureAlive().catch((err: unknown) => this.warn(err, 'presence refresh failed'));
  }

  private sync(channel: string): Promise<void> {
    return this.queue(channel, () => this.apply(channel)).catch((err: unknown) =>
      this.warn(err, 'presence subscribe failed'),
    );
  }

  /** Runs `op` after the channel's earlier subscribe/unsubscribe operations; rejects if `op` does. */
  private queue(channel: string, op: () => Promise<void>): Promise<void> {
    const p = (this.ops.get(channel) ?? Promise.resolve()).then(op);
    const settled = p.catch(() => {});
    this.ops.set(channel, settled);
    void settled.then(() => {
      if (this.ops.get(channel) === settled) this.ops.delete(channel);
    });
    return p;
  }

  private async apply(channel: string): Promise<void> {
    const want = this.wanted.has(channel) && !this.closed;
    const sub = this.conn.sub;
    if (want && !this.subscribed.has(channel)) {
      await this.conn.start('both');
      if (!sub.isReady) throw new RedisUnavailableError('subscriber connection is not ready');
      this.subscribing++;
      try {
        await this.ps.subscribe(this.busChannel(channel), this.onMessage);
      } finally {
        this.subscribing--;
      }
      this.subscribed.add(channel);
      // The first read only learns which members the watchers know (their own list told them):
      // later reads compare against it.
      this.watched.set(channel, { announced: new AnnouncedMembers(), reading: false, again: false });
      this.resync(channel);
    } else if (!want && this.subscribed.has(channel)) {
      this.subscribed.delete(channel);
      this.watched.delete(channel);
      if (sub.isOpen) await this.ps.unsubscribe(this.busChannel(channel), this.onMessage);
    }
  }

  // ------------------------------------------------------------------ resynchronization

  private readonly resyncAll = (): void => {
    for (const channel of this.watched.keys()) this.resync(channel);
  };

  /**
   * Reads `channel`'s members and announces the joins and leaves its watchers missed. One read
   * per channel at a time; an interruption during a read makes it read once more when done (its
   * events may have been lost after the read began), so reads never chain on their own.
   */
  private resync(channel: string): void {
    const w = this.watched.get(channel);
    if (!w || this.closed) return;
    if (w.reading) {
      w.again = true;
      return;
    }
    w.reading = true;
    void this.reread(channel, w).finally(() => {
      w.reading = false;
    });
  }

  private async reread(channel: string, w: Watched): Promise<void> {
    let failures = 0;
    do {
      w.again = false;
      // The subscription must be in place before the read: an event published between the
      // read and our SUBSCRIBE would be neither in the read nor delivered.
      await this.ops.get(channel);
      if (this.watched.get(channel) !== w || this.closed) return;
      // Events keep being delivered during the read and win over it for the members they name
      // (AnnouncedMembers says why they are not held back until it ends).
      w.announced.begin();
      let snapshot: Map<string, string | undefined> | undefined;
      const dead = new Set<string>();
      try {
        const page = await this.scan(channel, RESYNC_MAX_MEMBERS, RESYNC_ROUNDS, this.nodeId, dead);
        if (!page.truncated) snapshot = new Map(page.members.map((m) => [m.connectionId, m.info]));
      } catch (err) {
        w.announced.abort();
        this.warn(err, 'presence resync failed');
        // Redis may be down again: the next reconnect resynchronizes; a passing error is retried.
        if (++failures >= RESYNC_ATTEMPTS) return;
        await new Promise((r) => setTimeout(r, 200 * failures).unref());
        w.again = true;
        continue;
      }
      const sink = this.sink;
      if (this.watched.get(channel) !== w || !sink) return;
      const wasTracked = w.announced.tracked;
      // A dead node's member found by the read is absent, but its deletion publishes a leave
      // that this node's subscription will deliver: announcing it here too would repeat it.
      const { joins, leaves } = w.announced.end(snapshot, dead);
      if (wasTracked && !w.announced.tracked)
        this.logger?.warn(
          { channel, max: RESYNC_MAX_MEMBERS },
          'presence channel has too many members to resynchronize after an interruption; its events are at-most-once',
        );
      for (const id of leaves) sink.leave(channel, id);
      for (const m of joins) sink.join(channel, m);
    } while (w.again);
  }

  /**
   * Releases the store. Idempotent.
   * Stops refreshing and deletes nothing: members still stored (the hub makes its connections
   * leave before closing the engine) expire with the liveness key.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.sink = undefined;
    this.conn.offSub(this.onReady, this.onDown);
    this.conn.sub.off?.('topology-change', this.onTopology);
    this.conn.cmd.off?.('ready', this.resyncAll);
    this.healer?.stop();
    const channels = [...this.subscribed];
    this.subscribed.clear();
    this.watched.clear();
    this.wanted.clear();
    this.own.clear();
    if (this.conn.sub.isOpen)
      await Promise.all(channels.map((c) => this.ps.unsubscribe(this.busChannel(c), this.onMessage).catch(() => {})));
  }
}
