/**
 * Admission of a new connection before its WebSocket handshake completes: the `Origin` check
 * against cross-site WebSocket hijacking, and the `authenticate` hook with its time limit.
 * Adapters reach these through `hub.originAllowed()` and `hub.authenticate()`.
 * @module
 */
import { SwitchyardError } from './errors.js';
import { identityOf, type Identity } from './grant.js';
import type { HubContext } from './hub-context.js';
import { countBy } from './metrics.js';
import type { SwitchyardOptions } from './options.js';
import type { AuthRequest } from './transport.js';

/** Outcome of authentication: the user, or the HTTP status the upgrade is refused with. */
export type AuthOutcome =
  | { ok: true; user: unknown; identity?: Identity }
  | { ok: false; status: 401 | 403 | 500 | 503; reason: string };

/**
 * Whether an upgrade's `Origin` is allowed. No Origin (not a browser) is allowed; by default a
 * browser must come from the same host it connects to, with the same scheme as the request
 * (`scheme`, when the adapter knows it: a page on `http://site` may not open `wss://site`,
 * whose cookies it should not ride on). A throwing predicate denies.
 */
export function originAllowed(
  allowed: SwitchyardOptions['allowedOrigins'],
  origin: string | undefined,
  host: string | undefined,
  scheme?: 'http' | 'https',
): boolean {
  if (origin === undefined || allowed === '*') return true;
  if (typeof allowed === 'function') {
    try {
      return allowed(origin) === true;
    } catch {
      return false;
    }
  }
  if (Array.isArray(allowed)) return allowed.includes(origin);
  try {
    const u = new URL(origin);
    return u.host === host && (scheme === undefined || u.protocol === scheme + ':');
  } catch {
    return false;
  }
}

/**
 * Runs an `authenticate` hook bounded by `timeoutMs`: a user accepts; `null`/`undefined`/`false`
 * is 401; a thrown FORBIDDEN is 403; any other throw is 500 (reported to `onError`); a hook
 * slower than the limit is 503.
 */
export async function runAuthenticate(
  hook: (req: AuthRequest<never>) => unknown,
  req: AuthRequest,
  timeoutMs: number,
  onError: (err: unknown) => void,
): Promise<AuthOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const user = await Promise.race([Promise.resolve().then(() => hook(req as AuthRequest<never>)), timeout]);
    if (user === 'timeout') return { ok: false, status: 503, reason: 'authentication timed out' };
    if (user === null || user === undefined || user === false)
      return { ok: false, status: 401, reason: 'unauthorized' };
    // A grant() carries the user with its expiry and server-side channels; adapters hand both to accept().
    const identity = identityOf(user);
    return { ok: true, user: identity.user, identity };
  } catch (err) {
    if (err instanceof SwitchyardError && err.reason === 'FORBIDDEN')
      return { ok: false, status: 403, reason: 'forbidden' };
    onError(err);
    return { ok: false, status: 500, reason: 'authentication failed' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Authenticates an upgrade for `hub.authenticate()`: 503 with `refusal` when the hub cannot take
 * it (closing or full), no hook accepts everyone, and a refusal is counted and reported to
 * `refused` (log and diagnostics). A grant's identity remembers the request for later refreshes.
 */
export async function authenticateUpgrade(
  ctx: HubContext,
  req: AuthRequest,
  refusal: string | undefined,
  refused: (status: number, reason: string) => void,
): Promise<AuthOutcome> {
  if (refusal !== undefined) return { ok: false, status: 503, reason: refusal };
  const hook = ctx.userOptions.authenticate;
  if (!hook) return { ok: true, user: undefined };
  const outcome = await runAuthenticate(hook, req, ctx.options.limits.authTimeout, (err) =>
    ctx.log('error', { err, remoteAddress: req.remoteAddress }, 'authenticate hook threw'),
  );
  if (!outcome.ok) {
    countBy(ctx.counters.authFailures, outcome.status);
    refused(outcome.status, outcome.reason);
  } else if (outcome.identity) outcome.identity.request = { url: req.url, remoteAddress: req.remoteAddress };
  return outcome;
}
