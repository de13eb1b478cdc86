// The latency and size histograms, channel-family counters and event-loop delay move when traffic
// flows, and stay still when metrics are off.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { quantile } from '../lib/histogram.js';
import { prometheusText } from '../lib/metrics.js';
import { LocalBroker } from '../lib/broker-local.js';
import { MemoryStorage } from '../lib/history-memory.js';
import { fakeClient } from './helpers/fake-transport.js';

const channels = [
  { match: 'chat.*', clientPublish: true },
  { match: 'orders.>', history: { size: 1000 } },
];

t.test(
  'publishes and deliveries fill publish→stored, stored→written, engine timings and family counters',
  async (t) => {
    const hub = new Switchyard({ channels, metrics: { sampleEvery: 1 } });
    t.teardown(() => hub.close());
    const subs = [fakeClient(hub), fakeClient(hub), fakeClient(hub)];
    for (const c of subs) await c.subscribe('chat.lobby');
    const before = hub.metrics();
    t.equal(before.deliverySeconds.count, 0);
    for (let i = 0; i < 10; i++) await hub.publish('chat.lobby', { i });
    await hub.publish('orders.eu.1', { i: 1 });
    const m = hub.metrics();
    t.equal(m.publishStoredSeconds.count, 11, 'every publish is timed to the store');
    t.equal(m.deliverySeconds.count, 30, 'sampleEvery 1: every delivery to each of 3 subscribers is timed');
    t.ok(m.deliverySeconds.sum > 0 && m.deliverySeconds.sum < 30, 'seconds, not milliseconds');
    t.ok(m.engineSeconds.append.count >= 11, 'every append is timed');
    t.ok(m.engineSeconds.state.count >= 3, 'subscribes read the stream state');
    t.same(
      m.families,
      { 'chat.*': { published: 10, delivered: 30 }, 'orders.>': { published: 1, delivered: 0 } },
      'counted by rule, never by channel name',
    );
    const text = prometheusText(m);
    t.match(text, /^switchyard_family_published_total\{family="chat\.\*"\} 10$/m);
    t.match(text, /^switchyard_delivery_seconds_count 30$/m);
    t.match(text, /^switchyard_delivery_seconds_bucket\{le="\+Inf"\} 30$/m);
    t.match(text, /^switchyard_engine_seconds_count\{op="append"\} 11$/m);
    t.notMatch(text, /chat\.lobby/, 'no raw channel name in any label');
  },
);

t.test('by default one message in 64 is timed per delivery', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  await c.subscribe('x');
  for (let i = 0; i < 128; i++) await hub.publish('x', i);
  t.equal(hub.metrics().deliverySeconds.count, 2);
  t.equal(hub.metrics().publishStoredSeconds.count, 128);
});

t.test('catch-ups record their duration and size', async (t) => {
  const hub = new Switchyard({ metrics: { sampleEvery: 1 } });
  t.teardown(() => hub.close());
  const first = await hub.publish('room', 0);
  for (let i = 1; i < 25; i++) await hub.publish('room', i);
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'room', since: { offset: first.offset, epoch: first.epoch } });
  await c.reply(1);
  await c.t.next((f) => f.op === 'msg' && f.off === 25);
  await new Promise((r) => setImmediate(r));
  const m = hub.metrics();
  t.equal(m.catchUpMessages.count, 1);
  t.equal(m.catchUpMessages.sum, 24, 'the 24 messages after offset 1');
  t.equal(quantile(m.catchUpMessages, 0.5), 100, 'in the (10, 100] bucket');
  t.equal(m.catchUpSeconds.count, 1);
});

t.test('a QoS 1 ack records the round trip of a sampled delivery', async (t) => {
  const hub = new Switchyard({ metrics: { sampleEvery: 1 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'jobs', qos: 1 });
  await c.reply(1);
  await hub.publish('jobs', 'a');
  await hub.publish('jobs', 'b');
  await c.t.next((f) => f.op === 'msg' && f.off === 2);
  t.equal(hub.metrics().ackRoundTripSeconds.count, 0, 'nothing before the ack');
  await new Promise((r) => setTimeout(r, 20));
  c.send({ op: 'ack', ch: 'jobs', off: 2 });
  const m = hub.metrics();
  t.equal(m.ackRoundTripSeconds.count, 1, 'one probe per subscription at a time');
  t.ok(m.ackRoundTripSeconds.sum >= 0.015, `the ack came after about 20 ms (${m.ackRoundTripSeconds.sum} s)`);
  c.send({ op: 'ack', ch: 'jobs', off: 2 });
  t.equal(hub.metrics().ackRoundTripSeconds.count, 1, 'a repeated ack records nothing');
});

t.test('send-queue bytes are observed per connection at each heartbeat round', async (t) => {
  const hub = new Switchyard({ heartbeatInterval: 50 });
  t.teardown(() => hub.close());
  const a = fakeClient(hub);
  fakeClient(hub);
  a.t.bufferedAmount = 50_000;
  const deadline = Date.now() + 5_000;
  while (hub.metrics().sendQueueBytes.count < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const q = hub.metrics().sendQueueBytes;
  t.ok(q.count >= 2, 'both connections observed');
  t.ok(q.sum >= 50_000, 'the queued bytes are summed');
  t.equal(
    q.counts[q.buckets.indexOf(65_536)]! - q.counts[q.buckets.indexOf(16_384)]!,
    Math.floor(q.count / 2),
    'the 50 kB queue lands in the (16 KiB, 64 KiB] bucket',
  );
});

t.test('event-loop delay shows a blocked loop', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  await new Promise((r) => setTimeout(r, 50));
  const end = performance.now() + 120;
  while (performance.now() < end); // block the loop on purpose
  await new Promise((r) => setTimeout(r, 50));
  // The 10 s window is rolled by the hub's timer; roll it now instead of waiting.
  hub.instruments.tick(performance.now() + 60_000);
  const el = hub.metrics().eventLoopDelay;
  t.ok(el.max >= 0.08, `max ${el.max} s covers the 120 ms block`);
  t.ok(el.p50 <= el.p99 && el.p99 <= el.max);
});

t.test('metrics: false keeps the counters and leaves every histogram empty', async (t) => {
  const hub = new Switchyard({ metrics: false });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  await c.subscribe('x');
  for (let i = 0; i < 100; i++) await hub.publish('x', i);
  const m = hub.metrics();
  t.equal(m.published, 100);
  for (const h of [m.publishStoredSeconds, m.deliverySeconds, m.catchUpSeconds, m.engineSeconds.append])
    t.equal(h.count, 0);
  t.same(m.families, {});
});

t.test('a bad metrics option is refused with 150 naming it', async (t) => {
  t.throws(() => new Switchyard({ metrics: { sampleEvery: 0 } }), { code: 150, message: /metrics\.sampleEvery/ });
  t.throws(() => new Switchyard({ metrics: 'yes' as never }), { code: 150, message: /metrics/ });
  t.throws(() => new Switchyard({ metrics: { sample: 2 } as never }), { code: 150, message: /metrics\.sample/ });
});

t.test('a failing store counts publish failures and engine errors by operation', async (t) => {
  const storage = new MemoryStorage();
  const hub = new Switchyard({
    engine: { storage, broker: new LocalBroker() },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  t.teardown(() => hub.close());
  await hub.publish('x', 1);
  storage.append = () => Promise.reject(new Error('connection refused'));
  await t.rejects(hub.publish('x', 2), { code: 201 });
  const m = hub.metrics();
  t.equal(m.publishFailures, 1);
  t.same(m.engineErrors, { append: 1, read: 0, state: 0 });
  t.equal(m.engineSeconds.append.count, 2, 'the failed call is timed too');
  t.match(prometheusText(m), /^switchyard_engine_errors_total\{op="append"\} 1$/m);
  t.match(prometheusText(m), /^switchyard_publish_failures_total 1$/m);
});

t.test('hub.status() lists the busiest connections and channels, bounded by top', async (t) => {
  const hub = new Switchyard({ channels: [{ match: 'chat.*' }] });
  t.teardown(() => hub.close());
  const quiet = fakeClient(hub, 'quiet');
  const busy = fakeClient(hub, { id: 'busy' });
  await quiet.subscribe('chat.a');
  await busy.subscribe('chat.a', 'chat.b', 'chat.c');
  for (let i = 0; i < 4; i++) await hub.publish('chat.a', i);
  const s = await hub.status({ top: 2 });
  t.match(s.topConnections, [
    { userId: 'busy', subscriptions: 3 },
    { userId: 'quiet', subscriptions: 1 },
  ]);
  t.match(s.channels, [
    { channel: 'chat.a', subscribers: 2, family: 'chat.*', offset: 4, historySize: 4 },
    { subscribers: 1 },
  ]);
  t.equal(s.channels.length, 2);
  t.equal(s.channelsNotListed, 1);
  t.match(s.nodes, [{ id: s.node, connections: 2 }]);
  t.equal(s.counters.connections, 2);
  await t.rejects(hub.status({ top: 0 }), { code: 150, message: /top/ });
});
