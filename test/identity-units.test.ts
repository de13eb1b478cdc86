// Units behind expiry and revocation: when the refresh request goes out, that it goes out once,
// that an unrefreshed connection closes with 3010, and that control messages parse defensively.
import t from 'tap';
import { CLOSE } from '../lib/close-codes.js';
import { ExpiryTable, refreshAskTime, type Expiring } from '../lib/refresh.js';
import { controlMessage, defaultUserId, parseControl, userKey } from '../lib/revocation.js';

function fakeConn() {
  const sent: unknown[] = [];
  const closes: number[] = [];
  const conn = {
    open: true,
    send: (text: string) => void sent.push(JSON.parse(text)),
    close: (code: number) => {
      closes.push(code);
      conn.open = false;
    },
  };
  return { conn: conn as Expiring, sent, closes };
}

t.test('the refresh request goes out refreshLead before expiry, or halfway for a short token', async (t) => {
  t.equal(refreshAskTime(0, 3_600_000, 30_000), 3_570_000);
  t.equal(refreshAskTime(0, 1_000, 30_000), 500);
  t.equal(refreshAskTime(5_000, 4_000, 30_000), 4_000, 'already expired: ask now (the close follows)');
});

t.test('the expiry table asks once, closes with 3010 at expiry, and forgets cleared connections', async (t) => {
  const table = new ExpiryTable(30_000, 0);
  const a = fakeConn();
  const b = fakeConn();
  table.set(a.conn, 1_000, 0);
  table.set(b.conn, 10_000, 0);
  table.check(100);
  t.same(a.sent, [], 'nothing due yet');
  table.check(500);
  t.same(a.sent, [{ op: 'refresh', exp: 500 }]);
  table.check(600);
  t.equal(a.sent.length, 1, 'asked once');
  t.equal(table.remaining(a.conn, 600), 400);
  table.set(b.conn, undefined);
  table.check(1_000);
  t.same(a.closes, [CLOSE.TOKEN_EXPIRED]);
  table.check(20_000);
  t.same(b.sent, [], 'a connection whose expiry was cleared is never asked');
  t.same(b.closes, []);
  t.equal(table.remaining(b.conn), undefined);
});

t.test('a deadline already past when set fires at the next check; a long stall or clock jump loses none', async (t) => {
  const table = new ExpiryTable(30_000, 0);
  const late = fakeConn();
  table.check(50_000);
  table.set(late.conn, 40_000, 50_000);
  table.check(50_100);
  t.same(late.closes, [CLOSE.TOKEN_EXPIRED], 'expired on arrival: closed at the next bucket (at most 100 ms later)');
  const conns = Array.from({ length: 5 }, fakeConn);
  conns.forEach((c, i) => table.set(c.conn, 60_000 + i * 1_000, 50_001));
  table.check(10_000_000); // a jump of hours: only existing buckets are visited
  t.same(
    conns.map((c) => c.closes),
    conns.map(() => [CLOSE.TOKEN_EXPIRED]),
  );
});

t.test('control messages: distinct positions per message, malformed payloads ignored', async (t) => {
  const m1 = controlMessage({ n: 'node', k: 'reauthorize', u: 'u1' });
  const m2 = controlMessage({ n: 'node', k: 'reauthorize', u: 'u1' });
  t.not(m1.offset, m2.offset, 'a broker de-duplicating by position keeps both');
  t.same(parseControl(m1.payload), { n: 'node', k: 'reauthorize', u: 'u1' });
  for (const bad of [
    '',
    'null',
    '{"n":"x","k":"disconnect","code":3502,"reason":"r"}',
    '{"n":"x","k":"unsubscribe","u":"u"}',
    '{"k":"reauthorize","u":"u"}',
    '{"n":"x","k":"__proto__","u":"u"}',
  ]) {
    t.equal(parseControl(bad), undefined, bad);
  }
  t.equal(defaultUserId('ann'), 'ann');
  t.equal(defaultUserId({ id: 7 }), 7);
  t.equal(defaultUserId({ name: 'x' }), undefined);
  t.equal(userKey(7), '7');
  t.equal(userKey(''), undefined);
});
