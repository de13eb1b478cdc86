/**
 * Redis cost and throughput of publishes: one Redis vs a 3-primary Redis Cluster, same
 * publishers and subscribers, in one run. Starts its own redis-servers on free ports (no
 * persistence) and stops them by PID. For each setup it reports publishes/s, Redis CPU per
 * publish (from INFO cpu, summed over the servers: scripts, pub/sub, networking), the time Redis
 * spent inside the append script (INFO commandstats, evalsha usec) and the commands Redis ran per publish
 * (INFO commandstats deltas).
 *
 *   node --import=@tapjs/typescript/import bench/redis-scaling.ts [--publishes 20000] [--channels 100] [--window 128] [--size 100] [--engines 4] [--history 50]
 *
 * Publishers are `--engines` engines in this process (one connection set each) keeping
 * `--window` appends in flight over `--channels` channels; one more engine subscribes to every
 * channel and counts deliveries. On a machine where this process is the bottleneck (fewer cores
 * than servers + client), publishes/s shows the client's limit, and Redis CPU per publish is
 * the figure to compare.
 */
import { parseArgs } from 'node:util';
import { redisEngine } from '../adapters/redis/index.js';
import { OwnRedis, freePort } from '../test/redis/helpers.js';
import { cli, startCluster, type TestCluster } from '../test/redis/servers.js';
import { commandStats, statsDelta } from '../test/redis/commandstats.js';

const { values } = parseArgs({
  options: {
    publishes: { type: 'string', default: '20000' },
    channels: { type: 'string', default: '100' },
    window: { type: 'string', default: '128' },
    size: { type: 'string', default: '100' },
    engines: { type: 'string', default: '4' },
    history: { type: 'string', default: '50' },
  },
});
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

async function run(label: string, ports: number[], make: () => ReturnType<typeof redisEngine>) {
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
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WINDOW }, async (_, w) => {
      for (let i = next++; i < PUBLISHES; i = next++)
        await pubs[(w + i) % ENGINES]!.storage.append(channels[i % CHANNELS]!, PAYLOAD, retain);
    }),
  );
  const secs = (performance.now() - t0) / 1000;
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
  const single = new OwnRedis(await freePort());
  t.teardown(() => single.stop());
  await single.start();
  const cluster: TestCluster = await startCluster(t);
  const rows = [];
  rows.push(await run('1 Redis', [single.port], () => redisEngine({ url: single.url, keyPrefix: 'bench:' })));
  rows.push(
    await run(
      '3-primary cluster',
      cluster.primaries.map((p) => p.port),
      () => redisEngine({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix: 'bench:' }),
    ),
  );
  console.table(rows);
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
