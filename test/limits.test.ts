// Every limit is an option with a safe non-zero default, enforced with its documented code.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { DEFAULT_LIMITS } from '../lib/options.js';
import { ERRORS } from '../lib/errors.js';
import { fakeClient } from './helpers/fake-transport.js';

const open = { channels: [{ match: '>', clientPublish: true }] };

t.test('every default limit is a positive number', async (t) => {
  for (const [k, v] of Object.entries(DEFAULT_LIMITS)) t.ok(Number.isInteger(v) && v > 0, k);
});

t.test('limits.maxMessageBytes: larger data gets 104 and is not stored', async (t) => {
  const hub = new Switchyard({ ...open, limits: { maxMessageBytes: 100 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'pub', id: 1, ch: 'a', data: 'x'.repeat(98) }); // 100 bytes of JSON with quotes
  t.equal((await c.reply(1)).op, 'ok');
  c.send({ op: 'pub', id: 2, ch: 'a', data: 'x'.repeat(99) });
  t.equal((await c.reply(2)).code, ERRORS.MESSAGE_TOO_LARGE.code);
  // Multi-byte characters count as bytes, not characters.
  c.send({ op: 'pub', id: 3, ch: 'a', data: 'é'.repeat(50) });
  t.equal((await c.reply(3)).code, ERRORS.MESSAGE_TOO_LARGE.code);
  t.equal((await hub.history('a')).messages.length, 1);
});

t.test('limits.maxChannelsPerConnection: one more subscription gets 105', async (t) => {
  const hub = new Switchyard({ limits: { maxChannelsPerConnection: 2 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'a' });
  c.send({ op: 'sub', id: 2, ch: 'b.*' });
  c.send({ op: 'sub', id: 3, ch: 'c' });
  t.equal((await c.reply(1)).op, 'ok');
  t.equal((await c.reply(2)).op, 'ok');
  t.equal((await c.reply(3)).code, ERRORS.TOO_MANY_CHANNELS.code);
  c.send({ op: 'unsub', id: 4, ch: 'a' });
  await c.reply(4);
  c.send({ op: 'sub', id: 5, ch: 'c' });
  t.equal((await c.reply(5)).op, 'ok', 'room again after an unsubscribe');
});

t.test('limits.maxChannelBytes: a longer name gets 103', async (t) => {
  const hub = new Switchyard({ limits: { maxChannelBytes: 10 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'a'.repeat(10) });
  c.send({ op: 'sub', id: 2, ch: 'a'.repeat(11) });
  t.equal((await c.reply(1)).op, 'ok');
  t.equal((await c.reply(2)).code, ERRORS.BAD_CHANNEL.code);
  await t.rejects(hub.publish('b'.repeat(11), 1), { code: ERRORS.BAD_CHANNEL.code });
});

t.test('limits.publishesPerSecond: a burst beyond it gets 106 and stores nothing more', async (t) => {
  const hub = new Switchyard({ ...open, limits: { publishesPerSecond: 5 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  for (let i = 1; i <= 8; i++) c.send({ op: 'pub', id: i, ch: 'a', data: i });
  const replies = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((i) => c.reply(i)));
  t.equal(replies.filter((r) => r.op === 'ok').length, 5);
  t.same(
    replies.filter((r) => r.op === 'err').map((r) => r.code),
    [106, 106, 106],
  );
  t.equal((await hub.history('a')).messages.length, 5);
});

t.test('limits.queueHighWaterBytes: above it QoS 0 messages are dropped and counted, not queued', async (t) => {
  const hub = new Switchyard({ limits: { queueHighWaterBytes: 1000, maxQueuedBytes: 4000 } });
  t.teardown(() => hub.close());
  const slow = fakeClient(hub);
  slow.send({ op: 'sub', id: 1, ch: 'a', qos: 0 });
  await slow.reply(1);
  slow.t.stalled = true;
  const big = 'x'.repeat(3000);
  await hub.publish('a', big);
  t.equal(slow.t.closedWith, undefined, 'first message queued (above high water, below the cap)');
  await hub.publish('a', big);
  t.equal(slow.t.closedWith, undefined, 'congested: the QoS 0 message is dropped, not queued');
  t.equal(slow.t.of('msg').length, 1);
  t.equal(hub.counters.dropped, 1);
});

t.test('limits.maxQueuedBytes: one oversized queue closes with 3002 at once', async (t) => {
  const hub = new Switchyard({ limits: { queueHighWaterBytes: 1000, maxQueuedBytes: 2000, maxMessageBytes: 4000 } });
  t.teardown(() => hub.close());
  const slow = fakeClient(hub);
  slow.send({ op: 'sub', id: 1, ch: 'a' });
  await slow.reply(1);
  slow.t.stalled = true;
  await hub.publish('a', 'x'.repeat(2500));
  t.equal(slow.t.closedWith?.code, 3002);
  t.equal(slow.t.discarded, true, 'the queue is discarded and the socket destroyed at once');
  t.equal(hub.connectionCount, 0);
});

t.test('limits.slowConsumerTimeout: a queue that stays above high water is closed with 3002', async (t) => {
  const hub = new Switchyard({ limits: { queueHighWaterBytes: 100, slowConsumerTimeout: 50 } });
  t.teardown(() => hub.close());
  const slow = fakeClient(hub);
  slow.send({ op: 'sub', id: 1, ch: 'a' });
  await slow.reply(1);
  slow.t.stalled = true;
  // The hub's timer is unref'd (it never keeps a process alive); with fake sockets nothing else does.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const gone = new Promise<{ code: number }>((resolve) => hub.once('disconnect', resolve));
  await hub.publish('a', 'x'.repeat(200));
  t.equal((await gone).code, 3002);
  t.equal(slow.t.closedWith?.code, 3002);
  t.equal(hub.counters.slowConsumerCloses, 1);
});

t.test('a congested connection that drains resumes delivery', async (t) => {
  const hub = new Switchyard({ limits: { queueHighWaterBytes: 100, slowConsumerTimeout: 60_000 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'a' });
  await c.reply(1);
  c.t.stalled = true;
  await hub.publish('a', 'x'.repeat(200));
  await hub.publish('a', 'dropped');
  c.t.stalled = false;
  c.t.bufferedAmount = 0; // the network took the queue
  // The drain is noticed on the hub's next tick; publish until a message gets through (bounded).
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  for (let i = 0; i < 100 && c.t.of('msg').length < 2; i++) {
    await hub.publish('a', 'after');
    if (c.t.of('msg').length < 2) await new Promise((r) => setTimeout(r, 20));
  }
  const msgs = c.t.of('msg').map((f) => f.data);
  t.same(msgs.slice(-1), ['after']);
  const published = (await hub.history('a')).messages.length;
  t.same(
    c.t.of('drop').map((f) => f.n),
    [published - msgs.length],
    'the client was told how many were dropped',
  );
});

t.test('limits.maxHistoryLimit: a larger history limit gets 101', async (t) => {
  const hub = new Switchyard({ limits: { maxHistoryLimit: 10 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'hist', id: 1, ch: 'a', limit: 11 });
  t.equal((await c.reply(1)).code, ERRORS.BAD_FRAME.code);
  c.send({ op: 'hist', id: 2, ch: 'a', limit: 10 });
  t.equal((await c.reply(2)).op, 'ok');
});

t.test('bad options are refused with 150 and a message naming the option', async (t) => {
  const bad: Array<[object, RegExp]> = [
    [{ limits: { maxMessageBytes: 0 } }, /limits\.maxMessageBytes must be a positive integer/],
    [{ limits: { maxMesageBytes: 10 } }, /limits\.maxMesageBytes must be one of/],
    [{ limits: { maxChannelBytes: 300 } }, /at most 255/],
    [{ limits: { queueHighWaterBytes: 10, maxQueuedBytes: 5 } }, /maxQueuedBytes must be at least/],
    [{ history: { size: -1 } }, /history\.size must be a positive integer/],
    [{ channels: [{ match: 'a..b' }] }, /channels\[0\]\.match/],
    [{ channels: [{ match: 'a', clientPublish: 'yes' }] }, /clientPublish must be a boolean/],
    [{ authorize: true }, /authorize must be a function/],
    [{ allowedOrigins: 'example.com' }, /allowedOrigins/],
    [{ heartbeatInterval: -5 }, /heartbeatInterval/],
    [{ engine: {} }, /engine must be/],
    [{ colour: 'red' }, /colour must be one of/],
  ];
  for (const [o, msg] of bad)
    t.throws(() => new Switchyard(o as never), { code: 150, message: msg }, JSON.stringify(o));
});

t.test('limits.maxMessageBytes also bounds hub.publish(): 104, nothing stored', async (t) => {
  const hub = new Switchyard({ limits: { maxMessageBytes: 100 } });
  t.teardown(() => hub.close());
  const err = await hub.publish('big.a', 'x'.repeat(100)).catch((e: unknown) => e);
  t.equal((err as { code?: number }).code, 104, 'JSON of 102 bytes > 100');
  const multi = await hub.publish('big.a', 'é'.repeat(50)).catch((e: unknown) => e);
  t.equal((multi as { code?: number }).code, 104, 'counted in UTF-8 bytes (52 characters, 102 bytes)');
  t.same(await hub.position('big.a'), { offset: 0, epoch: (await hub.position('big.a')).epoch }, 'nothing stored');
  t.equal((await hub.publish('big.a', 'x'.repeat(98))).offset, 1, 'exactly the limit is fine');
});
