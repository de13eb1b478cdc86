// Core hub behaviour over fake sockets: fan-out, rules, authorization, the public API's validation.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { memoryEngine } from '../lib/engine-memory.js';
import { ERRORS } from '../lib/errors.js';
import type { AuthorizeRequest } from '../lib/options.js';
import { FakeTransport, fakeClient } from './helpers/fake-transport.js';

t.test('hub.publish serializes a message once and hands the same frame to every subscriber', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const sent: unknown[][] = [];
  const clients = [0, 1, 2].map((i) => {
    const c = fakeClient(hub);
    sent[i] = [];
    const orig = c.t.send.bind(c.t);
    c.t.send = (f) => {
      sent[i]!.push(f);
      orig(f);
    };
    return c;
  });
  await Promise.all(clients.map((c) => (c.send({ op: 'sub', id: 1, ch: 'news' }), c.reply(1))));
  await hub.publish('news', { n: 1 });
  const frames = sent.map((s) => s.at(-1));
  t.ok(frames[0] instanceof Uint8Array, 'a prepared byte frame');
  t.equal(frames[1], frames[0], 'the same object for subscriber 2');
  t.equal(frames[2], frames[0], 'the same object for subscriber 3');
});

t.test('unsubscribing stops delivery; hub.channels() counts local subscribers', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const a = fakeClient(hub);
  const b = fakeClient(hub);
  await Promise.all([a.subscribe('x'), b.subscribe('x', 'y.*')]);
  t.same(hub.channels(), [{ channel: 'x', subscribers: 2 }]);
  a.send({ op: 'unsub', id: 2, ch: 'x' });
  await a.reply(2);
  await hub.publish('x', 'after');
  t.equal(a.t.of('msg').length, 0);
  t.equal(b.t.of('msg').length, 1);
  t.same(hub.channels(), [{ channel: 'x', subscribers: 1 }]);
  a.send({ op: 'unsub', id: 3, ch: 'x' });
  t.equal((await a.reply(3)).code, ERRORS.NOT_SUBSCRIBED.code);
});

t.test('subscribing twice to one channel on a connection gets 109', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'x' });
  c.send({ op: 'sub', id: 2, ch: 'x' });
  t.equal((await c.reply(1)).op, 'ok');
  t.equal((await c.reply(2)).code, ERRORS.ALREADY_SUBSCRIBED.code);
});

t.test('channel rules: the first matching rule decides client publishing and history', async (t) => {
  const hub = new Switchyard({
    channels: [
      { match: 'chat.secret', clientPublish: false },
      { match: 'chat.*', clientPublish: true, history: { size: 2 } },
      { match: 'ticks.>', history: false },
    ],
  });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'pub', id: 1, ch: 'chat.secret', data: 1 });
  c.send({ op: 'pub', id: 2, ch: 'chat.lobby', data: 1 });
  t.equal((await c.reply(1)).code, ERRORS.PUBLISH_DISABLED.code);
  t.equal((await c.reply(2)).op, 'ok');
  for (let i = 0; i < 4; i++) await hub.publish('chat.lobby', i);
  t.same(
    (await hub.history('chat.lobby')).messages.map((m) => m.data),
    [2, 3],
    'history size 2 from the rule',
  );
  c.send({ op: 'sub', id: 3, ch: 'ticks.eu', qos: 1 });
  t.equal((await c.reply(3)).code, ERRORS.HISTORY_DISABLED.code, 'QoS 1 needs history');
  c.send({ op: 'sub', id: 4, ch: 'ticks.eu' });
  t.equal((await c.reply(4)).op, 'ok', 'QoS 0 live works without history');
  await hub.publish('ticks.eu', 'tick');
  t.equal(c.t.of('msg').at(-1).data, 'tick');
  await t.rejects(hub.history('ticks.eu'), { code: ERRORS.HISTORY_DISABLED.code });
});

t.test('authorize sees action, channel and user, and a denial stores nothing', async (t) => {
  const asked: AuthorizeRequest[] = [];
  const hub = new Switchyard({
    channels: [{ match: '>', clientPublish: true }],
    authorize: async (req) => {
      asked.push(req);
      return req.channel !== 'vault';
    },
  });
  t.teardown(() => hub.close());
  const c = fakeClient(hub, { name: 'ada' });
  c.send({ op: 'pub', id: 1, ch: 'vault', data: 'x' });
  c.send({ op: 'sub', id: 2, ch: 'vault' });
  c.send({ op: 'hist', id: 3, ch: 'vault' });
  t.equal((await c.reply(1)).code, ERRORS.FORBIDDEN.code);
  t.equal((await c.reply(2)).code, ERRORS.FORBIDDEN.code);
  t.equal((await c.reply(3)).code, ERRORS.FORBIDDEN.code);
  t.same(
    asked.map((a) => [a.action, a.channel, a.user]),
    [
      ['publish', 'vault', { name: 'ada' }],
      ['subscribe', 'vault', { name: 'ada' }],
      ['history', 'vault', { name: 'ada' }],
    ],
  );
  t.equal((await hub.history('vault')).messages.length, 0);
  t.same(hub.channels(), [], 'a refused subscription leaves nothing routed');
});

t.test('hub.publish validates its arguments with clear errors', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  await t.rejects(hub.publish('a.*', 1), { code: ERRORS.BAD_CHANNEL.code });
  await t.rejects(hub.publish('a', undefined), { code: 150, message: /data must be a JSON value/ });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await t.rejects(hub.publish('a', circular), { code: 150, message: /JSON-serializable/ });
  await t.rejects(hub.publish('a', 1, { idempotencyKey: '' }), { code: 150, message: /idempotencyKey/ });
  await t.rejects(hub.publish('a', 1, null as never), { code: 150 });
});

t.test('hub.publish with an idempotency key stores once and returns the first offset', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const a = await hub.publish('orders', { id: 7 }, { idempotencyKey: 'order-7' });
  const b = await hub.publish('orders', { id: 7 }, { idempotencyKey: 'order-7' });
  t.same([a.offset, b.offset, b.duplicate], [1, 1, true]);
  t.equal((await hub.history('orders')).messages.length, 1);
});

t.test('hub.disconnect validates the code and reports unknown connections', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  t.equal(hub.disconnect('nope'), false);
  t.throws(() => hub.disconnect('nope', 1006), { code: 150 });
  const c = fakeClient(hub);
  const welcome = c.t.frames[0];
  t.equal(hub.disconnect(welcome.cid, 4003, 'rebalance'), true);
  t.same(c.t.closedWith, { code: 4003, reason: 'rebalance' });
});

t.test('a hub that is closing refuses new connections with 1001 and publishes with 202', async (t) => {
  const hub = new Switchyard();
  const closing = hub.close();
  const tr = new FakeTransport();
  hub.accept(tr, undefined);
  t.equal(tr.closedWith?.code, 1001);
  await t.rejects(hub.publish('a', 1), { code: ERRORS.SHUTTING_DOWN.code });
  await closing;
  t.equal(await hub.authenticate({ headers: {}, url: '/', raw: null }).then((o) => (o.ok ? 0 : o.status)), 503);
});

t.test('a channel rule with authorize: false skips the hook; other channels still run it', async (t) => {
  const asked: string[] = [];
  const hub = new Switchyard({
    channels: [{ match: 'public.>', authorize: false }],
    authorize: (req) => (asked.push(req.channel), false),
  });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'public.news' });
  c.send({ op: 'sub', id: 2, ch: 'private.news' });
  c.send({ op: 'sub', id: 3, ch: 'public.*' });
  t.equal((await c.reply(1)).op, 'ok');
  t.equal((await c.reply(2)).code, ERRORS.FORBIDDEN.code);
  t.equal((await c.reply(3)).code, ERRORS.FORBIDDEN.code, 'patterns always ask');
  t.same(asked, ['private.news', 'public.*']);
});

t.test('hub.history({ asUser }) runs authorize for that user; without it the server reads freely', async (t) => {
  const hub = new Switchyard({ authorize: (req) => (req.user as { admin?: boolean } | undefined)?.admin === true });
  t.teardown(() => hub.close());
  await hub.publish('audit', 'entry');
  t.equal((await hub.history('audit')).messages.length, 1, "the server's own read");
  t.equal((await hub.history('audit', { asUser: { admin: true } })).messages.length, 1);
  await t.rejects(hub.history('audit', { asUser: { admin: false } }), { code: ERRORS.FORBIDDEN.code });
  await t.rejects(
    hub.history('audit', { asUser: undefined }),
    { code: ERRORS.FORBIDDEN.code },
    'an explicit anonymous user is checked too',
  );
});

t.test('a broker that cannot subscribe refuses the subscription with 201, and a retry can succeed', async (t) => {
  const engine = memoryEngine();
  let failing = true;
  const broker = engine.broker;
  const flaky = {
    start: broker.start.bind(broker),
    publish: broker.publish.bind(broker),
    unsubscribe: broker.unsubscribe.bind(broker),
    close: broker.close.bind(broker),
    subscribe: async (ch: string) => {
      if (failing) throw new Error('bus down');
      return broker.subscribe(ch);
    },
  };
  const hub = new Switchyard({ engine: { storage: engine.storage, broker: flaky } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'x' });
  c.send({ op: 'sub', id: 2, ch: 'y' });
  t.equal((await c.reply(1)).code, ERRORS.ENGINE_UNAVAILABLE.code);
  t.equal((await c.reply(2)).code, ERRORS.ENGINE_UNAVAILABLE.code);
  t.same(hub.channels(), [], 'nothing left routed');
  failing = false;
  c.send({ op: 'sub', id: 3, ch: 'x' });
  t.equal((await c.reply(3)).op, 'ok');
  await hub.publish('x', 'now');
  t.equal(c.t.of('msg').at(-1)?.data, 'now');
});

t.test('heartbeats and slow-consumer checks use one timer per hub, not one per connection or message', async (t) => {
  // Count the timers the hub creates while it is built, 200 connections subscribe and 50 messages fan out.
  const created: string[] = [];
  const { setInterval: si, setTimeout: st } = globalThis;
  globalThis.setInterval = ((...a: Parameters<typeof si>) => (created.push('interval'), si(...a))) as typeof si;
  globalThis.setTimeout = ((...a: Parameters<typeof st>) => (created.push('timeout'), st(...a))) as typeof st;
  t.teardown(() => Object.assign(globalThis, { setInterval: si, setTimeout: st }));
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  t.same(created, ['interval'], 'the hub creates one interval');
  const clients = Array.from({ length: 200 }, () => fakeClient(hub));
  await Promise.all(clients.map((c) => c.subscribe('x')));
  for (let i = 0; i < 50; i++) await hub.publish('x', i);
  t.same(created, ['interval'], '200 connections and 50 messages add no timer');
  t.equal(clients[0]!.t.of('msg').length, 50);
});
