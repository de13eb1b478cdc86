// A subscriber that stops reading at the TCP level (issue 3 item 7): the server keeps at most
// the configured bytes queued for it, closes it with 3002 SLOW_CONSUMER, and every other
// subscriber still receives every message, in order.
import t from 'tap';
import WebSocket from 'ws';
import { CLOSE } from '../../lib/close-codes.js';
import { connectClient, startServer, until } from '../helpers/server.js';
import { audit, type Teardown } from './helpers.js';

const limits = { queueHighWaterBytes: 64 * 1024, maxQueuedBytes: 512 * 1024, slowConsumerTimeout: 500 };
const PAD = 'x'.repeat(2_000);

/** A raw protocol client whose TCP socket stops being read right after it subscribed. */
async function frozenSubscriber(t: Teardown, url: string, ch: string, qos: 0 | 1): Promise<WebSocket> {
  const ws = new WebSocket(url, ['switchyard.v1']);
  t.teardown(() => ws.terminate());
  const frames: any[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  ws.on('error', () => {});
  await until(() => frames.some((f) => f.op === 'welcome'));
  ws.send(JSON.stringify({ op: 'sub', id: 1, ch, ...(qos ? { qos } : {}) }));
  await until(() => frames.some((f) => f.op === 'ok' && f.id === 1));
  (ws as any)._socket.pause();
  return ws;
}

for (const qos of [0, 1] as const) {
  t.test(
    `a QoS ${qos} subscriber that stops reading is capped, closed with 3002, and others get every message`,
    async (t) => {
      // A window far above what the kernel buffers hold, so the QoS 1 case fills the send queue
      // instead of pausing on unacknowledged messages (that case is the next test).
      const { hub, url } = await startServer(t, {
        history: { size: 10_000 },
        limits: { ...limits, inflightWindow: 100_000 },
      });
      const ids: string[] = [];
      hub.on('connection', ({ id }) => ids.push(id));
      const closes = new Map<string, number>();
      hub.on('disconnect', ({ id, code }) => closes.set(id, code));

      const frozen = await frozenSubscriber(t, url, 'feed.x', qos);
      const frozenId = ids[0];
      // Test-only peek at the server's view of the frozen connection's send queue.
      const frozenConn = (hub as any).conns.get(frozenId);
      t.ok(frozenConn, 'found the frozen connection');

      const healthy = await connectClient(t, url);
      const seen: number[] = [];
      await healthy.subscribe('feed.x', (m) => void seen.push(m.offset), { qos }).ready;

      let published = 0;
      let maxQueued = 0;
      while (!closes.has(frozenId!) && published < 20_000) {
        await hub.publish('feed.x', { pad: PAD, n: published });
        published++;
        if (frozenConn.open) maxQueued = Math.max(maxQueued, frozenConn.transport.bufferedAmount);
        // One message per event-loop turn: sockets flush, the healthy client reads, the hub ticks.
        // (A burst larger than the high-water mark inside one turn would count as queued bytes.)
        await new Promise((r) => setImmediate(r));
      }
      t.equal(closes.get(frozenId!), CLOSE.SLOW_CONSUMER, `closed with 3002 after ${published} messages`);
      t.equal(
        frozenConn.transport.ws._socket.destroyed,
        true,
        'its socket and queue were freed at once, not kept for a close handshake',
      );
      t.ok(
        maxQueued <= limits.maxQueuedBytes,
        `server queued at most ${maxQueued} bytes for it (cap ${limits.maxQueuedBytes})`,
      );
      t.equal(hub.counters.slowConsumerCloses, 1);
      if (qos === 0) t.ok(frozenConn.dropped > 0, `${frozenConn.dropped} QoS 0 messages dropped for it, counted`);
      t.equal(
        hub.counters.dropped,
        qos === 0 ? frozenConn.dropped : 0,
        qos === 0 ? 'only the frozen connection dropped anything' : 'QoS 1 is paused, never dropped',
      );

      // A few more after the close: the healthy subscriber must get all of them too.
      for (let i = 0; i < 20; i++) await hub.publish('feed.x', { pad: PAD, tail: i });
      const last = published + 20;
      await until(() => seen.length >= last, 20_000);
      t.same(audit(seen, 1, last), { lost: 0, duplicated: 0, outOfOrder: 0 }, `healthy subscriber saw all ${last}`);
      t.equal(healthy.state, 'connected', 'the healthy client was never disconnected');

      // Its queue was discarded with the socket: once it reads again it finds an abnormal closure
      // (1006; the 3002 is in the server's metrics and disconnect event) and reconnects like any drop.
      const closed = new Promise<number>((resolve) => frozen.on('close', (code) => resolve(code)));
      (frozen as any)._socket.resume();
      t.equal(await closed, 1006);
    },
  );
}

t.test(
  'a QoS 1 subscriber that stops reading and acknowledging holds only its in-flight window, then is paused',
  async (t) => {
    const { hub, url } = await startServer(t, { history: { size: 1_000 }, limits: { ...limits, inflightWindow: 32 } });
    const ids: string[] = [];
    hub.on('connection', ({ id }) => ids.push(id));
    await frozenSubscriber(t, url, 'feed.y', 1);
    const frozenConn = (hub as any).conns.get(ids[0]);
    const healthy = await connectClient(t, url);
    const seen: number[] = [];
    await healthy.subscribe('feed.y', (m) => void seen.push(m.offset), { qos: 1 }).ready;
    for (let i = 0; i < 500; i++) await hub.publish('feed.y', { pad: PAD, i });
    await until(() => seen.length >= 500, 20_000);
    const sub = frozenConn.subs.get('feed.y');
    t.equal(sub.lastSent, 32, 'exactly the window was sent to it');
    t.equal(sub.buffered.length, 0, 'nothing is held for it beyond the window');
    t.ok(
      frozenConn.transport.bufferedAmount <= 32 * (PAD.length + 100),
      `queued ${frozenConn.transport.bufferedAmount} bytes`,
    );
    t.same(audit(seen, 1, 500), { lost: 0, duplicated: 0, outOfOrder: 0 }, 'the other subscriber got all 500');
  },
);
