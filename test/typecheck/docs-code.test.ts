// Every TypeScript block of README.md and docs/*.md a user would paste compiles under
// `tsc --strict` (module NodeNext) against the built package, imported by its npm name.
//
// Markers (HTML comments right before a block, invisible on GitHub; keep them few):
//   <!-- typecheck: skip (why) -->      the block is deliberately not code (a frame shape, a sketch)
//   <!-- typecheck: continue -->        the block continues the previous checked block of the file
//   <!-- typecheck: declare <TS> -->    ambient names the block uses but a user has in their app
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));
if (!existsSync(`${root}dist/lib/index.d.ts`))
  throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');

/** One code block to check: where it comes from and the module text it becomes. */
export interface DocBlock {
  doc: string;
  line: number;
  lang: string;
  code: string;
  declare: string;
}

const MARKER = /^<!--\s*typecheck:\s*(skip|continue|declare)\b([\s\S]*?)-->\s*$/;

/** Extracts the ts/js blocks of one markdown text, applying the markers. */
export function extractBlocks(doc: string, text: string): DocBlock[] {
  const lines = text.split('\n');
  const out: DocBlock[] = [];
  let pending: { kind: string; arg: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]!.trim());
    if (m) {
      pending.push({ kind: m[1]!, arg: m[2]!.trim() });
      continue;
    }
    const fence = /^```(\w+)?/.exec(lines[i]!);
    if (!fence) {
      if (lines[i]!.trim() !== '') pending = [];
      continue;
    }
    const lang = fence[1] ?? '';
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const markers = pending;
    pending = [];
    if (!['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(lang)) continue;
    if (markers.some((k) => k.kind === 'skip')) continue;
    const declare = markers
      .filter((k) => k.kind === 'declare')
      .map((k) => k.arg)
      .join('\n');
    const prev = out.at(-1);
    if (markers.some((k) => k.kind === 'continue') && prev) {
      prev.code += '\n' + body.join('\n');
      prev.declare += '\n' + declare;
    } else {
      out.push({ doc, line: start + 1, lang, code: body.join('\n'), declare });
    }
  }
  return out;
}

/** Type-checks blocks as separate modules inside the package (so `switchyardjs` self-resolves). */
function typecheck(blocks: DocBlock[]): Map<DocBlock, string[]> {
  const files = new Map<string, { block: DocBlock; text: string; offset: number }>();
  blocks.forEach((block, i) => {
    // `export {}` makes every block a module (top-level await, no clashes between blocks).
    const head = `${block.declare}\nexport {};\n`;
    files.set(`${root}test/.docs-code/block${i}.ts`, {
      block,
      text: head + block.code + '\n',
      offset: head.split('\n').length - 1,
    });
  });
  const options: ts.CompilerOptions = {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => {
    const f = files.get(name);
    return f ? ts.createSourceFile(name, f.text, lang) : getSourceFile(name, lang, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => files.get(name)?.text ?? readFile(name);
  const program = ts.createProgram([...files.keys()], options, host);
  const result = new Map<DocBlock, string[]>(blocks.map((b) => [b, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const f = d.file && files.get(d.file.fileName);
    const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!f) {
      result.get(blocks[0]!)!.push(`(outside the blocks) ${msg}`);
      continue;
    }
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
    result
      .get(f.block)!
      .push(`${f.block.doc} block at line ${f.block.line}, code line ${line - f.offset + 1}: TS${d.code} ${msg}`);
  }
  return result;
}

const docs = [
  'README.md',
  ...readdirSync(`${root}docs`)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const blocks = docs.flatMap((doc) => extractBlocks(doc, readFileSync(`${root}${doc}`, 'utf8')));

t.test(
  'the markers: skip drops a block, continue joins it to the previous one, declare adds ambient names',
  async (t) => {
    const md = [
      '```ts',
      'const a = 1;',
      '```',
      '<!-- typecheck: continue -->',
      '```ts',
      'a;',
      '```',
      '<!-- typecheck: skip (a sketch) -->',
      '```ts',
      'nope(',
      '```',
      '<!-- typecheck: declare declare const x: number; -->',
      '```js',
      'x;',
      '```',
      '```sh',
      'ls',
      '```',
    ].join('\n');
    const got = extractBlocks('x.md', md);
    t.same(
      got.map((b) => [b.line, b.lang, b.code, b.declare.trim()]),
      [
        [1, 'ts', 'const a = 1;\na;', ''],
        [13, 'js', 'x;', 'declare const x: number;'],
      ],
    );
  },
);

// Two blocks that must NOT compile prove the checker and the typing; all blocks are checked in one
// program, because loading the Node, DOM and framework types dominates the cost.
const bad = extractBlocks(
  'bad.md',
  "text\n\n```ts\nimport { Switchyard } from 'switchyardjs';\nconst hub = new Switchyard({ authenticate: ({ raw }) => raw.session });\n```\n",
)[0]!;
const typed = extractBlocks(
  'typed.md',
  '```ts\n' +
    [
      "import { Switchyard } from 'switchyardjs';",
      "import type { KoaAuthRequest } from 'switchyardjs/koa';",
      'const hub = new Switchyard({',
      "  authenticate: ({ raw }: KoaAuthRequest) => (raw.cookies.get('u') ? { id: 'a', admin: false } : null),",
      '  authorize: ({ user }) => user.admin,',
      '  presenceInfo: (user) => user.nope,',
      '});',
      "await hub.history('a', { asUser: { id: 'b', admin: true } });",
      "await hub.history('a', { asUser: 'alice' });",
    ].join('\n') +
    '\n```\n',
)[0]!;
const result = typecheck([...blocks, bad, typed]);

t.test('the checker reports a block that does not compile, with its file and line', async (t) => {
  const errors = result.get(bad)!;
  t.equal(errors.length, 1, errors.join('\n'));
  t.match(errors[0], /bad\.md block at line 3, code line 2: TS2339 Property 'session' does not exist on type 'never'/);
});

t.test(
  'the hub is typed by its user: authorize and presenceInfo see what authenticate returns, raw its adapter type',
  async (t) => {
    const errors = result.get(typed)!;
    t.equal(errors.length, 2, errors.join('\n'));
    t.match(
      errors[0],
      /code line 6: TS2339 Property 'nope' does not exist on type '\{ id: string; admin: boolean; \}'/,
    );
    t.match(errors[1], /code line 9: TS2322 Type 'string' is not assignable/);
  },
);

t.test('every ts/js block of README.md and docs/ compiles under --strict against the built package', async (t) => {
  t.ok(blocks.length >= 15, `found ${blocks.length} blocks`);
  for (const block of blocks) t.equal(result.get(block)!.join('\n'), '', `${block.doc}:${block.line} compiles`);
});
