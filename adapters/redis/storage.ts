/** {@link Storage} on Redis: every mutation is one Lua script (see scripts.ts). @module */
import type { AppendOptions, AppendResult, Position, ReadResult, Storage, StreamState } from '../../lib/engine.js';
import { newEpoch } from '../../lib/epoch.js';
import { RedisUnavailableError, type RedisConnection } from './connection.js';
import { APPEND, READ, script, type Script } from './scripts.js';
import { busChannel, feedChannel } from './channels.js';
import { ReplicaReads, type ReplicaReadSettings } from './replica.js';

const APPEND_SCRIPT = script(APPEND);
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

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    private readonly dedupWindow: number,
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
   * Runs a storage script. Its arguments start with a candidate epoch, the trusted run ids
   * (" id1 id2 ", or "*" when restarts are not data loss) and the idle ms.
   */
  private async eval(s: Script, keys: string[], args: string[]): Promise<unknown> {
    const tail = (runs: string) => [String(keys.length), ...keys, newEpoch(), runs, ms(this.idleTtl), ...args];
    // Both scripts answer with the stream's run-id stamp last.
    const stamp = (reply: unknown) => String((reply as unknown[]).at(-1));
    const exec = (head: string[]) =>
      this.restartIsDataLoss
        ? this.conn.runChecked(keys[0]!, (runs) => [...head, ...tail(runs)], stamp)
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

  async append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult> {
    const k = this.keys(channel);
    const key = options.idempotencyKey;
    const r = (await this.eval(
      APPEND_SCRIPT,
      [k.meta, k.log, k.idem + (key ?? '')],
      [
        payload,
        String(Math.max(0, Math.floor(options.size))),
        ms(options.ttl),
        ms(this.dedupWindow),
        key === undefined ? '0' : '1',
        this.busChannel(channel),
        this.sharded ? 'SPUBLISH' : 'PUBLISH',
      ],
    )) as [number, string, number];
    const res = { offset: Number(r[0]), epoch: String(r[1]), duplicate: Number(r[2]) === 1 };
    if (this.waitFor) await this.waitForReplicas();
    // Pattern subscribers of a cluster listen on the sharded feed of the channel's first
    // segment (another slot, so not from inside the script). Patterns are live-only QoS 0
    // ([SUB-4]): the feed needs no ordering with the store, and a failed feed publish is a
    // lost QoS 0 delivery, not a failed publish.
    if (this.sharded && this.patternFeed && !res.duplicate) {
      this.conn
        .run(['SPUBLISH', feedChannel(this.prefix, channel), `${channel}\n${res.offset}:${res.epoch}:${payload}`])
        .catch(() => {});
    }
    return res;
  }

  private async readRaw(channel: string, after: number, limit: number): Promise<ReadResult> {
    const k = this.keys(channel);
    const r = (await this.eval(
      READ_SCRIPT,
      [k.meta, k.log],
      [String(after), String(limit), ms(this.emptyStreamTtl)],
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
