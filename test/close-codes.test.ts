import t from 'tap';
import { CLOSE, capCloseReason, shouldReconnect, MAX_CLOSE_REASON_BYTES } from '../lib/close-codes.js';
import { backoffDelay } from '../lib/client/backoff.js';

t.test('the reconnect range reconnects and the terminal range stops', async (t) => {
  for (const code of [1001, 1006, 1011, 4000, 4001, 4002, 4003, 4004, 4499]) t.equal(shouldReconnect(code), true, `${code} reconnects`);
  for (const code of [1002, 1003, 1007, 1008, 1009, 4500, 4501, 4502, 4999]) t.equal(shouldReconnect(code), false, `${code} is terminal`);
  for (const [name, code] of Object.entries(CLOSE)) t.equal(shouldReconnect(code), code < 4500, `${name} in its documented range`);
});

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
  t.equal(backoffDelay(0, 500, 20_000, () => 0), 250, 'floor is half the minimum');
  t.equal(backoffDelay(0, 500, 20_000, () => 0.999), 499);
  t.equal(backoffDelay(3, 500, 20_000, () => 0.999), 3996);
  t.equal(backoffDelay(50, 500, 20_000, () => 0.999), 19_980, 'capped at maxDelay');
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(6, 500, 20_000)));
  t.ok(seen.size > 40, 'random, not synchronized');
});
