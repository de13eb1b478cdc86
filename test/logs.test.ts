// Logs an operator can use: lifecycle at debug, refusals at info/warn with connection id, user id
// and remote address (never the token), errors as Error objects; and the diagnostics_channel events.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import t from 'tap';
import { CLOSE } from '../lib/close-codes.js';
import { Switchyard } from '../lib/hub.js';
import { fakeClient } from './helpers/fake-transport.js';
import { rawUpgrade } from './helpers/upgrade.js';
import { connectClient, startServer, until } from './helpers/server.js';

type Entry = { level: string; obj: Record<string, unknown>; msg: string };
function recorder() {
  const entries: Entry[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void entries.push({ level, obj, msg });
  return { entries, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}
const SECRET = 'tok-very-secret-123';
const token = (s: string): string => 'switchyard.token.' + Buffer.from(s).toString('base64url');

t.test('logs name a user by the same id revocation targets: the userId option when given', async (t) => {
  const { entries, logger } = recorder();
  const s = await startServer(t, {
    logger,
    authenticate: () => ({ id: 'row-9', email: 'ann@example.com' }),
    userId: (u) => (u as { email: string }).email,
  });
  const c = await connectClient(t, s.url);
  await until(() => entries.some((e) => e.msg === 'connection opened'));
  t.match(entries.find((e) => e.msg === 'connection opened')!.obj, { userId: 'ann@example.com' });
  t.match((await s.hub.status()).topConnections, [{ userId: 'ann@example.com' }], 'hub.status() shows the same id');
  c.close();
});

t.test('a connection logs open and close at debug with its id, user id and remote address', async (t) => {
  const { entries, logger } = recorder();
  const s = await startServer(t, {
    logger,
    authenticate: (req) => (req.token === SECRET ? { id: 'u-42', name: 'Ann' } : null),
  });
  const c = await connectClient(t, s.url, { token: SECRET });
  await until(() => entries.some((e) => e.msg === 'connection opened'));
  const opened = entries.find((e) => e.msg === 'connection opened')!;
  t.equal(opened.level, 'debug');
  t.match(opened.obj, { connectionId: String, userId: 'u-42', remoteAddress: '127.0.0.1' });
  c.close();
  await until(() => entries.some((e) => e.msg === 'connection closed'));
  t.match(
    entries.find((e) => e.msg === 'connection closed'),
    { level: 'debug', obj: { connectionId: opened.obj.connectionId, userId: 'u-42', code: 1000 } },
  );
  t.notMatch(JSON.stringify(entries), SECRET, 'the token appears in no log entry');
});

t.test('refused upgrades log at info with status, reason and remote address, never the token', async (t) => {
  const { entries, logger } = recorder();
  const s = await startServer(t, { logger, authenticate: () => null, allowedOrigins: ['https://app.example'] });
  t.equal(await rawUpgrade(s.url, { protocols: ['switchyard.v1', token(SECRET)] }), 401);
  t.equal(await rawUpgrade(s.url, { protocols: ['switchyard.v1'], headers: { origin: 'https://evil.example' } }), 403);
  const refusals = entries.filter((e) => e.msg === 'upgrade refused');
  t.match(refusals, [
    { level: 'info', obj: { status: 401, reason: String, remoteAddress: '127.0.0.1' } },
    { level: 'info', obj: { status: 403, reason: 'origin not allowed', remoteAddress: '127.0.0.1' } },
  ]);
  t.notMatch(JSON.stringify(entries), SECRET);
});

t.test('slow-consumer and bad-frame closes log at warn; rate-limit refusals at info, without flooding', async (t) => {
  const { entries, logger } = recorder();
  const hub = new Switchyard({
    logger,
    channels: [{ match: 'chat.*', clientPublish: true }],
    limits: { maxBadFrames: 1, publishesPerSecond: 1 },
  });
  t.teardown(() => hub.close());
  const bad = fakeClient(hub, 'bob');
  bad.send('nope');
  bad.send('nope');
  await until(() => entries.some((e) => e.msg === 'connection closed for misbehaving'));
  t.match(
    entries.find((e) => e.msg === 'connection closed for misbehaving'),
    { level: 'warn', obj: { userId: 'bob', code: CLOSE.TOO_MANY_ERRORS } },
  );
  const flood = fakeClient(hub, { id: 'carol' });
  for (let i = 0; i < 40; i++) flood.send({ op: 'pub', id: i + 1, ch: 'chat.a', data: i });
  await flood.t.next((f) => f.op === 'err' && f.id === 40);
  const limited = entries.filter((e) => e.msg === 'publish refused');
  t.ok(
    limited.length >= 4 && limited.length <= 7,
    `a few entries for ~39 refusals (${limited.length}): 1st, 2nd, 4th, 8th…`,
  );
  t.match(limited[0], { level: 'info', obj: { userId: 'carol', reason: 'rate limited', refusals: 1 } });
});

t.test('errors are logged as Error objects, so a logger can print the stack', async (t) => {
  const { entries, logger } = recorder();
  const hub = new Switchyard({
    logger,
    authenticate: () => {
      throw new Error('db down');
    },
  });
  t.teardown(() => hub.close());
  const outcome = await hub.authenticate({
    headers: {},
    url: '/',
    raw: null,
    remoteAddress: '10.0.0.9',
    token: SECRET,
  });
  t.equal(outcome.ok, false);
  const e = entries.find((x) => x.msg === 'authenticate hook threw')!;
  t.equal(e.level, 'error');
  t.type(e.obj.err, Error);
  t.match((e.obj.err as Error).stack, /db down/);
  t.equal(e.obj.remoteAddress, '10.0.0.9');
  t.match(
    hub.instruments.recentErrors,
    [{ level: 'error', msg: 'authenticate hook threw', err: 'db down' }],
    'kept for the admin page',
  );
  t.notMatch(JSON.stringify(entries), SECRET);
});

t.test('diagnostics_channel publishes connection, publish, deliver, catch-up, refusal and error events', async (t) => {
  const seen: Record<string, unknown[]> = {};
  const names = ['connection', 'publish', 'deliver', 'catch-up', 'refusal', 'error'];
  const handlers = names.map((n) => {
    const h = (m: unknown) => void (seen[n] ??= []).push(m);
    subscribe(`switchyard:${n}`, h);
    return [n, h] as const;
  });
  t.teardown(() => handlers.forEach(([n, h]) => unsubscribe(`switchyard:${n}`, h)));
  const hub = new Switchyard({ authenticate: () => null });
  const c = fakeClient(hub, 7);
  await c.subscribe('news');
  // The subscription's catch-up ends before the publish (with the memory engine a publish fans
  // out inside the call, so one made during the catch-up would be merged into it).
  await until(() => (seen['catch-up']?.length ?? 0) >= 1);
  const r = await hub.publish('news', { a: 1 });
  await hub.authenticate({ headers: {}, url: '/', raw: null, remoteAddress: '10.1.1.1' });
  hub.log('warn', { err: new Error('boom') }, 'something odd');
  c.t.close(1000, 'bye');
  await until(() => (seen.connection?.length ?? 0) >= 2);
  await hub.close();
  t.match(seen.connection, [
    { event: 'open', id: String, userId: '7' },
    { event: 'close', userId: '7', code: 1000 },
  ]);
  t.match(seen.publish, [{ channel: 'news', offset: r.offset, epoch: r.epoch, bytes: 7, seconds: Number }]);
  t.match(
    seen.deliver?.filter((d) => (d as { channel: string }).channel === 'news'),
    [{ channel: 'news', offset: r.offset, subscribers: 1 }],
  );
  t.match(seen['catch-up'], [{ channel: 'news', connectionId: String, messages: 0 }]);
  t.match(seen.refusal, [{ status: 401, remoteAddress: '10.1.1.1' }]);
  t.match(seen.error, [{ level: 'warn', msg: 'something odd', err: Error }]);
});
