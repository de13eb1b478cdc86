// Connection expiry and in-band refresh over real sockets (docs/identity.md, [REF-*]): a token
// expiring mid-stream is refreshed without a reconnect or a lost message; one not refreshed in
// time closes with 3010 and the SDK reconnects with a fresh token and recovers; a refresh re-checks
// every subscription; a provider returning null stops the client.
import t from 'tap';
import WebSocket from 'ws';
import { grant } from '../../lib/grant.js';
import { CLOSE } from '../../lib/close-codes.js';
import { SwitchyardError } from '../../lib/errors.js';
import { connect, type ClientError } from '../../adapters/client-node.js';
import { Switchyard } from '../../lib/hub.js';
import { Tally } from '../redis/nodes.js';
import { connectClient, once, startServer, until } from '../helpers/server.js';

const history = { size: 10_000, ttl: 600_000, recoveryCap: 10_000 };

/** Tokens "ok:<user>:<n>" are valid; each grants `lifetime` ms. */
function tokenAuth(lifetime: number, extra: Record<string, unknown> = {}) {
  const accept = (token: string | undefined) => {
    const m = /^ok:(\w+):\d+$/.exec(token ?? '');
    return m ? grant({ id: m[1] }, { expiresAt: Date.now() + lifetime }) : null;
  };
  return {
    history,
    authenticate: ({ token }: { token?: string }) => accept(token),
    refresh: ({ token }: { token: string }) => accept(token),
    ...extra,
  };
}

/** Publishes 1..n on `channel`, one every `gapMs` (the stream a subscriber must see whole). */
async function stream(publish: (i: number) => Promise<unknown>, n: number, gapMs: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await publish(i);
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

t.test('a token expiring mid-stream is refreshed over the open socket with 0 lost messages', async (t) => {
  const s = await startServer(t, tokenAuth(1_200));
  let calls = 0;
  const c = await connectClient(t, s.url, { token: () => `ok:ann:${++calls}` });
  const disconnects: number[] = [];
  c.on('disconnected', (d) => disconnects.push(d.code));
  let refreshed = 0;
  c.on('refreshed', (r) => {
    refreshed++;
    t.ok(r.expiresIn! > 0 && r.expiresIn! <= 1_200, 'the new lifetime is reported');
  });
  const tally = new Tally();
  await c.subscribe('feed', (m) => tally.add(m.offset, m.data), { qos: 1 }).ready;
  // About 3.5 s of messages: the 1.2 s token has to be refreshed at least twice.
  await stream((i) => s.hub.publish('feed', i), 140, 25);
  await until(() => tally.offsets.length >= 140, 10_000);
  t.ok(refreshed >= 2, `refreshed ${refreshed} times`);
  t.ok(calls >= 3, 'getToken was called for the connect and every refresh');
  t.same(disconnects, [], 'never reconnected');
  t.same(tally.check(140), { lost: 0, duplicated: 0, reordered: 0 });
  t.equal(s.hub.connectionCount, 1);
});

t.test(
  'a connection not refreshed in time closes with 3010; the SDK reconnects with a fresh token and recovers',
  async (t) => {
    const s = await startServer(t, tokenAuth(800));
    let broken = false;
    let calls = 0;
    const c = await connectClient(t, s.url, {
      token: () => {
        calls++;
        if (broken) throw new Error('identity provider down');
        return `ok:bob:${calls}`;
      },
    });
    const tokenErrors: unknown[] = [];
    c.on('tokenError', (e) => tokenErrors.push(e));
    const tally = new Tally();
    await c.subscribe('feed', (m) => tally.add(m.offset, m.data), { qos: 1 }).ready;
    broken = true;
    const disconnected = once<{ code: number; willReconnect: boolean }>(c, 'disconnected');
    const publishing = stream((i) => s.hub.publish('feed', i), 60, 20);
    const d = await disconnected;
    t.equal(d.code, CLOSE.TOKEN_EXPIRED, 'closed with 3010');
    t.equal(d.willReconnect, true, '3010 is in the reconnect range');
    t.ok(tokenErrors.length >= 1, 'the failing provider was retried and reported');
    broken = false;
    await once(c, 'connected');
    await publishing;
    await until(() => tally.offsets.length >= 60, 10_000);
    t.same(
      tally.check(60),
      { lost: 0, duplicated: 0, reordered: 0 },
      'recovered what was published while reconnecting',
    );
  },
);

t.test('a refused token gets 120 and is retried; the connection keeps its old expiry until then', async (t) => {
  let refusals = 0;
  const s = await startServer(t, {
    ...tokenAuth(600),
    refresh: ({ token }: { token: string }) => {
      if (token.endsWith(':2')) {
        refusals++;
        return null;
      }
      return grant({ id: 'cy' }, { expiresAt: Date.now() + 60_000 });
    },
  });
  let calls = 0;
  const c = await connectClient(t, s.url, { token: () => `ok:cy:${++calls}` });
  const err = await once<ClientError>(c, 'tokenError');
  t.equal(err.code, 120, 'TOKEN_REJECTED');
  const r = await once<{ expiresIn?: number }>(c, 'refreshed');
  t.ok(r.expiresIn! > 30_000, 'the retried token was accepted');
  t.equal(refusals, 1);
  t.equal(c.state, 'connected');
});

t.test(
  'a refresh re-runs authorize: a subscription no longer allowed ends with 121, others keep flowing',
  async (t) => {
    const roles = new Map<string, string>([['ok:dee:1', 'admin']]);
    const s = await startServer(t, {
      history,
      authenticate: ({ token }) =>
        grant({ id: 'dee', role: roles.get(token!) ?? 'member' }, { expiresAt: Date.now() + 600 }),
      refresh: ({ token }) =>
        grant({ id: 'dee', role: roles.get(token) ?? 'member' }, { expiresAt: Date.now() + 60_000 }),
      authorize: ({ channel, user }) => channel !== 'admin.log' || (user as { role: string }).role === 'admin',
    });
    let n = 0;
    const c = await connectClient(t, s.url, { token: () => `ok:dee:${++n}` });
    const got: string[] = [];
    const admin = c.subscribe('admin.log', (m) => void got.push(`admin:${m.data}`));
    const lobby = c.subscribe('lobby', (m) => void got.push(`lobby:${m.data}`));
    await Promise.all([admin.ready, lobby.ready]);
    const ended = await once<ClientError>(admin, 'ended');
    t.equal(ended.code, 121, 'SUBSCRIPTION_REVOKED');
    t.equal(admin.active, false);
    await s.hub.publish('admin.log', 'secret');
    await s.hub.publish('lobby', 'hello');
    await until(() => got.includes('lobby:hello'));
    t.same(got, ['lobby:hello'], 'the revoked channel delivers nothing');
    t.same(
      s.hub.channels().map((x) => x.channel),
      ['lobby'],
    );
  },
);

t.test('a token provider returning null stops the client with state closed and code 3510', async (t) => {
  const s = await startServer(t, tokenAuth(500));
  let first = true;
  const c = await connectClient(t, s.url, {
    token: () => {
      if (!first) return null;
      first = false;
      return 'ok:eve:1';
    },
  });
  const closed = await once<{ code: number; reason: string }>(c, 'closed');
  t.equal(closed.code, CLOSE.NO_TOKEN);
  t.match(closed.reason, /null/);
  t.equal(c.state, 'closed');
  await until(() => s.hub.connectionCount === 0);

  // The same holds when there is no token at the first connect: no upgrade is even attempted.
  let upgrades = 0;
  s.server.on('upgrade', () => upgrades++);
  const c2 = connect(s.url, { token: () => null });
  t.teardown(() => c2.close());
  t.equal((await once<{ code: number }>(c2, 'closed')).code, CLOSE.NO_TOKEN);
  t.equal(upgrades, 0);
});

t.test('without a refresh hook authenticate runs again with the new token and the original url', async (t) => {
  const seen: Array<{ token?: string; url: string }> = [];
  const s = await startServer(t, {
    authenticate: (req) => {
      seen.push({ token: req.token, url: req.url });
      return req.token === 'bad' ? null : grant('fay', { expiresAt: Date.now() + (seen.length === 1 ? 400 : 60_000) });
    },
  });
  const tokens = ['t1', 't2'];
  const c = await connectClient(t, s.url.replace('/realtime', '/realtime?room=9'), {
    token: () => tokens.shift() ?? 'bad',
  });
  await once(c, 'refreshed');
  t.same(seen, [
    { token: 't1', url: '/realtime?room=9' },
    { token: 't2', url: '/realtime?room=9' },
  ]);
});

t.test(
  'refresh frames are validated: a missing or oversized token gets 101 [REF-2]; a refused one 120 [REF-3]',
  async (t) => {
    const s = await startServer(t, {
      authenticate: () => 'gus',
      refresh: ({ token }) => {
        if (token === 'boom') throw new Error('hook bug');
        if (token === 'no') throw new SwitchyardError('FORBIDDEN');
        return token === 'yes' ? 'gus' : null;
      },
    });
    const ws = new WebSocket(s.url, ['switchyard.v1']);
    t.teardown(() => ws.terminate());
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await once(ws, 'open');
    await until(() => frames.length > 0);
    t.notOk('exp' in frames[0]!, 'a connection without expiry has no exp in welcome');
    const reply = async (frame: object, id: number) => {
      ws.send(JSON.stringify(frame));
      await until(() => frames.some((f) => f.id === id));
      return frames.find((f) => f.id === id)!;
    };
    t.match(await reply({ op: 'refresh', id: 1 }, 1), { op: 'err', code: 101, msg: /\[REF-2\]/ });
    t.match(await reply({ op: 'refresh', id: 2, token: 'x'.repeat(8_193) }, 2), {
      op: 'err',
      code: 101,
      msg: /\[REF-2\]/,
    });
    t.match(await reply({ op: 'refresh', id: 3, token: 'nope' }, 3), { op: 'err', code: 120, msg: /\[REF-3\]/ });
    t.match(await reply({ op: 'refresh', id: 4, token: 'boom' }, 4), { op: 'err', code: 120 });
    t.match(await reply({ op: 'refresh', id: 5, token: 'no' }, 5), { op: 'err', code: 120 });
    t.same(
      await reply({ op: 'refresh', id: 6, token: 'yes' }, 6),
      { op: 'ok', id: 6, res: { subs: [] } },
      'no exp: it no longer expires',
    );
    t.notMatch(JSON.stringify(frames), /nope|boom/, 'tokens never echo back');
  },
);

t.test('grant() validates its options with error 150 naming the option', async (t) => {
  t.throws(() => grant(null), { code: 150, message: /grant user/ });
  t.throws(() => grant('u', { expiresAt: Number.NaN }), { code: 150, message: /expiresAt/ });
  t.throws(() => grant('u', { channels: ['chat.*'] }), { code: 150, message: /channels/ });
  t.throws(() => grant('u', { channels: [{ channel: 'a', qos: 2 as 0 }] }), { code: 150, message: /qos/ });
  t.throws(() => grant('u', { channels: Array.from({ length: 129 }, (_, i) => `c${i}`) }), {
    code: 150,
    message: /at most 128/,
  });
  t.throws(() => new Switchyard({ refreshLead: 0 }), { code: 150, message: /refreshLead/ });
  t.throws(() => new Switchyard({ userId: 'id' as never }), { code: 150, message: /userId/ });
});

t.test(
  'refreshes run one at a time and within the publish rate: 106 [REF-6] beyond, and the hook does not run',
  async (t) => {
    let calls = 0;
    let release: () => void = () => {};
    const s = await startServer(t, {
      authenticate: () => 'hal',
      limits: { publishesPerSecond: 3 },
      refresh: async () => {
        calls++;
        await new Promise<void>((r) => (release = r));
        return 'hal';
      },
    });
    const ws = new WebSocket(s.url, ['switchyard.v1']);
    t.teardown(() => ws.terminate());
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await once(ws, 'open');
    ws.send(JSON.stringify({ op: 'refresh', id: 1, token: 'a' }));
    ws.send(JSON.stringify({ op: 'refresh', id: 2, token: 'b' }));
    await until(() => frames.some((f) => f.id === 2));
    t.match(
      frames.find((f) => f.id === 2),
      { op: 'err', code: 106, msg: /\[REF-6\]/ },
      'a second one while the first runs',
    );
    release();
    await until(() => frames.some((f) => f.id === 1));
    t.match(
      frames.find((f) => f.id === 1),
      { op: 'ok' },
    );
    for (let i = 3; i <= 6; i++) {
      ws.send(JSON.stringify({ op: 'refresh', id: i, token: 'c' }));
      await until(() => frames.some((f) => f.id === i) || calls > i - 2);
      release();
      await until(() => frames.some((f) => f.id === i));
    }
    t.ok(
      frames.some((f) => f.code === 106 && Number(f.id) >= 3),
      'the rate limit refuses some of a burst',
    );
    t.ok(calls < 6, `the hook ran ${calls} times for 6 refresh frames`);
  },
);
