import t from 'tap';
import { Router } from '../lib/router.js';

const matchAll = (r: Router<string>, ch: string): string[] => {
  const out: string[] = [];
  r.match(ch, (v) => out.push(v));
  return out.sort();
};

t.test('exact channels match only themselves', async (t) => {
  const r = new Router<string>();
  r.add('chat.room1', false, 'a');
  t.same(matchAll(r, 'chat.room1'), ['a']);
  t.same(matchAll(r, 'chat.room2'), []);
});

t.test('"*" matches exactly one segment', async (t) => {
  const r = new Router<string>();
  r.add('chat.*', true, 'star');
  t.same(matchAll(r, 'chat.room1'), ['star']);
  t.same(matchAll(r, 'chat'), []);
  t.same(matchAll(r, 'chat.room1.x'), []);
});

t.test('">" matches one or more trailing segments', async (t) => {
  const r = new Router<string>();
  r.add('orders.>', true, 'gt');
  t.same(matchAll(r, 'orders.eu'), ['gt']);
  t.same(matchAll(r, 'orders.eu.42'), ['gt']);
  t.same(matchAll(r, 'orders'), []);
});

t.test('exact, "*" and ">" subscriptions combine', async (t) => {
  const r = new Router<string>();
  r.add('a.b.c', false, 'exact');
  r.add('a.*.c', true, 'star');
  r.add('a.>', true, 'gt');
  r.add('*.b.*', true, 'stars');
  t.same(matchAll(r, 'a.b.c'), ['exact', 'gt', 'star', 'stars']);
  t.same(matchAll(r, 'a.x.c'), ['gt', 'star']);
});

t.test('removing subscriptions prunes the trie and stops matches', async (t) => {
  const r = new Router<string>();
  r.add('a.*.c', true, 'x');
  r.add('a.>', true, 'y');
  r.remove('a.*.c', true, 'x');
  r.remove('a.>', true, 'y');
  t.equal(r.patternCount, 0);
  t.same(matchAll(r, 'a.b.c'), []);
  r.add('a.b', false, 'e');
  r.remove('a.b', false, 'e');
  t.same([...r.channels()], []);
});

t.test('matching cost does not grow with the number of subscriptions', async (t) => {
  // 20,000 pattern subscriptions on other branches must not be visited when matching.
  const r = new Router<number>();
  for (let i = 0; i < 20_000; i++) r.add(`room${i}.*`, true, i);
  let visited = 0;
  r.match('lobby.x', () => visited++);
  t.equal(visited, 0);
  r.match('room7.x', () => visited++);
  t.equal(visited, 1);
});
