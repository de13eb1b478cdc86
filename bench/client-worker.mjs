// Benchmark subscribers in a separate process: minimal `ws` clients that speak each server's
// protocol just enough to subscribe, then only count frames (and read the timestamp for latency).
// Keeping them this thin keeps the load generator from being what is measured.
import WebSocket from 'ws';
import { performance } from 'node:perf_hooks';

const now = () => performance.timeOrigin + performance.now();
const socks = [];
let received = 0;
let expectTotal = Infinity;
let doneSent = false;
let collect = false;
let samples = [];

function onData(text) {
  received++;
  if (collect) {
    const i = text.indexOf('"t":');
    if (i !== -1) samples.push(now() - parseFloat(text.slice(i + 4, i + 32)));
  }
  if (!doneSent && received >= expectTotal) {
    doneSent = true;
    process.send({ type: 'done', at: Date.now(), received });
  }
}

function open(kind, port, ch, qos, ackDelay) {
  return new Promise((resolve, reject) => {
    let ws;
    if (kind === 'ws' || kind === 'ws-frame')
      ws = new WebSocket(`ws://127.0.0.1:${port}/?ch=${ch}`, { perMessageDeflate: false });
    else if (kind === 'socketio')
      ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&ch=${ch}`, {
        perMessageDeflate: false,
      });
    else ws = new WebSocket(`ws://127.0.0.1:${port}/realtime`, ['switchyard.v1'], { perMessageDeflate: false });
    socks.push(ws);
    ws.on('error', reject);
    if (kind === 'ws' || kind === 'ws-frame') {
      ws.on('open', resolve);
      ws.on('message', (d) => onData(d.toString()));
    } else if (kind === 'socketio') {
      ws.on('message', (d) => {
        const s = d.toString();
        if (s.charCodeAt(0) === 52 && s.charCodeAt(1) === 50)
          onData(s); // "42[...]": an event
        else if (s === '2')
          ws.send('3'); // engine.io ping -> pong
        else if (s[0] === '0')
          ws.send('40'); // engine.io open -> connect to the main namespace
        else if (s.startsWith('40')) resolve();
      });
    } else {
      let ackTimer;
      let lastOff = 0;
      let ackedOff = -1;
      let win = 256;
      const flush = () => {
        clearTimeout(ackTimer);
        ackTimer = undefined;
        ackedOff = lastOff;
        if (ws.readyState === 1) ws.send(`{"op":"ack","ch":"${ch}","off":${lastOff}}`);
      };
      ws.on('message', (d) => {
        const s = d.toString();
        if (s.startsWith('{"op":"msg"')) {
          onData(s);
          if (qos === 1) {
            // Cumulative acks, batched like the SDK does (lib/client/ack-batcher.ts): after ackDelay
            // ms (1,000 by default) while less than half of the server's in-flight window is
            // unacknowledged, at once at half.
            const i = s.indexOf('"off":');
            lastOff = parseInt(s.slice(i + 6, i + 26), 10);
            if (ackedOff < 0) ackedOff = lastOff - 1;
            if (lastOff - ackedOff >= win / 2) flush();
            else ackTimer ??= setTimeout(flush, ackDelay);
          }
        } else if (s.startsWith('{"op":"welcome"')) {
          const w = /"win":(\d+)/.exec(s);
          if (w) win = Number(w[1]);
          ws.send(JSON.stringify(qos === 1 ? { op: 'sub', id: 1, ch, qos: 1 } : { op: 'sub', id: 1, ch }));
        } else if (s.startsWith('{"op":"ok"')) resolve();
        else if (s === '{"op":"ping"}') ws.send('{"op":"pong"}');
        else if (s.startsWith('{"op":"err"')) reject(new Error(s));
      });
    }
  });
}

process.on('message', async (m) => {
  if (m.cmd === 'connect') {
    // Bounded concurrency: like an audience arriving, not a SYN flood.
    const t0 = performance.now();
    let next = 0;
    const lanes = Array.from({ length: Math.min(m.concurrency, m.channels.length) }, async () => {
      while (next < m.channels.length) {
        const ch = m.channels[next++];
        await open(m.kind, m.port, ch, m.qos ?? 0, m.ackDelay ?? 1000);
      }
    });
    try {
      await Promise.all(lanes);
      process.send({ type: 'connected', n: socks.length, ms: performance.now() - t0 });
    } catch (err) {
      process.send({ type: 'failed', error: String(err?.message ?? err) });
    }
  } else if (m.cmd === 'expect') {
    received = 0;
    doneSent = false;
    expectTotal = m.total;
    collect = m.latency === true;
    samples = [];
    process.send({ type: 'armed' });
  } else if (m.cmd === 'report') {
    process.send({ type: 'report', received, samples: Float64Array.from(samples) });
  } else if (m.cmd === 'exit') {
    for (const s of socks) s.terminate();
    process.exit(0);
  }
});
process.send({ type: 'up' });
