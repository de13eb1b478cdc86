// The demo page in real headless Chromium exchanges messages with a Node client.
import t from 'tap';
import { connect, type Message } from '../../adapters/client-node.js';
import { once } from '../helpers/server.js';
import { startExample } from '../helpers/spawn-example.js';
import { haveChromium, launchChromium } from '../helpers/chromium.js';

if (haveChromium(t)) {
  t.test('the demo chat page and a Node client exchange messages both ways', async (t) => {
    const demo = await startExample(t, 'examples/http/server.mjs');
    const browser = await launchChromium(t);
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(demo.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });

    const node = connect(`ws://127.0.0.1:${demo.port}/realtime`, { reconnect: false });
    t.teardown(() => node.close());
    await once(node, 'connected');
    const fromBrowser = new Promise<Message<{ from: string; text: string }>>((resolve) => {
      node.subscribe<{ from: string; text: string }>('chat.lobby', (m) => {
        if (m.data.from === 'browser') resolve(m);
      });
    });
    await page.fill('#text', 'hello from chromium');
    await page.click('#send button');
    const m = await fromBrowser;
    t.equal(m.data.text, 'hello from chromium');

    await node.publish('chat.lobby', { from: 'node', text: 'hello from node' });
    await page.waitForSelector('#log li:has-text("node: hello from node")', { timeout: 10_000 });
    t.equal(await page.locator('#state').textContent(), 'connected');
    t.same(pageErrors, []);
  });
}
