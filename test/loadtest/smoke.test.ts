// CI smoke run of `switchyard loadtest`: 50 clients, churn and pauses on, QoS 1, about 10 s.
// It fails the build if any QoS 1 message is lost, duplicated or reordered. It runs the built
// CLI (bin/switchyard.mjs -> dist/tools/loadtest), as users do; `npm test` builds first.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function newestSource(): number {
  return Math.max(...readdirSync(`${root}tools/loadtest`).map((f) => statSync(`${root}tools/loadtest/${f}`).mtimeMs));
}

/** Runs the built CLI (`node bin/switchyard.mjs ...args`) as a user would; stopped in teardown if still running. */
async function runCli(
  t: { teardown(fn: () => void): void },
  args: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['bin/switchyard.mjs', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.kill()));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, err };
}

t.test('a churning QoS 1 audience receives every message once and in order', async (t) => {
  let built = 0;
  try {
    built = statSync(`${root}dist/tools/loadtest/cli.js`).mtimeMs;
  } catch {
    /* reported below */
  }
  if (built < newestSource()) {
    t.fail('dist/tools/loadtest is missing or older than tools/loadtest: run `npm run build` first');
    return;
  }
  const args = [
    'loadtest',
    '--spawn-server',
    '--clients',
    '50',
    '--channels',
    '5',
    '--qos',
    '1',
    '--rate',
    '200',
    '--ramp-up',
    '1',
    '--duration',
    '8',
    '--churn',
    '0.3',
    '--churn-interval',
    '2',
    '--pauses',
    '0.1',
    '--pause-interval',
    '2',
    '--pause-length',
    '0.3',
    '--workers',
    '2',
    '--drain',
    '8',
    '--json',
  ];
  const { code, out, err } = await runCli(t, args);
  t.equal(err, '', 'nothing on stderr');
  const report = JSON.parse(out);
  t.same(report.failures, [], 'no correctness failure');
  t.equal(code, 0, 'exit status 0');
  const q1 = report.qos['1'];
  // 200/s for 8 s over 5 channels: 320 messages per channel, all published after every client subscribed.
  t.equal(q1.expected, 50 * 320, 'every client expected every message of its channel');
  t.equal(q1.delivered, q1.expected, 'delivered ÷ expected is 100 %');
  t.equal(q1.lostSilent + q1.lostSignalled, 0, 'nothing lost');
  t.equal(q1.duplicated, 0, 'nothing duplicated');
  t.equal(q1.outOfOrder, 0, 'nothing reordered');
  t.ok(report.clients.forcedDrops > 0, `churn dropped connections (${report.clients.forcedDrops})`);
  t.equal(report.recoveries.failed, 0, 'every resubscribe recovered');
  t.ok(report.recoveries.succeeded > 0, 'recoveries happened');
  t.ok(report.clients.pauses > 0, 'some clients paused');
});

t.test('publishing through the HTTP API with QoS 0 subscribers and pauses passes the checks', async (t) => {
  const args = [
    'loadtest',
    '--spawn-server',
    '--publish',
    'http',
    '--clients',
    '20',
    '--channels',
    '2',
    '--qos',
    '0',
    '--rate',
    '100',
    '--ramp-up',
    '0.5',
    '--duration',
    '2',
    '--pauses',
    '0.2',
    '--pause-interval',
    '0.5',
    '--pause-length',
    '0.2',
    '--json',
  ];
  const { code, out } = await runCli(t, args);
  const report = JSON.parse(out);
  t.same(report.failures, []);
  t.equal(code, 0);
  t.equal(report.publishes.ok, 200, 'every HTTP publish was stored');
  t.equal(report.qos['0'].expected, 20 * 100, 'every subscriber expected its channel');
  t.equal(
    report.qos['0'].delivered + report.qos['0'].lostSignalled,
    report.qos['0'].expected,
    'whatever was not delivered was signalled',
  );
});

t.test('the CLI exits with 2 and says what to do on bad usage', async (t) => {
  const { code, err } = await runCli(t, ['loadtest', '--clients', '5']);
  t.equal(code, 2);
  t.match(err, /pass exactly one of --url/);
});

t.test(
  'against a server with authenticate: per-client tokens and cookies get in; without them the run fails loudly and says why',
  async (t) => {
    const { Switchyard } = await import('../../lib/hub.js');
    const { attach, httpApi } = await import('../../adapters/http.js');
    const { createServer } = await import('node:http');
    const seen = new Set<string>();
    const hub = new Switchyard({
      channels: [{ match: 'loadtest.>', clientPublish: true }],
      // Accepts client i only with token user-i and the matching session cookie.
      authenticate: ({ token, headers }) => {
        const m = /^user-(\d+)$/.exec(token ?? '');
        if (!m || headers.cookie !== `sid=s${m[1]}`) return null;
        seen.add(m[1]!);
        return { id: m[1] };
      },
    });
    const api = httpApi(hub, { apiKey: 'k' });
    const server = createServer((req, res) => void (api(req, res) || res.writeHead(404).end()));
    attach(hub, server, { path: '/realtime' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(async () => {
      await hub.close();
      await new Promise((r) => server.close(r));
    });
    const port = (server.address() as { port: number }).port;
    const run = async (
      extra: string[],
      publish = ['--publish', 'http', '--api-url', `http://127.0.0.1:${port}/realtime/api`, '--api-key', 'k'],
    ): Promise<{ code: number | null; out: string; err: string }> => {
      const args = [
        'loadtest',
        '--url',
        `ws://127.0.0.1:${port}/realtime`,
        ...publish,
        '--clients',
        '6',
        '--channels',
        '2',
        '--rate',
        '50',
        '--ramp-up',
        '0.3',
        '--duration',
        '1',
        '--drain',
        '3',
        '--workers',
        '1',
        ...extra,
      ];
      return runCli(t, args);
    };

    const ok = await run(['--token', 'user-{i}', '--cookie', 'sid=s{i}', '--json']);
    const report = JSON.parse(ok.out);
    t.same(report.failures, []);
    t.equal(ok.code, 0);
    t.equal(report.clients.connected, 6);
    t.same([...seen].sort(), ['0', '1', '2', '3', '4', '5'], 'each client presented its own token');
    t.equal(report.qos['1'].delivered, report.qos['1'].expected);
    t.ok(report.qos['1'].expected > 0);

    const refused = await run([]);
    t.equal(refused.code, 1, 'exit status 1');
    t.match(refused.out, /FAIL: no client ever connected \(0 of 6\)/);
    t.match(
      refused.out,
      /WHY: {2}6 clients were refused with HTTP 401 .* pass credentials it accepts with --token, --header or --cookie/,
    );
    t.match(refused.out, /ramp-up 0\.3/);

    const noPublisher = await run([], ['--publish', 'client']);
    t.equal(noPublisher.code, 1);
    t.equal(noPublisher.err.trim().split('\n').length, 1, 'one line, no stack trace');
    t.match(
      noPublisher.err,
      /a --publish client connection was closed \(3502 upgrade refused with HTTP 401\).*pass credentials with --token, --header or --cookie/,
    );
  },
);

t.test('--version prints the package version', async (t) => {
  const version = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version;
  for (const args of [['--version'], ['loadtest', '--version']]) {
    const { code, out } = await runCli(t, args);
    t.equal(code, 0);
    t.equal(out, `switchyard ${version}\n`, args.join(' '));
  }
});
