// switchyard vs raw ws vs Socket.IO 4, same machine, same run. `npm run bench` (about 4 min) or
// `npm run bench -- --quick` (about 1 min). Options: --only=fanout,burst,channels,latency,idle,qos1,rate50k,rate10k,qos1rate
// --servers=ws,switchyard,socketio,ws-frame,switchyard-nometrics --fanout=100,1000,5000 --repeat=3 --ack-delay=1000 --json=<file>.
// Prints a Markdown table and the targets. ws-frame is raw ws writing one pre-built WebSocket frame
// to every socket (the pre-framed ceiling); the fixed-rate scenarios (rate50k, rate10k, qos1rate)
// are not in the default set: `--only=rate50k,rate10k,channels,qos1rate --servers=ws,switchyard,socketio,ws-frame --repeat=3`.
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
// --ack-delay=ms: how long QoS 1 subscribers batch their cumulative acks while less than half of the
// in-flight window is open (the SDK: 1,000 ms; at once at half the window).
const ACK_DELAY = Math.max(1, Number(opt('ack-delay') ?? 1000));
const NAMES = {
  switchyard: 'switchyard',
  'switchyard-nometrics': 'switchyard, metrics: false',
  ws: 'raw ws',
  'ws-frame': 'ws, pre-framed',
  socketio: 'Socket.IO 4',
};
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
  const child = fork(new URL(file, import.meta.url), args, {
    serialization: 'advanced',
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
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
  await Promise.all(
    workers.map(
      (w) => (
        w.child.send({ cmd: 'connect', kind, port, channels: w.channels, concurrency: 50, qos, ackDelay: ACK_DELAY }),
        next(w.child, 'connected', 120_000)
      ),
    ),
  );
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
  await Promise.all(
    [server.child, ...(clients?.workers ?? []).map((w) => w.child)].map((c) =>
      c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)),
    ),
  );
}

/** Publishes `count` messages round-robin over `chans` as fast as the sockets drain; measures. */
async function saturateOnce(server, clients, chans, count, burst = 1, latency = false) {
  const perChannel = new Map();
  for (let i = 0; i < count; i++)
    perChannel.set(chans[i % chans.length], (perChannel.get(chans[i % chans.length]) ?? 0) + 1);
  await Promise.all(
    clients.workers.map((w) => {
      const total = w.channels.reduce((a, ch) => a + (perChannel.get(ch) ?? 0), 0);
      w.child.send({ cmd: 'expect', total, latency });
      return next(w.child, 'armed');
    }),
  );
  const cpu0 = await cpuOf(server);
  const t0 = Date.now();
  const published = next(server.child, 'published', 120_000).catch(() => {});
  server.child.send({ cmd: 'saturate', channels: chans, count, payloadBytes: PAYLOAD, burst });
  let incomplete = false;
  const ends = await Promise.all(
    clients.workers.map((w) =>
      next(w.child, 'done', 60_000).then(
        (m) => m.at,
        () => ((incomplete = true), Date.now()),
      ),
    ),
  );
  const elapsed = Math.max(...ends) - t0;
  const cpu1 = await cpuOf(server);
  await published;
  const { received, lat } = await collect(clients);
  return {
    deliveries: received,
    perSec: (received * 1000) / elapsed,
    cpuUs: (cpu1 - cpu0) / received,
    incomplete,
    ...(latency && lat),
  };
}

/** Deliveries counted by the subscriber processes, and the latency percentiles of their samples (ms). */
async function collect(clients) {
  const h = createHistogram();
  let received = 0;
  for (const w of clients.workers) {
    w.child.send({ cmd: 'report' });
    const r = await next(w.child, 'report');
    received += r.received;
    for (const v of r.samples) h.record(Math.max(1, Math.round(v * 1000)));
  }
  const ms = (p) => (h.count ? h.percentile(p) / 1000 : NaN);
  return { received, lat: { p50: ms(50), p99: ms(99), p999: ms(99.9), max: h.count ? h.max / 1000 : NaN } };
}

async function throughput(kind, subs, chanCount, total, extraServer = [], qos = 0, burst = 1, latency = false) {
  const server = await startServer(kind, extraServer);
  const chans = Array.from({ length: chanCount }, (_, i) => `bench.c${i}`);
  const clients = await startClients(
    kind,
    server.port,
    Array.from({ length: subs }, (_, i) => chans[i % chanCount]),
    qos,
  );
  try {
    // Each message reaches subs / chanCount subscribers.
    const count = Math.max(chanCount, Math.round((total * chanCount) / subs / chanCount) * chanCount);
    await saturateOnce(
      server,
      clients,
      chans,
      Math.max(chanCount, Math.round(count / 5 / chanCount) * chanCount),
      burst,
    ); // warm-up
    return await saturateOnce(server, clients, chans, count, burst, latency);
  } finally {
    await stopRun(server, clients);
  }
}

/**
 * A fixed delivery rate: `subs` subscribers over `chanCount` channels, `rate` publishes/s spread
 * over the channels (deliveries/s = rate × subs / chanCount) for S.latencyMs after a 1 s warm-up.
 * Latency = publish timestamp → subscriber receipt; CPU per delivery over the measured window.
 */
async function fixedRate(kind, { subs, chanCount, rate, qos = 0 }) {
  const server = await startServer(kind, qos === 1 ? ['--history-deep'] : []);
  const chans = Array.from({ length: chanCount }, (_, i) => `bench.c${i}`);
  const clients = await startClients(
    kind,
    server.port,
    Array.from({ length: subs }, (_, i) => chans[i % chanCount]),
    qos,
  );
  try {
    for (const w of clients.workers) {
      w.child.send({ cmd: 'expect', total: Infinity, latency: false });
      await next(w.child, 'armed');
    }
    const warm = next(server.child, 'published');
    server.child.send({ cmd: 'paced', channels: chans, rate, durationMs: 1000, payloadBytes: PAYLOAD }); // warm-up
    await warm;
    await sleep(300);
    for (const w of clients.workers) {
      w.child.send({ cmd: 'expect', total: Infinity, latency: true });
      await next(w.child, 'armed');
    }
    const cpu0 = await cpuOf(server);
    const done = next(server.child, 'published', S.latencyMs + 30_000);
    server.child.send({ cmd: 'paced', channels: chans, rate, durationMs: S.latencyMs, payloadBytes: PAYLOAD });
    await done;
    await sleep(500);
    const cpu1 = await cpuOf(server);
    const { received, lat } = await collect(clients);
    return { ...lat, deliveries: received, cpuUs: (cpu1 - cpu0) / received };
  } finally {
    await stopRun(server, clients);
  }
}

/** The issue-6 latency scenario: 1,000 subscribers over 100 channels, 1,000 publishes/s = 10,000 deliveries/s. */
const latency = (kind) => fixedRate(kind, { subs: 1000, chanCount: 100, rate: 1000 });

async function idle(kind, n) {
  const server = await startServer(kind);
  let clients;
  try {
    server.child.send({ cmd: 'stats' });
    const before = await next(server.child, 'stats');
    const chans = Array.from({ length: 100 }, (_, i) => `bench.c${i}`);
    clients = await startClients(
      kind,
      server.port,
      Array.from({ length: n }, (_, i) => chans[i % 100]),
    );
    await sleep(500);
    server.child.send({ cmd: 'stats' });
    const after = await next(server.child, 'stats');
    return {
      rssKB: (after.rss - before.rss) / n / 1024,
      heapKB: (after.heapUsed - before.heapUsed) / n / 1024,
      connectsPerSec: (n * 1000) / clients.connectMs,
    };
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
      if (r.cpuUs !== undefined)
        log(
          `  ${k}: ${r.perSec === undefined ? `p99 ${r.p99?.toFixed(1)} ms` : `${Math.round(r.perSec)} deliveries/s`}, ${r.cpuUs.toFixed(3)} µs server CPU per delivery`,
        );
      runs[k].push(r);
    }
  }
  return Object.fromEntries(KINDS.map((k) => [k, median(runs[k])]));
}

const rows = [];
const results = {};
const fmt = (v, d = 2) =>
  v === undefined || Number.isNaN(v)
    ? '-'
    : v >= 1000
      ? Math.round(v).toLocaleString('en-US')
      : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : d);
// Columns: switchyard, raw ws, Socket.IO, and the pre-framed ws when it runs; ratios against each.
const OTHERS = ['ws', 'socketio', ...(KINDS.includes('ws-frame') ? ['ws-frame'] : [])];
function row(scenario, metric, byKind, better) {
  results[`${scenario} / ${metric}`] = byKind;
  const sy = byKind.switchyard;
  const ratio = (o) => (sy !== undefined && o ? (sy / o).toFixed(2) : '-');
  rows.push(
    `| ${scenario} | ${metric} | ${KINDS.includes('switchyard') ? fmt(sy) : '-'} | ${OTHERS.map((k) => fmt(byKind[k])).join(' | ')} | ${OTHERS.map((k) => ratio(byKind[k])).join(' | ')} | ${better} |`,
  );
}
/** A row of switchyard-only figures (QoS 1 vs QoS 0) padded to the table's columns. */
const soloRow = (scenario, metric, value, ratioText, better) =>
  `| ${scenario} | ${metric} | ${value} | ${OTHERS.map(() => '').join(' | ')} | ${ratioText} | ${OTHERS.slice(1)
    .map(() => '')
    .join(' | ')} | ${better} |`;

/**
 * Runs `run(0)` and `run(1)` REPEAT times, alternating which goes first, and adds two rows: server
 * CPU per delivery with the QoS 1 ÷ QoS 0 ratio, and one more metric (`[title, key]`). Returns the medians.
 */
async function qosPair(what, run, label, [title, key]) {
  const q = { 0: [], 1: [] };
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const qos of rep % 2 ? [1, 0] : [0, 1]) {
      log(`QoS ${qos} ${what}: switchyard${REPEAT > 1 ? ` (run ${rep + 1}/${REPEAT})` : ''}`);
      q[qos].push(await run(qos));
    }
  }
  const q0 = median(q[0]);
  const q1 = median(q[1]);
  const ratio = `QoS 1 ÷ QoS 0 = ${(q1.cpuUs / q0.cpuUs).toFixed(2)}`;
  rows.push(soloRow(label, 'server CPU µs/delivery', `${fmt(q1.cpuUs)} (QoS 0: ${fmt(q0.cpuUs)})`, ratio, 'lower'));
  const better = key === 'perSec' ? 'higher' : 'lower';
  rows.push(soloRow(label, title, `${fmt(q1[key])} (QoS 0: ${fmt(q0[key])})`, '', better));
  return { q0, q1 };
}

const started = Date.now();
log(
  `bench: ${QUICK ? 'quick' : 'full'} run, servers ${KINDS.join(', ')}, ${cpus().length} CPUs, node ${process.version}`,
);
try {
  if (ONLY.has('fanout')) {
    for (const subs of S.fanout) {
      const r = await each(`fan-out ${subs} subscribers`, (k) => throughput(k, subs, 1, S.deliveries));
      row(
        `fan-out 1 channel × ${subs.toLocaleString('en-US')}`,
        'deliveries/s',
        Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])),
        'higher',
      );
      row(
        `fan-out 1 channel × ${subs.toLocaleString('en-US')}`,
        'server CPU µs/delivery',
        Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])),
        'lower',
      );
      // --servers=switchyard,switchyard-nometrics: what metrics (histograms, sampling, family counters) cost.
      if (r.switchyard && r['switchyard-nometrics']) {
        const on = r.switchyard.cpuUs;
        const off = r['switchyard-nometrics'].cpuUs;
        rows.push(
          soloRow(
            `fan-out 1 channel × ${subs.toLocaleString('en-US')}`,
            'metrics on ÷ off, server CPU µs/delivery',
            `${fmt(on)} ÷ ${fmt(off)} = ${(on / off).toFixed(3)}`,
            '',
            'lower',
          ),
        );
      }
    }
  }
  if (ONLY.has('burst')) {
    const r = await each('fan-out 1,000 subscribers, 10 publishes per event-loop turn', (k) =>
      throughput(k, 1000, 1, S.deliveries, [], 0, 10),
    );
    row(
      'fan-out 1 channel × 1,000, bursts of 10',
      'deliveries/s',
      Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])),
      'higher',
    );
    row(
      'fan-out 1 channel × 1,000, bursts of 10',
      'server CPU µs/delivery',
      Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])),
      'lower',
    );
  }
  if (ONLY.has('channels')) {
    const r = await each('1,000 subscribers over 100 channels', (k) =>
      throughput(k, 1000, 100, S.channelsDeliveries, [], 0, 1, true),
    );
    row(
      '100 channels × 10 subscribers',
      'deliveries/s',
      Object.fromEntries(KINDS.map((k) => [k, r[k].perSec])),
      'higher',
    );
    row(
      '100 channels × 10 subscribers',
      'server CPU µs/delivery',
      Object.fromEntries(KINDS.map((k) => [k, r[k].cpuUs])),
      'lower',
    );
    for (const [key, name] of [
      ['p50', 'latency p50 ms'],
      ['p99', 'latency p99 ms'],
      ['p999', 'latency p99.9 ms'],
    ]) {
      row('100 channels × 10 subscribers', name, Object.fromEntries(KINDS.map((k) => [k, r[k][key]])), 'lower');
    }
  }
  // Fixed delivery rates on one channel of 1,000 subscribers (issue 17): 50 and 10 publishes/s.
  for (const [only, rate] of [
    ['rate50k', 50],
    ['rate10k', 10],
  ]) {
    if (!ONLY.has(only)) continue;
    const label = `fixed ${(rate * 1000).toLocaleString('en-US')} deliveries/s, 1 channel × 1,000`;
    const r = await each(label, (k) => fixedRate(k, { subs: 1000, chanCount: 1, rate }));
    for (const [key, name] of [
      ['cpuUs', 'server CPU µs/delivery'],
      ['p50', 'latency p50 ms'],
      ['p99', 'latency p99 ms'],
      ['p999', 'latency p99.9 ms'],
    ]) {
      row(label, name, Object.fromEntries(KINDS.map((k) => [k, r[k][key]])), 'lower');
    }
  }
  if (ONLY.has('qos1rate') && KINDS.includes('switchyard')) {
    // QoS 1 ÷ QoS 0 server CPU at a fixed 10,000 deliveries/s (1 channel × 1,000, 10 publishes/s), interleaved.
    const label = 'fixed 10,000 deliveries/s, 1 channel × 1,000, QoS 1';
    results.qos1rate = await qosPair(
      'at 10,000 deliveries/s',
      (qos) => fixedRate('switchyard', { subs: 1000, chanCount: 1, rate: 10, qos }),
      label,
      ['latency p99 ms', 'p99'],
    );
  }
  if (ONLY.has('latency')) {
    const r = await each('latency at 10,000 deliveries/s', (k) => latency(k));
    for (const [key, name] of [
      ['p50', 'latency p50 ms'],
      ['p99', 'latency p99 ms'],
      ['p999', 'latency p99.9 ms'],
      ['cpuUs', 'server CPU µs/delivery'],
    ]) {
      row(
        '10,000 deliveries/s (1,000 subs, 100 ch.)',
        name,
        Object.fromEntries(KINDS.map((k) => [k, r[k][key]])),
        'lower',
      );
    }
  }
  if (ONLY.has('idle')) {
    const r = await each(`${S.idle} idle subscribed connections`, (k) => idle(k, S.idle));
    const label = `${S.idle.toLocaleString('en-US')} idle subscribed connections`;
    row(label, 'RSS KB/connection', Object.fromEntries(KINDS.map((k) => [k, r[k].rssKB])), 'lower');
    row(label, 'heap KB/connection', Object.fromEntries(KINDS.map((k) => [k, r[k].heapKB])), 'lower');
    row(
      label,
      'connects/s (incl. subscribe)',
      Object.fromEntries(KINDS.map((k) => [k, r[k].connectsPerSec])),
      'higher',
    );
  }
  if (ONLY.has('qos1') && KINDS.includes('switchyard')) {
    const run = (qos) => throughput('switchyard', 1000, 1, S.deliveries, ['--history-deep'], qos);
    results.qos1 = await qosPair('fan-out to 1,000', run, 'fan-out 1 channel × 1,000, QoS 1', [
      'deliveries/s',
      'perSec',
    ]);
  }
} finally {
  stopAll();
}
const header = `| scenario | metric | switchyard | ${OTHERS.map((k) => NAMES[k]).join(' | ')} | ${OTHERS.map((k) => `switchyard ÷ ${NAMES[k]}`).join(' | ')} | better |\n|---|---|${'---:|'.repeat(1 + 2 * OTHERS.length)}---|`;
process.stdout.write(
  `${header}\n${rows.join('\n')}\n\n${QUICK ? 'quick' : 'full'} run${REPEAT > 1 ? `, medians of ${REPEAT}` : ''}, ${((Date.now() - started) / 1000).toFixed(0)} s, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}\n`,
);
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
target(
  'deliveries/s at saturation, fan-out to 1,000, bursts of 10',
  `${F1000}, bursts of 10 / deliveries/s`,
  'ws',
  '>=',
  1.0,
);
target(
  'p99 latency at 10,000 deliveries/s',
  '10,000 deliveries/s (1,000 subs, 100 ch.) / latency p99 ms',
  'ws',
  '<=',
  1.1,
);
const idleKey = `${S.idle.toLocaleString('en-US')} idle subscribed connections`;
target('RSS per idle subscribed connection', `${idleKey} / RSS KB/connection`, 'ws', '<=', 1.3);
target('RSS per idle subscribed connection', `${idleKey} / RSS KB/connection`, 'socketio', '<=', 0.75);
target('connects per second', `${idleKey} / connects/s (incl. subscribe)`, 'socketio', '>=', 1.2);
// Issue 17's goals, where this run measured them.
const R50 = 'fixed 50,000 deliveries/s, 1 channel × 1,000';
const R10 = 'fixed 10,000 deliveries/s, 1 channel × 1,000';
target('server CPU per delivery at 50,000/s', `${R50} / server CPU µs/delivery`, 'ws', '<=', 0.8);
target('latency p99 at 50,000/s', `${R50} / latency p99 ms`, 'ws', '<=', 1.1);
target('latency p50 at 50,000/s', `${R50} / latency p50 ms`, 'ws', '<=', 1.1);
target('latency p99 at 10,000/s, 1 channel', `${R10} / latency p99 ms`, 'ws', '<=', 1.1);
target('latency p99, 100 channels at max rate', '100 channels × 10 subscribers / latency p99 ms', 'ws', '<=', 1.1);
target(
  'server CPU per delivery, 100 channels at max rate',
  '100 channels × 10 subscribers / server CPU µs/delivery',
  'ws',
  '<=',
  0.9,
);
if (results.qos1rate) {
  const ratio = results.qos1rate.q1.cpuUs / results.qos1rate.q0.cpuUs;
  targets.push(
    `| QoS 1 CPU per delivery at 10,000/s | <= 1.3 × QoS 0 | ${ratio.toFixed(2)} | ${ratio <= 1.3 ? 'met' : 'missed'} |`,
  );
}
if (results.qos1) {
  const ratio = results.qos1.q1.cpuUs / results.qos1.q0.cpuUs;
  targets.push(
    `| QoS 1 CPU per delivery, fan-out to 1,000 | <= 1.3 × QoS 0 | ${ratio.toFixed(2)} | ${ratio <= 1.3 ? 'met' : 'missed'} |`,
  );
}
if (targets.length)
  process.stdout.write(`\n| target | required | measured | |\n|---|---|---:|---|\n${targets.join('\n')}\n`);
const out = opt('json');
if (out) writeFileSync(out, JSON.stringify(results, null, 2));
