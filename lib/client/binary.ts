/**
 * Bytes in the SDK ([BIN-*] in docs/protocol.md): a publish of a `Uint8Array`, an `ArrayBuffer`
 * or another typed-array view travels as base64 in the frame's `bin` field, and a message or
 * history entry carrying `bin` is handed to the app as a `Uint8Array`. No dependency: `btoa` and
 * `atob` exist in browsers and Node ≥ 16.
 * @module
 */

/** The bytes of `data` when it is binary, else undefined. */
export function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** The payload fields of a `pub` frame: `{ bin }` for bytes, `{ data }` for anything else. */
export function payloadFields(data: unknown): { data: unknown } | { bin: string } {
  const bytes = bytesOf(data);
  if (!bytes) return { data };
  let s = '';
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { bin: btoa(s) };
}

/** The data of a received `msg` frame or history entry: a Uint8Array when it carries `bin`. */
export function dataOf(f: { data?: unknown; bin?: unknown }): unknown {
  if (typeof f.bin !== 'string') return f.data;
  const s = atob(f.bin);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
