// Presence in the core over fake sockets: membership follows subscriptions, the presence
// request is authorized and bounded, events reach only subscriptions that asked for them.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { ERRORS, SwitchyardError } from '../lib/errors.js';
import { memoryEngine } from '../lib/engine-memory.js';
import type { PresenceStore } from '../lib/engine.js';
import type { AuthorizeRequest, Logger } from '../lib/options.js';
import { MemoryPresence } from '../lib/presence-memory.js';
import { fakeClient } from './helpers/fake-transport.js';

const rooms = { channels: [{ match: 'room.*', presence: true }] };
const cid = (c: ReturnType<typeof fakeClient>): string => c.t.of('welcome')[0].cid;

/** Subscribes and resolves with the reply. */
async function sub(c: ReturnType<typeof fakeClient>, id: number, ch: string, extra: object = {}): Promise<any> {
  c.send({ op: 'sub', id, ch, ...extra });
  return c.reply(id);
}
async function members(c: ReturnType<typeof fakeClient>, id: number, ch: string): Promise<any> {
  c.send({ op: 'presence', id, ch });
  return c.reply(id);
}

function recordingLogger(): Logger & { lines: Array<[string, object, string | undefined]> } {
  const lines: Array<[string, object, string | undefined]> = [];
  const rec = (level: string) => (obj: object, msg?: string) => void lines.push([level, obj, msg]);
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

t.test(
  'a subscribe to a presence channel joins before its reply; the member list shows every subscriber',
  async (t) => {
    const hub = new Switchyard(rooms);
    t.teardown(() => hub.close());
    const a = fakeClient(hub);
    const b = fakeClient(hub);
    t.equal((await sub(a, 1, 'room.1')).op, 'ok');
    t.same(
      (await members(a, 2, 'room.1')).res,
      { members: [{ cid: cid(a) }], truncated: false },
      'the subscriber finds itself right after the reply',
    );
    await sub(b, 1, 'room.1');
    const list = (await members(a, 3, 'room.1')).res;
    t.same(list.members.map((m: any) => m.cid).sort(), [cid(a), cid(b)].sort());
    t.same(await hub.presence('room.1'), {
      members: [{ connectionId: cid(a) }, { connectionId: cid(b) }],
      truncated: false,
    });
    t.same((await hub.presence('room.2')).members, [], 'a presence channel nobody joined is empty');
  },
);

t.test('join and leave events go only to subscriptions that asked, for unsubscribe and disconnect alike', async (t) => {
  const hub = new Switchyard(rooms);
  t.teardown(() => hub.close());
  const watcher = fakeClient(hub);
  const quiet = fakeClient(hub);
  const guest = fakeClient(hub);
  await sub(watcher, 1, 'room.1', { presence: true });
  await sub(quiet, 1, 'room.1');
  t.same(
    watcher.t.of('join').map((f) => f.m.cid),
    [cid(watcher), cid(quiet)],
    'own join first (after the reply), then the next member',
  );
  t.ok(
    watcher.t.frames.findIndex((f) => f.op === 'ok' && f.id === 1) < watcher.t.frames.findIndex((f) => f.op === 'join'),
    'the reply precedes the own join',
  );
  await sub(guest, 1, 'room.1');
  guest.send({ op: 'unsub', id: 2, ch: 'room.1' });
  await guest.reply(2);
  t.same(watcher.t.of('leave'), [{ op: 'leave', ch: 'room.1', m: { cid: cid(guest) } }]);
  quiet.input.closed(1006);
  t.same(
    watcher.t.of('leave').map((f) => f.m.cid),
    [cid(guest), cid(quiet)],
    'a disconnect leaves',
  );
  t.same((await members(watcher, 2, 'room.1')).res.members, [{ cid: cid(watcher) }]);
  t.equal(
    quiet.t.of('join').length + quiet.t.of('leave').length,
    0,
    'a subscription without presence: true gets no events',
  );
  t.equal(guest.t.of('join').length + guest.t.of('leave').length, 0);
});

t.test('a join event is serialized once and the same frame goes to every watcher', async (t) => {
  const hub = new Switchyard(rooms);
  t.teardown(() => hub.close());
  const watchers = [fakeClient(hub), fakeClient(hub), fakeClient(hub)];
  for (const w of watchers) await sub(w, 1, 'room.1', { presence: true });
  const sent: unknown[] = [];
  for (const w of watchers) {
    const orig = w.t.send.bind(w.t);
    w.t.send = (f) => (sent.push(f), orig(f));
  }
  await sub(fakeClient(hub), 1, 'room.1');
  t.equal(sent.length, 3);
  t.ok(sent[0] instanceof Uint8Array, 'prepared bytes');
  t.equal(sent[1], sent[0]);
  t.equal(sent[2], sent[0]);
});

t.test('presenceInfo decides what others see; the raw user never reaches the wire', async (t) => {
  const user = { name: 'ada', token: 'SECRET-TOKEN' };
  const withHook = new Switchyard({ ...rooms, presenceInfo: (u) => ({ name: (u as typeof user).name }) });
  const without = new Switchyard(rooms);
  t.teardown(() => Promise.all([withHook.close(), without.close()]));
  for (const [hub, expected] of [
    [withHook, { name: 'ada' }],
    [without, undefined],
  ] as const) {
    const w = fakeClient(hub, { name: 'bob', token: 'OTHER-SECRET' });
    const a = fakeClient(hub, user);
    await sub(w, 1, 'room.1', { presence: true });
    await sub(a, 1, 'room.1');
    const join = w.t.of('join').find((f) => f.m.cid === cid(a));
    const listed = (await members(w, 2, 'room.1')).res.members.find((m: any) => m.cid === cid(a));
    const fromHub = (await hub.presence('room.1')).members.find((m) => m.connectionId === cid(a));
    if (expected) {
      t.same(join.m, { cid: cid(a), info: expected });
      t.same(listed, { cid: cid(a), info: expected });
      t.same(fromHub, { connectionId: cid(a), info: expected });
    } else {
      t.same(join.m, { cid: cid(a) }, 'no hook: no info at all');
      t.same(listed, { cid: cid(a) });
      t.same(fromHub, { connectionId: cid(a) });
    }
    const wire = JSON.stringify([...w.t.frames, ...a.t.frames]);
    t.notMatch(wire, /SECRET/, 'no token of any user on the wire');
  }
});

t.test(
  'presenceInfo runs once per connection, may be async, and a failing or oversized result fails the subscribe with 200',
  async (t) => {
    let calls = 0;
    const logger = recordingLogger();
    const hub = new Switchyard({
      ...rooms,
      logger,
      limits: { maxPresenceInfoBytes: 64 },
      presenceInfo: async (u) => {
        calls++;
        const kind = (u as { kind: string }).kind;
        if (kind === 'throws') throw new Error('db down');
        if (kind === 'big') return { bio: 'x'.repeat(100) };
        if (kind === 'fn') return () => 1;
        return { kind };
      },
    });
    t.teardown(() => hub.close());
    const ok = fakeClient(hub, { kind: 'ok' });
    await sub(ok, 1, 'room.1');
    await sub(ok, 2, 'room.2');
    t.equal(calls, 1, 'computed once for two joins of one connection');
    t.same((await hub.presence('room.2')).members[0]!.info, { kind: 'ok' });
    for (const kind of ['throws', 'big', 'fn']) {
      const c = fakeClient(hub, { kind });
      t.equal((await sub(c, 1, 'room.1')).code, ERRORS.INTERNAL.code, `${kind}: 200`);
      t.equal((await sub(c, 2, 'other')).op, 'ok', `${kind}: channels without presence are unaffected`);
    }
    t.equal((await hub.presence('room.1')).members.length, 1, 'nobody joined from the failed subscribes');
    t.equal(hub.channels().find((c) => c.channel === 'room.1')?.subscribers, 1, 'and no subscription stayed behind');
    t.ok(
      logger.lines.some(([l, , m]) => l === 'error' && /presenceInfo/.test(m ?? '')),
      'the cause is logged',
    );
  },
);

t.test('the presence request runs authorize with action "presence"; a denial gets 107', async (t) => {
  const asked: AuthorizeRequest[] = [];
  const hub = new Switchyard({
    ...rooms,
    authorize: (req) => (asked.push(req), req.action !== 'presence' || (req.user as { vip?: boolean })?.vip === true),
  });
  t.teardown(() => hub.close());
  const vip = fakeClient(hub, { vip: true });
  const pleb = fakeClient(hub, { vip: false });
  await sub(pleb, 1, 'room.1');
  const denied = await members(pleb, 2, 'room.1');
  t.equal(denied.code, ERRORS.FORBIDDEN.code, 'subscribed is not enough: presence is its own action');
  t.match(denied.msg, /PRES-4/);
  t.equal((await members(vip, 1, 'room.1')).op, 'ok', 'a member is not required to read the list');
  const req = asked.filter((r) => r.action === 'presence');
  t.same(
    req.map((r) => [r.channel, r.user, r.connectionId]),
    [
      ['room.1', { vip: false }, cid(pleb)],
      ['room.1', { vip: true }, cid(vip)],
    ],
    'asked once per request; a plain subscribe does not ask for the presence right',
  );
  const events = await sub(pleb, 3, 'room.2', { presence: true });
  t.equal(
    events.code,
    ERRORS.FORBIDDEN.code,
    'join/leave events reveal the list: asking for them needs the presence right too',
  );
  t.match(events.msg, /PRES-4/);
  t.same((await hub.presence('room.2')).members, [], 'the refused subscribe joined nothing');
  t.equal((await sub(vip, 2, 'room.2', { presence: true })).op, 'ok');
  await t.rejects(hub.presence('room.1', { asUser: { vip: false } }), { code: ERRORS.FORBIDDEN.code });
  t.equal((await hub.presence('room.1', { asUser: { vip: true } })).members.length, 1);
  t.equal((await hub.presence('room.1')).members.length, 1, 'the server reads without authorize');
});

t.test('channels without presence: the request, the sub flag and hub.presence get 117', async (t) => {
  const hub = new Switchyard(rooms);
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  const r = await members(c, 1, 'news');
  t.equal(r.code, ERRORS.PRESENCE_DISABLED.code);
  t.match(r.msg, /PRES-5/);
  t.equal((await sub(c, 2, 'news', { presence: true })).code, ERRORS.PRESENCE_DISABLED.code);
  t.equal(
    (await sub(c, 3, 'room.*', { presence: true })).code,
    ERRORS.PRESENCE_DISABLED.code,
    'patterns have no presence',
  );
  t.equal(c.t.of('err').filter((f) => f.id === undefined).length, 0);
  await t.rejects(hub.presence('news'), { code: ERRORS.PRESENCE_DISABLED.code, message: /presence: true/ });
  await t.rejects(hub.presence('room.*'), { code: ERRORS.BAD_CHANNEL.code });
  await t.rejects(hub.presence('room.1', null as never), { code: ERRORS.BAD_OPTIONS.code });
  t.equal((await sub(c, 4, 'news')).op, 'ok', 'a plain subscribe still works');
});

t.test('a pattern subscription never joins, even when its rule enables presence', async (t) => {
  const hub = new Switchyard(rooms);
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  t.equal((await sub(c, 1, 'room.*')).op, 'ok');
  await hub.publish('room.1', 'x');
  t.same((await hub.presence('room.1')).members, []);
});

t.test('the validator checks presence frames and the sub flag', async (t) => {
  const hub = new Switchyard(rooms);
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  c.send({ op: 'sub', id: 1, ch: 'room.1', presence: 'yes' });
  const bad = await c.reply(1);
  t.equal(bad.code, ERRORS.BAD_FRAME.code);
  t.match(bad.msg, /PRES-2/);
  c.send({ op: 'presence', id: 2, ch: 'room.*' });
  t.equal((await c.reply(2)).code, ERRORS.BAD_CHANNEL.code);
  c.send({ op: 'presence', ch: 'room.1' });
  const noId = await c.t.next((f) => f.op === 'err' && f.id === undefined);
  t.equal(noId.code, ERRORS.BAD_FRAME.code);
  c.send({ op: 'sub', id: 3, ch: 'room.1', presence: false });
  t.equal((await c.reply(3)).op, 'ok', 'presence: false is a plain subscribe');
});

t.test('limits.maxPresenceMembers bounds the list and marks it truncated', async (t) => {
  const hub = new Switchyard({ ...rooms, limits: { maxPresenceMembers: 2 } });
  t.teardown(() => hub.close());
  const cs = [fakeClient(hub), fakeClient(hub), fakeClient(hub)];
  for (const c of cs) await sub(c, 1, 'room.1');
  const res = (await members(cs[0]!, 2, 'room.1')).res;
  t.equal(res.members.length, 2);
  t.equal(res.truncated, true);
  const fromHub = await hub.presence('room.1');
  t.equal(fromHub.members.length, 2);
  t.equal(fromHub.truncated, true);
  cs[2]!.input.closed(1000);
  t.same(await hub.presence('room.1'), {
    members: [{ connectionId: cid(cs[0]!) }, { connectionId: cid(cs[1]!) }],
    truncated: false,
  });
});

t.test('presence options are validated', async (t) => {
  t.throws(() => new Switchyard({ channels: [{ match: 'a', presence: 'yes' as never }] }), {
    code: 150,
    message: /channels\[0\]\.presence must be a boolean/,
  });
  t.throws(() => new Switchyard({ presenceInfo: 'name' as never }), {
    code: 150,
    message: /presenceInfo must be a function/,
  });
  t.throws(() => new Switchyard({ limits: { maxPresenceMembers: 0 } }), { code: 150, message: /maxPresenceMembers/ });
  t.throws(() => new Switchyard({ channels: [{ match: 'a', presense: true } as never] }), {
    code: 150,
    message: /one of .*presence \(unknown key\)/,
  });
});

/** A store whose joins wait until released, to race a subscription's end against its join. */
function gatedStore(): PresenceStore & { release: () => void; inner: MemoryPresence } {
  const inner = new MemoryPresence();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  return {
    inner,
    release: () => open(),
    join: async (ch, id, info) => (await gate, inner.join(ch, id, info)),
    leave: (ch, id) => inner.leave(ch, id),
    members: (ch, n) => inner.members(ch, n),
    close: () => inner.close(),
  };
}

t.test('a subscription that ends while its join is being stored leaves again and is never announced', async (t) => {
  const late = gatedStore();
  const hub2 = new Switchyard({ ...rooms, engine: { ...memoryEngine(), presence: late } });
  t.teardown(() => hub2.close());
  const watcher = fakeClient(hub2);
  const leaver = fakeClient(hub2);
  watcher.send({ op: 'sub', id: 1, ch: 'room.1', presence: true });
  leaver.send({ op: 'sub', id: 1, ch: 'room.1' });
  await new Promise((r) => setImmediate(r));
  leaver.input.closed(1006);
  late.release();
  await watcher.reply(1);
  t.same((await hub2.presence('room.1')).members, [{ connectionId: cid(watcher) }]);
  t.equal(late.inner.channelCount, 1, 'only the watcher is stored');
  t.same(
    watcher.t.of('join').map((f) => f.m.cid),
    [cid(watcher)],
  );
  t.equal(watcher.t.of('leave').length, 0, 'no leave for a join nobody heard of');
});

t.test(
  'a failing presence store fails the subscribe and the request with 201; the engine store is used and closed',
  async (t) => {
    let closed = false;
    const broken: PresenceStore = {
      join: async () => {
        throw new Error('backend down');
      },
      leave: async () => {},
      members: async () => {
        throw new Error('backend down');
      },
      close: async () => void (closed = true),
    };
    const logger = recordingLogger();
    const hub = new Switchyard({ ...rooms, logger, engine: { ...memoryEngine(), presence: broken } });
    const c = fakeClient(hub);
    t.equal((await sub(c, 1, 'room.1')).code, ERRORS.ENGINE_UNAVAILABLE.code);
    t.equal((await members(c, 2, 'room.1')).code, ERRORS.ENGINE_UNAVAILABLE.code);
    await t.rejects(hub.presence('room.1'), SwitchyardError);
    t.same(hub.channels(), [], 'the refused subscription left nothing behind');
    await hub.close();
    t.ok(closed, 'hub.close() closes the presence store');
    t.notOk(
      logger.lines.some(([l]) => l === 'warn'),
      'an engine that brings presence gets no single-node warning',
    );
  },
);

t.test('an engine without a presence store falls back to memory and warns that presence is per node', async (t) => {
  const logger = recordingLogger();
  const hub = new Switchyard({ ...rooms, logger, engine: memoryEngine() });
  t.teardown(() => hub.close());
  t.ok(logger.lines.some(([l, , m]) => l === 'warn' && /each node sees only its own members/.test(m ?? '')));
  const c = fakeClient(hub);
  await sub(c, 1, 'room.1');
  t.equal((await hub.presence('room.1')).members.length, 1);
});

t.test('a subscription that ends after joining but before its reply leaves without a leave event', async (t) => {
  const engine = memoryEngine();
  const state = engine.storage.state.bind(engine.storage);
  let gate: Promise<void> | undefined;
  let open!: () => void;
  engine.storage.state = async (ch) => (await gate, state(ch));
  const hub = new Switchyard({ ...rooms, engine });
  t.teardown(() => hub.close());
  const watcher = fakeClient(hub);
  await sub(watcher, 1, 'room.1', { presence: true });
  gate = new Promise<void>((r) => (open = r));
  const leaver = fakeClient(hub);
  leaver.send({ op: 'sub', id: 1, ch: 'room.1' });
  // Wait for the event (the join reaching the store), bounded, while the stream state is held back.
  for (let i = 0; (await hub.presence('room.1')).members.length < 2; i++) {
    if (i > 10_000) throw new Error('the leaver never joined');
    await new Promise((r) => setImmediate(r));
  }
  leaver.input.closed(1006);
  open();
  t.same((await hub.presence('room.1')).members, [{ connectionId: cid(watcher) }], 'it left');
  t.same(
    watcher.t.of('join').map((f) => f.m.cid),
    [cid(watcher)],
  );
  t.equal(watcher.t.of('leave').length, 0, 'no leave for a join nobody heard of');
  t.equal(leaver.t.of('ok').length, 0);
});

t.test('hub.close() sends no leave events to the watchers it is closing', async (t) => {
  const hub = new Switchyard(rooms);
  const cs = [fakeClient(hub), fakeClient(hub), fakeClient(hub)];
  for (const c of cs) await sub(c, 1, 'room.1', { presence: true });
  // A cooperative peer completes the close handshake right away, which ends its subscriptions.
  await hub.close();
  for (const c of cs) {
    t.equal(c.t.closedWith?.code, 1001);
    t.equal(c.t.of('leave').length, 0);
  }
});
