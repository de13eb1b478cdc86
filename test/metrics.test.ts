// hub.metrics() counts what operators need, and prometheusText() formats it for a scraper.
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { prometheusText } from '../lib/metrics.js';
import { fakeClient } from './helpers/fake-transport.js';

t.test('metrics count connections, subscriptions, publishes, bad frames, closes and auth failures', async (t) => {
  const hub = new Switchyard({ authenticate: (req) => (req.token === 'ok' ? {} : null), limits: { maxBadFrames: 1 } });
  t.teardown(() => hub.close());
  t.equal((await hub.authenticate({ headers: {}, url: '/', raw: null })).ok, false);
  const a = fakeClient(hub);
  const b = fakeClient(hub);
  await Promise.all([a.subscribe('x'), b.subscribe('x', 'y.*')]);
  await hub.publish('x', 1);
  await hub.publish('x', 2);
  let m = hub.metrics();
  t.match(m, {
    connections: 2,
    subscriptions: 3,
    channels: 1,
    published: 2,
    connectionsAccepted: 2,
    authFailures: { 401: 1 },
    badFrames: 0,
  });
  const gone = new Promise((r) => hub.once('disconnect', r));
  a.input.receive('garbage', false);
  a.input.receive('garbage', false);
  await gone;
  m = hub.metrics();
  t.match(m, { connections: 1, subscriptions: 2, badFrames: 2, closes: { 3500: 1 } });
});

t.test('prometheusText renders gauges, counters with _total and labelled series', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  fakeClient(hub);
  await hub.publish('x', 1);
  const text = prometheusText({ ...hub.metrics(), closes: { 1001: 3, 3002: 1 } });
  t.match(text, /^# TYPE switchyard_connections gauge$/m);
  t.match(text, /^switchyard_connections 1$/m);
  t.match(text, /^# TYPE switchyard_published_total counter$/m);
  t.match(text, /^switchyard_published_total 1$/m);
  t.match(text, /^switchyard_closes_total\{code="3002"\} 1$/m);
  t.match(prometheusText(hub.metrics(), 'app_'), /^app_connections 1$/m);
  // A sample line: name, optional {label="escaped value",...}, a number (or +Inf/NaN).
  const sample =
    /^\w+(\{\w+="(?:[^"\\\n]|\\[\\"n])*"(?:,\w+="(?:[^"\\\n]|\\[\\"n])*")*\})? (?:-?\d+(?:\.\d+)?(?:e[-+]?\d+)?|\+Inf|NaN)$/;
  for (const line of text.trim().split('\n'))
    t.match(line, line.startsWith('#') ? /^# (HELP|TYPE) \w+ .+$/ : sample, 'valid exposition line');
});
