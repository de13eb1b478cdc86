// One benchmark server in its own process: `node --expose-gc bench/server.mjs <switchyard|switchyard-nometrics|ws|ws-frame|socketio>`.
// It publishes on command from the coordinator (bench/run.mjs) so that no publisher client
// competes for CPU, and reports its own CPU time and memory.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const kind = process.argv[2];
const qos1 = process.argv.includes('--history-deep');
const http = createServer((_req, res) => res.writeHead(404).end());
const sockets = new Set();
http.on('upgrade', (_req, socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});

let publish; // (channel, data) => void | Promise
let backlogged = () => false;

if (kind === 'switchyard' || kind === 'switchyard-nometrics') {
  const { Switchyard } = await import('../dist/lib/index.js');
  const { attach } = await import('../dist/adapters/http.js');
  // History on (the default memory engine keeps 100 messages per channel); QoS 1 runs need a
  // window's worth of history so a paused subscriber catches up rather than gapping.
  // switchyard-nometrics: the same hub with `metrics: false`, to measure what metrics cost.
  const hub = new Switchyard({ ...(qos1 && { history: { size: 10_000 } }), metrics: kind !== 'switchyard-nometrics' });
  attach(hub, http, { path: '/realtime' });
  publish = (ch, data) => hub.publish(ch, data);
} else if (kind === 'ws') {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const rooms = new Map();
  wss.on('connection', (ws, req) => {
    const ch = new URL(req.url, 'http://x').searchParams.get('ch');
    let set = rooms.get(ch);
    if (!set) rooms.set(ch, (set = new Set()));
    set.add(ws);
    ws.on('close', () => set.delete(ws));
  });
  // The practical ceiling: serialize once, send the same buffer to every socket.
  publish = (ch, data) => {
    const set = rooms.get(ch);
    if (!set) return;
    const buf = Buffer.from(JSON.stringify({ ch, data }));
    for (const ws of set) ws.send(buf, { binary: false });
  };
} else if (kind === 'ws-frame') {
  // The pre-framed ceiling: the WebSocket frame (header + payload) is built once per message and
  // the same bytes are written to every socket's TCP stream, below ws's per-send framing.
  const { WebSocketServer, Sender } = await import('ws');
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const rooms = new Map();
  wss.on('connection', (ws, req) => {
    const ch = new URL(req.url, 'http://x').searchParams.get('ch');
    let set = rooms.get(ch);
    if (!set) rooms.set(ch, (set = new Set()));
    set.add(ws._socket);
    ws.on('close', () => set.delete(ws._socket));
  });
  publish = (ch, data) => {
    const set = rooms.get(ch);
    if (!set) return;
    const frame = Buffer.concat(
      Sender.frame(Buffer.from(JSON.stringify({ ch, data })), {
        fin: true,
        opcode: 1,
        mask: false,
        readOnly: true,
        rsv1: false,
      }),
    );
    for (const socket of set) socket.write(frame);
  };
} else if (kind === 'socketio') {
  const { Server } = await import('socket.io');
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  const conns = [];
  io.on('connection', (s) => {
    s.join(String(s.handshake.query.ch));
    conns.push(s.conn);
  });
  publish = (ch, data) => void io.to(ch).emit('m', data);
  // engine.io queues in its own write buffer before the TCP socket sees anything.
  backlogged = () => {
    const n = conns.length;
    for (let i = 0; i < 16 && n; i++) if (conns[Math.floor((i * n) / 16)].writeBuffer.length > 32) return true;
    return false;
  };
} else {
  console.error(`unknown server kind ${kind}`);
  process.exit(2);
}

function tcpBacklogged() {
  // Fan-out loads sockets evenly: a sample of them tells whether the kernel keeps up.
  const arr = sockets.size > 16 ? sampleSockets() : [...sockets];
  for (const s of arr) if (s.writableLength > 64 * 1024) return true;
  return backlogged();
}
let sample = [];
let sampledAt = -1;
function sampleSockets() {
  if (sampledAt !== sockets.size) {
    const all = [...sockets];
    sample = Array.from({ length: 16 }, (_, i) => all[Math.floor((i * all.length) / 16)]);
    sampledAt = sockets.size;
  }
  return sample;
}

const now = () => performance.timeOrigin + performance.now();
const tick = () => new Promise((r) => setImmediate(r));
const sleep1 = () => new Promise((r) => setTimeout(r, 1));

async function saturate({ channels, count, payloadBytes, burst = 1 }) {
  // As fast as the sockets drain: publish, and yield to I/O whenever sockets back up.
  const pad = 'x'.repeat(payloadBytes);
  let i = 0;
  while (i < count) {
    if (tcpBacklogged()) {
      // Sleep rather than spin: a busy wait would be billed as server CPU per delivery.
      await sleep1();
      continue;
    }
    // One round over the channels per event-loop turn, `burst` times: a busy publisher (an HTTP
    // batch, many client publishes read in one poll) hands several messages over per turn.
    const batch = Math.min(count - i, channels.length * burst);
    let last;
    for (let k = 0; k < batch; k++, i++) last = publish(channels[i % channels.length], { t: now(), s: i, p: pad });
    await last;
    await tick();
  }
}

async function paced({ channels, rate, durationMs, payloadBytes }) {
  const pad = 'x'.repeat(payloadBytes);
  const start = Date.now();
  const total = Math.round((rate * durationMs) / 1000);
  let i = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000));
    for (; i < due; i++) publish(channels[i % channels.length], { t: now(), s: i, p: pad });
    await new Promise((r) => setTimeout(r, 2));
  }
  return total;
}

process.on('message', async (m) => {
  if (m.cmd === 'stats') {
    for (let k = 0; k < 3; k++) global.gc?.();
    await new Promise((r) => setTimeout(r, 200));
    global.gc?.();
    const mem = process.memoryUsage();
    process.send({
      type: 'stats',
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
      cpu: process.cpuUsage(),
      connections: sockets.size,
    });
  } else if (m.cmd === 'saturate') {
    await saturate(m);
    process.send({ type: 'published' });
  } else if (m.cmd === 'paced') {
    const n = await paced(m);
    process.send({ type: 'published', count: n });
  } else if (m.cmd === 'cpu') {
    process.send({ type: 'cpu', cpu: process.cpuUsage() });
  } else if (m.cmd === 'exit') process.exit(0);
});

http.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: http.address().port }));
