/**
 * Binary payloads ([BIN-*] in docs/protocol.md). A message's data is either a JSON value or a
 * byte string (`Uint8Array`, `ArrayBuffer`, or any typed-array view, e.g. a Yjs update). Storage
 * and the broker carry a payload as text (their contracts are text, and SQL `text` columns
 * refuse NUL bytes), so bytes are stored as `~` followed by their base64: JSON text never starts
 * with `~`, so the two kinds cannot be confused. Frames carry bytes in a `bin` field (base64)
 * where JSON data would be in `data`. Limits count the bytes themselves, not their base64.
 * @module
 */

/** First character of a stored binary payload. */
export const BINARY_PREFIX = '~';

/** The bytes of `data` when it is binary (a Uint8Array, an ArrayBuffer or another view), else undefined. */
export function binaryOf(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** The stored form of bytes. */
export function binaryPayload(bytes: Uint8Array): string {
  return BINARY_PREFIX + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Whether a stored payload holds bytes. */
export function isBinaryPayload(payload: string): boolean {
  return payload.charCodeAt(0) === 0x7e;
}

/** Bytes of data a stored binary payload holds (what limits count), without decoding it. */
export function binaryLength(payload: string): number {
  const n = payload.length - 1;
  const pad = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  return (n / 4) * 3 - pad;
}

/**
 * The field of a frame or history entry that carries a stored payload, spliced without
 * re-encoding: `"data":<json>` or `"bin":"<base64>"`.
 */
export function payloadField(payload: string): string {
  return isBinaryPayload(payload) ? '"bin":"' + payload.slice(1) + '"' : '"data":' + payload;
}

/** A stored payload as the value the API hands out: a Uint8Array for bytes, else the parsed JSON. */
export function decodePayload(payload: string): unknown {
  if (!isBinaryPayload(payload)) return JSON.parse(payload);
  const b = Buffer.from(payload.slice(1), 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The stored form of a `bin` field a client sent, or undefined when it is not base64. */
export function storedFromBase64(text: string): string | undefined {
  return text.length % 4 === 0 && BASE64.test(text) ? BINARY_PREFIX + text : undefined;
}
