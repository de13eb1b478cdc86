/** The one integer range check behind option and request validation. @module */

/** Whether `v` is a safe integer from `min` to `max` (inclusive). */
export function isIntIn(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}
