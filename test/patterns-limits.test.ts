// Pattern subscriptions cannot be used as a CPU or memory lever (issue 9 item 5): hub-wide caps
// with documented codes (patterns per connection 118, distinct patterns per hub 119, connections
// per hub HTTP 503 / 1013), and a router whose answers equal a reference matcher for random
// patterns. Its cost is measured by bench/patterns.ts, not by a timed test.
import t from 'tap';
import WebSocket from 'ws';
import { Switchyard } from '../lib/hub.js';
import { DEFAULT_LIMITS } from '../lib/options.js';
import { Router } from '../lib/router.js';
import { fakeClient } from './helpers/fake-transport.js';
import { startServer } from './helpers/server.js';
import { prng } from '../tools/loadtest/audience.js';

t.test('defaults: 32 patterns per connection, 256 distinct patterns per hub, 50,000 connections', async (t) => {
  t.equal(DEFAULT_LIMITS.maxPatternsPerConnection, 32);
  t.equal(DEFAULT_LIMITS.maxPatternsPerHub, 256);
  t.equal(DEFAULT_LIMITS.maxConnections, 50_000);
});

t.test('limits.maxPatternsPerConnection: one more pattern gets 118; exact channels still fit', async (t) => {
  const hub = new Switchyard({ limits: { maxPatternsPerConnection: 2 } });
  t.teardown(() => hub.close());
  const c = fakeClient(hub);
  const [a, b, x, exact] = await c.subscribe('a.*', 'b.*', 'c.*', 'd.e');
  t.equal(a.op, 'ok');
  t.equal(b.op, 'ok');
  t.equal(x.code, 118);
  t.match(x.msg, /SUB-10/);
  t.equal(exact.op, 'ok');
});

t.test(
  'limits.maxPatternsPerHub: concurrent subscribes never overshoot; a pattern already in use is still accepted',
  async (t) => {
    const hub = new Switchyard({ limits: { maxPatternsPerHub: 5 } });
    t.teardown(() => hub.close());
    const c1 = fakeClient(hub);
    const c2 = fakeClient(hub);
    const replies = await Promise.all([
      c1.subscribe('p1.*', 'p2.*', 'p3.*', 'p4.*'),
      c2.subscribe('q1.*', 'q2.*', 'q3.*', 'q4.*'),
    ]);
    const all = replies.flat();
    t.equal(all.filter((r) => r.op === 'ok').length, 5, 'exactly the cap accepted');
    t.ok(
      all.filter((r) => r.op === 'err').every((r) => r.code === 119),
      'the rest refused with 119',
    );
    const c3 = fakeClient(hub);
    const [reuse, fresh] = await c3.subscribe('p1.*', 'z.*');
    t.equal(reuse.op, 'ok', 'a pattern in use costs nothing more');
    t.equal(fresh.code, 119);
    // Unsubscribing frees room.
    c1.send({ op: 'unsub', id: 1, ch: 'p1.*' });
    c3.send({ op: 'unsub', id: 2, ch: 'p1.*' });
    await Promise.all([c1.reply(1), c3.reply(2)]);
    const [later] = await c3.subscribe('z.*');
    t.equal(later.op, 'ok');
  },
);

t.test('limits.maxConnections: the next upgrade is refused with HTTP 503 before the handshake', async (t) => {
  const { url, hub } = await startServer(t, { limits: { maxConnections: 2 } });
  const open: WebSocket[] = [];
  t.teardown(() => open.forEach((w) => w.terminate()));
  for (let i = 0; i < 2; i++) {
    const ws = new WebSocket(url, ['switchyard.v1']);
    open.push(ws);
    await new Promise((r) => ws.once('message', r));
  }
  t.equal(hub.connectionCount, 2);
  const third = new WebSocket(url, ['switchyard.v1']);
  third.on('error', () => {});
  open.push(third);
  const status = await new Promise<number>((resolve) =>
    third.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
  );
  t.equal(status, 503);
});

t.test(
  'limits.maxConnections: a connection accepted past the cap by a race is closed with 1013 (try again later)',
  async (t) => {
    const hub = new Switchyard({ limits: { maxConnections: 1 } });
    t.teardown(() => hub.close());
    fakeClient(hub);
    const late = fakeClient(hub);
    t.equal(late.t.closedWith?.code, 1013);
    t.equal(hub.connectionCount, 1);
  },
);

t.test(
  'the router matches exactly what a segment-by-segment reference says, for random patterns and channels',
  async (t) => {
    const rand = prng(9);
    const seg = () => ['a', 'b', 'ab', 'c'][Math.floor(rand() * 4)];
    const reference = (p: string, c: string): boolean => {
      const ps = p.split('.');
      const cs = c.split('.');
      for (let i = 0; i < ps.length; i++) {
        if (ps[i] === '>' && i === ps.length - 1) return cs.length > i;
        if (i >= cs.length || (ps[i] !== '*' && ps[i] !== cs[i])) return false;
      }
      return ps.length === cs.length;
    };
    const r = new Router<string>();
    const patterns = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const n = 1 + Math.floor(rand() * 4);
      const segs = Array.from({ length: n }, () => (rand() < 0.35 ? '*' : seg()));
      if (rand() < 0.3) segs.push('>');
      const p = segs.join('.');
      if (!p.includes('*') && !p.includes('>')) continue;
      patterns.add(p);
      r.add(p, true, p);
    }
    let mismatches = 0;
    for (let i = 0; i < 2_000; i++) {
      const c = Array.from({ length: 1 + Math.floor(rand() * 5) }, seg).join('.');
      const got: string[] = [];
      r.match(c, (v) => got.push(v));
      const want = [...patterns].filter((p) => reference(p, c));
      if (got.sort().join('|') !== want.sort().join('|')) mismatches++;
    }
    t.equal(mismatches, 0, `${patterns.size} patterns, 2,000 channels`);
    for (const p of patterns) r.remove(p, true, p);
    t.equal(r.distinctPatterns, 0, 'nothing left after removing every pattern');
    t.equal(r.patternCount, 0);
  },
);
