// Two "regions" on this machine for the region tests and bench/regions.ts: a Redis primary
// (region A) and a replica of it (region B) on private ports; every cross-region link (the
// replication link, region B's writes to the primary) goes through a TCP proxy of the test's
// own that adds a fixed delay each way. Optionally 3 sentinels watch the primary, so region B's
// replica can be promoted when region A is lost. Everything is stopped by PID in teardown.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { freePort, NO_PERSISTENCE, OwnRedis } from './helpers.js';
import { cli, startReplica, startSentinelGroup } from './servers.js';
import type { RedisEngineOptions } from '../../adapters/redis/index.js';

interface Tap {
  teardown(fn: () => unknown): void;
}

export interface Regions {
  primary: OwnRedis;
  replica: OwnRedis;
  /** Replication link B → A (the replica's `replicaof` points here). */
  replication: DelayProxy;
  /** Region B's command link to the primary. */
  writes: DelayProxy;
  /** With sentinels: their ports and the monitored name. */
  sentinels?: { ports: number[]; name: string };
  /** Engine options of a node in region A (talks to the primary directly, no replica). */
  nodeA(extra?: RedisEngineOptions): RedisEngineOptions;
  /** Engine options of a node in region B (writes through `writes`, reads its local replica). */
  nodeB(extra?: RedisEngineOptions): RedisEngineOptions;
  /** Port of the primary the sentinels report (sentinel setups only). */
  primaryPort(): Promise<number>;
}

export async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts the two regions; `delayMs` one way on each cross-region link. */
export async function startRegions(
  t: Tap,
  opts: { delayMs: number; keyPrefix: string; sentinels?: boolean },
): Promise<Regions> {
  const dir = await mkdtemp(join(tmpdir(), 'sy-regions-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const primary = new OwnRedis(await freePort(), [...NO_PERSISTENCE, '--dir', dir, '--repl-diskless-sync-delay', '0']);
  t.teardown(() => primary.stop());
  await primary.start();
  const replication = await startDelayProxy(t, primary.port, opts.delayMs);
  const writes = await startDelayProxy(t, primary.port, opts.delayMs);
  // The replica's own port is what it announces to the primary (and the sentinels).
  const replica = await startReplica(t, dir, replication.port);
  const name = 'syregions';
  let sentinels: Regions['sentinels'];
  if (opts.sentinels) {
    // The sentinels know the primary by the address region B uses (the write proxy): the
    // replica reports its master as that address too, so no sentinel "fixes" the replica to
    // bypass the delayed link. Region A's nodes map it to the primary's own port.
    const ports = (await startSentinelGroup(t, dir, name, replication.port)).map((x) => x.port);
    sentinels = { ports, name };
  }
  const sentinel = (map?: Record<string, { host: string; port: number }>) => ({
    name,
    sentinelRootNodes: sentinels!.ports.map((port) => ({ host: '127.0.0.1', port })),
    ...(map && { nodeAddressMap: map }),
  });
  return {
    primary,
    replica,
    replication,
    writes,
    sentinels,
    // With sentinels, the proxy address the sentinels report is the primary's for region A
    // (mapped to its own port) and the delayed link for region B (the sentinels monitor the
    // replication proxy, region B writes through its own).
    nodeA: (extra) => ({
      keyPrefix: opts.keyPrefix,
      connectTimeout: 2_000,
      ...(sentinels
        ? { sentinel: sentinel({ [`127.0.0.1:${replication.port}`]: { host: '127.0.0.1', port: primary.port } }) }
        : { url: primary.url }),
      ...extra,
    }),
    nodeB: (extra) => ({
      keyPrefix: opts.keyPrefix,
      connectTimeout: 2_000,
      ...(sentinels
        ? { sentinel: sentinel({ [`127.0.0.1:${replication.port}`]: { host: '127.0.0.1', port: writes.port } }) }
        : { url: `redis://127.0.0.1:${writes.port}` }),
      replica: { url: replica.url },
      ...extra,
    }),
    async primaryPort() {
      const out = await cli(sentinels!.ports[0]!, 'SENTINEL', 'get-master-addr-by-name', name);
      return Number(out.trim().split('\n')[1]);
    },
  };
}
