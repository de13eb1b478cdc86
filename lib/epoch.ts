/** Random stream epochs. @module */
import { randomHex } from './random-id.js';

/** Returns a new random epoch: 12 hex characters (48 bits), unique for practical purposes. */
export function newEpoch(): string {
  return randomHex(6);
}
