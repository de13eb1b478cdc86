/**
 * Redis cost and throughput of publishes: one Redis vs a 3-primary Redis Cluster, same
 * publishers and subscribers, in one run. Starts its own redis-servers on free ports (no
 * persistence) and stops them by PID. For each setup it reports publishes/s, Redis CPU per
 * publish (from INFO cpu, summed over the servers: scripts, pub/sub, networking), the time Redis
 * spent inside the append script (INFO commandstats, evalsha usec) and the commands Redis ran per publish
 * (INFO commandstats deltas).
 *
 *   node --import=@tapjs/typescript/import bench/redis-scaling.ts [--publishes 20000] [--channels 100] [--window 128] [--size 100] [--engines 4] [--history 50]
 *     [--engine path/to/adapters/redis/index.ts] [--setups single,cluster1,cluster] [--instructions] [--redis-cpu 0.2]
 *
 * `--engine` loads `redisEngine` from another checkout (e.g. `git worktree add /tmp/before bc4cac9`,
 * the engine whose append script ran INFO), so a before/after pair is measured by one bench.
 * `--instructions` runs the single Redis under valgrind's callgrind and adds the instructions
 * Redis ran per publish: exact and repeatable whatever else the machine does (CPU µs are not).
 * `--redis-cpu 0.2` caps every redis-server at that fraction of a core (a CPU cgroup; root only),
 * so Redis, not this process, is the bottleneck: then publishes/s shows how capacity grows with
 * primaries on a machine with fewer cores than servers.
 *
 * Publishers are `--engines` engines in this process (one connection set each) keeping
 * `--window` appends in flight over `--channels` channels; one more engine subscribes to every
 * channel and counts deliveries. On a machine where this process is the bottleneck (fewer cores
 * than servers + client), publishes/s shows the client's limit, and Redis CPU per publish is
 * the figure to compare.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { redisEngine as currentEngine } from '../adapters/redis/index.js';
import { OwnRedis, freePort } from '../test/redis/helpers.js';
import { cli, startCluster, type TestCluster } from '../test/redis/servers.js';
import { commandStats, statsDelta } from '../test/redis/commandstats.js';
import { callgrindWrapper, dumpInstructions, zeroInstructions } from './callgrind.js';
import { capCpu } from './cpu-cap.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { values } = parseArgs({
  options: {
    publishes: { type: 'string', default: '20000' },
    channels: { type: 'string', default: '100' },
    window: { type: 'string', default: '128' },
    size: { type: 'string', default: '100' },
    engines: { type: 'string', default: '4' },
    history: { type: 'string', default: '50' },
    engine: { type: 'string' },
    setups: { type: 'string', default: 'single,cluster1,cluster' },
    instructions: { type: 'boolean', default: false },
    'redis-cpu': { type: 'string' },
  },
});
const CPU_CAP = values['redis-cpu'] === undefined ? undefined : Number(values['redis-cpu']);
const redisEngine: typeof currentEngine = values.engine
  ? (await import(pathToFileURL(values.engine).href)).redisEngine
  : currentEngine;
const SETUPS = new Set(values.setups.split(','));
for (const s of SETUPS)
  if (s !== 'single' && s !== 'cluster1' && s !== 'cluster')
    throw new Error(`--setups: ${s} is not one of single, cluster1 (a one-primary cluster), cluster (3 primaries)`);
const PUBLISHES = Number(values.publishes);
const CHANNELS = Number(values.channels);
const WINDOW = Number(values.window);
const ENGINES = Number(values.engines);
const PAYLOAD = JSON.stringify('x'.repeat(Math.max(0, Number(values.size) - 2)));
const retain = { size: Number(values.history), ttl: 600_000 };

const teardowns: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

async function cpuSeconds(ports: number[]): Promise<number> {
  let sum = 0;
  for (const p of ports) {
    const out = await cli(p, 'INFO', 'cpu');
    sum += Number(/used_cpu_user:([\d.]+)/.exec(out)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(out)![1]);
  }
  return sum;
}

async function totalStats(ports: number[]) {
  const all = new Map<string, { calls: number; usec: number }>();
  for (const p of ports)
    for (const [k, v] of await commandStats(p)) {
      const a = all.get(k) ?? { calls: 0, usec: 0 };
      all.set(k, { calls: a.calls + v.calls, usec: a.usec + v.usec });
    }
  return all;
}

/** Instruction counting of one callgrind-wrapped server: its pid and dump directory. */
interface Counted {
  pid: number;
  dir: string;
}

async function run(label: string, ports: number[], make: () => ReturnType<typeof redisEngine>, counted?: Counted) {
  const pubs = Array.from({ length: ENGINES }, make);
  const sub = make();
  let delivered = 0;
  await sub.broker.start({ message: () => void delivered++, interrupted: () => {} });
  const channels = Array.from({ length: CHANNELS }, (_, i) => `bench.c${i}`);
  for (const ch of channels) await sub.broker.subscribe(ch);
  // Warm-up: streams created, scripts cached, connections open.
  await Promise.all(channels.map((ch, i) => pubs[i % ENGINES]!.storage.append(ch, PAYLOAD, retain)));
  const statsBefore = await totalStats(ports);
  const cpuBefore = await cpuSeconds(ports);
  const deliveredBefore = delivered;
  if (counted) await zeroInstructions(counted.pid);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async (_, w) => {
      for (let i = next++; i < PUBLISHES; i = next++)
        await pubs[(w + i) % ENGINES]!.storage.append(channels[i % CHANNELS]!, PAYLOAD, retain);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const instructions = counted ? await dumpInstructions(counted.pid, counted.dir) : undefined;
  const cpu = (await cpuSeconds(ports)) - cpuBefore;
  const statsAfter = await totalStats(ports);
  const d = statsDelta(statsBefore, statsAfter);
  const scriptUsec = (statsAfter.get('evalsha')?.usec ?? 0) - (statsBefore.get('evalsha')?.usec ?? 0);
  const end = Date.now() + 10_000;
  while (delivered - deliveredBefore < PUBLISHES && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  delete d.info;
  delete d.cluster; // node-redis' own CLUSTER SLOTS refreshes, if any
  const commands = Object.values(d).reduce((a, b) => a + b, 0) / PUBLISHES;
  const result = {
    setup: label,
    'publishes/s': Math.round(PUBLISHES / secs),
    'Redis CPU µs/publish': Math.round(((cpu * 1e6) / PUBLISHES) * 10) / 10,
    'script µs/publish': Math.round((scriptUsec / PUBLISHES) * 10) / 10,
    'commands/publish': Math.round(commands * 100) / 100,
    ...(instructions === undefined ? {} : { 'Redis instructions/publish': Math.round(instructions / PUBLISHES) }),
    delivered: delivered - deliveredBefore,
  };
  console.log(
    JSON.stringify(result),
    '\n  commands:',
    JSON.stringify(Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Math.round((v / PUBLISHES) * 100) / 100]))),
  );
  for (const e of [...pubs, sub]) {
    await e.broker.close();
    await e.storage.close();
  }
  return result;
}

try {
  const cap = async (servers: OwnRedis[]) => {
    if (CPU_CAP === undefined) return;
    for (const s of servers) {
      const release = await capCpu(s.proc!.pid!, CPU_CAP);
      t.teardown(release);
    }
  };
  const rows = [];
  if (SETUPS.has('single')) {
    const dir = values.instructions ? await mkdtemp(join(tmpdir(), 'sy-callgrind-')) : undefined;
    if (dir) t.teardown(() => rm(dir, { recursive: true, force: true }));
    const single = new OwnRedis(await freePort(), undefined, undefined, dir ? callgrindWrapper(dir) : []);
    t.teardown(() => single.stop());
    await single.start();
    await cap([single]);
    const counted = dir ? { pid: single.proc!.pid!, dir } : undefined;
    rows.push(
      await run('1 Redis', [single.port], () => redisEngine({ url: single.url, keyPrefix: 'bench:' }), counted),
    );
  }
  for (const [setup, primaries] of [
    ['cluster1', 1],
    ['cluster', 3],
  ] as const) {
    if (!SETUPS.has(setup)) continue;
    const cluster: TestCluster = await startCluster(t, 0, primaries);
    await cap(cluster.primaries);
    rows.push(
      await run(
        `${primaries}-primary cluster`,
        cluster.primaries.map((p) => p.port),
        () => redisEngine({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix: 'bench:' }),
      ),
    );
    // Stop this cluster before the next setup runs: idle servers still cost a capped machine CPU.
    for (const p of cluster.primaries) await p.stop();
  }
  console.table(rows);
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
