// The load tester's own logic: the per-subscription checker, the verdict, options and audience plan.
import t from 'tap';
import { StreamChecker } from '../../tools/loadtest/checker.js';
import { authFor, isLoopback, parseConfig, UsageError } from '../../tools/loadtest/config.js';
import { channelNames, planAudience } from '../../tools/loadtest/audience.js';
import { buildReport, formatReport, judge, judgePublishes } from '../../tools/loadtest/report.js';
import { emptyTotals, histogram } from '../../tools/loadtest/stats.js';

const E = 'ep1';

t.test('an in-order stream from the subscribe position is fully delivered', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 10, epoch: E });
  for (let o = 11; o <= 20; o++) c.message(o, E);
  t.ok(c.reached({ offset: 20, epoch: E }));
  t.same(c.finish({ offset: 20, epoch: E }), {
    expected: 10,
    delivered: 10,
    lostSilent: 0,
    lostSignalled: 0,
    duplicated: 0,
    outOfOrder: 0,
  });
});

t.test('a skipped offset without a discontinuity counts as a silent loss', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  c.message(3, E);
  t.notOk(c.reached({ offset: 3, epoch: E }), 'a hole keeps the subscription from being done');
  t.match(c.finish({ offset: 3, epoch: E }), { expected: 3, delivered: 2, lostSilent: 1 });
});

t.test('a late arrival of a missing offset counts as out of order, not lost', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  c.message(3, E);
  c.message(2, E);
  t.match(c.finish({ offset: 3, epoch: E }), {
    expected: 3,
    delivered: 3,
    lostSilent: 0,
    outOfOrder: 1,
    duplicated: 0,
  });
});

t.test('a repeated offset counts as a duplicate', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  c.message(2, E);
  c.message(2, E);
  c.message(1, E);
  t.match(c.finish({ offset: 2, epoch: E }), { delivered: 2, duplicated: 2 });
});

t.test('messages the SDK declared lost with a discontinuity count as signalled losses', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  c.discontinuity({ offset: 5, epoch: E });
  c.message(6, E);
  t.match(c.finish({ offset: 6, epoch: E }), { expected: 6, delivered: 2, lostSignalled: 4, lostSilent: 0 });
});

t.test('messages never received by the end of the run are silent losses', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  t.match(c.finish({ offset: 4, epoch: E }), { expected: 4, delivered: 1, lostSilent: 3 });
});

t.test('an epoch change keeps what was expected of the old stream and restarts counting', async (t) => {
  const c = new StreamChecker();
  c.begin({ offset: 0, epoch: E });
  c.message(1, E);
  c.message(2, E);
  c.message(1, 'ep2');
  c.message(2, 'ep2');
  t.match(c.finish({ offset: 2, epoch: 'ep2' }), { expected: 4, delivered: 4, duplicated: 0, lostSilent: 0 });
});

t.test('a subscription that never started expects nothing', async (t) => {
  t.match(new StreamChecker().finish({ offset: 9, epoch: E }), { expected: 0, delivered: 0 });
});

t.test('the verdict fails on any QoS 1 loss, any silent loss, duplicate or reordering', async (t) => {
  const ok = { expected: 5, delivered: 5, lostSilent: 0, lostSignalled: 0, duplicated: 0, outOfOrder: 0 };
  const base = { neverSubscribed: 0, clients: 1, connected: 1 };
  t.same(judge([ok, ok], base, true), []);
  t.same(judge([{ ...ok, lostSignalled: 2, delivered: 3 }, ok], base, true), [], 'signalled QoS 0 drops are allowed');
  t.match(judge([ok, { ...ok, lostSignalled: 1 }], base, true), [/QoS 1: 1 messages lost/]);
  t.match(judge([{ ...ok, lostSilent: 1 }, ok], base, true), [/QoS 0: 1 messages lost without any signal/]);
  t.match(judge([ok, { ...ok, duplicated: 1 }], base, true), [/delivered twice/]);
  t.match(judge([ok, { ...ok, outOfOrder: 1 }], base, true), [/out of order/]);
  t.match(judge([ok, ok], { neverSubscribed: 1, clients: 2, connected: 1 }, true), [/never got a subscription/]);
  t.match(judge([ok, ok], { neverSubscribed: 2, clients: 2, connected: 0 }, false), [
    /no client ever connected \(0 of 2\)/,
    /never got a subscription/,
  ]);
  const none = { ...ok, expected: 0, delivered: 0 };
  t.match(judge([none, none], base, true), [/nothing was checked/]);
});

t.test('the report prints percentiles, per-QoS counts and FAIL lines', async (t) => {
  const cfg = parseConfig(['--spawn-server']);
  if (typeof cfg === 'string') throw new Error('unexpected');
  const totals = emptyTotals();
  totals.qos[1] = { expected: 10, delivered: 9, lostSilent: 1, lostSignalled: 0, duplicated: 0, outOfOrder: 0 };
  totals.closes['1006'] = 3;
  const lat = histogram();
  for (let i = 1; i <= 1000; i++) lat.record(i * 10);
  const r = buildReport(cfg, {
    totals,
    connectLatency: histogram(),
    deliveryLatency: lat,
    publish: { attempted: 10, ok: 10, failed: 0, errors: {}, skippedTicks: 0, latency: histogram() },
    timing: { rampUp: 0, waitingForAudience: 0, publishing: 1000, draining: 0 },
    elapsed: 1000,
  });
  t.equal(r.passed, false);
  // Histograms keep 3 significant figures.
  t.ok(Math.abs(r.deliveryLatencyMs.p50! - 5) < 0.01, `p50 ${r.deliveryLatencyMs.p50} ms`);
  t.ok(Math.abs(r.deliveryLatencyMs.max! - 10) < 0.02, `max ${r.deliveryLatencyMs.max} ms`);
  t.equal(r.deliveries.ratio, 0.9);
  const text = formatReport(r);
  t.match(text, /publish→deliver\s+p50 5\.00/);
  t.match(text, /1006 ×3/);
  t.match(text, /FAIL: QoS 1: 1 messages lost without any signal/);
  t.notOk('apiKey' in r.config, 'the API key never appears in a report');
});

t.test('the report explains failures: refused upgrades, history too small, and keeps credentials out', async (t) => {
  const cfg = parseConfig([
    '--spawn-server',
    '--ramp-up',
    '1',
    '--token',
    'secret-{i}',
    '--cookie',
    'sid=s{i}',
    '--header',
    'X-Tenant: t{i}',
  ]);
  if (typeof cfg === 'string') throw new Error('unexpected');
  t.equal(cfg.rampUp, 1000);
  t.same(cfg.auth, { token: 'secret-{i}', headers: { 'x-tenant': 't{i}', cookie: 'sid=s{i}' } });
  t.same(authFor(cfg.auth, 7), { token: 'secret-7', headers: { 'x-tenant': 't7', cookie: 'sid=s7' } });
  const raw = (totals: ReturnType<typeof emptyTotals>) => ({
    totals,
    connectLatency: histogram(),
    deliveryLatency: histogram(),
    publish: { attempted: 0, ok: 0, failed: 0, errors: {}, skippedTicks: 0, latency: histogram() },
    timing: { rampUp: 1000, waitingForAudience: 5000, publishing: 0, draining: 0 },
    elapsed: 6000,
  });
  const refused = emptyTotals();
  Object.assign(refused, { clients: 3, connected: 0, neverConnected: 3, neverSubscribed: 3 });
  refused.errors['client stopped (close 3502: upgrade refused with HTTP 401)'] = 3;
  const r = buildReport(cfg, raw(refused));
  t.equal(r.passed, false);
  t.match(r.failures, [/no client ever connected \(0 of 3\)/]);
  t.match(r.explanations, [
    /3 clients were refused with HTTP 401 .*--token\/--header\/--cookie given were not accepted/,
  ]);
  const text = formatReport(r);
  t.match(text, /ramp-up 1\.0 \+ 5\.0 waiting for subscriptions/, 'the ramp-up given, and the wait after it apart');
  t.match(text, /nothing was expected/);
  t.notMatch(JSON.stringify(r), /secret|sid=s/, 'credentials never appear in the report');
  t.same(r.config.auth, { token: true, headers: ['x-tenant', 'cookie'] });

  const lost = emptyTotals();
  Object.assign(lost, { clients: 2, connected: 2 });
  lost.qos[1] = { expected: 100, delivered: 60, lostSilent: 0, lostSignalled: 40, duplicated: 0, outOfOrder: 0 };
  lost.discontinuities.unrecoverable = 2;
  const r2 = buildReport(cfg, raw(lost));
  t.match(r2.explanations, [
    /history did not cover what disconnected or paused clients missed .* raise the server's history\.size/,
  ]);
  t.match(formatReport(r2), /WHY: {2}QoS 1 lost, signalled/);

  // Every publish refused: nothing was checked, so the run fails and names the server rule to add.
  t.same(judgePublishes({ attempted: 0, ok: 0, failed: 0 }), []);
  t.same(judgePublishes({ attempted: 5, ok: 1, failed: 4 }), []);
  const ok = emptyTotals();
  Object.assign(ok, { clients: 2, connected: 2 });
  const refusedPublishes = raw(ok);
  refusedPublishes.publish = {
    attempted: 20,
    ok: 0,
    failed: 20,
    errors: { '108 [PUB-7] clients may not publish to loadtest.x.c0': 20 },
    skippedTicks: 0,
    latency: histogram(),
  };
  const r3 = buildReport(cfg, refusedPublishes);
  t.match(r3.failures, [/every publish failed \(20 of 20\): nothing was checked/]);
  t.match(r3.explanations, [/add \{ match: 'loadtest\.>', clientPublish: true \} or use --publish http/]);
});

t.test('options: --version and --help are answered without a target', async (t) => {
  t.equal(parseConfig(['--version']), 'version');
  t.equal(parseConfig(['--help']), 'help');
  t.throws(() => parseConfig(['--spawn-server', '--header', 'no colon']), /--header must look like 'Name: value'/);
});

t.test('options: a non-loopback target is refused unless --allow-remote', async (t) => {
  t.ok(isLoopback('ws://127.0.0.1:3000/x'));
  t.ok(isLoopback('ws://localhost:3000/x'));
  t.ok(isLoopback('ws://[::1]:3000/x'));
  t.notOk(isLoopback('ws://10.0.0.1:3000/x'));
  t.throws(() => parseConfig(['--url', 'ws://example.com/realtime', '--publish', 'client']), /not a loopback address/);
  const cfg = parseConfig(['--url', 'ws://example.com/realtime', '--publish', 'client', '--allow-remote']);
  t.equal(typeof cfg !== 'string' && cfg.allowRemote, true);
});

t.test('options: bad values are refused with what to pass instead', async (t) => {
  t.throws(() => parseConfig([]), UsageError);
  t.throws(() => parseConfig(['--spawn-server', '--clients', '0']), /--clients must be an integer from 1 to 20000/);
  t.throws(() => parseConfig(['--spawn-server', '--qos', '2']), /--qos must be 0, 1 or mixed/);
  t.throws(() => parseConfig(['--spawn-server', '--churn', '1.5']), /--churn must be a number from 0 to 1/);
  t.throws(() => parseConfig(['--spawn-server', '--bogus']), /Unknown option/);
  t.throws(() => parseConfig(['--url', 'ws://127.0.0.1:1/x']), /--publish http needs --api-url/);
  t.equal(parseConfig(['--help']), 'help');
});

t.test('audience: zipf makes the first channel hot and uniform spreads evenly', async (t) => {
  const names = channelNames('r', 10);
  const base = {
    clients: 1000,
    channels: 10,
    zipfExponent: 1,
    qos: 'mixed' as const,
    churn: 0.1,
    pauses: 0.05,
    seed: 7,
  };
  const count = (plans: ReturnType<typeof planAudience>, ch: string): number =>
    plans.filter((p) => p.channel === ch).length;
  const uni = planAudience({ ...base, spread: 'uniform' }, names);
  t.equal(count(uni, names[0]!), 100);
  const zipf = planAudience({ ...base, spread: 'zipf' }, names);
  t.ok(count(zipf, names[0]!) > 3 * count(zipf, names[9]!), 'rank 1 has several times the subscribers of rank 10');
  t.equal(zipf.filter((p) => p.churns).length, 100);
  t.equal(zipf.filter((p) => p.pauses).length, 50);
  t.equal(zipf.filter((p) => p.qos === 1).length, 500);
  t.same(planAudience({ ...base, spread: 'zipf' }, names), zipf, 'the same seed plans the same audience');
});
