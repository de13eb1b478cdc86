/** Translation of switchyard channel patterns to Redis PSUBSCRIBE globs. @module */

// Everything Redis' glob matcher treats specially; a literal occurrence is backslash-escaped.
const GLOB_META = /[*?[\]\\^-]/g;

/** Escapes `s` so a Redis glob matches it literally. */
export function escapeGlob(s: string): string {
  return s.replace(GLOB_META, (c) => '\\' + c);
}

/**
 * Glob for a switchyard pattern (`*` = one segment, a final `>` = one or more segments).
 * Redis' `*` also crosses dots, so the glob is a superset; the broker filters every delivery
 * with `matchesPattern` before dispatching it.
 */
export function patternToGlob(prefix: string, pattern: string): string {
  return (
    escapeGlob(prefix) +
    pattern
      .split('.')
      .map((seg) => (seg === '*' || seg === '>' ? '*' : escapeGlob(seg)))
      .join('.')
  );
}
