/**
 * The one check behind every "a positive integer" option (server options, storage, adapters, the
 * client): a safe integer above 0, so `1.5`, `NaN`, `Infinity`, `'5'` and `2 ** 53` are all refused.
 * No imports, so the browser client can use it too.
 * @module
 */

/** Whether `v` is a safe integer greater than 0. */
export function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
