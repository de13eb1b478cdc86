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
 * Needs node-redis (`npm install redis`) and Redis ≥ 6.2 (≥ 7.0 for a cluster, which uses
 * sharded pub/sub). Three deployments: one Redis (`url` or `client`), Redis Sentinel
 * (`sentinel`, follows failovers) and Redis Cluster (`cluster`, every channel on one shard).
 * See docs/scaling.md for which to choose, what Redis keeps, for how long, and each failure mode.
 * Nodes in another region read from a local replica (`replica`, docs/regions.md).
 * @module switchyard/redis
 */
import { createClient, createCluster, createSentinel } from 'redis';
import type { Engine } from '../../lib/engine.js';
import { optionError } from '../../lib/errors.js';
import { isIntIn } from '../../lib/integers.js';
import { RedisBroker } from './broker.js';
import { RedisConnection, type RedisClientLike, type RedisGroupLike, type RedisLogger } from './connection.js';
import { RedisPresence } from './presence.js';
import { RedisStorage } from './storage.js';

export { RedisBroker } from './broker.js';
export { RedisPresence, type RedisPresenceSettings } from './presence.js';
export { RedisStorage, type ReplicaWait } from './storage.js';
export type { ReplicaReads, ReplicaReadSettings, ReplicaReadStats } from './replica.js';
export {
  RedisUnavailableError,
  type RedisClientLike,
  type RedisGroupLike,
  type RedisConnection,
  type RedisLogger,
  type RedisTopology,
  type RedisMessageListener,
  type RedisNodeClientLike,
} from './connection.js';
export { escapeGlob, patternToGlob } from './glob.js';

/** A Redis server address (as node-redis' `createCluster` root nodes take it). */
export interface RedisNodeAddress {
  /** `redis://host:port` (or `rediss://`). */
  url: string;
}

/** Where a Redis Cluster is (node-redis `createCluster` options). */
export interface RedisClusterOptions {
  /** Some nodes of the cluster; the rest is discovered (`CLUSTER SLOTS`). At least one. */
  rootNodes: RedisNodeAddress[];
  /** Client options for every node (password, TLS …); the engine adds `disableOfflineQueue: true` and its connect timeout. */
  defaults?: Record<string, unknown>;
}

/** Where Redis Sentinel is (node-redis `createSentinel` options). */
export interface RedisSentinelOptions {
  /** The monitored primary's name (`sentinel monitor <name> …`). */
  name: string;
  /** Some sentinels; the rest is discovered. At least one. */
  sentinelRootNodes: Array<{ host: string; port: number }>;
  /** Client options for the data nodes (password, TLS …); the engine adds `disableOfflineQueue: true` and its connect timeout. */
  nodeClientOptions?: Record<string, unknown>;
  /** Client options for the sentinels themselves. */
  sentinelClientOptions?: Record<string, unknown>;
  /**
   * Where to connect for an address the sentinels report ("host:port" → `{ host, port }`),
   * for nodes that reach Redis through another address than the sentinels do (NAT, a tunnel
   * to another region). Default: the reported address.
   */
  nodeAddressMap?: Record<string, { host: string; port: number }>;
}

/**
 * The Redis replica in this node's region (docs/regions.md): the node reads history and stream
 * state from it and receives live messages and presence events from it, while every write
 * (appends, presence) goes to the primary, wherever it is. Offsets and epochs are the
 * primary's, so a position from any region is valid in every other.
 */
export interface RedisReplicaOptions {
  /** `redis://host:port` (or `rediss://`) of the replica in this node's region. */
  url: string;
  /**
   * How long a read whose position is ahead of the replica (a client that moved here from a
   * region closer to the primary) waits for replication to catch up, ms (default 2,000). Past
   * it the primary answers the read (one cross-region round trip), so the client still
   * recovers; the wait only spares the primary. A position the primary does not know either
   * is answered at once.
   */
  catchUpTimeout?: number;
  /** Client options for the replica (password, TLS …); the engine adds `disableOfflineQueue: true` and its connect timeout. */
  clientOptions?: Record<string, unknown>;
}

/** `WAIT` after every append (see {@link RedisEngineOptions.waitForReplicas}). */
export interface RedisWaitOptions {
  /** How many replicas must have the append before it is acknowledged (≥ 1). */
  replicas: number;
  /** Longest wait, ms; fewer confirmations by then fail the publish with 201. */
  timeout: number;
}

/** Options of {@link redisEngine}. */
export interface RedisEngineOptions {
  /** Redis URL (default `redis://127.0.0.1:6379`). Ignored when `client`, `cluster` or `sentinel` is given. */
  url?: string;
  /**
   * A Redis Cluster (Redis ≥ 7.0) instead of one Redis. All keys of a channel share a hash
   * slot, so each append runs on one shard, and live messages use sharded pub/sub, so each
   * travels only inside its shard. Patterns need a literal first segment (`chat.*`, not `*.x`).
   * Default: none. Exclusive with `url`, `client` and `sentinel`.
   */
  cluster?: RedisClusterOptions;
  /**
   * Redis Sentinel: the engine asks the sentinels for the primary and follows failovers. A
   * promoted replica may lack the newest writes, so with `restartIsDataLoss` (default) every
   * stream gets a new epoch after a failover. Default: none. Exclusive with `url`, `client`, `cluster`.
   */
  sentinel?: RedisSentinelOptions;
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
   * How long a stream that was only read (subscribe, history, `since`) and never published to
   * is remembered, ms (default 300,000 = 5 min; each read pushes it back). Reads alone thus
   * cannot fill Redis with channel names. A subscriber of a channel that stays unpublished
   * longer than this sees one `reset` discontinuity when the first message arrives (there was
   * nothing to lose).
   */
  emptyStreamTtl?: number;
  /**
   * Cluster only: also publish every message on the sharded feed of its channel's first
   * segment, which pattern subscriptions listen to (default true). One more command per
   * publish; false saves it, and then pattern subscriptions on a cluster get no messages.
   */
  patternFeed?: boolean;
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
  /**
   * Regions: the replica in this node's region, read from instead of the primary (with `url`,
   * `client` or `sentinel`, which name the primary; not with `cluster`). Default: none, every
   * read goes to the primary. See docs/regions.md.
   */
  replica?: RedisReplicaOptions;
  /**
   * Acknowledge a publish only once `replicas` replicas have it too (Redis `WAIT` after the
   * append), so a failover to one of them cannot lose it. Costs one replication round trip
   * per publish (measured in docs/regions.md). When fewer confirm within `timeout` ms the
   * publish fails with 201 although the primary stored it (a retry with the same idempotency
   * key returns the same offset). Default: none, a publish is acknowledged once the primary
   * stored it. Not with `cluster`.
   */
  waitForReplicas?: RedisWaitOptions;
  /** Receives connection errors (node-redis reports every failed reconnect). Default: silent. */
  logger?: RedisLogger;
}

const posInt = (v: unknown): v is number => isIntIn(v, 1);

/**
 * Creates a Redis {@link Engine} for `new Switchyard({ engine })`.
 * @throws SwitchyardError (150 BAD_OPTIONS) for invalid options or a client with an offline queue.
 */
export function redisEngine(
  options: RedisEngineOptions = {},
): Engine & { storage: RedisStorage; broker: RedisBroker; presence: RedisPresence } {
  if (typeof options !== 'object' || options === null) throw optionError('redisEngine options', 'an object', options);
  const {
    url = 'redis://127.0.0.1:6379',
    client,
    cluster,
    sentinel,
    keyPrefix = 'switchyard:',
    dedupWindow = 120_000,
    streamIdleTtl = 86_400_000,
    emptyStreamTtl = 300_000,
    patternFeed = true,
    connectTimeout = 5_000,
    restartIsDataLoss = true,
    presenceTtl = 15_000,
    presenceRefresh = 5_000,
    logger,
    replica,
    waitForReplicas,
  } = options;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
    throw optionError('url', 'a redis:// or rediss:// URL', url);
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix))
    throw optionError('keyPrefix', 'a string without "{" or "}" (they would break hash tags)', keyPrefix);
  if (!posInt(dedupWindow)) throw optionError('dedupWindow', 'a positive integer of milliseconds', dedupWindow);
  if (!posInt(streamIdleTtl)) throw optionError('streamIdleTtl', 'a positive integer of milliseconds', streamIdleTtl);
  if (!posInt(emptyStreamTtl))
    throw optionError('emptyStreamTtl', 'a positive integer of milliseconds', emptyStreamTtl);
  if (typeof patternFeed !== 'boolean') throw optionError('patternFeed', 'true or false', patternFeed);
  if (!posInt(connectTimeout))
    throw optionError('connectTimeout', 'a positive integer of milliseconds', connectTimeout);
  if (!posInt(presenceTtl)) throw optionError('presenceTtl', 'a positive integer of milliseconds', presenceTtl);
  if (!posInt(presenceRefresh) || presenceRefresh >= presenceTtl)
    throw optionError(
      'presenceRefresh',
      `a positive integer of milliseconds below presenceTtl (${presenceTtl})`,
      presenceRefresh,
    );
  if (typeof restartIsDataLoss !== 'boolean')
    throw optionError('restartIsDataLoss', 'true or false', restartIsDataLoss);
  if ([client, cluster, sentinel].filter((x) => x !== undefined).length > 1)
    throw optionError('client', 'only one of client, cluster and sentinel', 'several');
  if (cluster !== undefined) {
    const ok =
      typeof cluster === 'object' &&
      cluster !== null &&
      Array.isArray(cluster.rootNodes) &&
      cluster.rootNodes.length > 0 &&
      cluster.rootNodes.every((n) => typeof n?.url === 'string' && /^rediss?:\/\//.test(n.url));
    if (!ok)
      throw optionError(
        'cluster',
        'an object with rootNodes: [{ url: "redis://host:port" }, …] (at least one)',
        cluster,
      );
  }
  if (sentinel !== undefined) {
    const ok =
      typeof sentinel === 'object' &&
      sentinel !== null &&
      typeof sentinel.name === 'string' &&
      sentinel.name.length > 0 &&
      Array.isArray(sentinel.sentinelRootNodes) &&
      sentinel.sentinelRootNodes.length > 0 &&
      sentinel.sentinelRootNodes.every(
        (n) => typeof n?.host === 'string' && Number.isInteger(n?.port) && n.port > 0 && n.port < 65536,
      );
    if (!ok)
      throw optionError(
        'sentinel',
        'an object with name and sentinelRootNodes: [{ host, port }, …] (at least one)',
        sentinel,
      );
    const map = sentinel.nodeAddressMap;
    const mapOk =
      map === undefined ||
      (typeof map === 'object' &&
        map !== null &&
        Object.values(map).every(
          (a) => typeof a?.host === 'string' && Number.isInteger(a?.port) && a.port > 0 && a.port < 65536,
        ));
    if (!mapOk) throw optionError('sentinel.nodeAddressMap', 'an object mapping "host:port" to { host, port }', map);
  }
  if (client !== undefined) {
    if (typeof client !== 'object' || client === null || typeof client.duplicate !== 'function')
      throw optionError('client', 'a node-redis client (createClient())', client);
    if (client.options?.disableOfflineQueue !== true) {
      throw optionError(
        'client',
        'created with createClient({ ..., disableOfflineQueue: true }) so publishes fail fast while Redis is down',
        'a client with an offline queue',
      );
    }
  }
  if (replica !== undefined) {
    const ok =
      typeof replica === 'object' &&
      replica !== null &&
      typeof replica.url === 'string' &&
      /^rediss?:\/\//.test(replica.url);
    if (!ok)
      throw optionError(
        'replica',
        'an object with url: "redis://host:port" (the replica in this node\'s region)',
        replica,
      );
    if (cluster !== undefined)
      throw optionError(
        'replica',
        'no replica with cluster (a cluster has replicas per shard; regions need one primary, docs/regions.md)',
        replica,
      );
    if (replica.catchUpTimeout !== undefined && !posInt(replica.catchUpTimeout))
      throw optionError('replica.catchUpTimeout', 'a positive integer of milliseconds', replica.catchUpTimeout);
    if (
      replica.clientOptions !== undefined &&
      (typeof replica.clientOptions !== 'object' || replica.clientOptions === null)
    )
      throw optionError('replica.clientOptions', 'an object of node-redis client options', replica.clientOptions);
  }
  if (waitForReplicas !== undefined) {
    const ok =
      typeof waitForReplicas === 'object' &&
      waitForReplicas !== null &&
      posInt(waitForReplicas.replicas) &&
      posInt(waitForReplicas.timeout);
    if (!ok)
      throw optionError(
        'waitForReplicas',
        'an object { replicas, timeout } of positive integers (replicas to confirm, ms to wait)',
        waitForReplicas,
      );
    if (cluster !== undefined) throw optionError('waitForReplicas', 'no waitForReplicas with cluster', waitForReplicas);
  }
  // A region's node reads from its local replica and gets live messages from it (pub/sub on a replica receives every publish of the primary).
  const replicaClient = replica
    ? (createClient({
        ...replica.clientOptions,
        url: replica.url,
        disableOfflineQueue: true,
        socket: { connectTimeout, ...(replica.clientOptions?.socket as object) },
      }) as unknown as RedisClientLike)
    : undefined;
  let conn: RedisConnection;
  if (cluster) {
    const c = createCluster({
      rootNodes: cluster.rootNodes,
      defaults: {
        ...cluster.defaults,
        disableOfflineQueue: true,
        socket: { connectTimeout, ...(cluster.defaults?.socket as object) },
      },
    }) as unknown as RedisGroupLike & { duplicate(): RedisGroupLike };
    conn = new RedisConnection('cluster', c, c.duplicate(), true, connectTimeout, logger);
  } else if (sentinel) {
    const opts = {
      ...sentinel,
      nodeClientOptions: {
        ...sentinel.nodeClientOptions,
        disableOfflineQueue: true,
        socket: { connectTimeout, ...(sentinel.nodeClientOptions?.socket as object) },
      },
    };
    const c = createSentinel(opts as Parameters<typeof createSentinel>[0]) as unknown as RedisGroupLike & {
      duplicate(): RedisGroupLike;
    };
    conn = new RedisConnection(
      'sentinel',
      c,
      replicaClient?.duplicate() ?? c.duplicate(),
      true,
      connectTimeout,
      logger,
      replicaClient,
    );
  } else {
    const cmd =
      client ??
      (createClient({ url, disableOfflineQueue: true, socket: { connectTimeout } }) as unknown as RedisClientLike);
    conn = new RedisConnection(
      'single',
      cmd,
      (replicaClient ?? cmd).duplicate(),
      client === undefined,
      connectTimeout,
      logger,
      replicaClient,
    );
  }
  return {
    storage: new RedisStorage(
      conn,
      keyPrefix,
      dedupWindow,
      streamIdleTtl,
      restartIsDataLoss,
      emptyStreamTtl,
      patternFeed,
      replica && { catchUpTimeout: replica.catchUpTimeout ?? 2_000, idleTtl: streamIdleTtl, emptyStreamTtl },
      waitForReplicas,
    ),
    broker: new RedisBroker(conn, keyPrefix, patternFeed),
    presence: new RedisPresence(conn, keyPrefix, { ttl: presenceTtl, refresh: presenceRefresh }, logger),
    appendPublishes: true,
  };
}
