// examples/monitoring: the alert rules validate and pass their unit tests under promtool, the
// Grafana dashboard parses, every metric the rules and the dashboard query exists, every alert has
// a runbook section, and /metrics passes `promtool check metrics`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { Switchyard } from '../lib/hub.js';
import { metricFamilies, prometheusText } from '../lib/metrics.js';

const dir = fileURLToPath(new URL('../examples/monitoring/', import.meta.url));
const rules = readFileSync(join(dir, 'alerts.yml'), 'utf8');
const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};
const runbook = readFileSync(new URL('../docs/runbook.md', import.meta.url), 'utf8');
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = promtool.status === 0;
const run = (args: string[], input?: string) => spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', input });

/** Every `switchyard_…` series a PromQL text selects, with the label names its selector uses (job/instance aside). */
function selectors(promql: string): Array<{ name: string; labels: string[] }> {
  const out: Array<{ name: string; labels: string[] }> = [];
  for (const m of promql.matchAll(/\b(switchyard_\w+)(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/(\w+)\s*(=~|!=|!~|=)/g)]
      .map((l) => l[1]!)
      .filter((l) => l !== 'job' && l !== 'instance');
    out.push({ name: m[1]!, labels });
  }
  return out;
}

/** Series names the hub exposes, with the labels each may carry. */
function exposed(): Map<string, Set<string>> {
  const hub = new Switchyard();
  const families = metricFamilies(hub.metrics());
  void hub.close();
  const out = new Map<string, Set<string>>();
  const labelsOf: Record<string, string[]> = {
    switchyard_auth_failures_total: ['status'],
    switchyard_closes_total: ['code'],
    switchyard_family_published_total: ['family'],
    switchyard_family_deliveries_total: ['family'],
    switchyard_engine_errors_total: ['op'],
  };
  for (const f of families) {
    const labels = new Set([...(labelsOf[f.name] ?? []), ...f.samples.flatMap((s) => Object.keys(s.labels))]);
    if (f.type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count'])
        out.set(f.name + suffix, suffix === '_bucket' ? labels : new Set([...labels].filter((l) => l !== 'le')));
    } else out.set(f.name, labels);
  }
  return out;
}

const alertNames = [...rules.matchAll(/^\s+- alert: (\w+)$/gm)].map((m) => m[1]);

t.test('the alert rules and the dashboard query only metrics and labels switchyard exposes', async (t) => {
  const known = exposed();
  const queries = [
    ...[...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]),
    ...dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr)),
  ];
  t.ok(queries.length > 25, `${queries.length} queries`);
  for (const q of queries) {
    for (const s of selectors(q!)) {
      t.ok(known.has(s.name), `${s.name} exists`);
      for (const l of s.labels) t.ok(known.get(s.name)?.has(l), `${s.name} has label ${l}`);
    }
  }
  t.ok(dashboard.panels.length >= 15, 'the dashboard has its panels');
});

t.test('every alert has a runbook section that its annotation names', async (t) => {
  t.ok(alertNames.length >= 10, `${alertNames.length} alerts`);
  for (const name of alertNames) {
    t.match(runbook, new RegExp(`^## ${name}$`, 'm'), `docs/runbook.md has ## ${name}`);
    t.match(rules, new RegExp(`runbook: docs/runbook\\.md#${name!.toLowerCase()}$`, 'm'), `${name} links its section`);
  }
});

if (!havePromtool && process.env.SWITCHYARD_REQUIRE_PROMTOOL !== '1') {
  t.test(
    'promtool checks',
    {
      skip: 'promtool is not installed (Debian: apt-get install prometheus); set SWITCHYARD_REQUIRE_PROMTOOL=1 to make this a failure',
    },
    () => {},
  );
} else {
  t.test('promtool is installed', async (t) => {
    t.equal(
      promtool.status,
      0,
      `promtool --version ran (${promtool.error?.message ?? promtool.stderr ?? ''}); install it with apt-get install prometheus`,
    );
  });

  t.test('promtool check rules accepts the alert rules', async (t) => {
    const r = run(['check', 'rules', 'alerts.yml']);
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.match(r.stdout, `SUCCESS: ${alertNames.length} rules found`);
  });

  t.test('the alert rules pass their promtool unit tests (they fire when they should, and only then)', async (t) => {
    const r = run(['test', 'rules', 'alerts.test.yml']);
    t.equal(r.status, 0, r.stdout + r.stderr);
  });

  t.test('every dashboard query is valid PromQL', async (t) => {
    // promtool has no expression checker: wrap each query in a recording rule and check those.
    const tmp = mkdtempSync(join(tmpdir(), 'switchyard-dash-'));
    t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
    const exprs = dashboard.panels.flatMap((p) =>
      p.targets.map((x) =>
        x.expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.*').replaceAll('$instance', '.*'),
      ),
    );
    const file = join(tmp, 'dashboard-rules.yml');
    writeFileSync(
      file,
      'groups:\n  - name: dashboard\n    rules:\n' +
        exprs.map((e, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(e)}\n`).join(''),
    );
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.match(r.stdout, `SUCCESS: ${exprs.length} rules found`);
  });

  t.test('promtool check metrics accepts the /metrics text of a hub with traffic', async (t) => {
    const hub = new Switchyard({ channels: [{ match: 'chat.*' }], metrics: { sampleEvery: 1 } });
    t.teardown(() => hub.close());
    for (let i = 0; i < 3; i++) await hub.publish('chat.room', i);
    const r = run(['check', 'metrics'], prometheusText(hub.metrics()));
    t.equal(r.status, 0, r.stdout + r.stderr);
    t.equal(r.stdout + r.stderr, '', 'no lint findings');
  });
}
