// [TR-5] in real headless Chromium: the browser bundle of the SDK, refused by `authenticate`,
// learns why (close 3520 with the status in the reason) and stops for good instead of seeing
// only 1006 and reconnecting forever; a Node client is still refused before the upgrade.
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { connect } from '../../adapters/client-node.js';
import { CLOSE } from '../../lib/close-codes.js';
import { SwitchyardError } from '../../lib/errors.js';
import { haveChromium, launchChromium, servePage } from '../helpers/chromium.js';
import { once, startServer } from '../helpers/server.js';

// The page connects with the token from its query (none when absent) and a fast backoff, so a
// reconnect loop would show up as more upgrade requests within a few milliseconds.
const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module">
import { connect } from '/switchyard-client.js';
const token = new URLSearchParams(location.search).get('token');
const r = (window.result = { states: [], disconnects: [], closed: null, ready: null });
const client = connect('ws://' + location.host + '/realtime', {
  ...(token === null ? {} : { token }),
  reconnect: { minDelay: 10, maxDelay: 50 },
});
client.on('state', (s) => r.states.push(s));
client.on('disconnected', (d) => r.disconnects.push(d.willReconnect));
client.on('closed', (c) => {
  r.closed = { code: c.code, reason: c.reason };
  r.finalState = client.state;
});
client.subscribe('feed', () => {}).ready.then(
  () => (r.ready = 'resolved'),
  (e) => (r.ready = { name: e.name, code: e.code, message: e.message }),
);
</script>`;

interface PageResult {
  states: string[];
  disconnects: boolean[];
  closed: { code: number; reason: string } | null;
  finalState?: string;
  ready: 'resolved' | { name: string; code: number; message: string } | null;
}

/** A hub whose `authenticate` admits only `good`, refuses `banned` with 403 and anything else with 401; counts upgrade requests. */
async function refusingHub(t: Parameters<typeof startServer>[0]) {
  const s = await startServer(t, {
    allowedOrigins: '*',
    authenticate: ({ token }) => {
      if (token === 'banned') throw new SwitchyardError('FORBIDDEN');
      return token === 'good' ? { id: 'web' } : null;
    },
  });
  const upgrades: string[] = [];
  s.server.on('upgrade', (req: IncomingMessage) => upgrades.push(String(req.headers['sec-websocket-protocol'] ?? '')));
  servePage(s.server, page);
  return { ...s, upgrades };
}

if (haveChromium(t)) {
  const cases = [
    { name: 'a missing token', query: '', reason: '401 unauthorized' },
    { name: 'a bad token', query: '?token=wrong', reason: '401 unauthorized' },
    { name: 'a forbidden user', query: '?token=banned', reason: '403 forbidden' },
  ];
  for (const c of cases) {
    t.test(
      `[TR-5] in Chromium, a client refused for ${c.name} closes with 3520 "${c.reason}", rejects sub.ready and never reconnects`,
      async (t) => {
        const s = await refusingHub(t);
        const browser = await launchChromium(t);
        const tab = await browser.newPage();
        const errors: string[] = [];
        tab.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
        tab.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)));
        await tab.goto(`http://127.0.0.1:${s.port}/${c.query}`);
        // Bounded: if the server stopped sending 3520 the page would see 1006 and keep reconnecting;
        // the assertions below then say so (closed null, many upgrades) rather than a bare timeout.
        await tab
          .waitForFunction(() => (window as unknown as { result: PageResult }).result.closed !== null, undefined, {
            timeout: 10_000,
          })
          .catch(() => {});
        // A reconnect would come 10-50 ms after the close; give it ten times that to show up.
        await new Promise((r) => setTimeout(r, 500));
        const r = await tab.evaluate(() => (window as unknown as { result: PageResult }).result);
        t.same(r.closed, { code: CLOSE.AUTH_REFUSED, reason: c.reason }, 'the close code and reason say why');
        t.equal(r.finalState, 'closed');
        t.same(r.states, ['closed'], 'straight from connecting to closed, never reconnecting');
        t.same(r.disconnects, [false], 'one disconnected event, saying it will not reconnect');
        t.match(r.ready, { name: 'ClientError', code: CLOSE.AUTH_REFUSED }, 'sub.ready rejects with the refusal');
        t.equal(s.upgrades.length, 1, 'exactly one upgrade request reached the server');
        t.match(s.upgrades[0], /\bswitchyard\.refusal-close\b/, 'the browser asked to be told why');
        t.equal(s.hub.connectionCount, 0, 'the hub never admitted the connection');
        t.same(errors, [], 'no console errors');
      },
    );
  }

  t.test(
    '[TR-3][TR-5] the Node SDK, which does not offer switchyard.refusal-close, is still refused before the upgrade with HTTP 401',
    async (t) => {
      const s = await refusingHub(t);
      const c = connect(s.url, { token: 'wrong', reconnect: { minDelay: 10, maxDelay: 50 } });
      t.teardown(() => c.close());
      const ready = c.subscribe('feed', () => {}).ready;
      const closed = await once<{ code: number; reason: string }>(c, 'closed');
      t.same(
        closed,
        { code: CLOSE.KICKED, reason: 'upgrade refused with HTTP 401' },
        'it read the HTTP status of the refused upgrade',
      );
      await t.rejects(ready, { code: CLOSE.KICKED }, 'sub.ready rejects with the terminal code');
      t.equal(s.upgrades.length, 1, 'no reconnect after the refusal');
      t.notMatch(s.upgrades[0], /refusal-close/, 'it did not ask for the close-code refusal');
    },
  );
}
