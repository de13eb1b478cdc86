// The browser bundle of the SDK in real headless Chromium: its token() (a fetch to the backend)
// is called again before the connection expires, the new token travels over the open socket,
// and the page sees every message with no reconnect.
import t from 'tap';
import { grant } from '../../lib/grant.js';
import { haveChromium, launchChromium, servePage } from '../helpers/chromium.js';
import { startServer, until } from '../helpers/server.js';

const page = `<!doctype html><meta charset="utf-8"><body><script type="module">
import { connect } from '/switchyard-client.js';
window.result = { got: [], refreshed: 0, disconnects: 0, tokens: 0 };
const client = connect('ws://' + location.host + '/realtime', {
  token: async () => { window.result.tokens++; return (await fetch('/token')).text(); },
});
client.on('refreshed', () => window.result.refreshed++);
client.on('disconnected', () => window.result.disconnects++);
client.subscribe('feed', (m) => window.result.got.push(m.offset), { qos: 1 }).ready.then(() => (document.body.dataset.ready = 'true'));
</script>`;

if (haveChromium(t)) {
  t.test('in Chromium, a connection living 1.2 s is refreshed in-band while messages flow, none lost', async (t) => {
    let issued = 0;
    const s = await startServer(t, {
      history: { size: 1_000, ttl: 60_000, recoveryCap: 1_000 },
      allowedOrigins: '*',
      authenticate: ({ token }) =>
        token?.startsWith('tok-') ? grant({ id: 'web' }, { expiresAt: Date.now() + 1_200 }) : null,
    });
    servePage(s.server, page, (req, res) => {
      if (req.url !== '/token') return false;
      res.end(`tok-${++issued}`);
      return true;
    });
    const browser = await launchChromium(t);
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`http://127.0.0.1:${s.port}/`);
    await tab.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 15_000 });
    for (let i = 1; i <= 120; i++) {
      await s.hub.publish('feed', i);
      await new Promise((r) => setTimeout(r, 25));
    }
    const read = () =>
      tab.evaluate(
        () =>
          (window as unknown as { result: { got: number[]; refreshed: number; disconnects: number; tokens: number } })
            .result,
      );
    let r = await read();
    const end = Date.now() + 10_000;
    while (r.got.length < 120 && Date.now() < end) r = await read();
    t.same(
      r.got,
      Array.from({ length: 120 }, (_, i) => i + 1),
      'every message once, in order',
    );
    t.ok(r.refreshed >= 2, `refreshed ${r.refreshed} times`);
    t.equal(r.disconnects, 0, 'never reconnected');
    t.equal(r.tokens, issued, 'each token came from the page calling token()');
    await until(() => s.hub.connectionCount === 1);
    t.same(errors, []);
  });
}
