// The admin page in real headless Chromium: it loads, asks for the key, shows the live connection
// count and changes it when a client connects, lists channels, and logs no console error.
import t from 'tap';
import { API_KEY, start } from '../adapters/integrations.js';
import { connectClient } from '../helpers/server.js';
import { haveChromium, launchChromium } from '../helpers/chromium.js';

if (haveChromium(t)) {
  t.test('the admin page shows a live connection count that follows clients connecting', async (t) => {
    const s = await start(t, 'http');
    const browser = await launchChromium(t);
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });

    await page.goto(`${s.api}/admin`);
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
    t.equal(await page.isHidden('#main'), true, 'no data before the key is given');
    await page.fill('#key', API_KEY);
    await page.click('#login button');
    await page.waitForFunction(() => document.getElementById('connections')?.textContent === '0', undefined, {
      timeout: 10_000,
    });
    t.equal(await page.textContent('#state'), 'running');

    const c = await connectClient(t, s.url, { token: 'good' });
    await page.waitForFunction(() => document.getElementById('connections')?.textContent === '1', undefined, {
      timeout: 10_000,
    });
    const sub = c.subscribe('chat.room', () => {});
    await sub.ready;
    for (let i = 0; i < 3; i++) await c.publish('chat.room', { i });
    await page.waitForSelector('#channels td:text-is("chat.room")', { timeout: 10_000 });
    const row = await page.locator('#channels tbody tr').first().locator('td').allTextContents();
    t.same(row.slice(0, 3), ['chat.room', 'chat.*', '1'], 'channel, its rule and subscriber count');
    t.equal(row[4], '3', 'history size');
    await page.waitForSelector('#talkers td:text-is("127.0.0.1")', { timeout: 10_000 });

    c.close();
    await page.waitForFunction(() => document.getElementById('connections')?.textContent === '0', undefined, {
      timeout: 10_000,
    });
    await page.waitForSelector('#closes td:text-is("1000")', { timeout: 10_000 });
    t.same(problems, [], 'no console errors or warnings');
  });

  t.test('a wrong key keeps the data hidden and says so', async (t) => {
    const s = await start(t, 'http');
    const browser = await launchChromium(t);
    const page = await browser.newPage();
    await page.goto(`${s.api}/admin`);
    await page.fill('#key', 'wrong');
    await page.click('#login button');
    await page.waitForFunction(
      () => document.getElementById('login-error')?.textContent === 'that key was refused',
      undefined,
      { timeout: 10_000 },
    );
    t.equal(await page.isHidden('#main'), true);
  });
}
