// switchyardjs/prometheus puts the hub's metrics in the app's prom-client registry, beside the
// app's own metrics and Node's defaults, read at scrape time.
import t from 'tap';
import promClient, { Registry, type OpenMetricsContentType } from 'prom-client';
import { Switchyard } from '../../lib/hub.js';
import { escapeLabelValue, prometheusText } from '../../lib/metrics.js';
import { registerMetrics } from '../../adapters/prometheus.js';
import { fakeClient } from '../helpers/fake-transport.js';

t.test("the registry shows switchyard's metrics next to the app's and Node's default metrics", async (t) => {
  const registry = new Registry();
  promClient.collectDefaultMetrics({ register: registry });
  const orders = new promClient.Counter({ name: 'app_orders_total', help: 'Orders placed.', registers: [registry] });
  orders.inc(3);
  const hub = new Switchyard({ channels: [{ match: 'chat.*' }], metrics: { sampleEvery: 1 } });
  t.teardown(() => hub.close());
  const reg = registerMetrics(hub, { registry });
  t.ok(reg.names.includes('switchyard_connections'));

  let text = await registry.metrics();
  t.match(text, /^app_orders_total 3$/m, "the app's own metric");
  t.match(text, /^process_cpu_user_seconds_total /m, "Node's default metrics");
  t.match(text, /^switchyard_connections 0$/m);
  t.match(text, /^# TYPE switchyard_published_total counter$/m);

  const c = fakeClient(hub);
  await c.subscribe('chat.lobby');
  for (let i = 0; i < 5; i++) await hub.publish('chat.lobby', i);
  text = await registry.metrics();
  t.match(text, /^switchyard_connections 1$/m, 'gauges are read at scrape time');
  t.match(text, /^switchyard_published_total 5$/m);
  t.match(text, /^# TYPE switchyard_delivery_seconds histogram$/m);
  t.match(text, /^switchyard_delivery_seconds_count 5$/m);
  t.match(text, /^switchyard_delivery_seconds_bucket\{le="\+Inf"\} 5$/m);
  t.match(text, /^switchyard_engine_seconds_count\{op="append"\} 5$/m);
  t.match(text, /^switchyard_family_published_total\{family="chat\.\*"\} 5$/m);

  const json = await registry.getMetricsAsJSON();
  t.match(
    json.find((m) => m.name === 'switchyard_published_total'),
    { type: 'counter', values: [{ value: 5 }] },
  );

  registry.resetMetrics();
  t.match(
    await registry.metrics(),
    /^switchyard_published_total 5$/m,
    'resetMetrics() leaves the hub-owned counters alone',
  );
  reg.unregister();
  t.notMatch(await registry.metrics(), /switchyard_/, 'unregister() removes them');
});

t.test('the default registry is used when none is given', async (t) => {
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const reg = registerMetrics(hub, { prefix: 'edge_' });
  t.teardown(() => reg.unregister());
  t.match(await promClient.register.metrics(), /^edge_connections 0$/m);
});

t.test('OpenMetrics registries get counters named once with _total', async (t) => {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  registerMetrics(hub, { registry });
  await hub.publish('x', 1);
  const text = await registry.metrics();
  t.match(text, /^switchyard_published_total 1$/m);
  t.notMatch(text, /_total_total/);
});

t.test('two hubs in one registry need different prefixes; bad options get 150', async (t) => {
  const registry = new Registry();
  const a = new Switchyard();
  const b = new Switchyard();
  t.teardown(() => Promise.all([a.close(), b.close()]));
  registerMetrics(a, { registry });
  t.throws(() => registerMetrics(b, { registry }), { code: 150, message: /prefix.*already registered/ });
  t.doesNotThrow(() => registerMetrics(b, { registry, prefix: 'b_' }));
  t.throws(() => registerMetrics(a, { registry: {} as never }), { code: 150, message: /registry/ });
  t.throws(() => registerMetrics(a, { registry, prefix: '1x' }), { code: 150, message: /prefix/ });
});

t.test('label values are escaped in the plain text exposition', async (t) => {
  t.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const hub = new Switchyard();
  t.teardown(() => hub.close());
  const m = { ...hub.metrics(), families: { 'we"ird\\\n': { published: 1, delivered: 2 } } };
  t.match(prometheusText(m), /^switchyard_family_published_total\{family="we\\"ird\\\\\\n"\} 1$/m);
});
