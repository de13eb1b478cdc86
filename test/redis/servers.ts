// Throwaway Redis deployments for the tests: a Redis Cluster (3 primaries, optionally one
// replica each) and a Sentinel group (primary + replica + 3 sentinels), each in a temp dir,
// on free ports, stopped by PID in teardown. Failure detection is tuned fast (cluster-node-timeout
// and down-after-milliseconds of 1 s; any replica may take over, however long it was cut off)
// so failover tests take seconds, not minutes.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, NO_PERSISTENCE, OwnRedis } from './helpers.js';

const run = promisify(execFile);

interface Tap {
  teardown(fn: () => unknown): void;
}

/** Runs redis-cli against 127.0.0.1:`port` and returns its output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tempDir(t: Tap, tag: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sy-${tag}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestCluster {
  primaries: OwnRedis[];
  replicas: OwnRedis[];
  rootNodes: Array<{ url: string }>;
  /** The server (primary or replica) on `port`. */
  server(port: number): OwnRedis;
  /** Port of the primary that serves `key`'s slot now. */
  ownerOf(key: string): Promise<number>;
  /** Waits until every live node reports cluster_state:ok. */
  healthy(): Promise<void>;
}

/**
 * Starts a Redis Cluster of 3 primaries (and `replicas` replicas each, 0 or 1), or of one primary
 * holding every slot (`primaries: 1`, no replicas: the benchmarks' one-shard baseline).
 */
export async function startCluster(t: Tap, replicas: 0 | 1 = 0, primaries: 1 | 3 = 3): Promise<TestCluster> {
  if (primaries === 1 && replicas) throw new Error('startCluster: a one-primary cluster has no replicas here');
  const dir = await tempDir(t, 'cluster');
  const n = primaries * (1 + replicas);
  const servers: OwnRedis[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const s = new OwnRedis(port, [
      ...NO_PERSISTENCE,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '1000',
      '--cluster-replica-validity-factor',
      '0',
      '--dir',
      dir,
    ]);
    t.teardown(() => s.stop());
    servers.push(s);
  }
  await Promise.all(servers.map((s) => s.start()));
  if (primaries === 1) await cli(servers[0]!.port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
  else
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map((s) => `127.0.0.1:${s.port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 60_000 },
    );
  const cluster: TestCluster = {
    primaries: servers.slice(0, primaries),
    replicas: servers.slice(primaries),
    rootNodes: servers.slice(0, primaries).map((s) => ({ url: s.url })),
    server: (port) => servers.find((s) => s.port === port)!,
    async ownerOf(key) {
      const live = servers.filter((s) => s.proc?.exitCode === null && s.proc?.signalCode === null);
      const slot = Number(await cli(live[0]!.port, 'CLUSTER', 'KEYSLOT', key));
      for (const s of live) {
        const out = await cli(s.port, 'CLUSTER', 'SLOTS').catch(() => '');
        const lines = out.trim().split('\n');
        // Plain redis-cli output: start, end, then "ip", port, id per node of the range.
        for (let i = 0; i + 4 < lines.length; i++) {
          const a = Number(lines[i]),
            b = Number(lines[i + 1]);
          if (
            lines[i + 2] === '127.0.0.1' &&
            Number.isInteger(a) &&
            Number.isInteger(b) &&
            a <= slot &&
            slot <= b &&
            a <= b
          )
            return Number(lines[i + 3]);
        }
      }
      throw new Error(`no owner found for ${key}`);
    },
    async healthy() {
      const live = servers.filter((s) => s.proc?.exitCode === null && s.proc?.signalCode === null);
      await waitFor('cluster_state:ok', async () =>
        (await Promise.all(live.map((s) => cli(s.port, 'CLUSTER', 'INFO')))).every((o) =>
          o.includes('cluster_state:ok'),
        ),
      );
    },
  };
  await cluster.healthy();
  // A replica can take over only once it has synced with its primary.
  await waitFor('the replicas to sync', async () =>
    (await Promise.all(cluster.replicas.map((r) => cli(r.port, 'INFO', 'replication')))).every((o) =>
      o.includes('master_link_status:up'),
    ),
  );
  return cluster;
}

export interface TestSentinels {
  primary: OwnRedis;
  replica: OwnRedis;
  sentinels: OwnRedis[];
  name: string;
  sentinelRootNodes: Array<{ host: string; port: number }>;
  /** Port of the primary the sentinels report now. */
  primaryPort(): Promise<number>;
}

/** Starts a replica of the server at `masterPort` (no persistence) and waits until it has synced. */
export async function startReplica(t: Tap, dir: string, masterPort: number): Promise<OwnRedis> {
  const replica = new OwnRedis(await freePort(), [
    ...NO_PERSISTENCE,
    '--dir',
    dir,
    '--replicaof',
    '127.0.0.1',
    String(masterPort),
  ]);
  t.teardown(() => replica.stop());
  await replica.start();
  await waitFor('the replica to sync', async () =>
    (await cli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'),
  );
  return replica;
}

/**
 * Starts 3 sentinels (quorum 2, down after 1 s) monitoring `name` at `masterPort`, and waits until
 * every one knows the replica and the other sentinels (a failover cannot run before that).
 */
export async function startSentinelGroup(t: Tap, dir: string, name: string, masterPort: number): Promise<OwnRedis[]> {
  const sentinels: OwnRedis[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    // The same redis-server binary in sentinel mode: nothing beyond redis-server is needed.
    const s = new OwnRedis(port, [], [conf, '--sentinel']);
    t.teardown(() => s.stop());
    sentinels.push(s);
  }
  await Promise.all(sentinels.map((s) => s.start()));
  await waitFor('the sentinels to see each other and the replica', async () => {
    const outs = await Promise.all(sentinels.map((s) => cli(s.port, 'SENTINEL', 'master', name)));
    return outs.every((o) => {
      const l = o.trim().split('\n');
      const field = (k: string) => Number(l[l.indexOf(k) + 1]);
      return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
    });
  });
  return sentinels;
}

/** Starts a primary, one replica and 3 sentinels (quorum 2, down after 1 s). */
export async function startSentinels(t: Tap): Promise<TestSentinels> {
  const dir = await tempDir(t, 'sentinel');
  const name = 'symaster';
  const primary = new OwnRedis(await freePort(), [...NO_PERSISTENCE, '--dir', dir]);
  t.teardown(() => primary.stop());
  await primary.start();
  const replica = await startReplica(t, dir, primary.port);
  const sentinels = await startSentinelGroup(t, dir, name, primary.port);
  return {
    primary,
    replica,
    sentinels,
    name,
    sentinelRootNodes: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    async primaryPort() {
      const out = await cli(sentinels[0]!.port, 'SENTINEL', 'get-master-addr-by-name', name);
      return Number(out.trim().split('\n')[1]);
    },
  };
}
