// QoS 1 publishes survive an outage shorter than their deadline (issue 9 item 3): retries back
// off with jitter, are paced under the publish rate the server announces in `welcome`, and a 106
// is retried once the bucket refilled — so a backlog after an outage never turns into rejections.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '../../adapters/client-node.js';
import { memoryEngine } from '../../lib/engine-memory.js';
import type { Storage } from '../../lib/engine.js';
import { connectClient, once, startServer } from '../helpers/server.js';

/** The memory store behind a switch: while `down`, every append fails (as a Redis outage does). */
function switchableEngine() {
  const engine = memoryEngine();
  const real = engine.storage;
  const gate = { down: false, appends: 0 };
  const storage: Storage = Object.create(real);
  storage.append = async (...args: Parameters<Storage['append']>) => {
    gate.appends++;
    if (gate.down) throw new Error('store unreachable');
    return real.append(...args);
  };
  return { engine: { storage, broker: engine.broker }, gate };
}

t.test('welcome announces the publish rate (pr) next to the in-flight window', async (t) => {
  const { url } = await startServer(t, { limits: { publishesPerSecond: 7 } });
  const ws = new WebSocket(url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  const welcome = JSON.parse(String((await once<[Buffer]>(ws, 'message')) as unknown));
  t.equal(welcome.pr, 7);
});

t.test(
  'a backlog of QoS 1 publishes made while offline is paced under the announced rate: none is refused with 106',
  async (t) => {
    const { url, hub } = await startServer(t, {
      limits: { publishesPerSecond: 20 },
      channels: [{ match: 'out.>', clientPublish: true }],
    });
    const client = await connectClient(t, url);
    // 60 publishes at once: three times the server's burst.
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => client.publish('out.backlog', { i }, { qos: 1 })),
    );
    const rejected = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason));
    t.same(rejected, [], 'all 60 acknowledged');
    t.equal((await hub.history('out.backlog', { limit: 100 })).messages.length, 60, 'stored once each');
  },
);

t.test(
  'QoS 1 publishes survive a 3 s store outage at 30/s with the default publish rate: all acknowledged, each stored once',
  async (t) => {
    const { engine, gate } = switchableEngine();
    const { url, hub } = await startServer(t, { engine, channels: [{ match: 'out.>', clientPublish: true }] });
    const client = await connectClient(t, url);
    const pending: Array<Promise<unknown>> = [];
    const publishSome = async (n: number) => {
      for (let i = 0; i < n; i++) {
        pending.push(client.publish('out.outage', { i: pending.length }, { qos: 1 }));
        await new Promise((r) => setTimeout(r, 33));
      }
    };
    await publishSome(10);
    gate.down = true;
    const appendsBefore = gate.appends;
    const outage = publishSome(90); // about 3 s of publishing into the outage
    await outage;
    const attemptsDuringOutage = gate.appends - appendsBefore;
    gate.down = false;
    const results = await Promise.allSettled(pending);
    const rejected = results
      .filter((r) => r.status === 'rejected')
      .map((r) => String((r as PromiseRejectedResult).reason));
    t.same(rejected, [], `all ${pending.length} acknowledged`);
    const stored = (await hub.history('out.outage', { limit: 1_000 })).messages.map((m) => (m.data as { i: number }).i);
    t.equal(stored.length, pending.length, 'each stored once');
    t.equal(new Set(stored).size, stored.length, 'no duplicates');
    // Fixed 250-1000 ms retries of 90 publishes in parallel would be ~300 attempts; backoff spreads them.
    t.ok(
      attemptsDuringOutage < 90 * 6,
      `retries back off during the outage (${attemptsDuringOutage} store attempts for 90 publishes)`,
    );
  },
);

t.test('a 106 RATE_LIMITED reply is retried with the same id after a delay, not rejected', async (t) => {
  // A scripted server: the first pub gets 106, the retry is acknowledged.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'switchyard.v1' });
  t.teardown(() => new Promise((r) => wss.close(r)));
  await once(wss, 'listening');
  const pubs: Array<{ mid: string; at: number }> = [];
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ op: 'welcome', v: 1, cid: 'x', hb: 30_000, win: 256, pr: 100 }));
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw));
      if (f.op !== 'pub') return;
      pubs.push({ mid: f.mid, at: performance.now() });
      if (pubs.length === 1)
        ws.send(JSON.stringify({ op: 'err', id: f.id, code: 106, msg: '[PUB-6] more than 100 publishes per second' }));
      else ws.send(JSON.stringify({ op: 'ok', id: f.id, res: { offset: 1, epoch: 'e' } }));
    });
  });
  const client = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, {
    reconnect: { minDelay: 10, maxDelay: 20 },
  });
  t.teardown(() => client.close());
  const res = await client.publish('out.rl', 'x', { qos: 1 });
  t.same(res, { offset: 1, epoch: 'e' }, 'acknowledged on the retry');
  t.equal(pubs.length, 2);
  t.equal(pubs[1]!.mid, pubs[0]!.mid, 'same message id');
  t.ok(
    pubs[1]!.at - pubs[0]!.at >= 50,
    `the retry waited (${(pubs[1]!.at - pubs[0]!.at).toFixed(0)} ms) for the bucket to refill`,
  );
  for (const ws of wss.clients) ws.terminate();
});
