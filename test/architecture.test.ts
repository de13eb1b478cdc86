// The shape of lib/ that keeps the core changeable: no import circles, no transport, framework or
// Redis imports (adapters/ translate), and a Subscription's state changed only by its own methods.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const libDir = join(root, 'lib');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = tsFiles(libDir);
const name = (f: string): string => relative(root, f);
/** Every module specifier a file imports or re-exports (`from '...'`, `import '...'`, `import('...')`). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

const graph = new Map<string, string[]>();
const external = new Map<string, string[]>();
for (const f of files) {
  const specs = specifiers(readFileSync(f, 'utf8'));
  graph.set(
    name(f),
    specs.filter((s) => s.startsWith('.')).map((s) => name(resolve(dirname(f), s.replace(/\.js$/, '.ts')))),
  );
  external.set(
    name(f),
    specs.filter((s) => !s.startsWith('.')),
  );
}

/** The import circles of a graph, each as the path that closes it. */
function cycles(g: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...path.slice(path.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of [...g.keys()].sort()) if (!state.has(n)) visit(n);
  return found;
}

t.test('the cycle check finds a circle when there is one', async (t) => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  t.same(cycles(g), [['a', 'b', 'c', 'a']]);
  t.same(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});

t.test('lib/ has no import circles (type-only imports included)', async (t) => {
  t.ok(graph.size > 30, 'the scan sees the library');
  t.ok(graph.get('lib/hub.ts')!.includes('lib/hub-services.ts'), 'the scan reads relative imports');
  t.same(cycles(graph), [], 'no module reaches itself through its imports');
});

t.test('lib/ imports no transport, web framework or Redis client: adapters/ translate', async (t) => {
  const forbidden = /^(ws|express|fastify|koa|@koa\/.*|hono|redis|ioredis|@redis\/.*|pg|nats)(\/|$)/;
  const offenders: string[] = [];
  for (const [f, specs] of external) for (const s of specs) if (forbidden.test(s)) offenders.push(`${f} imports ${s}`);
  t.same(offenders, []);
});

t.test('a Subscription changes state only through its own methods', async (t) => {
  const fields = 'state|lastSent|acked|sawLive|dropped|epoch|active|catchingUp|buffered';
  const write = new RegExp(`\\b(?:sub|s)\\.(?:${fields})\\s*(?:=(?!=)|\\+\\+|--|\\+=|-=)`);
  const offenders: string[] = [];
  for (const f of files) {
    if (name(f) === 'lib/delivery.ts') continue;
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (write.test(line)) offenders.push(`${name(f)}:${i + 1}: ${line.trim()}`);
      });
  }
  t.same(offenders, [], 'state changes go through Subscription methods (lib/delivery.ts)');
});

t.test('server→client frames are built only in lib/frames.ts', async (t) => {
  const offenders: string[] = [];
  for (const f of files) {
    const n = name(f);
    // validate.ts builds client→server frames (one op, `refresh`, is named in both directions).
    if (n === 'lib/frames.ts' || n === 'lib/validate.ts' || n.startsWith('lib/client/')) continue;
    const text = readFileSync(f, 'utf8');
    if (
      /['"`]\{"op":/.test(text) ||
      /\bop:\s*'(welcome|ok|err|msg|drop|gap|join|leave|refresh|end|ujoin|uleave|ping)'\s*,/.test(text) ||
      /sendJson\(/.test(text)
    )
      offenders.push(n);
  }
  t.same(offenders, [], 'every server frame goes through an encoder of lib/frames.ts');
});
