import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { CLIENT_ERROR } from '../lib/client/errors.js';
import { CLOSE, shouldReconnect } from '../lib/close-codes.js';
import { ERRORS, errorName, SwitchyardError, type ErrorName } from '../lib/errors.js';

const doc = (name: string): string => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

/** Rows `| a | b | ... |` of the first table whose header starts with `firstHeader`. */
function tableRows(text: string, firstHeader: string): string[][] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`| ${firstHeader} |`));
  if (start === -1) return [];
  const rows: string[][] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(
      lines[i]!.slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
  }
  return rows;
}

t.test('docs/errors.md lists exactly the registry, with the same meaning and remedy', async (t) => {
  const rows = tableRows(doc('errors.md'), 'code');
  const fromDoc = rows.map(([code, name, meaning, solve]) => ({ code: Number(code), name, meaning, solve }));
  const fromCode = (Object.keys(ERRORS) as ErrorName[]).map((name) => ({
    code: ERRORS[name].code,
    name,
    meaning: ERRORS[name].message,
    solve: ERRORS[name].solve,
  }));
  t.same(fromDoc, fromCode);
});

t.test('error codes are unique and fall in the documented ranges', async (t) => {
  const codes = Object.values(ERRORS).map((e) => e.code);
  t.equal(new Set(codes).size, codes.length);
  for (const c of codes) t.ok(c >= 100 && c < 300, `code ${c} in 100-299`);
});

t.test('every registry entry round-trips through errorName and SwitchyardError', async (t) => {
  for (const name of Object.keys(ERRORS) as ErrorName[]) {
    t.equal(errorName(ERRORS[name].code), name);
    const e = new SwitchyardError(name, 'detail');
    t.equal(e.code, ERRORS[name].code);
    t.equal(e.reason, name);
    t.match(e.message, ERRORS[name].message);
  }
  t.equal(errorName(999), undefined);
});

t.test('docs/protocol.md lists exactly the close codes of lib/close-codes.ts', async (t) => {
  const rows = tableRows(doc('protocol.md'), 'close code');
  const fromDoc = Object.fromEntries(rows.map(([code, name]) => [name, Number(code)]));
  t.same(fromDoc, { ...CLOSE });
});

t.test('docs/protocol.md documents every error code it cites', async (t) => {
  const text = doc('protocol.md');
  for (const m of text.matchAll(/error (\d{3})\b/g)) t.ok(errorName(Number(m[1])), `error ${m[1]} is in the registry`);
});

t.test('docs/errors.md lists every CLIENT_ERROR code, by name, with its number', async (t) => {
  const rows = tableRows(doc('errors.md'), 'client code');
  for (const [name, code] of Object.entries(CLIENT_ERROR)) {
    const row = rows.find(([codes]) => codes === String(code));
    t.ok(row, `client code ${code} (${name}) has a row of its own`);
    t.match(row?.[1] ?? '', new RegExp(`^\`${name}\`: `), `its meaning starts with its name ${name}`);
  }
  t.same(
    rows.filter(([codes]) => /^\d+$/.test(codes!)).map(([codes]) => Number(codes)),
    Object.values(CLIENT_ERROR),
    'and no other single-code row',
  );
});

t.test('docs/errors.md lists every code the client SDK rejects with that is not a server code', async (t) => {
  const rows = tableRows(doc('errors.md'), 'client code');
  const listed = rows.map(([codes]) => codes!);
  // Codes the SDK creates itself: `new ClientError(<literal or name>` and `stop(`/`shutdown(<literal, CLOSE.X or name>`.
  const dir = new URL('../lib/client/', import.meta.url);
  const src = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(new URL(f, dir), 'utf8'))
    .join('\n');
  const made = new Set<number>();
  const value = (token: string): number => {
    if (/^\d+$/.test(token)) return Number(token);
    const close = /^CLOSE\.(\w+)$/.exec(token);
    if (close) return CLOSE[close[1] as keyof typeof CLOSE];
    const code = CLIENT_ERROR[token as keyof typeof CLIENT_ERROR];
    if (code === undefined) throw new Error(`unknown client error code ${token}`);
    return code;
  };
  for (const m of src.matchAll(
    /new ClientError\((\d+|[A-Z_]+)\b|(?:this|host)\.(?:stop|shutdown)\((\d+|CLOSE\.\w+|[A-Z_]+)\b/g,
  ))
    made.add(value((m[1] ?? m[2])!));
  t.ok(made.size >= 5, `found ${[...made].join(', ')}`);
  const documented = (code: number): boolean =>
    listed.some((cell) =>
      cell!.split(/,\s*/).some((part) => {
        const range = /^(\d+)–(\d+)$/.exec(part);
        return range ? code >= Number(range[1]) && code <= Number(range[2]) : Number(part) === code;
      }),
    );
  // Server codes the SDK raises itself (e.g. 121 for a server-ended subscription) are in the registry table.
  for (const code of made) t.ok(documented(code) || errorName(code) !== undefined, `client code ${code} is documented`);
  // A terminal close rejects pending calls with the close code: every terminal code must be listed.
  const undocumented: number[] = [];
  for (let code = 1000; code < 5000; code++) if (!shouldReconnect(code) && !documented(code)) undocumented.push(code);
  t.same(undocumented, [], 'every terminal close code is documented');
});
