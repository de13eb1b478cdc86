/** Random stream epochs. Uses Web Crypto so the module also loads in the browser client. @module */

/** Returns a new random epoch: 12 hex characters (48 bits), unique for practical purposes. */
export function newEpoch(): string {
  const b = new Uint8Array(6);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
