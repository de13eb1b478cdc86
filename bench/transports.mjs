// Issue 15's measurements: server CPU per delivery and delivery latency (p50/p99) of the
// HTTP-streaming transport against the WebSocket, and of a 1 KB binary payload against a 1 KB
// JSON one. The hub runs in its own process (this file with `--server`) and publishes on
// command, so the subscribers' CPU is not counted; its CPU time is read before and after each
// run. Subscribers are the Node SDK (`switchyardjs/client`) in this process.
//
//   npm run build && node bench/transports.mjs [--clients 200] [--messages 1000] [--rate 500]
//
// Figures are noisy on a shared machine: compare the rows of one run.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    server: { type: 'boolean' },
    clients: { type: 'string', default: '200' },
    messages: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '500' },
  },
});

if (values.server) {
  const { Switchyard } = await import('../dist/lib/index.js');
  const { attach } = await import('../dist/adapters/http.js');
  const hub = new Switchyard({ history: { size: 100 }, metrics: false });
  const http = createServer((_req, res) => res.writeHead(404).end());
  attach(hub, http, { path: '/realtime' });
  http.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: http.address().port }));
  const json1k = { user: 'alice', text: 'x'.repeat(980) };
  const bin1k = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
  process.on('message', async (m) => {
    if (m.type === 'cpu') return process.send({ type: 'cpu', cpu: process.cpuUsage() });
    if (m.type !== 'run') return;
    // Paced: one message every 1000/rate ms; each carries its send time for the latency.
    const gap = 1000 / m.rate;
    const start = performance.now();
    for (let i = 0; i < m.messages; i++) {
      const due = start + i * gap;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = Date.now();
      if (m.payload === 'binary') {
        const b = bin1k.slice();
        new DataView(b.buffer).setFloat64(0, t);
        await hub.publish('bench', b);
      } else if (m.payload === 'json') await hub.publish('bench', { ...json1k, t });
      else await hub.publish('bench', { t });
    }
    process.send({ type: 'done' });
  });
} else {
  const { connect } = await import('../dist/adapters/client-node.js');
  const clients = Number(values.clients);
  const messages = Number(values.messages);
  const rate = Number(values.rate);
  const server = fork(new URL(import.meta.url).pathname, ['--server'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = (type, extra = {}) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type === (type === 'run' ? 'done' : type)) {
          server.off('message', on);
          resolve(m);
        }
      };
      server.on('message', on);
      server.send({ type, ...extra });
    });
  const { port } = await new Promise((resolve) => server.once('message', resolve));
  const url = `ws://127.0.0.1:${port}/realtime`;

  async function run(transport, payload) {
    const latencies = [];
    let delivered = 0;
    let allIn;
    const done = new Promise((r) => (allIn = r));
    const conns = [];
    for (let i = 0; i < clients; i++) {
      const c = connect(url, { transports: [transport], reconnect: false });
      conns.push(c);
      await new Promise((r) => c.once('connected', r));
      await c.subscribe('bench', (m) => {
        const t =
          m.data instanceof Uint8Array ? new DataView(m.data.buffer, m.data.byteOffset).getFloat64(0) : m.data.t;
        latencies.push(Date.now() - t);
        if (++delivered === clients * messages) allIn();
      }).ready;
    }
    const before = (await ask('cpu')).cpu;
    const t0 = performance.now();
    await ask('run', { messages, rate, payload });
    await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
    const after = (await ask('cpu')).cpu;
    const wall = performance.now() - t0;
    for (const c of conns) c.close();
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    const cpuUs = after.user - before.user + (after.system - before.system);
    return {
      transport,
      payload,
      delivered,
      expected: clients * messages,
      cpuPerDeliveryUs: +(cpuUs / Math.max(1, delivered)).toFixed(2),
      p50: q(0.5),
      p99: q(0.99),
      wallMs: Math.round(wall),
    };
  }

  const rows = [];
  for (const [transport, payload] of [
    ['websocket', 'small'],
    ['http-stream', 'small'],
    ['websocket', 'json'],
    ['websocket', 'binary'],
    ['http-stream', 'json'],
    ['http-stream', 'binary'],
  ]) {
    rows.push(await run(transport, payload));
    // Let the closed connections drain before the next run is timed.
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(
    `clients ${clients}, messages ${messages} at ${rate}/s; payload small = {t}, json = 1 KB object, binary = 1 KB Uint8Array`,
  );
  console.log('| transport | payload | delivered | server CPU µs/delivery | p50 ms | p99 ms |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.transport} | ${r.payload} | ${r.delivered}/${r.expected} | ${r.cpuPerDeliveryUs} | ${r.p50} | ${r.p99} |`,
    );
  server.kill();
  process.exit(0);
}
