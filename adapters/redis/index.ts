/**
 * `switchyardjs/redis`: the Redis engine. Many hubs (nodes) behind a load balancer share one
 * Redis and act as one: offsets are assigned by Redis atomically together with the cross-node
 * publish, so every node sees every channel in offset order; a client may reconnect to any
 * node and recover from the shared history.
 *
 * ```ts
 * import { Switchyard } from 'switchyardjs';
 * import { redisEngine } from 'switchyardjs/redis';
 * const hub = new Switchyard({ engine: redisEngine({ url: 'redis://127.0.0.1:6379' }) });
 * ```
 * Needs node-redis (`npm install redis`) and Redis ≥ 6.2. Plain (non-sharded) pub/sub is used,
 * also against a Redis Cluster; sharded pub/sub (SSUBSCRIBE) is not implemented yet.
 * See docs/scaling.md for what Redis keeps, for how long, and each failure mode.
 * @module switchyard/redis
 */
import { createClient } from 'redis';
import type { Engine } from '../../lib/engine.js';
import { optionError } from '../../lib/errors.js';
import { RedisBroker } from './broker.js';
import { RedisConnection, type RedisClientLike, type RedisLogger } from './connection.js';
import { RedisPresence } from './presence.js';
import { RedisStorage } from './storage.js';

export { RedisBroker } from './broker.js';
export { RedisPresence, type RedisPresenceSettings } from './presence.js';
export { RedisStorage } from './storage.js';
export { RedisUnavailableError, type RedisClientLike, type RedisConnection, type RedisLogger } from './connection.js';
export { escapeGlob, patternToGlob } from './glob.js';

/** Options of {@link redisEngine}. */
export interface RedisEngineOptions {
  /** Redis URL (default `redis://127.0.0.1:6379`). Ignored when `client` is given. */
  url?: string;
  /**
   * A node-redis client to use instead of creating one. It must be created with
   * `disableOfflineQueue: true` (otherwise publishes made while Redis is down would wait in an
   * unbounded queue instead of failing), and it is not closed by the engine; a duplicate of it
   * is used for pub/sub and is closed.
   */
  client?: RedisClientLike;
  /** Prefix of every key and pub/sub channel (default `switchyard:`); separates apps sharing a Redis. */
  keyPrefix?: string;
  /** De-duplication window of idempotency keys, ms (default 120,000). */
  dedupWindow?: number;
  /**
   * A stream nobody appended to or read for this long, ms, is dropped from Redis (default
   * 86,400,000 = 1 day, and never before its messages' own ttl). It comes back with a new
   * epoch, so a client resuming from it gets `recovered: false`.
   */
  streamIdleTtl?: number;
  /**
   * How long the hub's start waits for Redis, ms (default 5,000); also node-redis' socket
   * connect timeout. If Redis is down at startup, publishes fail with 201 until it is up.
   */
  connectTimeout?: number;
  /**
   * Treat a restart (or failover) of the Redis server as possible data loss (default true):
   * streams written before the server's current run get a new epoch when next used, and their
   * subscribers get `recovered: false`. This is the only safe choice unless Redis acknowledges
   * a write only once it is durable: RDB snapshots, `appendfsync everysec` and asynchronous
   * replicas can all come back without the newest acknowledged messages, and the stream would
   * then hand out the same offsets again under the same epoch — clients would skip the new
   * messages as duplicates. Set false only with `appendonly yes` + `appendfsync always` and no
   * failover to replicas; streams then survive restarts and clients recover across them.
   */
  restartIsDataLoss?: boolean;
  /**
   * Presence: a node's members count as gone once its liveness key, refreshed every
   * `presenceRefresh` ms, has not been refreshed for this long, ms (default 15,000). Other
   * nodes then stop listing them and announce their leave (docs/presence.md). Lower means
   * ghosts vanish sooner but a process stalled (GC, CPU starvation) for longer than this
   * briefly loses its members; it stores them again at its next refresh.
   */
  presenceTtl?: number;
  /**
   * How often each node refreshes its presence liveness key and looks for dead nodes, ms
   * (default 5,000). Must be less than `presenceTtl` (at most half is advisable).
   */
  presenceRefresh?: number;
  /** Receives connection errors (node-redis reports every failed reconnect). Default: silent. */
  logger?: RedisLogger;
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * Creates a Redis {@link Engine} for `new Switchyard({ engine })`.
 * @throws SwitchyardError (150 BAD_OPTIONS) for invalid options or a client with an offline queue.
 */
export function redisEngine(options: RedisEngineOptions = {}): Engine & { storage: RedisStorage; broker: RedisBroker; presence: RedisPresence } {
  if (typeof options !== 'object' || options === null) throw optionError('redisEngine options', 'an object', options);
  const { url = 'redis://127.0.0.1:6379', client, keyPrefix = 'switchyard:', dedupWindow = 120_000, streamIdleTtl = 86_400_000, connectTimeout = 5_000, restartIsDataLoss = true, presenceTtl = 15_000, presenceRefresh = 5_000, logger } = options;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) throw optionError('url', 'a redis:// or rediss:// URL', url);
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) throw optionError('keyPrefix', 'a string without "{" or "}" (they would break hash tags)', keyPrefix);
  if (!posInt(dedupWindow)) throw optionError('dedupWindow', 'a positive integer of milliseconds', dedupWindow);
  if (!posInt(streamIdleTtl)) throw optionError('streamIdleTtl', 'a positive integer of milliseconds', streamIdleTtl);
  if (!posInt(connectTimeout)) throw optionError('connectTimeout', 'a positive integer of milliseconds', connectTimeout);
  if (!posInt(presenceTtl)) throw optionError('presenceTtl', 'a positive integer of milliseconds', presenceTtl);
  if (!posInt(presenceRefresh) || presenceRefresh >= presenceTtl) throw optionError('presenceRefresh', `a positive integer of milliseconds below presenceTtl (${presenceTtl})`, presenceRefresh);
  if (typeof restartIsDataLoss !== 'boolean') throw optionError('restartIsDataLoss', 'true or false', restartIsDataLoss);
  if (client !== undefined) {
    if (typeof client !== 'object' || client === null || typeof client.duplicate !== 'function') throw optionError('client', 'a node-redis client (createClient())', client);
    if (client.options?.disableOfflineQueue !== true) {
      throw optionError('client', 'created with createClient({ ..., disableOfflineQueue: true }) so publishes fail fast while Redis is down', 'a client with an offline queue');
    }
  }
  const cmd = client ?? (createClient({ url, disableOfflineQueue: true, socket: { connectTimeout } }) as unknown as RedisClientLike);
  const conn = new RedisConnection(cmd, cmd.duplicate(), client === undefined, connectTimeout, logger);
  return {
    storage: new RedisStorage(conn, keyPrefix, dedupWindow, streamIdleTtl, restartIsDataLoss),
    broker: new RedisBroker(conn, keyPrefix),
    presence: new RedisPresence(conn, keyPrefix, { ttl: presenceTtl, refresh: presenceRefresh }, logger),
    appendPublishes: true,
  };
}
