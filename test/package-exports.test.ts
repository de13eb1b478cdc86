// Users import switchyard by its subpaths from the built package (dist), not from the sources.
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import t from 'tap';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const dist = new URL('../dist/lib/index.js', import.meta.url);

if (!existsSync(dist)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');

t.test('package.json declares ESM, the engines floor and the subpaths of the brief', async (t) => {
  t.equal(pkg.type, 'module');
  t.equal(pkg.engines.node, '>=20.19');
  for (const sub of ['.', './client', './http']) t.ok(pkg.exports[sub], `exports ${sub}`);
  t.match(pkg.devDependencies.typescript, /^~5\.9/);
});

t.test('every exported subpath imports from dist in a plain Node process', async (t) => {
  const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
  for (const sub of subpaths) {
    const spec = sub === '.' ? 'switchyardjs' : `switchyardjs/${sub.slice(2)}`;
    // A separate process without the test's TypeScript loader: exactly what a user runs.
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length)`,
      ],
      {
        cwd: new URL('..', import.meta.url),
        encoding: 'utf8',
      },
    );
    t.equal(r.status, 0, `${spec} imports (${r.stderr.trim().split('\n')[0] ?? ''})`);
    t.ok(Number(r.stdout) > 0, `${spec} has exports`);
  }
});

t.test('the main entry exposes the public names of the brief', async (t) => {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const a = await import('switchyardjs'); const b = await import('switchyardjs/http'); const c = await import('switchyardjs/client'); console.log(typeof a.Switchyard, typeof b.attach, typeof c.connect)",
    ],
    { cwd: new URL('..', import.meta.url), encoding: 'utf8' },
  );
  t.equal(r.stdout.trim(), 'function function function');
});

t.test('importing switchyard loads no ws, framework or Redis code', async (t) => {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { createRequire } from 'node:module'; await import('switchyardjs'); const loaded = Object.keys(createRequire(import.meta.url).cache); console.log(JSON.stringify(loaded))",
    ],
    { cwd: new URL('..', import.meta.url), encoding: 'utf8' },
  );
  const loaded: string[] = JSON.parse(r.stdout || '[]');
  for (const name of ['ws', 'express', 'fastify', 'koa', '@redis', 'redis', 'pg', 'socket.io']) {
    t.notOk(
      loaded.some((p) => p.includes(`/node_modules/${name}/`)),
      `${name} not loaded`,
    );
  }
});

t.test('the browser bundle of the client does not contain ws', async (t) => {
  const bundle = readFileSync(new URL('../dist/browser/switchyard-client.js', import.meta.url), 'utf8');
  t.notMatch(bundle, /node_modules\/ws\//);
  t.notMatch(bundle, /require\(["']ws["']\)/);
  t.match(bundle, /export\s*\{[^}]*connect/);
});
