/**
 * Regions on one machine: a Redis primary (region A) and its replica (region B), every
 * cross-region link (replication, region B's writes) through a delay proxy adding `--delay` ms
 * each way (test/redis/regions.ts); two switchyard nodes per region. Measures, with QoS 1
 * clients on loopback:
 *   - publish → ack from a region-A node and from a region-B node (the write crosses regions),
 *     and from a region-A node with `waitForReplicas: { replicas: 1 }` (WAIT's cost);
 *   - publish → delivery to a subscriber in region A and in region B (replication lag);
 *   - a resubscribe on a region-B node from a position the replica has, and from one it does
 *     not have yet (published in region A a moment before: the node waits for its replica);
 *   - presence: a join on a region-A node → the join event at a watcher in region A and in B.
 *
 *   node --import=@tapjs/typescript/import bench/regions.ts [--delay 40] [--samples 100]
 *
 * Samples are sequential (latency, not throughput). Starts its own redis-servers and proxies on
 * free ports and stops them by PID.
 */
import { parseArgs } from 'node:util';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Switchyard } from '../lib/hub.js';
import type { SwitchyardOptions } from '../lib/options.js';
import { attach } from '../adapters/http.js';
import { connect, type Client } from '../adapters/client-node.js';
import { redisEngine, type RedisEngineOptions } from '../adapters/redis/index.js';
import { startRegions } from '../test/redis/regions.js';

const { values } = parseArgs({
  options: { delay: { type: 'string', default: '40' }, samples: { type: 'string', default: '100' } },
});
const DELAY = Number(values.delay);
const N = Number(values.samples);

const teardowns: Array<() => unknown> = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

async function node(engine: RedisEngineOptions): Promise<{ url: string; hub: Switchyard }> {
  const options: SwitchyardOptions = {
    engine: redisEngine(engine),
    history: { size: 1_000, ttl: 600_000 },
    channels: [
      { match: 'pres', presence: true },
      { match: '>', clientPublish: true },
    ],
  };
  const hub = new Switchyard(options);
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  attach(hub, server, { path: '/realtime' });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  teardowns.push(async () => {
    await hub.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/realtime` };
}

async function client(url: string): Promise<Client> {
  const c = connect(url);
  teardowns.push(() => c.close());
  await new Promise((resolve) => c.once('connected', resolve));
  return c;
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1);
  return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms (n=${s.length})`;
}

const rows: Array<[string, string]> = [];
const row = (what: string, ms: number[]) => {
  rows.push([what, summary(ms)]);
  console.log(`${what}: ${summary(ms)}`);
};

try {
  const r = await startRegions(t, { delayMs: DELAY, keyPrefix: `bench-regions:${process.pid}:` });
  const [a1, a2, b1, b2] = [await node(r.nodeA()), await node(r.nodeA()), await node(r.nodeB()), await node(r.nodeB())];
  const aWait = await node(r.nodeA({ waitForReplicas: { replicas: 1, timeout: 5_000 } }));
  const [pubA, pubB, pubAWait] = [await client(a1.url), await client(b1.url), await client(aWait.url)];

  // Publish → ack.
  for (const [what, c, ch] of [
    ['publish → ack, region A node', pubA, 'ack.a'],
    ['publish → ack, region B node (write crosses regions)', pubB, 'ack.b'],
    ['publish → ack, region A node, waitForReplicas 1', pubAWait, 'ack.wait'],
  ] as const) {
    await c.publish(ch, 0, { qos: 1 });
    const ms: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await c.publish(ch, i, { qos: 1 });
      ms.push(performance.now() - t0);
    }
    row(what, ms);
  }

  // Publish → delivery, to a subscriber in each region.
  const subA = await client(a2.url);
  const subB = await client(b2.url);
  for (const [from, pub] of [
    ['A', pubA],
    ['B', pubB],
  ] as const) {
    const ch = `lag.${from}`;
    const sent = new Map<number, number>();
    const lag: Record<'A' | 'B', number[]> = { A: [], B: [] };
    const arrived: Record<'A' | 'B', number> = { A: 0, B: 0 };
    let wake: () => void = () => {};
    for (const [region, c] of [
      ['A', subA],
      ['B', subB],
    ] as const) {
      await c.subscribe(
        ch,
        (m) => {
          lag[region].push(performance.now() - sent.get(m.data as number)!);
          arrived[region]++;
          wake();
        },
        { qos: 1 },
      ).ready;
    }
    for (let i = 0; i < N; i++) {
      const both = new Promise<void>((resolve) => (wake = () => arrived.A > i && arrived.B > i && resolve()));
      sent.set(i, performance.now());
      await pub.publish(ch, i, { qos: 1 });
      await both;
    }
    row(`publish in region ${from} → delivery in region A`, lag.A);
    row(`publish in region ${from} → delivery in region B`, lag.B);
  }

  // Resubscribe on a region-B node with a position from region A.
  const mover = await client(b1.url);
  for (const fresh of [false, true]) {
    const ms: number[] = [];
    for (let i = 0; i < Math.min(N, 40); i++) {
      const ch = `move.${fresh}.${i}`;
      let pos = await a1.hub.publish(ch, { i });
      if (!fresh) {
        // A position the replica has: wait until region B's node sees it.
        const probe = mover.subscribe(ch, () => {}, { qos: 1, since: { offset: 0, epoch: pos.epoch } });
        await probe.ready;
        probe.unsubscribe();
      } else pos = await a1.hub.publish(ch, { i: 'new' });
      const t0 = performance.now();
      const res = await mover.subscribe(ch, () => {}, { qos: 1, since: pos }).ready;
      ms.push(performance.now() - t0);
      if (!res.recovered) throw new Error(`not recovered: ${JSON.stringify(res)}`);
    }
    row(
      fresh
        ? 'resubscribe on region B from a position published in A just before (replica lags)'
        : 'resubscribe on region B from a position the replica has',
      ms,
    );
  }

  // Presence: join on a region-A node → join event at watchers in both regions.
  const joins: Record<'A' | 'B', number[]> = { A: [], B: [] };
  let expected = '';
  let t0 = 0;
  let wake: () => void = () => {};
  for (const [region, n] of [
    ['A', a2],
    ['B', b2],
  ] as const) {
    const sub = (await client(n.url)).subscribe('pres', () => {}, { presence: true });
    sub.on('join', (e) => {
      if (e.connectionId !== expected) return;
      joins[region].push(performance.now() - t0);
      wake();
    });
    await sub.ready;
  }
  for (let i = 0; i < Math.min(N, 40); i++) {
    const joiner = connect(a1.url);
    expected = await new Promise<string>((resolve) =>
      joiner.once('connected', (e: { connectionId: string }) => resolve(e.connectionId)),
    );
    const both = new Promise<void>((resolve) => (wake = () => joins.A.length > i && joins.B.length > i && resolve()));
    t0 = performance.now();
    await joiner.subscribe('pres', () => {}).ready;
    await both;
    await joiner.close();
  }
  // Subscribing to a presence channel is a presence write: on a region-B node it crosses regions.
  for (const [region, n] of [
    ['A', a1],
    ['B', b1],
  ] as const) {
    const ms: number[] = [];
    for (let i = 0; i < Math.min(N, 40); i++) {
      const joiner = await client(n.url);
      const t1 = performance.now();
      await joiner.subscribe('pres', () => {}).ready;
      ms.push(performance.now() - t1);
      await joiner.close();
    }
    row(`subscribe to a presence channel on a region ${region} node (join stored on the primary)`, ms);
  }
  row('presence join on a region A node → event in region A', joins.A);
  row('presence join on a region A node → event in region B', joins.B);

  console.log(`\n| measured (delay ${DELAY} ms each way, ${N} samples) | latency |\n|---|---|`);
  for (const [what, s] of rows) console.log(`| ${what} | ${s} |`);
} finally {
  for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {});
}
process.exit(0);
