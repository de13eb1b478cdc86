// Frameworks and prom-client are optional peers: `switchyardjs` and `switchyardjs/http` (with its
// HTTP API, /metrics included) must not load Express, Fastify, Koa or prom-client; only their own subpaths do. Checked on the built package (dist),
// imported by name as a user would, in a fresh process.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The framework packages present in the CommonJS cache after importing `subpaths` in a fresh process. */
function frameworksLoadedBy(subpaths: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    for (const p of ${JSON.stringify(subpaths)}) await import(p);
    const names = Object.keys(createRequire(import.meta.url).cache)
      .map((k) => /node_modules\\/((?:@fastify\\/)?[^/]+)\\//.exec(k)?.[1])
      .filter((n) => ['express', 'fastify', '@fastify/websocket', 'fastify-plugin', 'koa', 'prom-client'].includes(n));
    console.log(JSON.stringify([...new Set(names)].sort()));`;
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }),
  );
}

t.before(() => {
  if (!existsSync(`${root}dist/adapters/koa.js`))
    throw new Error('dist is missing: run `npm run build` first (npm test does)');
});

t.test('importing switchyard and switchyard/http loads no web framework and no prom-client', async (t) => {
  t.same(frameworksLoadedBy(['switchyardjs', 'switchyardjs/http']), []);
});

t.test('each framework subpath loads only its own framework', async (t) => {
  t.same(frameworksLoadedBy(['switchyardjs/express']), ['express']);
  t.same(frameworksLoadedBy(['switchyardjs/fastify']), ['fastify-plugin']);
  t.same(frameworksLoadedBy(['switchyardjs/koa']), []);
});

t.test('only switchyardjs/prometheus loads prom-client', async (t) => {
  t.same(frameworksLoadedBy(['switchyardjs/prometheus']), ['prom-client']);
});
