// The resynchronization of a watched channel's remote members after an interrupted event
// subscription, without Redis: what a read of the member hash announces, given what the
// watchers were told and the events that arrived while the read was in flight.
import t from 'tap';
import { AnnouncedMembers, presenceDiff } from '../../adapters/redis/presence-resync.js';

const snap = (...ids: string[]) => new Map(ids.map((id) => [id, `{"n":"${id}"}`] as const));

t.test('the diff joins members the watchers were not told about and leaves those that are gone', async (t) => {
  const d = presenceDiff(new Set(['a', 'b']), snap('b', 'c'), new Set());
  t.same(d.joins, [{ connectionId: 'c', info: '{"n":"c"}' }]);
  t.same(d.leaves, ['a']);
});

t.test('the diff leaves alone members an event spoke about during the read', async (t) => {
  const d = presenceDiff(new Set(['a', 'x']), snap('b'), new Set(['a', 'b']));
  t.same(d.joins, [], 'b joined by an event during the read: not joined again');
  t.same(d.leaves, ['x'], 'a is kept as its event left it; x vanished');
});

t.test('the first read announces nothing: the watchers learnt the members from their own list', async (t) => {
  const m = new AnnouncedMembers();
  m.begin();
  t.same(m.end(snap('a', 'b')), { joins: [], leaves: [] });
  m.begin();
  t.same(m.end(snap('b', 'c')), { joins: [{ connectionId: 'c', info: '{"n":"c"}' }], leaves: ['a'] });
  m.begin();
  t.same(m.end(snap('b', 'c')), { joins: [], leaves: [] }, 'a read that finds what was announced announces nothing');
});

t.test('events update what was announced, so a later read does not repeat them', async (t) => {
  const m = new AnnouncedMembers();
  m.begin();
  m.end(snap('a'));
  m.event(true, 'b');
  m.event(false, 'a');
  m.begin();
  t.same(m.end(snap('b')), { joins: [], leaves: [] });
});

t.test('an event that arrives while a read is in flight is not undone by the read', async (t) => {
  const m = new AnnouncedMembers();
  m.begin();
  m.end(snap('a'));
  m.begin();
  m.event(true, 'late'); // joined after the read passed its place in the hash
  m.event(false, 'a'); // left after the read saw it
  t.same(m.end(snap('a')), { joins: [], leaves: [] }, 'neither a join of a nor a leave of late');
  m.begin();
  t.same(m.end(snap('late')), { joins: [], leaves: [] }, 'and the next read agrees with both events');
});

t.test('a failed read changes nothing; the next one compares with what was announced', async (t) => {
  const m = new AnnouncedMembers();
  m.begin();
  m.end(snap('a'));
  m.begin();
  m.abort();
  m.begin();
  t.same(m.end(snap()), { joins: [], leaves: ['a'] });
});

t.test('past the cap a channel is untracked and announces nothing, until a read finds it under the cap', async (t) => {
  const m = new AnnouncedMembers(2);
  m.begin();
  m.end(snap('a', 'b'));
  t.ok(m.tracked);
  m.event(true, 'c');
  t.notOk(m.tracked, 'a join past the cap stops the tracking (bounded memory)');
  m.begin();
  t.same(m.end(undefined), { joins: [], leaves: [] }, 'a read that hit the cap announces nothing');
  t.notOk(m.tracked);
  m.begin();
  t.same(m.end(snap('a')), { joins: [], leaves: [] }, 'back under the cap: the read only learns the members');
  t.ok(m.tracked);
  m.begin();
  t.same(m.end(snap('a', 'd')).joins, [{ connectionId: 'd', info: '{"n":"d"}' }], 'and the next read resynchronizes');
});

t.test(
  'a member whose leave is on its way (the read deleted a dead node’s member) is left to that event',
  async (t) => {
    const m = new AnnouncedMembers();
    m.begin();
    m.end(snap('a', 'dead'));
    m.begin();
    t.same(m.end(snap('a'), ['dead']), { joins: [], leaves: [] }, 'no leave from the read');
    m.event(false, 'dead');
    m.begin();
    t.same(m.end(snap('a')), { joins: [], leaves: [] }, 'the event removed it');
  },
);
