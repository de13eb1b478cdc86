/**
 * Cross-node throughput: the same fan-out workload on 1 node (memory engine), 1 node on Redis,
 * and 2 nodes on Redis (subscribers and publishers split across the nodes), each node its own
 * process on this machine. Reports published and delivered messages per second and the ratio
 * of 2 nodes + Redis to 1 node. Only 127.0.0.1; every process it starts is ended by PID.
 *
 *   node --import=@tapjs/typescript/import bench/cluster.ts [--messages 4000] [--subscribers 20] [--size 100] [--window 200] [--rounds 3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '4000' },
    subscribers: { type: 'string', default: '20' },
    size: { type: 'string', default: '100' },
    window: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    redis: { type: 'string', default: process.env.SWITCHYARD_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const MESSAGES = Number(values.messages);
const SUBSCRIBERS = Number(values.subscribers);
const WINDOW = Number(values.window);
const ROUNDS = Math.max(1, Number(values.rounds));
const BODY = 'x'.repeat(Number(values.size));
const NODE = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));

async function startNode(engine: 'memory' | 'redis', prefix: string): Promise<{ url: string; proc: ChildProcess }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ENGINE: engine, REDIS_URL: values.redis, KEY_PREFIX: prefix };
  delete env.NODE_OPTIONS;
  const proc = fork(NODE, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m: { port: number }) => resolve(m.port));
    proc.once('exit', (c) => reject(new Error(`node exited with ${c}`)));
  });
  return { url: `ws://127.0.0.1:${port}/realtime`, proc };
}

/** A raw protocol connection: cheaper than the SDK, so the bench process is not the bottleneck. */
async function open(url: string, onFrame: (text: string) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, ['switchyard.v1']);
  ws.on('message', (d) => {
    const text = d.toString();
    // Answer heartbeats, or a run slower than two heartbeat intervals would be cut off.
    if (text === '{"op":"ping"}') ws.send('{"op":"pong"}');
    else onFrame(text);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', function welcome(d) {
      if (d.toString().includes('"welcome"')) {
        ws.off('message', welcome);
        resolve();
      }
    });
  });
  return ws;
}

/** Best of `rounds` runs after one warm-up run, so JIT warm-up does not favour later scenarios. */
async function measure(name: string, nodes: string[]): Promise<{ name: string; published: number; delivered: number }> {
  await run(name, nodes);
  let best = await run(name, nodes);
  for (let i = 1; i < ROUNDS; i++) {
    const r = await run(name, nodes);
    if (r.delivered > best.delivered) best = r;
  }
  return best;
}

async function run(name: string, nodes: string[]): Promise<{ name: string; published: number; delivered: number }> {
  const ch = `bench.c${Math.random().toString(36).slice(2, 8)}`;
  let delivered = 0;
  const perSub = new Array<number>(SUBSCRIBERS).fill(0);
  // Anything but messages (drop notices, gaps, closes) is reported: it would explain a shortfall.
  const other: string[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    let ok: () => void = () => {};
    const subscribed = new Promise<void>((r) => (ok = r));
    const ws = await open(nodes[i % nodes.length]!, (text) => {
      if (text.startsWith('{"op":"msg"')) {
        delivered++;
        perSub[i]!++;
      } else if (text.startsWith('{"op":"ok","id":1')) ok();
      else if (!text.startsWith('{"op":"welcome"')) other.push(`sub ${i}: ${text.slice(0, 120)}`);
    });
    ws.on('close', (code) => other.push(`sub ${i}: closed ${code}`));
    ws.send(JSON.stringify({ op: 'sub', id: 1, ch }));
    await subscribed;
    sockets.push(ws);
  }
  const publishers = nodes.length === 1 ? [nodes[0], nodes[0]] : nodes;
  const perPublisher = Math.floor(MESSAGES / publishers.length);
  const total = perPublisher * publishers.length;
  const t0 = performance.now();
  await Promise.all(
    publishers.map(async (url, k) => {
      let acked = 0;
      let wake: () => void = () => {};
      const ws = await open(url!, (text) => {
        if (text.startsWith('{"op":"ok"')) {
          acked++;
          wake();
        } else if (text.startsWith('{"op":"err"')) throw new Error(text);
      });
      sockets.push(ws);
      for (let i = 1; i <= perPublisher; i++) {
        while (i - acked > WINDOW) await new Promise<void>((r) => (wake = r));
        ws.send(`{"op":"pub","id":${i},"ch":"${ch}","data":{"k":${k},"i":${i},"b":"${BODY}"}}`);
      }
      while (acked < perPublisher) await new Promise<void>((r) => (wake = r));
    }),
  );
  const published = performance.now() - t0;
  const end = Date.now() + 60_000;
  while (delivered < total * SUBSCRIBERS && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  const all = performance.now() - t0;
  for (const ws of sockets) ws.terminate();
  if (delivered < total * SUBSCRIBERS) {
    const short = perSub.flatMap((n, i) => (n < total ? [`sub ${i}: ${n}`] : []));
    const notes = other.filter((o) => short.some((x) => o.startsWith(x.split(':')[0] + ':')));
    throw new Error(
      `${name}: only ${delivered} of ${total * SUBSCRIBERS} delivered; short: ${short.join(', ')}; their other frames: ${notes.slice(0, 10).join(' | ') || 'none'}`,
    );
  }
  return { name, published: (total / published) * 1000, delivered: ((total * SUBSCRIBERS) / all) * 1000 };
}

const procs: ChildProcess[] = [];
const prefix = `sy-bench:${process.pid}:`;
try {
  const results = [];
  const one = await startNode('memory', prefix);
  procs.push(one.proc);
  results.push(await measure('1 node (memory engine)', [one.url]));
  const oneRedis = await startNode('redis', prefix);
  procs.push(oneRedis.proc);
  results.push(await measure('1 node + Redis', [oneRedis.url]));
  const second = await startNode('redis', prefix);
  procs.push(second.proc);
  results.push(await measure('2 nodes + Redis', [oneRedis.url, second.url]));
  console.log(
    `${MESSAGES} messages of ${BODY.length} B to ${SUBSCRIBERS} subscribers, ${WINDOW} publishes in flight per publisher, best of ${ROUNDS} after a warm-up`,
  );
  for (const r of results)
    console.log(
      `${r.name.padEnd(24)} ${r.published.toFixed(0).padStart(8)} published/s ${r.delivered.toFixed(0).padStart(9)} delivered/s`,
    );
  const base = results[0]!.delivered;
  console.log(
    `2 nodes + Redis vs 1 node (memory): ${(results[2]!.delivered / base).toFixed(2)}x delivered; vs 1 node + Redis: ${(results[2]!.delivered / results[1]!.delivered).toFixed(2)}x`,
  );
} finally {
  for (const p of procs) p.kill('SIGTERM');
}
