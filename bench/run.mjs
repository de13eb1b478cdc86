// switchyard vs raw ws vs Socket.IO 4, same machine, same run. `npm run bench` (about 4 min) or
// `npm run bench -- --quick` (about 1 min). Options: --only=fanout,burst,channels,latency,idle,qos1
// --servers=ws,switchyard,socketio,switchyard-nometrics --fanout=100,1000,5000 --repeat=3 --ack-delay=100 --json=<file>. Prints a Markdown table and the targets.
// Each server runs in its own process; subscribers run in two more processes (bench/client-worker.mjs).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createHistogram } from 'node:perf_hooks';

const argv = process.argv.slice(2);
const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = argv.includes('--quick');
const ONLY = new Set((opt('only') ?? 'fanout,burst,channels,latency,idle,qos1').split(','));
const KINDS = (opt('servers') ?? 'ws,switchyard,socketio').split(',');
const WORKERS = 2;
// --repeat=N: each figure is the median of N interleaved runs (default 1; 3 for the published table).
const REPEAT = Math.max(1, Number(opt('repeat') ?? 1));
// --ack-delay=ms: how long QoS 1 subscribers batch their cumulative acks (the SDK uses 100 ms, or acks at half the in-flight window).
const ACK_DELAY = Math.max(1, Number(opt('ack-delay') ?? 100));
const NAMES = { switchyard: 'switchyard', 'switchyard-nometrics': 'switchyard, metrics: false', ws: 'raw ws', socketio: 'Socket.IO 4' };
const S = QUICK
  ? { fanout: [100, 1000, 5000], deliveries: 100_000, latencyMs: 3_000, idle: 1_000, channelsDeliveries: 100_000 }
  : { fanout: [100, 1000, 5000], deliveries: 400_000, latencyMs: 6_000, idle: 2_000, channelsDeliveries: 300_000 };
if (opt('fanout')) S.fanout = opt('fanout').split(',').map(Number);
const PAYLOAD = 64;

const log = (s) => process.stderr.write(s + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function next(child, type, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      reject(new Error(`timeout waiting for ${type}`));
    }, timeoutMs);
    const on = (m) => {
      if (m.type === 'failed') {
        clearTimeout(timer);
        child.off('message', on);
        reject(new Error(m.error));
      } else if (m.type === type) {
        clearTimeout(timer);
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

const children = new Set();
function spawn(file, args, execArgv = []) {
  const child = fork(new URL(file, import.meta.url), args, { serialization: 'advanced', execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function stopAll() {
  for (const c of children) c.kill('SIGKILL');
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

async function startServer(kind, extra = []) {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every server process (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn('./server.mjs', [kind, ...extra], ['--expose-gc', ...prof]);
  const { port } = await next(child, 'ready', 20_000);
  return { child, port };
}

/** Starts subscriber processes; `channels[i]` is subscriber i's channel. */
async function startClients(kind, port, channels, qos = 0) {
  const workers = [];
  for (let w = 0; w < WORKERS; w++) {
    const child = spawn('./client-worker.mjs', []);
    await next(child, 'up');
    workers.push({ child, channels: channels.filter((_, i) => i % WORKERS === w) });
  }
  const t0 = Date.now();
  await Promise.all(workers.map((w) => (w.child.send({ cmd: 'connect', kind, port, channels: w.channels, concurrency: 50, qos, ackDelay: ACK_DELAY }), next(w.child, 'connected', 120_000))));
  return { workers, connectMs: Date.now() - t0 };
}

async function cpuOf(server) {
  server.child.send({ cmd: 'cpu' });
  const { cpu } = await next(server.child, 'cpu');
  return cpu.user + cpu.system;
}

async function stopRun(server, clients) {
  for (const w of clients?.workers ?? []) w.child.send({ cmd: 'exit' });
  server.child.send({ cmd: 'exit' });
  // The profile is written on a normal exit; give the server time for it.
  await Promise.all([server.child, ...(clients?.workers ?? []).map((w) => w.child)].map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
}

/** Publishes `count` messages round-robin over `chans` as fast as the sockets drain; measures. */
async function saturateOnce(server, clients, chans, count, burst = 1) {
  const perChannel = new Map();
  for (let i = 0; i < count; i++) perChannel.set(chans[i % chans.length], (perChannel.get(chans[i % chans.length]) ?? 0) + 1);
  await Promise.all(
    clients.workers.map((w) => {
      const total = w.channels.reduce((a, ch) => a + (perChannel.get(ch) ?? 0), 0);
      w.child.send({ cmd: 'expect', total });
      return next(w.child, 'armed');
    }),
  );
  const cpu0 = await cpuOf(server);
  const t0 = Date.now();
  const published = next(server.child, 'published', 120_000).catch(() => {});
  server.child.send({ cmd: 'saturate', channels: chans, count, payloadBytes: PAYLOAD, burst });
  let incomplete = false;
  const ends = await Promise.all(clients.workers.map((w) => next(w.child, 'done', 60_000).then((m) => m.at, () => ((incomplete = true), Date.now()))));
  const elapsed = Math.max(...ends) - t0;
  const cpu1 = await cpuOf(server);
  await published;
  let received = 0;
  for (const w of clients.workers) {
    w.child.send({ cmd: 'report' });
    received += (await next(w.child, 'report')).received;
  }
  return { deliveries: received, perSec: (received * 1000) / elapsed, cpuUs: (cpu1 - cpu0) / received, incomplete };
}

async function throughput(kind, subs, chanCount, total, extraServer = [], qos = 0, burst = 1) {
  const server = await startServer(kind, extraServer);
  const chans = Array.from({ length: chanCount }, (_, i) => `bench.c${i}`);
  const clients = await startClients(kind, server.port, Array.from({ length: subs }, (_, i) => chans[i % chanCount]), qos);
  try {
    // Each message reaches subs / chanCount subscribers.
    const count = Math.max(chanCount, Math.round((total * chanCount) / subs / chanCount) * chanCount);
    await saturateOnce(server, clients, chans, Math.max(chanCount, Math.round(count / 5 / chanCount) * chanCount), burst); // warm-up
    return await saturateOnce(server, clients, chans, count, burst);
  } finally {
    await stopRun(server, clients);
  }
}

async function latency(kind) {
  // 1,000 subscribers over 100 channels, 1,000 publishes/s: 10,000 deliveries/s.
  const server = await startServer(kind);
  const chans = Array.from({ length: 100 }, (_, i) => `bench.c${i}`);
  const clients = await startClients(kind, server.port, Array.from({ length: 1000 }, (_, i) => chans[i % 100]));
  try {
    for (const w of clients.workers) {
      w.child.send({ cmd: 'expect', total: Infinity, latency: false });
      await next(w.child, 'armed');
    }
    const warm = next(server.child, 'published');
    server.child.send({ cmd: 'paced', channels: chans, rate: 1000, durationMs: 1000, payloadBytes: PAYLOAD }); // warm-up
    await warm;
    await sleep(300);
    for (const w of clients.workers) {
      w.child.send({ cmd: 'expect', total: Infinity, latency: true });
      await next(w.child, 'armed');
    }
    const cpu0 = await cpuOf(server);
    const done = next(server.child, 'published', S.latencyMs + 30_000);
    server.child.send({ cmd: 'paced', channels: chans, rate: 1000, durationMs: S.latencyMs, payloadBytes: PAYLOAD });
    await done;
    await sleep(500);
    const cpu1 = await cpuOf(server);
    const h = createHistogram();
    let received = 0;
    for (const w of clients.workers) {
      w.child.send({ cmd: 'report' });
      const r = await next(w.child, 'report');
      received += r.received;
      for (const v of r.samples) h.record(Math.max(1, Math.round(v * 1000)));
    }
    const ms = (p) => h.percentile(p) / 1000;
    return { p50: ms(50), p99: ms(99), p999: ms(99.9), max: h.max / 1000, deliveries: received, cpuUs: (cpu1 - cpu0) / received };
  } finally {
    await stopRun(server, clients);
  }
}

async function idle(kind, n) {
  const server = await startServer(kind);
  let clients;
  try {
    server.child.send({ cmd: 'stats' });
    const before = await next(server.child, 'stats');
    const chans = Array.from({ length: 100 }, (_, i) => `bench.c${i}`);
    clients = await startClients(kind, server.port, Array.from({ length: n }, (_, i) => chans[i % 100]));
    await sleep(500);
    server.child.send({ cmd: 'stats' });
    const after = await next(server.child, 'stats');
    return { rssKB: (after.rss - before.rss) / n / 1024, heapKB: (after.heapUsed - before.heapUsed) / n / 1024, connectsPerSec: (n * 1000) / clients.connectMs };
  } finally {
    await stopRun(server, clients);
  }
}

// ------------------------------------------------------------------------------------------

/** Per-field median of several runs' results. */
function median(runs) {
  const out = {};
  for (const key of Object.keys(runs[0])) {
    const v = runs.map((r) => r[key]);
    if (typeof v[0] !== 'number') out[key] = v.some(Boolean);
    else {
      v.sort((a, b) => a - b);
      out[key] = v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
  }
  return out;
}

/** Runs `fn` for every server kind, REPEAT times interleaved in alternating order (drift hits all kinds alike); medians. */
async function each(label, fn) {
  const runs = Object.fromEntries(KINDS.map((k) => [k, []]));
  for (let rep = 0; rep < REPEAT; rep++) {
    // Alternate the order, so a drift within a repetition favours no kind.
    for (const k of rep % 2 ? [...KINDS].reverse() : KINDS) {
      log(`${label}: ${k}${REPEAT > 1 ? ` (run ${rep + 1}/${REPEAT})` : ''}`);
      const r = await fn(k);
      if (r.incomplete) log(`  ${k}: only ${r.deliveries} deliveries arrived`);
      if (r.cpuUs !== undefined) log(`  ${k}: ${Math.round(r.perSec ?? 0)} deliveries/s, ${r.cpuUs.toFixed(3)} µs server CPU per delivery`);
      runs[k].push(r);
    }
  }
  return Object.fromEntries(KINDS.map((k) => [k, median(runs[k])]));
}

const rows = [];
const results = {};
const fmt = (v, d = 2) => (v === undefined || Number.isNaN(v) ? '-' : v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : d));
function row(scenario, metric, byKind, better) {
  results[`${scenario} / ${metric}`] = byKind;
  const sy = byKind.switchyard;
  const ratio = (o) => (sy !== undefined && o ? (sy / o).toFixed(2) : '-');
  rows.push(`| ${scenario} | ${metric} | ${KINDS.includes('switchyard') ? fmt(sy) : '-'} | ${fmt(byKind.ws)} | ${fmt(byKind.socketio)} | ${ratio(byKind.ws)} | ${ratio(byKind.socketio)} | ${better} |`);
}

const started = Date.now();
log(`bench: ${QUICK ? 'quick' : 'full'} run, servers ${KINDS.join(', ')}, ${cpus().length} CPUs, node ${process.version}`);
try {
  if (ONLY.has('fanout')) {
    for (const subs of S.fanout) {
      const r = await each(`fan-out ${subs} subscribers`, (k) => throughput(k, subs, 1, S.deliveries));
      row(`fan-out 1 channel × ${subs.toLocaleString('en-US')}`, 'deliveries/s', Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])), 'higher');
      row(`fan-out 1 channel × ${subs.toLocaleString('en-US')}`, 'server CPU µs/delivery', Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])), 'lower');
      // --servers=switchyard,switchyard-nometrics: what metrics (histograms, sampling, family counters) cost.
      if (r.switchyard && r['switchyard-nometrics']) {
        const on = r.switchyard.cpuUs;
        const off = r['switchyard-nometrics'].cpuUs;
        rows.push(`| fan-out 1 channel × ${subs.toLocaleString('en-US')} | metrics on ÷ off, server CPU µs/delivery | ${fmt(on)} ÷ ${fmt(off)} = ${(on / off).toFixed(3)} | | | | | lower |`);
      }
    }
  }
  if (ONLY.has('burst')) {
    const r = await each('fan-out 1,000 subscribers, 10 publishes per event-loop turn', (k) => throughput(k, 1000, 1, S.deliveries, [], 0, 10));
    row('fan-out 1 channel × 1,000, bursts of 10', 'deliveries/s', Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])), 'higher');
    row('fan-out 1 channel × 1,000, bursts of 10', 'server CPU µs/delivery', Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])), 'lower');
  }
  if (ONLY.has('channels')) {
    const r = await each('1,000 subscribers over 100 channels', (k) => throughput(k, 1000, 100, S.channelsDeliveries));
    row('100 channels × 10 subscribers', 'deliveries/s', Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])), 'higher');
    row('100 channels × 10 subscribers', 'server CPU µs/delivery', Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])), 'lower');
  }
  if (ONLY.has('latency')) {
    const r = await each('latency at 10,000 deliveries/s', (k) => latency(k));
    for (const [key, name] of [['p50', 'latency p50 ms'], ['p99', 'latency p99 ms'], ['p999', 'latency p99.9 ms'], ['cpuUs', 'server CPU µs/delivery']]) {
      row('10,000 deliveries/s (1,000 subs, 100 ch.)', name, Object.fromEntries(KINDS.map((k) => [k, r[k][key]])), 'lower');
    }
  }
  if (ONLY.has('idle')) {
    const r = await each(`${S.idle} idle subscribed connections`, (k) => idle(k, S.idle));
    const label = `${S.idle.toLocaleString('en-US')} idle subscribed connections`;
    row(label, 'RSS KB/connection', Object.fromEntries(KINDS.map((k) => [k, r[k].rssKB])), 'lower');
    row(label, 'heap KB/connection', Object.fromEntries(KINDS.map((k) => [k, r[k].heapKB])), 'lower');
    row(label, 'connects/s (incl. subscribe)', Object.fromEntries(KINDS.map((k) => [k, r[k].connectsPerSec])), 'higher');
  }
  if (ONLY.has('qos1') && KINDS.includes('switchyard')) {
    const q = { 0: [], 1: [] };
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const qos of [0, 1]) {
        log(`QoS ${qos} fan-out to 1,000: switchyard${REPEAT > 1 ? ` (run ${rep + 1}/${REPEAT})` : ''}`);
        q[qos].push(await throughput('switchyard', 1000, 1, S.deliveries, ['--history-deep'], qos));
      }
    }
    const q0 = median(q[0]);
    const q1 = median(q[1]);
    results['qos1'] = { q0, q1 };
    rows.push(`| fan-out 1 channel × 1,000, QoS 1 | server CPU µs/delivery | ${fmt(q1.cpuUs)} (QoS 0: ${fmt(q0.cpuUs)}) | | | QoS 1 ÷ QoS 0 = ${(q1.cpuUs / q0.cpuUs).toFixed(2)} | | lower |`);
    rows.push(`| fan-out 1 channel × 1,000, QoS 1 | deliveries/s | ${fmt(q1.perSec)} (QoS 0: ${fmt(q0.perSec)}) | | | | | higher |`);
  }
} finally {
  stopAll();
}
const header = `| scenario | metric | switchyard | raw ws | Socket.IO 4 | switchyard ÷ ws | switchyard ÷ Socket.IO | better |\n|---|---|---:|---:|---:|---:|---:|---|`;
process.stdout.write(`${header}\n${rows.join('\n')}\n\n${QUICK ? 'quick' : 'full'} run${REPEAT > 1 ? `, medians of ${REPEAT}` : ''}, ${((Date.now() - started) / 1000).toFixed(0)} s, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}\n`);
// The targets of issue 6, checked against this run.
const targets = [];
function target(name, key, kind, op, limit) {
  const r = results[key];
  if (!r || r.switchyard === undefined || r[kind] === undefined) return;
  const ratio = r.switchyard / r[kind];
  const met = op === '<=' ? ratio <= limit : ratio >= limit;
  targets.push(`| ${name} | ${op} ${limit} × ${NAMES[kind]} | ${ratio.toFixed(2)} | ${met ? 'met' : 'missed'} |`);
}
const F1000 = 'fan-out 1 channel × 1,000';
target('server CPU per delivery, fan-out to 1,000', `${F1000} / server CPU µs/delivery`, 'ws', '<=', 1.0);
target('server CPU per delivery, fan-out to 1,000', `${F1000} / server CPU µs/delivery`, 'socketio', '<=', 0.75);
target('deliveries/s at saturation, fan-out to 1,000', `${F1000} / deliveries/s`, 'ws', '>=', 1.0);
target('deliveries/s at saturation, fan-out to 1,000, bursts of 10', `${F1000}, bursts of 10 / deliveries/s`, 'ws', '>=', 1.0);
target('p99 latency at 10,000 deliveries/s', '10,000 deliveries/s (1,000 subs, 100 ch.) / latency p99 ms', 'ws', '<=', 1.1);
const idleKey = `${S.idle.toLocaleString('en-US')} idle subscribed connections`;
target('RSS per idle subscribed connection', `${idleKey} / RSS KB/connection`, 'ws', '<=', 1.3);
target('RSS per idle subscribed connection', `${idleKey} / RSS KB/connection`, 'socketio', '<=', 0.75);
target('connects per second', `${idleKey} / connects/s (incl. subscribe)`, 'socketio', '>=', 1.2);
if (results.qos1) {
  const ratio = results.qos1.q1.cpuUs / results.qos1.q0.cpuUs;
  targets.push(`| QoS 1 CPU per delivery, fan-out to 1,000 | <= 1.3 × QoS 0 | ${ratio.toFixed(2)} | ${ratio <= 1.3 ? 'met' : 'missed'} |`);
}
if (targets.length) process.stdout.write(`\n| target | required | measured | |\n|---|---|---:|---|\n${targets.join('\n')}\n`);
const out = opt('json');
if (out) writeFileSync(out, JSON.stringify(results, null, 2));
