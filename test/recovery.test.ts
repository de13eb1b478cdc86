// The recovery decision as a table: one row per case, each a behaviour sentence. Subscribe, history
// and catch-up all take their answer from lib/recovery.ts, so these rows are the whole rule.
import t from 'tap';
import type { StreamState } from '../lib/engine.js';
import { catchUpGap, discontinuity, historyStart, subscribeStart } from '../lib/recovery.js';

// A stream in epoch "e1" holding offsets 41..50 (40 and older were trimmed).
const state: StreamState = { offset: 50, epoch: 'e1', earliest: 41 };
const at = (offset: number, epoch = 'e1') => ({ offset, epoch });

t.test('discontinuity: whether continuing after a position is gap-free', async (t) => {
  const rows: Array<[string, ReturnType<typeof discontinuity>, ReturnType<typeof discontinuity>]> = [
    ['a position at the head continues without a gap', discontinuity(at(50), state), undefined],
    ['a position just before the oldest kept message continues without a gap', discontinuity(at(40), state), undefined],
    ['a position older than that lost messages to trimming', discontinuity(at(39), state), 'trimmed'],
    ['a position of another epoch is a reset, wherever its offset', discontinuity(at(45, 'e0'), state), 'reset'],
    ['a position past the head of the same epoch is ahead of the store', discontinuity(at(51), state), 'ahead'],
    ['a position within the recovery cap continues', discontinuity(at(45), state, 5), undefined],
    ['a position further behind than the cap is refused as cap', discontinuity(at(44), state, 5), 'cap'],
    ['trimming is reported before the cap', discontinuity(at(30), state, 5), 'trimmed'],
    [
      'an empty stream (earliest past the head) is resumed at its head',
      discontinuity(at(7), { offset: 7, epoch: 'e1', earliest: 8 }),
      undefined,
    ],
  ];
  for (const [sentence, got, want] of rows) t.equal(got, want, sentence);
});

t.test('subscribe: where a subscription starts and what its reply says', async (t) => {
  const rows: Array<[string, ReturnType<typeof subscribeStart>, ReturnType<typeof subscribeStart>]> = [
    [
      'without since it starts at the head, not recovered',
      subscribeStart(undefined, state, 100),
      { recovered: false, start: 50, position: at(50) },
    ],
    [
      'a covered since is recovered and replays from there',
      subscribeStart(at(42), state, 100),
      { recovered: true, start: 42, position: at(50) },
    ],
    [
      'a trimmed since starts at the head and says trimmed',
      subscribeStart(at(10), state, 100),
      { recovered: false, reason: 'trimmed', start: 50, position: at(50) },
    ],
    [
      'a since beyond the cap starts at the head and says cap',
      subscribeStart(at(42), state, 3),
      { recovered: false, reason: 'cap', start: 50, position: at(50) },
    ],
    [
      'a since past the head is reported as reset and starts at the head',
      subscribeStart(at(60), state, 100),
      { recovered: false, reason: 'reset', start: 50, position: at(50) },
    ],
    [
      'a since of another epoch replays the new epoch from its oldest kept message',
      subscribeStart(at(60, 'e0'), state, 100),
      { recovered: false, reason: 'reset', start: 40, position: at(40) },
    ],
    [
      'that replay after a reset is bounded by the cap',
      subscribeStart(at(60, 'e0'), state, 4),
      { recovered: false, reason: 'reset', start: 46, position: at(46) },
    ],
  ];
  for (const [sentence, got, want] of rows) t.same(got, want, sentence);
});

t.test('history: where a page starts and whether it is complete', async (t) => {
  const rows: Array<[string, ReturnType<typeof historyStart>, ReturnType<typeof historyStart>]> = [
    [
      'without since the page holds the latest limit messages',
      historyStart(undefined, state, 5),
      { after: 45, complete: true },
    ],
    [
      'without since and a large limit it starts at the oldest kept',
      historyStart(undefined, state, 100),
      { after: 40, complete: true },
    ],
    ['a covered since reads after it, complete', historyStart(at(44), state, 5), { after: 44, complete: true }],
    [
      'a trimmed since reads from the oldest kept, incomplete',
      historyStart(at(3), state, 5),
      { after: 40, complete: false },
    ],
    [
      'a since of another epoch reads from the oldest kept, incomplete',
      historyStart(at(44, 'e0'), state, 5),
      { after: 40, complete: false },
    ],
    [
      'a since past the head is incomplete (history has no cap)',
      historyStart(at(51), state, 5),
      { after: 40, complete: false },
    ],
  ];
  for (const [sentence, got, want] of rows) t.same(got, want, sentence);
});

t.test('catch-up: whether a subscription lost continuity', async (t) => {
  const rows: Array<[string, ReturnType<typeof catchUpGap>, ReturnType<typeof catchUpGap>]> = [
    ['a subscriber within history has no gap', catchUpGap(45, 'e1', state), undefined],
    ['a subscriber behind the oldest kept message has a trimmed gap', catchUpGap(20, 'e1', state), 'trimmed'],
    ['a subscriber on another epoch has a reset gap', catchUpGap(45, 'e0', state), 'reset'],
    [
      'a subscriber past the head has no gap: the store may not show yet what the bus delivered',
      catchUpGap(52, 'e1', state),
      undefined,
    ],
    ['a subscriber far behind has no cap: catch-up replays whatever is kept', catchUpGap(40, 'e1', state), undefined],
  ];
  for (const [sentence, got, want] of rows) t.equal(got, want, sentence);
});
