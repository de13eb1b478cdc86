// [HS-9] The transport fallback chain on fake transports: the first that opens is used, one that
// failed to open is skipped until `retryAfter` passed and then tried first again, one that stays
// silent is abandoned after `openTimeout`, and the last one's close is what the client sees.
import t from 'tap';
import { fallbackTransport, type NamedTransport } from '../lib/client/fallback.js';
import type { TransportClose } from '../lib/client/transport.js';

type Behaviour = 'open' | 'fail' | 'silent';

function fake(name: string, behaviour: () => Behaviour, log: string[]): NamedTransport {
  return {
    name,
    open(_url, _token, on) {
      log.push(name);
      const b = behaviour();
      if (b === 'open') setImmediate(() => on.open?.());
      if (b === 'fail') setImmediate(() => on.close({ code: 1006, reason: `${name} refused` }));
      return { send: () => true, close: (code, reason) => void setImmediate(() => on.close({ code, reason })) };
    },
  };
}

function attempt(tr: NamedTransport): Promise<'open' | TransportClose> {
  return new Promise(
    (resolve) =>
      void tr.open('ws://x/realtime', undefined, {
        open: () => resolve('open'),
        frame: () => {},
        close: (c) => resolve(c),
      }),
  );
}

t.test('a refused WebSocket hands the attempt to HTTP streaming, and is skipped until retryAfter passed', async (t) => {
  const log: string[] = [];
  let wsWorks = false;
  const chain = fallbackTransport(
    [fake('websocket', () => (wsWorks ? 'open' : 'fail'), log), fake('http-stream', () => 'open', log)],
    1_000,
    60_000,
  );
  t.equal(await attempt(chain), 'open');
  t.same(log, ['websocket', 'http-stream']);
  t.equal(chain.name, 'http-stream', 'the chain names the transport in use');
  t.equal(await attempt(chain), 'open');
  t.same(log, ['websocket', 'http-stream', 'http-stream'], 'the failed WebSocket is skipped on the next attempt');
  // With retryAfter 0 the WebSocket is tried first again on every attempt; once it works it is used.
  const again: string[] = [];
  const retry = fallbackTransport(
    [fake('websocket', () => (wsWorks ? 'open' : 'fail'), again), fake('http-stream', () => 'open', again)],
    1_000,
    0,
  );
  await attempt(retry);
  wsWorks = true;
  await attempt(retry);
  t.same(again, ['websocket', 'http-stream', 'websocket'], 'back on WebSockets once the network allows them');
  t.equal(retry.name, 'websocket');
});

t.test("a silent transport is abandoned after openTimeout; the last one's failure is reported", async (t) => {
  const log: string[] = [];
  const chain = fallbackTransport(
    [fake('websocket', () => 'silent', log), fake('http-stream', () => 'fail', log)],
    30,
    60_000,
  );
  t.same(await attempt(chain), { code: 1006, reason: 'http-stream refused' });
  t.same(log, ['websocket', 'http-stream']);
});
