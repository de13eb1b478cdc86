// The one helper each for checks and ids that used to be written out in several files.
import { PassThrough } from 'node:stream';
import t from 'tap';
import { refuseUpgrade } from '../adapters/http.js';
import { newEpoch } from '../lib/epoch.js';
import { isIntIn } from '../lib/integers.js';
import { randomHex } from '../lib/random-id.js';

t.test(
  'isIntIn(v, 1), the positive-integer check of options, accepts safe integers above 0, nothing else',
  async (t) => {
    for (const v of [1, 2, 1_000, Number.MAX_SAFE_INTEGER]) t.ok(isIntIn(v, 1), `${v} is accepted`);
    for (const v of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '5', null, undefined, 5n])
      t.notOk(isIntIn(v, 1), `${String(v)} (${typeof v}) is refused`);
  },
);

t.test('randomHex gives 2 hex characters per byte, different every call; an epoch is 6 bytes', async (t) => {
  t.match(randomHex(12), /^[0-9a-f]{24}$/);
  t.match(newEpoch(), /^[0-9a-f]{12}$/);
  const seen = new Set(Array.from({ length: 1_000 }, () => randomHex(6)));
  t.equal(seen.size, 1_000, 'no repeat in 1,000 draws of 48 bits');
});

t.test("a refused upgrade's status line carries Node's reason phrase for every status", async (t) => {
  for (const [status, phrase] of [
    [401, 'Unauthorized'],
    [429, 'Too Many Requests'],
    [503, 'Service Unavailable'],
  ] as const) {
    const socket = new PassThrough();
    let text = '';
    socket.on('data', (d) => (text += d));
    refuseUpgrade(socket, status, 'no');
    await new Promise((r) => socket.on('end', r).resume());
    t.match(text, new RegExp(`^HTTP/1\\.1 ${status} ${phrase}\\r\\n`), `${status}`);
    t.match(text, /\r\n\r\nno$/, 'the body follows the headers');
  }
});
