// What `npm pack` ships: built code and types with nothing internal, guides without the generated
// API site, maps only where their sources travel with them, a LICENSE, and a small browser bundle.
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import t from 'tap';

const root = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
if (!existsSync(new URL('dist/browser/switchyard-client.min.js', root)))
  throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');

// --ignore-scripts: list what the tarball holds from the dist `npm test` just built.
const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
const files: string[] =
  packed.status === 0 ? JSON.parse(packed.stdout)[0].files.map((f: { path: string }) => f.path) : [];

t.test('a packed tarball is built first: prepack runs the build', async (t) => {
  t.equal(pkg.scripts.prepack, 'npm run build');
});

t.test(
  'the tarball holds every export target, the bin, the LICENSE and the guides, and nothing generated or internal',
  async (t) => {
    t.equal(packed.status, 0, packed.stderr);
    const targets = Object.values(pkg.exports as Record<string, string | Record<string, string>>).flatMap((v) =>
      typeof v === 'string' ? [v] : Object.values(v),
    );
    for (const target of targets) t.ok(files.includes(target.replace(/^\.\//, '')), `ships ${target}`);
    for (const bin of new Set(Object.values(pkg.bin as Record<string, string>)))
      t.ok(files.includes(bin), `ships bin ${bin}`);
    t.ok(files.includes('dist/tools/loadtest/cli.js'), 'ships the load tester');
    for (const f of [
      'LICENSE',
      'README.md',
      'docs/client.md',
      'docs/errors.md',
      'dist/browser/switchyard-client.min.js',
    ])
      t.ok(files.includes(f), `ships ${f}`);
    t.same(
      files.filter((f) => f.startsWith('docs/api/')),
      [],
      'no generated API site',
    );
    t.same(
      files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
      'no TypeScript sources',
    );
    // A map is only useful with its sources: the shipped maps (client, and its HTTP-streaming module) embed them.
    const maps = [
      'dist/browser/switchyard-client-full.min.js.map',
      'dist/browser/switchyard-client.min.js.map',
      'dist/browser/switchyard-http-stream.min.js.map',
    ];
    t.same(
      files.filter((f) => f.endsWith('.map')),
      maps,
    );
    for (const m of maps) {
      const map = JSON.parse(readFileSync(new URL(m, root), 'utf8'));
      t.equal(map.sourcesContent.length, map.sources.length, `${m} embeds its sources`);
    }
    t.same(
      files.filter((f) => /(^|\/)(test|bench|examples|scripts)\//.test(f)),
      [],
      'no tests, benchmarks, examples or scripts',
    );
  },
);

t.test('the declaration files show no @internal member', async (t) => {
  const hub = readFileSync(new URL('dist/lib/hub.d.ts', root), 'utf8');
  const sub = readFileSync(new URL('dist/lib/client/subscription.d.ts', root), 'utf8');
  const client = readFileSync(new URL('dist/lib/client/index.d.ts', root), 'utf8');
  for (const name of ['publishPayload', 'register', 'catchUpSub', 'readHistory'])
    t.notMatch(hub, new RegExp(`\\b${name}\\(`), `hub.d.ts has no ${name}`);
  for (const name of ['deliver(', 'refused(', 'SubscriptionHost'])
    t.notOk(sub.includes(name), `subscription.d.ts has no ${name}`);
  t.notMatch(client, /\bsendAck\(/, 'client.d.ts has no sendAck');
  t.match(hub, /publish\(/, 'public methods stay');
});

t.test('package.json tells a stranger where the project lives', async (t) => {
  t.equal(pkg.name, 'switchyardjs');
  t.equal(pkg.license, 'MIT');
  t.match(readFileSync(new URL('LICENSE', root), 'utf8'), /^MIT License/);
  t.ok(pkg.repository?.url && pkg.bugs?.url && pkg.homepage, 'repository, bugs, homepage');
  t.ok(Array.isArray(pkg.keywords) && pkg.keywords.includes('websocket'), 'keywords');
  t.notOk(pkg.dependencies['fast-json-stable-stringify'], 'no dependency that nothing imports');
});

// The budget was 6 KB: 5,954 bytes before token refresh and server-side subscriptions
// (issue 16) joined the client, 6,961 after, 7,388 with paced QoS 1 retries (issue 9). Getting
// back under 6 KB needs a smaller emitter than eventemitter3; until then the check holds 8 KB.
const BUNDLE_BUDGET = 8 * 1024;

t.test('the minified browser bundle stays under its gzip budget and exports connect', async (t) => {
  const min = readFileSync(new URL('dist/browser/switchyard-client.min.js', root));
  const gz = gzipSync(min).length;
  t.ok(gz < BUNDLE_BUDGET, `gzip ${gz} bytes < ${BUNDLE_BUDGET}`);
  t.match(min.toString('utf8'), /export\s*\{[^}]*\bconnect\b/);
  t.ok(
    min.length < readFileSync(new URL('dist/browser/switchyard-client.js', root)).length / 1.5,
    'minified is much smaller than the readable bundle',
  );
});
