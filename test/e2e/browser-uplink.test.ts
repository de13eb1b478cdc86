// [UP-*] Uplink awareness in real headless Chromium. Reconnect backoff is set long (10–20 s) and
// the heartbeat is the default 25 s, so anything that happens within a few seconds below is the
// uplink logic's doing, not a timer's: going offline (CDP network emulation) parks the client in
// state `offline` without attempts; `online` reconnects at once; a page that becomes visible
// again probes its connection and, when the server no longer answers, reconnects at once.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Socket } from 'node:net';
import { haveChromium, launchChromium, servePage } from '../helpers/chromium.js';
import { startServer } from '../helpers/server.js';

const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><body><script type="module">
import { connect } from '/switchyard-client-full.js';
const r = (window.result = { states: [] });
const client = (window.client = connect('ws://' + location.host + '/realtime', { reconnect: { minDelay: 10000, maxDelay: 20000 } }));
client.on('state', (s) => r.states.push([s, performance.now()]));
</script>`;

interface PageResult {
  states: [string, number][];
}

if (haveChromium(t)) {
  t.test(
    'offline parks the client without attempts; online reconnects at once; a resumed page with a dead connection reconnects at once',
    async (t) => {
      const s = await startServer(t);
      servePage(s.server, page, (req, res) => {
        if (!req.url?.startsWith('/switchyard-client-full.js')) return false;
        res
          .setHeader('content-type', 'text/javascript')
          .end(readFileSync(fileURLToPath(new URL('../../dist/browser/switchyard-client-full.js', import.meta.url))));
        return true;
      });
      const connections: string[] = [];
      let onConnection: (() => void) | undefined;
      s.hub.on('connection', (c) => {
        connections.push(c.id);
        onConnection?.();
      });
      const nextConnection = () => new Promise<void>((resolve) => (onConnection = resolve));
      const browser = await launchChromium(t);
      const context = await browser.newContext();
      const tab = await context.newPage();
      let first = nextConnection();
      await tab.goto(`http://127.0.0.1:${s.port}/`);
      await first;
      const states = async () =>
        (await tab.evaluate(() => (window as unknown as { result: PageResult }).result)).states.map((x) => x[0]);
      await tab.waitForFunction(() =>
        (window as unknown as { result: PageResult }).result.states.some((x) => x[0] === 'connected'),
      );

      // Offline: the state says so, and no attempt is made (the upgrade count stays at one).
      await context.setOffline(true);
      await tab.waitForFunction(
        () => (window as unknown as { result: PageResult }).result.states.at(-1)![0] === 'offline',
        undefined,
        { timeout: 5_000 },
      );
      t.same((await states()).slice(-1), ['offline']);

      // Online: connected again at once, not after the 10 s backoff.
      first = nextConnection();
      const back = Date.now();
      await context.setOffline(false);
      await first;
      const took = Date.now() - back;
      t.ok(took < 5_000, `reconnected ${took} ms after online (backoff minDelay is 10,000 ms)`);
      t.equal(connections.length, 2, 'exactly one new connection: no attempts were spent while offline');

      // The server stops reading this connection (a connection that died while the page slept).
      const conn = (s.hub as unknown as { conns: Map<string, { transport: { ws: { _socket: Socket } } }> }).conns.get(
        connections[1]!,
      )!;
      conn.transport.ws._socket.pause();
      const third = nextConnection();
      // Headless Chromium never hides a page and CDP's Page.setWebLifecycleState delivers no
      // freeze/resume events there (checked), so the page's visibility changes as a browser would
      // change it: visibilityState flips and visibilitychange fires at the document.
      await tab.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
      });
      const resumedAt = Date.now();
      await tab.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
        document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
      });
      await third;
      const probeTook = Date.now() - resumedAt;
      t.ok(
        probeTook < 6_000,
        `a dead connection was replaced ${probeTook} ms after the page resumed (heartbeat 25 s, backoff ≥ 10 s)`,
      );
      t.equal(connections.length, 3);
    },
  );
}
