/**
 * Chooses the binary encoding of the second subprotocol (issue 15) by measurement: msgpackr vs
 * cbor-x, each with its default (structured-clone-free, records-off) settings, against JSON as
 * the baseline. Frames are the protocol's own: a `msg` frame with a small JSON object, with a
 * 1 KB JSON object, with a 1 KB Uint8Array (a Yjs-style update), and a `pub` frame with one.
 * Also reports each library's browser bundle cost (esbuild --minify, gzip -9) for the
 * encode+decode functions the SDK would import.
 *
 *   npm i --no-save msgpackr cbor-x && node --import=@tapjs/typescript/import bench/codec.ts [--ms 400]
 *
 * Each figure is operations per second of one tight loop of `--ms` milliseconds after a warm-up,
 * best of three; compare ratios within one run (the machine is shared).
 */
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const { values } = parseArgs({ options: { ms: { type: 'string', default: '400' } } });
const MS = Number(values.ms);
const require = createRequire(import.meta.url);

interface Codec {
  name: string;
  encode(v: unknown): Uint8Array | string;
  decode(b: Uint8Array | string): unknown;
}

// Untyped on purpose: both libraries are installed only to run this measurement (--no-save).
const { Packr } = require('msgpackr') as {
  Packr: new (o: object) => { pack(v: unknown): Uint8Array; unpack(b: Uint8Array): unknown };
};
// useRecords: false keeps the output plain MessagePack any decoder reads (records are msgpackr-only).
const packr = new Packr({ useRecords: false });
const cbor = require('cbor-x') as {
  Encoder: new (o: object) => { encode(v: unknown): Uint8Array; decode(b: Uint8Array): unknown };
};
const cborx = new cbor.Encoder({ useRecords: false });

const codecs: Codec[] = [
  { name: 'JSON', encode: (v) => JSON.stringify(v), decode: (b) => JSON.parse(b as string) },
  { name: 'msgpackr', encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b as Uint8Array) },
  { name: 'cbor-x', encode: (v) => cborx.encode(v), decode: (b) => cborx.decode(b as Uint8Array) },
];

const bytes1k = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
const obj1k = { user: 'alice', text: 'x'.repeat(900), ts: 1733130000000, tags: ['a', 'b', 'c'], n: 42 };
const frames: Record<string, unknown> = {
  'msg small': {
    op: 'msg',
    ch: 'chat.room1',
    off: 123456,
    ep: 'k3j2h4',
    data: { user: 'alice', text: 'hello', ts: 1733130000000 },
  },
  'msg 1 KB JSON': { op: 'msg', ch: 'chat.room1', off: 123456, ep: 'k3j2h4', data: obj1k },
  'msg 1 KB bytes': { op: 'msg', ch: 'doc.42', off: 123456, ep: 'k3j2h4', data: bytes1k },
  'pub 1 KB bytes': { op: 'pub', id: 7, ch: 'doc.42', qos: 1, mid: 'a1b2c3d4e5f6', data: bytes1k },
};

function rate(fn: () => void): number {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const end = performance.now() + MS;
    while (performance.now() < end) {
      for (let i = 0; i < 200; i++) fn();
      n += 200;
    }
    best = Math.max(best, n / (MS / 1000));
  }
  return best;
}

const fmt = (x: number): string => (x >= 1e6 ? (x / 1e6).toFixed(2) + ' M' : (x / 1e3).toFixed(0) + ' k');

console.log(`| frame | codec | bytes | encode/s | decode/s |`);
console.log(`| --- | --- | ---: | ---: | ---: |`);
for (const [label, frame] of Object.entries(frames)) {
  for (const c of codecs) {
    // JSON cannot carry bytes: it gets them as base64, as a JSON connection would.
    const value =
      c.name === 'JSON' && label.includes('bytes')
        ? { ...(frame as object), data: Buffer.from(bytes1k).toString('base64') }
        : frame;
    const enc = c.encode(value);
    rate(() => c.encode(value)); // warm-up
    const e = rate(() => c.encode(value));
    const d = rate(() => c.decode(enc));
    const size = typeof enc === 'string' ? Buffer.byteLength(enc) : enc.length;
    console.log(`| ${label} | ${c.name} | ${size} | ${fmt(e)} | ${fmt(d)} |`);
  }
}

// Browser cost: what the SDK would bundle for encode + decode.
const esbuild = await import('esbuild');
for (const [name, src] of [
  [
    'msgpackr',
    "import { Packr } from 'msgpackr'; const p = new Packr({ useRecords: false }); export const enc = (v) => p.pack(v); export const dec = (b) => p.unpack(b);",
  ],
  [
    'msgpackr (pack + unpack entries)',
    "import { Packr } from 'msgpackr/pack'; import { Unpackr } from 'msgpackr/unpack'; const p = new Packr({ useRecords: false }); const u = new Unpackr({ useRecords: false }); export const enc = (v) => p.pack(v); export const dec = (b) => u.unpack(b);",
  ],
  [
    'cbor-x',
    "import { Encoder } from 'cbor-x'; const p = new Encoder({ useRecords: false }); export const enc = (v) => p.encode(v); export const dec = (b) => p.decode(b);",
  ],
  [
    'cbor-x (encode + decode entries)',
    "import { Encoder } from 'cbor-x/encode'; import { Decoder } from 'cbor-x/decode'; const p = new Encoder({ useRecords: false }); const u = new Decoder({ useRecords: false }); export const enc = (v) => p.encode(v); export const dec = (b) => u.decode(b);",
  ],
] as const) {
  const out = await esbuild.build({
    stdin: { contents: src, resolveDir: process.cwd() },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
  });
  const code = out.outputFiles[0]!.contents;
  console.log(`${name}: browser bundle ${code.length} B minified, ${gzipSync(code, { level: 9 }).length} B gzip`);
}
