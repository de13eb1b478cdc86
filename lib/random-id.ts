/**
 * Random identifiers (stream epochs, node ids, message ids) from Web Crypto, so the module loads in
 * the browser client as well as in Node.
 * @module
 */

/** `bytes` random bytes as lowercase hex (`2 * bytes` characters). */
export function randomHex(bytes: number): string {
  const b = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
