/** {@link Storage} on Redis: every mutation is one Lua script (see scripts.ts). @module */
import type { AppendOptions, AppendResult, Position, ReadResult, Storage, StreamState } from '../../lib/engine.js';
import { newEpoch } from '../../lib/epoch.js';
import { RedisUnavailableError, type RedisConnection } from './connection.js';
import { appendScript, READ, script, type Script } from './scripts.js';
import { AppendBatcher, type PendingAppend } from './append-batch.js';
import { busChannel, feedChannel } from './channels.js';
import { ReplicaReads, type ReplicaReadSettings } from './replica.js';

const READ_SCRIPT = script(READ);
// PX and PEXPIRE take integers; "keep forever" ttls are capped (about 3 years) rather than refused.
const MAX_MS = 100_000_000_000;
const ms = (v: number) => String(Math.max(1, Math.min(MAX_MS, Math.ceil(v))));

/** `WAIT` after every append: how many replicas must confirm it, and for how long to wait, ms. */
export interface ReplicaWait {
  replicas: number;
  timeout: number;
}

/** Storage half of the Redis engine. Created by `redisEngine()`. */
export class RedisStorage implements Storage {
  /** The read path through the region's local replica, if the engine has one. */
  readonly replicaReads: ReplicaReads | undefined;
  private readonly appendScript: Script;
  private readonly batcher: AppendBatcher;

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    dedupWindow: number,
    private readonly idleTtl: number,
    private readonly restartIsDataLoss: boolean,
    private readonly emptyStreamTtl: number,
    private readonly patternFeed: boolean,
    replica?: ReplicaReadSettings,
    private readonly waitFor?: ReplicaWait,
  ) {
    this.replicaReads =
      replica && conn.replica
        ? new ReplicaReads(
            conn.replica,
            {
              primaryRead: (c, after, limit) => this.readRaw(c, after, limit),
              trusted: () => (restartIsDataLoss ? conn.runIds() : Promise.resolve('*')),
              keys: (c) => this.keys(c),
            },
            replica,
          )
        : undefined;
    this.appendScript = script(
      appendScript({ idleMs: idleTtl, dedupMs: dedupWindow, publish: this.sharded ? 'SPUBLISH' : 'PUBLISH' }),
    );
    // A script's keys must share a slot on a cluster: there only appends of one channel go together.
    this.batcher = new AppendBatcher(
      (batch) => this.appendBatch(batch),
      (channel) => (this.sharded ? channel : ''),
    );
  }

  private get sharded(): boolean {
    return this.conn.topology === 'cluster';
  }

  /** Keys of a channel; the `{channel}` hash tag keeps them on one cluster slot. */
  keys(channel: string): { meta: string; log: string; idem: string } {
    const base = `${this.prefix}{${channel}}`;
    return { meta: `${base}:m`, log: `${base}:l`, idem: `${base}:i:` };
  }

  /**
   * The pub/sub channel a stream's messages travel on. On a cluster it is a sharded channel in
   * the slot of the stream's keys, so the append script can SPUBLISH it and the message stays
   * inside that shard.
   */
  busChannel(channel: string): string {
    return busChannel(this.prefix, channel, this.sharded);
  }

  /**
   * Runs a storage script. Its arguments start with a candidate epoch and the trusted run ids
   * (" id1 id2 ", or "*" when restarts are not data loss); the read script's then the idle ms.
   * `stamps` lists, from the reply, the run-id stamps of the streams the script used.
   */
  private async eval(
    s: Script,
    keys: string[],
    args: string[],
    stamps: (reply: unknown) => string[],
  ): Promise<unknown> {
    const tail = (runs: string) => [String(keys.length), ...keys, newEpoch(), runs, ...args];
    const exec = (head: string[]) =>
      this.restartIsDataLoss
        ? this.conn.runChecked(keys[0]!, (runs) => [...head, ...tail(runs)], stamps)
        : this.conn.run([...head, ...tail('*')]);
    try {
      return await exec(['EVALSHA', s.sha]);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      // Script caches are empty after a restart or failover: the server may be a new one, so
      // its run id is read again before the source is sent once.
      this.conn.staleRunIds();
      return exec(['EVAL', s.source]);
    }
  }

  /**
   * Appends one message. Appends issued in the same event-loop turn share one script call
   * (group commit, see append-batch.ts); each still gets its own offset, in call order.
   */
  append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult> {
    return this.batcher.append(channel, payload, options);
  }

  /** Runs one batch of appends and settles each of them. */
  private async appendBatch(batch: PendingAppend[]): Promise<void> {
    const keys: string[] = [];
    const args: string[] = [];
    for (const p of batch) {
      const k = this.keys(p.channel);
      const key = p.options.idempotencyKey;
      keys.push(k.meta, k.log, k.idem + (key ?? ''));
      args.push(
        p.payload,
        String(Math.max(0, Math.floor(p.options.size))),
        ms(p.options.ttl),
        key === undefined ? '0' : '1',
        this.busChannel(p.channel),
      );
    }
    // Each message's reply is {offset, epoch, duplicate, stamp}.
    const r = (await this.eval(this.appendScript, keys, args, (reply) =>
      (reply as unknown[]).filter((_, i) => i % 4 === 3).map(String),
    )) as unknown[];
    // One WAIT covers the whole batch: it confirms everything this connection wrote so far.
    if (this.waitFor) await this.waitForReplicas();
    for (const [i, p] of batch.entries()) {
      const res = { offset: Number(r[4 * i]), epoch: String(r[4 * i + 1]), duplicate: Number(r[4 * i + 2]) === 1 };
      // Pattern subscribers of a cluster listen on the sharded feed of the channel's first
      // segment (another slot, so not from inside the script). Patterns are live-only QoS 0
      // ([SUB-4]): the feed needs no ordering with the store, and a failed feed publish is a
      // lost QoS 0 delivery, not a failed publish.
      if (this.sharded && this.patternFeed && !res.duplicate) {
        this.conn
          .run([
            'SPUBLISH',
            feedChannel(this.prefix, p.channel),
            `${p.channel}\n${res.offset}:${res.epoch}:${p.payload}`,
          ])
          .catch(() => {});
      }
      p.resolve(res);
    }
  }

  private async readRaw(channel: string, after: number, limit: number): Promise<ReadResult> {
    const k = this.keys(channel);
    const r = (await this.eval(
      READ_SCRIPT,
      [k.meta, k.log],
      [ms(this.idleTtl), String(after), String(limit), ms(this.emptyStreamTtl)],
      (reply) => [String((reply as unknown[]).at(-1))],
    )) as [number, string, number, string[]];
    const state: StreamState = { offset: Number(r[0]), epoch: String(r[1]), earliest: Number(r[2]) };
    const first = Math.max(after + 1, state.earliest);
    const messages = r[3].map((e, i) => ({ offset: first + i, payload: e.slice(e.indexOf('|') + 1) }));
    return { messages, state };
  }

  /**
   * WAIT on the connection that ran the append: Redis answers once that many replicas have
   * everything this connection wrote so far (so this append, and maybe later ones), or at the
   * timeout with how many did. Fewer than asked fails the publish (201): the message is stored
   * on the primary and will be delivered, but the publisher was promised more; a retry with the
   * same idempotency key returns the same offset and waits again.
   */
  private async waitForReplicas(): Promise<void> {
    const { replicas, timeout } = this.waitFor!;
    const n = Number(await this.conn.run(['WAIT', String(replicas), String(timeout)]));
    if (n < replicas)
      throw new RedisUnavailableError(
        `stored on the primary, but only ${n} of ${replicas} replicas confirmed it within ${timeout} ms (waitForReplicas)`,
      );
  }

  read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const n = Math.max(1, limit);
    return this.replicaReads ? this.replicaReads.read(channel, after, n) : this.readRaw(channel, after, n);
  }

  async state(channel: string, since?: Position): Promise<StreamState> {
    if (this.replicaReads) return (await this.replicaReads.read(channel, since?.offset ?? 0, 0, since)).state;
    return (await this.readRaw(channel, 0, 0)).state;
  }

  async close(): Promise<void> {
    await this.conn.close('cmd');
  }
}
