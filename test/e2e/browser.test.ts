// The demo page in real headless Chromium exchanges messages with a Node client.
import t from 'tap';
import { connect } from '../../adapters/client-node.js';
import { once } from '../helpers/server.js';
import { startExample } from '../helpers/spawn-example.js';
import { haveChromium, launchChromium } from '../helpers/chromium.js';

if (haveChromium(t)) {
  // Lets the test drop the page's WebSocket like a network would and keep it down for a while:
  // while `__offline` is set, new sockets go to a closed port and fail, so the SDK keeps retrying.
  const DROPPABLE = () => {
    const Real = window.WebSocket;
    const w = window as unknown as { __sockets: WebSocket[]; __offline: boolean };
    w.__sockets = [];
    w.__offline = false;
    window.WebSocket = class extends Real {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(w.__offline ? 'ws://127.0.0.1:9/offline' : url, protocols);
        w.__sockets.push(this);
      }
    } as typeof WebSocket;
  };

  t.test(
    'the demo page: history on load, a name per tab, presence, connection state, a visible recovery, no empty messages, no 404',
    async (t) => {
      const demo = await startExample(t, 'examples/http/server.mjs');
      const browser = await launchChromium(t);

      // History on load: two messages stored before any page opened.
      const node = connect(`ws://127.0.0.1:${demo.port}/realtime`, { token: 'node', reconnect: false });
      t.teardown(() => node.close());
      await once(node, 'connected');
      await node.publish('chat.lobby', { from: 'node', text: 'before you came' }, { qos: 1 });
      await node.publish('chat.lobby', { from: 'node', text: 'still here' }, { qos: 1 });

      const context = await browser.newContext();
      await context.addInitScript(DROPPABLE);
      const failed: string[] = [];
      const pageErrors: string[] = [];
      const open = async (query: string) => {
        const page = await context.newPage();
        page.on('pageerror', (e) => pageErrors.push(e.message));
        page.on('response', (r) => void (r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`)));
        page.on('requestfailed', (r) => void (!r.url().startsWith('ws') && failed.push(`failed ${r.url()}`)));
        await page.goto(`${demo.url}/${query}`);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 15_000 });
        return page;
      };
      const alice = await open('?name=alice');
      t.same(
        await alice.locator('#log li').allTextContents(),
        ['node: before you came', 'node: still here'],
        'the history is shown on load, in order',
      );
      t.equal(await alice.locator('#me').textContent(), 'alice');
      t.equal(await alice.locator('#state').textContent(), 'connected');

      // Presence: a second tab with its own (random) name appears in the first tab's list.
      const guest = await open('');
      const guestName = (await guest.locator('#me').textContent())!;
      t.match(guestName, /^guest-[a-z0-9]{1,4}$/, 'a tab without ?name gets a guest name of its own');
      await alice.waitForFunction(
        (n) => Array.from(document.querySelectorAll('#people li')).some((li) => li.textContent === n),
        guestName,
        { timeout: 10_000 },
      );
      t.same(
        (await alice.locator('#people li').allTextContents()).sort(),
        ['alice', guestName].sort(),
        'both tabs are listed by name',
      );

      // Sending: an empty or blank message is not published; a real one carries the tab's name.
      const fromPages: Array<{ from: string; text: string }> = [];
      let arrived: () => void = () => {};
      node.subscribe<{ from: string; text: string }>(
        'chat.lobby',
        (m) => {
          fromPages.push(m.data);
          arrived();
        },
        { since: { offset: 2, epoch: (await node.history('chat.lobby')).position.epoch } },
      );
      await guest.fill('#text', '   ');
      await guest.click('#send button');
      const next = new Promise<void>((r) => (arrived = r));
      await guest.fill('#text', 'hello from chromium');
      await guest.click('#send button');
      await next;
      t.same(
        fromPages,
        [{ from: guestName, text: 'hello from chromium' }],
        'the blank message was not sent; the real one names its tab',
      );
      await alice.waitForSelector(`#log li:has-text("${guestName}: hello from chromium")`, { timeout: 10_000 });

      // A dropped connection: three messages published while alice is away are recovered, and she is told.
      await alice.evaluate(() => {
        const w = window as unknown as { __sockets: WebSocket[]; __offline: boolean };
        w.__offline = true;
        w.__sockets.at(-1)!.close();
      });
      await alice.waitForFunction(() => document.querySelector('#state')!.textContent === 'reconnecting', undefined, {
        timeout: 10_000,
      });
      for (const text of ['one', 'two', 'three'])
        await node.publish('chat.lobby', { from: 'node', text: `missed ${text}` }, { qos: 1 });
      await alice.evaluate(() => void ((window as unknown as { __offline: boolean }).__offline = false));
      await alice.waitForSelector('#log li.note:has-text("recovered 3 messages")', { timeout: 30_000 });
      const log = await alice.locator('#log li').allTextContents();
      const note = log.indexOf('reconnected: recovered 3 messages');
      t.same(
        log.slice(note),
        ['reconnected: recovered 3 messages', 'node: missed one', 'node: missed two', 'node: missed three'],
        'the note, then each missed message once, in order',
      );
      await alice.waitForFunction(() => document.querySelector('#state')!.textContent === 'connected', undefined, {
        timeout: 10_000,
      });

      t.same(failed, [], 'no failed request (no favicon 404)');
      t.same(pageErrors, []);
    },
  );
}
