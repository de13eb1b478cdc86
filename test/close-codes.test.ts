import t from 'tap';
import { CLOSE, capCloseReason, shouldReconnect, MAX_CLOSE_REASON_BYTES } from '../lib/close-codes.js';
import { backoffDelay } from '../lib/client/backoff.js';
import { Switchyard } from '../lib/hub.js';
import { readdirSync, readFileSync } from 'node:fs';

t.test(
  'the reconnect halves reconnect and the terminal halves stop, in the library range and the application range alike',
  async (t) => {
    for (const code of [1001, 1006, 1011, 3000, 3001, 3499, 4000, 4001, 4499])
      t.equal(shouldReconnect(code), true, `${code} reconnects`);
    for (const code of [1002, 1003, 1007, 1008, 1009, 1010, 3500, 3999, 4500, 4999])
      t.equal(shouldReconnect(code), false, `${code} is terminal`);
  },
);

t.test(
  "the library's own codes are all in 3000-3999 (1001 aside) and each is in the half its meaning needs",
  async (t) => {
    const terminal = new Set(['TOO_MANY_ERRORS', 'KICKED', 'NO_TOKEN', 'AUTH_REFUSED']);
    for (const [name, code] of Object.entries(CLOSE)) {
      if (name === 'GOING_AWAY') continue;
      t.ok(code >= 3000 && code <= 3999, `${name} (${code}) is in the library range`);
      t.equal(shouldReconnect(code), !terminal.has(name), `${name} ${terminal.has(name) ? 'stops' : 'reconnects'}`);
    }
  },
);

t.test(
  'every close code in the table is documented in docs/protocol.md, and every documented one is in the table',
  async (t) => {
    const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## 4. Close codes'), doc.indexOf('## 5.'));
    const documented = [...section.matchAll(/^\| (\d{4}) \| ([A-Z_]+) \|/gm)].map((m) => [m[2], Number(m[1])]);
    t.same(Object.fromEntries(documented), CLOSE);
  },
);

t.test('every code in the table is sent (or, client side, reported) somewhere in lib/ or adapters/', async (t) => {
  const read = (dir: string): string[] => {
    const base = new URL(dir, import.meta.url);
    return readdirSync(base, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== 'close-codes.ts')
      .map((f) => readFileSync(new URL(f, base), 'utf8'));
  };
  const sources = [...read('../lib/'), ...read('../adapters/')].join('\n');
  for (const name of Object.keys(CLOSE)) t.ok(new RegExp(`CLOSE\\.${name}\\b`).test(sources), `CLOSE.${name} is used`);
});

t.test(
  'hub.disconnect accepts application codes, 1000, 1001 and KICKED, and refuses the library range with a clear error',
  async (t) => {
    const hub = new Switchyard();
    t.teardown(() => hub.close());
    for (const code of [1000, 1001, CLOSE.KICKED, 4000, 4499, 4500, 4999])
      t.equal(hub.disconnect('nobody', code), false, `${code} is accepted`);
    for (const code of [CLOSE.HEARTBEAT_TIMEOUT, CLOSE.SLOW_CONSUMER, 3000, 3999, 1006, 2000, 5000, 4000.5]) {
      t.throws(
        () => hub.disconnect('nobody', code),
        { code: 150, message: /application code from 4000 to 4999/ },
        `${code} is refused`,
      );
    }
  },
);

t.test('close reasons are capped at 123 bytes without splitting a character', async (t) => {
  t.equal(capCloseReason('short'), 'short');
  const ascii = capCloseReason('x'.repeat(500));
  t.equal(Buffer.byteLength(ascii), MAX_CLOSE_REASON_BYTES);
  const euro = capCloseReason('€'.repeat(100)); // 3 bytes each: 41 fit in 123
  t.equal(Buffer.byteLength(euro), 123);
  t.equal(euro, '€'.repeat(41));
  const emoji = capCloseReason('😀'.repeat(40)); // 4 bytes each: 30 fit
  t.equal(emoji, '😀'.repeat(30));
  t.notMatch(emoji, /\uFFFD/);
});

t.test('reconnect delays use full jitter within bounds and grow with attempts', async (t) => {
  t.equal(
    backoffDelay(0, 500, 20_000, () => 0),
    250,
    'floor is half the minimum',
  );
  t.equal(
    backoffDelay(0, 500, 20_000, () => 0.999),
    499,
  );
  t.equal(
    backoffDelay(3, 500, 20_000, () => 0.999),
    3996,
  );
  t.equal(
    backoffDelay(50, 500, 20_000, () => 0.999),
    19_980,
    'capped at maxDelay',
  );
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(6, 500, 20_000)));
  t.ok(seen.size > 40, 'random, not synchronized');
});
