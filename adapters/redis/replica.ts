/**
 * Reads from a region's local Redis replica (docs/regions.md). The replica holds the same keys
 * as the primary (Redis replication carries every append's effects, and the publish, in
 * order), so a stream's offsets and epoch are the same in every region. A read on the replica
 * cannot write, so this path serves the common case only: a stream that exists, whose run-id
 * stamp names the current primary and whose expiry needs no push-back. Anything else (a new
 * stream, a stream a failover or restart made untrustworthy, an expiry due to be pushed back)
 * is answered by the primary's read script, which may write.
 *
 * A replica lags. A caller whose position is ahead of it (a client that moved here from the
 * primary's region) would otherwise be told its position does not exist ('reset'): the read
 * then asks the primary (one cross-region round trip) whether the position is real, and if so
 * waits, bounded by `catchUpTimeout`, for the replica to reach it; past the bound the primary
 * answers. A position the primary does not know either is answered at once.
 * @module
 */
import type { Position, ReadResult, StreamState } from '../../lib/engine.js';
import type { RedisClientLike } from './connection.js';
import { script } from './scripts.js';

/**
 * KEYS: meta, log. ARGV: trusted run ids (" id1 id2 " or "*"), after, limit (0 = state only),
 * idle ms, empty-stream ttl ms. Read-only (EVALSHA_RO). Returns {offset, epoch, earliest,
 * entries} or {} when only the primary can answer. Messages older than the stream's ttl are
 * skipped, not trimmed (the primary trims them at its next append or read).
 */
const READ_REPLICA = script(`
local m = redis.call('HMGET', KEYS[1], 'e', 'r', 't', 'x', 'o')
local trusted, after, limit, idle, emptyMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if not m[1] then return {} end
if trusted ~= '*' and not string.find(trusted, ' ' .. (m[2] or '') .. ' ', 1, true) then return {} end
local offset = tonumber(m[5])
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
if offset == 0 then
  -- The primary keeps a read-only stream alive by pushing its expiry back on every read.
  if redis.call('PTTL', KEYS[1]) < emptyMs / 2 then return {} end
  return {0, m[1], 1, {}}
end
local ttl = tonumber(m[3])
local keepMs = idle
if ttl and ttl > keepMs then keepMs = ttl end
if now - (tonumber(m[4]) or 0) > math.floor(keepMs / 8) then return {} end
local len = redis.call('LLEN', KEYS[2])
local skip = 0
if ttl and ttl > 0 then
  local cutoff = now - ttl
  while skip < len do
    local head = redis.call('LINDEX', KEYS[2], skip)
    local sep = string.find(head, '|', 1, true)
    if tonumber(string.sub(head, 1, sep - 1)) > cutoff then break end
    skip = skip + 1
  end
end
local base = offset - len + 1
local earliest = base + skip
local entries = {}
if limit > 0 and len > skip then
  local first = after + 1
  if first < earliest then first = earliest end
  local i = first - base
  if i < len then entries = redis.call('LRANGE', KEYS[2], i, i + limit - 1) end
end
return {offset, m[1], earliest, entries}
`);

/** Polling interval while waiting for the replica to catch up, ms (replication lag is usually a few ms to a cross-region one-way delay). */
const POLL_MS = 5;

/** What the replica reads need from the storage. */
export interface ReplicaReadHost {
  /** The read script on the primary (may create, trim or start over a stream). */
  primaryRead(channel: string, after: number, limit: number): Promise<ReadResult>;
  /** The run ids the streams' stamps are checked against (the primary's), or '*'. */
  trusted(): Promise<string>;
  keys(channel: string): { meta: string; log: string };
}

/** Settings of {@link ReplicaReads}, validated by `redisEngine()`. */
export interface ReplicaReadSettings {
  /** Longest wait for the replica to reach a caller's position, ms. */
  catchUpTimeout: number;
  idleTtl: number;
  emptyStreamTtl: number;
}

/** Counters of the replica read path (exported for tests and the benchmark). */
export interface ReplicaReadStats {
  /** Reads answered by the replica. */
  local: number;
  /** Reads the replica could not answer (missing or untrusted stream, expiry due, replica down). */
  primary: number;
  /** Reads that waited for the replica to catch up with the caller's position. */
  waited: number;
  /** Waits that ended without the replica (`catchUpTimeout` reached, or the replica stopped answering): the primary answered. */
  gaveUp: number;
}

/** The read path of a storage whose region has a local replica. */
export class ReplicaReads {
  readonly stats: ReplicaReadStats = { local: 0, primary: 0, waited: 0, gaveUp: 0 };

  constructor(
    private readonly client: RedisClientLike,
    private readonly host: ReplicaReadHost,
    private readonly settings: ReplicaReadSettings,
  ) {}

  /** One read on the replica; undefined when only the primary can answer. */
  private async local(channel: string, after: number, limit: number): Promise<ReadResult | undefined> {
    const k = this.host.keys(channel);
    const tail = [
      '2',
      k.meta,
      k.log,
      await this.host.trusted(),
      String(after),
      String(limit),
      String(this.settings.idleTtl),
      String(this.settings.emptyStreamTtl),
    ];
    let r: unknown[];
    try {
      try {
        r = (await this.client.sendCommand(['EVALSHA_RO', READ_REPLICA.sha, ...tail])) as unknown[];
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
        r = (await this.client.sendCommand(['EVAL_RO', READ_REPLICA.source, ...tail])) as unknown[];
      }
    } catch {
      // The local replica is unreachable (or refuses): the primary still answers.
      return undefined;
    }
    if (r.length === 0) return undefined;
    const state: StreamState = { offset: Number(r[0]), epoch: String(r[1]), earliest: Number(r[2]) };
    const first = Math.max(after + 1, state.earliest);
    const messages = (r[3] as string[]).map((e, i) => ({ offset: first + i, payload: e.slice(e.indexOf('|') + 1) }));
    return { messages, state };
  }

  /**
   * Reads messages after `after` (limit 0: the state only). `since`, when given, is the
   * caller's resume position: its epoch, too, must be one the replica has caught up with.
   */
  async read(channel: string, after: number, limit: number, since?: Position): Promise<ReadResult> {
    const start = performance.now();
    const mine = await this.local(channel, after, limit);
    if (!mine) {
      this.stats.primary++;
      return this.host.primaryRead(channel, after, limit);
    }
    if (!this.behind(mine.state, after, since)) {
      this.stats.local++;
      return mine;
    }
    // Lag, or a position the stream never had (another epoch): the primary tells which.
    const primary = await this.host.primaryRead(channel, after, 0);
    const target = { epoch: primary.state.epoch, offset: Math.min(after, primary.state.offset) };
    const reached = (s: StreamState) => s.epoch === target.epoch && s.offset >= target.offset;
    this.stats.waited++;
    for (;;) {
      const again = await this.local(channel, after, limit);
      if (again && reached(again.state)) {
        this.stats.local++;
        return again;
      }
      if (!again || performance.now() - start >= this.settings.catchUpTimeout) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    this.stats.gaveUp++;
    return this.host.primaryRead(channel, after, limit);
  }

  /** Whether the replica's state is older than what the caller has seen. */
  private behind(state: StreamState, after: number, since?: Position): boolean {
    return after > state.offset || (since !== undefined && since.epoch !== state.epoch);
  }
}
