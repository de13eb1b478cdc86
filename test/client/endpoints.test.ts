import t from 'tap';
import { roundRobin } from '../../lib/client/endpoints.js';

t.test(
  'the first attempt goes to the first endpoint and each next one to the following, wrapping around',
  async (t) => {
    const e = roundRobin(['ws://a', 'ws://b', 'ws://c']);
    t.equal(e.current, 'ws://a');
    t.same([e.next(), e.next(), e.next(), e.next()], ['ws://b', 'ws://c', 'ws://a', 'ws://b']);
    t.equal(e.current, 'ws://b', 'current is the one next() chose');
    t.same(e.all, ['ws://a', 'ws://b', 'ws://c']);
  },
);

t.test('a single endpoint is tried again and again', async (t) => {
  const e = roundRobin(['ws://only']);
  t.same([e.next(), e.next()], ['ws://only', 'ws://only']);
});

t.test("the list is copied: changing the caller's array later changes nothing", async (t) => {
  const urls = ['ws://a', 'ws://b'];
  const e = roundRobin(urls);
  urls.push('ws://c');
  t.same(e.all, ['ws://a', 'ws://b']);
});
