// The nearest region in the client SDK: endpoints with region labels, the lowest measured round
// trip first, fallback in order, random choice among about-as-near endpoints, and the failed one
// last. End to end on the two Redis regions: region B's node is 40 ms away (delay proxy on its
// port); the SDK connects to region A's node, and when that node goes away it moves to region B
// and recovers its QoS 1 subscription there with nothing lost.
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { startDelayProxy } from '../helpers/delay-proxy.js';
import { connect } from '../../adapters/client-node.js';
import { nearestEndpoint } from '../../lib/client/nearest.js';
import type { Discontinuity } from '../../lib/client/index.js';
import { redisEngine } from '../../adapters/redis/index.js';
import { needRedis, uniqueKeyPrefix } from './helpers.js';
import { startRegions, waitFor } from './regions.js';

t.test(
  'nearestEndpoint: the lowest round trip first, the rest in order of round trip, unreachable ones last',
  async (t) => {
    const rtt: Record<string, number | undefined> = {
      'ws://a/': 80,
      'ws://b/': 5,
      'ws://c/': undefined,
      'ws://d/': 40,
    };
    const e = nearestEndpoint(
      Object.keys(rtt).map((url) => ({ url, region: url[5] })),
      { spread: 0, probe: async (url) => (rtt[url] === undefined ? Promise.reject(new Error('down')) : rtt[url]!) },
    );
    t.equal(e.current, 'ws://a/', 'before the first measurement: the first given');
    await e.choose();
    t.same([e.current, e.region, e.rtt], ['ws://b/', 'b', 5], 'the nearest is chosen, with its region and round trip');
    t.same(
      [e.next(), e.next(), e.next()],
      ['ws://d/', 'ws://a/', 'ws://c/'],
      'falls back in order of round trip, the unreachable last',
    );
    t.equal(e.measured.get('ws://c/'), undefined, 'an unreachable endpoint has no round trip');
  },
);

t.test(
  'nearestEndpoint: the endpoint that just failed goes last, and about-as-near endpoints are chosen at random',
  async (t) => {
    const probe = async (url: string) => ({ 'ws://a/': 10, 'ws://b/': 12, 'ws://c/': 200 })[url]!;
    const e = nearestEndpoint([{ url: 'ws://a/' }, { url: 'ws://b/' }, { url: 'ws://c/' }], { spread: 0, probe });
    await e.choose();
    t.equal(e.current, 'ws://a/', 'the nearest first');
    e.next(); // a failed
    await e.choose();
    t.equal(e.current, 'ws://b/', 'after a failure the failed endpoint is not chosen again, though nearest');
    const picks = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const f = nearestEndpoint([{ url: 'ws://a/' }, { url: 'ws://b/' }, { url: 'ws://c/' }], { spread: 20, probe });
      await f.choose();
      picks.add(f.current);
    }
    t.same(
      [...picks].sort(),
      ['ws://a/', 'ws://b/'],
      'endpoints within `spread` of the best share the clients; the far one gets none',
    );
  },
);

t.test('nearestEndpoint refuses what it cannot use, saying what to pass', async (t) => {
  t.throws(() => nearestEndpoint([]), /non-empty array/);
  t.throws(() => nearestEndpoint([{ url: 'http://x/' }]), /ws:\/\//);
  t.throws(() => nearestEndpoint([{ url: 'ws://x/' }], { probeTimeout: 0 }), /probeTimeout/);
  t.throws(() => nearestEndpoint([{ url: 'ws://x/' }], { spread: -1 }), /spread/);
});

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'the SDK connects to the nearer region, moves to the other when its node goes away, and recovers there',
    async (t) => {
      const r = await startRegions(t, { delayMs: 40, keyPrefix: uniqueKeyPrefix('rgn') });
      const hub = { history: { size: 1_000, ttl: 600_000 } };
      const a = await startServer(t, { engine: redisEngine(r.nodeA()), ...hub });
      const b = await startServer(t, { engine: redisEngine(r.nodeB()), ...hub });
      // Region B's node is 40 ms away from this client.
      const far = await startDelayProxy(t, b.port, 40);
      const endpoints = nearestEndpoint([
        { url: `ws://127.0.0.1:${far.port}/realtime`, region: 'B' },
        { url: a.url, region: 'A' },
      ]);
      const c = connect(endpoints, { reconnect: { minDelay: 20, maxDelay: 200 } });
      t.teardown(() => c.close());
      const got: number[] = [];
      const gaps: Discontinuity[] = [];
      const sub = c.subscribe('rgn.x', (m) => void got.push(m.offset), { qos: 1 });
      sub.on('discontinuity', (d) => void gaps.push(d));
      await sub.ready;
      t.same(
        [endpoints.region, c.url],
        ['A', a.url],
        `connected to the nearer region (A ${endpoints.measured.get(a.url)?.toFixed(1)} ms, B ${endpoints.measured.get(endpoints.all[0]!)?.toFixed(1)} ms)`,
      );
      t.ok(
        endpoints.rtt !== undefined && endpoints.rtt < endpoints.measured.get(endpoints.all[0]!)!,
        'its measured round trip is the lower',
      );
      for (let i = 0; i < 5; i++) await a.hub.publish('rgn.x', { i });
      await waitFor('5 messages', async () => got.length >= 5);
      // Region A's node goes away; publishing goes on in region B.
      await a.hub.close();
      await new Promise((resolve) => a.server.close(resolve));
      for (let i = 5; i < 10; i++) await b.hub.publish('rgn.x', { i });
      await waitFor('10 messages', async () => got.length >= 10, 15_000);
      t.same([endpoints.region, c.url], ['B', endpoints.all[0]], 'moved to region B');
      t.same(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every message once, in order, across the move');
      t.same(gaps, [], 'no discontinuity: the position from region A recovered in region B');
    },
  );
}
