/**
 * `switchyardjs/jwt`: capability tokens on `jose` (an optional peer dependency, loaded only by
 * this subpath). `jwtAuth()` verifies a JWT — issuer, audience, an algorithm allow-list that
 * never admits `none`, clock tolerance, a key or a JWKS — and turns its claims into the user,
 * the connection's expiry, its server-side channels and a capability map its `authorize`
 * enforces. `signToken()` mints such tokens on the backend. See docs/identity.md.
 * @module switchyard/jwt
 */
import type { KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { allows, parseCapabilities, type CapabilityMap } from '../lib/capabilities.js';
import { optionError, SwitchyardError, type ErrorName } from '../lib/errors.js';
import { grant, type AuthGrant, type ServerChannel } from '../lib/grant.js';
import { isIntIn } from '../lib/integers.js';
import type { AuthorizeRequest } from '../lib/options.js';
import type { RefreshRequest } from '../lib/refresh.js';
import type { AuthRequest } from '../lib/transport.js';

export { allows, parseCapabilities, patternCovers, type Capability, type CapabilityMap } from '../lib/capabilities.js';

/** A verification or signing key: an HMAC secret (bytes), a `CryptoKey` or a Node `KeyObject`. */
export type JwtKey = Uint8Array | CryptoKey | KeyObject;

/** Options of {@link jwtAuth}. */
export interface JwtAuthOptions {
  /** The key tokens are verified with. Give exactly one of `key` and `jwks`. */
  key?: JwtKey;
  /**
   * A JWKS: its URL (fetched and cached by `jose`, refetched when a token names an unknown `kid`,
   * so rotated keys are picked up) or a key-resolver function such as `createLocalJWKSet(jwks)`.
   */
  jwks?: string | URL | JWTVerifyGetKey;
  /**
   * With a JWKS URL: milliseconds after a fetch before a token with an unknown `kid` may trigger
   * another (default 30,000). Bounds how often forged `kid`s can make the server refetch.
   */
  jwksCooldown?: number;
  /** Algorithms accepted, e.g. `['ES256']` (required, non-empty). `none` is refused here and in every token. */
  algorithms: string[];
  /** Expected `iss` (one or several). Default: not checked — set it in production. */
  issuer?: string | string[];
  /** Expected `aud` (one or several). Default: not checked — set it in production. */
  audience?: string | string[];
  /** Seconds of clock skew tolerated for `exp`, `nbf` and `iat` (default 5, at most 300). */
  clockTolerance?: number;
  /** Claim holding the server-side channels, names or `{channel, qos}` (default `channels`). */
  channelsClaim?: string;
  /** Claim holding the capability map (default `caps`). */
  capabilitiesClaim?: string;
  /** Called with every refusal (for your logs; the token itself is never passed). */
  onReject?: (err: SwitchyardError) => void;
}

/** The user a verified token yields (`authenticate`'s result inside the grant). */
export interface JwtUser {
  /** The `sub` claim; the default `userId` for revocation. */
  id: string;
  /** Every claim of the token. */
  claims: JWTPayload;
  /** The capability map, or undefined when the token has none (then `authorize` denies everything). */
  capabilities: CapabilityMap | undefined;
}

/** What {@link jwtAuth} returns: hooks to pass to `new Switchyard()`, and the verifier they share. */
export interface JwtAuth {
  /** Verifies a token. Rejects with a `SwitchyardError` of code 130–137 saying why. */
  verify(token: string): Promise<AuthGrant<JwtUser>>;
  /** `authenticate` hook: a valid token accepts with its grant; anything else is 401. */
  authenticate(req: AuthRequest): Promise<AuthGrant<JwtUser> | null>;
  /** `refresh` hook: also refuses a token for a different `sub` (137), so a connection never changes hands. */
  refresh(req: RefreshRequest): Promise<AuthGrant<JwtUser>>;
  /** `authorize` hook enforcing the token's capability map; a user without one is denied. */
  authorize(req: AuthorizeRequest): boolean;
}

const isStringOrList = (v: unknown): boolean =>
  v === undefined ||
  typeof v === 'string' ||
  (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));

function rejection(reason: ErrorName, detail: string): SwitchyardError {
  return new SwitchyardError(reason, detail);
}

/** Maps a `jose` failure to the registry. */
function classify(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  if (err instanceof errors.JWTExpired) return rejection('JWT_EXPIRED', 'exp is in the past');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf' || (err.claim === 'iat' && err.reason === 'check_failed'))
      return rejection('JWT_NOT_YET_VALID', `${err.claim} is in the future`);
    if (err.claim === 'aud') return rejection('JWT_WRONG_AUDIENCE', 'aud does not match');
    if (err.claim === 'iss') return rejection('JWT_WRONG_ISSUER', 'iss does not match');
    return rejection('JWT_BAD_CLAIMS', `${err.claim}: ${err.reason}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return rejection('JWT_ALG_NOT_ALLOWED', 'alg is not in the allow-list');
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey)
    return rejection('JWT_BAD_SIGNATURE', 'no allowed key verifies the signature');
  return rejection('JWT_INVALID', err instanceof Error ? err.message.slice(0, 100) : 'unreadable token');
}

function channelsFrom(value: unknown, claim: string): Array<string | ServerChannel> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw rejection('JWT_BAD_CLAIMS', `${claim} must be an array`);
  return value as Array<string | ServerChannel>;
}

/**
 * Builds the hooks for tokens minted by {@link signToken} (or any issuer with the same claims).
 *
 * ```ts
 * const auth = jwtAuth({ key: secret, algorithms: ['HS256'], issuer: 'https://api.example.com', audience: 'realtime' });
 * const hub = new Switchyard({ authenticate: auth.authenticate, refresh: auth.refresh, authorize: auth.authorize });
 * ```
 * @throws SwitchyardError (150) naming the bad option: neither or both of `key`/`jwks`, an empty
 * `algorithms` or one containing `none`, a `clockTolerance` outside 0–300, a bad issuer/audience.
 */
export function jwtAuth(options: JwtAuthOptions): JwtAuth {
  if (typeof options !== 'object' || options === null)
    throw optionError('jwtAuth options', 'an object {key | jwks, algorithms, issuer?, audience?}', options);
  const {
    key,
    jwks,
    jwksCooldown = 30_000,
    algorithms,
    issuer,
    audience,
    clockTolerance = 5,
    channelsClaim = 'channels',
    capabilitiesClaim = 'caps',
    onReject,
  } = options;
  if ((key === undefined) === (jwks === undefined))
    throw optionError('key', 'exactly one of key and jwks', key === undefined ? 'neither' : 'both');
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => typeof a === 'string' && a.length > 0)
  ) {
    throw optionError('algorithms', "a non-empty array such as ['ES256'] or ['HS256']", algorithms);
  }
  if (algorithms.some((a) => a.toLowerCase() === 'none'))
    throw optionError('algorithms', 'a list without "none" (unsigned tokens are never accepted)', algorithms);
  if (!isStringOrList(issuer)) throw optionError('issuer', 'a string or a non-empty array of strings', issuer);
  if (!isStringOrList(audience)) throw optionError('audience', 'a string or a non-empty array of strings', audience);
  if (!(typeof clockTolerance === 'number' && clockTolerance >= 0 && clockTolerance <= 300))
    throw optionError('clockTolerance', 'seconds from 0 to 300', clockTolerance);
  if (!isIntIn(jwksCooldown, 0))
    throw optionError('jwksCooldown', 'a non-negative number of milliseconds', jwksCooldown);
  if (onReject !== undefined && typeof onReject !== 'function') throw optionError('onReject', 'a function', onReject);
  const resolver: JwtKey | JWTVerifyGetKey =
    jwks === undefined
      ? key!
      : typeof jwks === 'function'
        ? jwks
        : createRemoteJWKSet(typeof jwks === 'string' ? new URL(jwks) : jwks, { cooldownDuration: jwksCooldown });
  const allowed = new Set(algorithms);

  async function verify(token: string): Promise<AuthGrant<JwtUser>> {
    if (typeof token !== 'string' || token.length === 0) throw rejection('JWT_INVALID', 'no token');
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw rejection('JWT_INVALID', 'the header is not readable');
    }
    // Checked before any key is looked up: an unsigned or unexpected-algorithm token is refused outright.
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none' || !allowed.has(alg))
      throw rejection('JWT_ALG_NOT_ALLOWED', `alg ${JSON.stringify(alg)} is not allowed`);
    let payload: JWTPayload;
    try {
      const opts = { algorithms, issuer, audience, clockTolerance, requiredClaims: ['exp', 'sub'] };
      payload = (
        typeof resolver === 'function' ? await jwtVerify(token, resolver, opts) : await jwtVerify(token, resolver, opts)
      ).payload;
    } catch (err) {
      throw classify(err);
    }
    const caps = payload[capabilitiesClaim];
    let capabilities: CapabilityMap | undefined;
    try {
      capabilities = caps === undefined ? undefined : parseCapabilities(caps, capabilitiesClaim);
    } catch (err) {
      throw rejection('JWT_BAD_CLAIMS', (err as Error).message);
    }
    const channels = channelsFrom(payload[channelsClaim], channelsClaim);
    const user: JwtUser = { id: payload.sub!, claims: payload, capabilities };
    try {
      return grant(user, { expiresAt: payload.exp! * 1000, channels });
    } catch (err) {
      throw rejection('JWT_BAD_CLAIMS', `${channelsClaim}: ${(err as Error).message}`);
    }
  }

  const refuse = (err: unknown): SwitchyardError => {
    const e = classify(err);
    onReject?.(e);
    return e;
  };

  return {
    verify,
    async authenticate(req) {
      try {
        return await verify(req.token ?? '');
      } catch (err) {
        refuse(err);
        return null;
      }
    },
    async refresh(req) {
      let g: AuthGrant<JwtUser>;
      try {
        g = await verify(req.token);
      } catch (err) {
        throw refuse(err);
      }
      const before = (req.user as JwtUser | undefined)?.id;
      if (before !== undefined && g.user.id !== before)
        throw refuse(rejection('JWT_BAD_CLAIMS', "sub differs from the connection's user"));
      return g;
    },
    authorize(req) {
      const caps = (req.user as JwtUser | undefined)?.capabilities;
      return caps !== undefined && allows(caps, req.action, req.channel);
    },
  };
}

/** Options of {@link signToken}. */
export interface SignTokenOptions {
  /** Signing key: an HMAC secret, or a private `CryptoKey`/`KeyObject`. */
  key: JwtKey;
  /** Algorithm, e.g. `HS256`, `ES256`, `EdDSA` (never `none`). */
  algorithm: string;
  /** Lifetime in seconds (required: capability tokens always expire). */
  expiresIn: number;
  /** `iss` claim. */
  issuer?: string;
  /** `aud` claim. */
  audience?: string | string[];
  /** `kid` header, so a JWKS verifier picks the right key during rotation. */
  keyId?: string;
}

/** Claims of a token minted by {@link signToken}. */
export interface TokenClaims {
  /** The user id (`sub`). */
  sub: string;
  /** Server-side channels (the `channels` claim). */
  channels?: Array<string | ServerChannel>;
  /** Capability map (the `caps` claim). */
  caps?: CapabilityMap;
  /** Any other claims. */
  [claim: string]: unknown;
}

/**
 * Mints a token on the backend, e.g. in the route your client's `token()` fetches.
 * @throws SwitchyardError (150) naming the bad option or claim (`none`, a non-positive
 * `expiresIn`, a missing `sub`, a malformed capability map).
 */
export async function signToken(claims: TokenClaims, options: SignTokenOptions): Promise<string> {
  if (typeof claims !== 'object' || claims === null || typeof claims.sub !== 'string' || claims.sub.length === 0)
    throw optionError('claims.sub', 'a non-empty string', claims?.sub);
  if (typeof options !== 'object' || options === null)
    throw optionError('signToken options', 'an object {key, algorithm, expiresIn}', options);
  const { key, algorithm, expiresIn, issuer, audience, keyId } = options;
  if (typeof algorithm !== 'string' || algorithm.length === 0 || algorithm.toLowerCase() === 'none')
    throw optionError('algorithm', 'a signing algorithm such as HS256 or ES256 (never none)', algorithm);
  if (!isIntIn(expiresIn, 1)) throw optionError('expiresIn', 'a positive number of seconds', expiresIn);
  if (key === undefined || key === null) throw optionError('key', 'an HMAC secret (Uint8Array) or a private key', key);
  if (claims.caps !== undefined) parseCapabilities(claims.caps, 'claims.caps');
  if (claims.channels !== undefined) grant(claims.sub, { channels: claims.channels });
  const { sub, ...rest } = claims;
  const jwt = new SignJWT(rest as JWTPayload)
    .setProtectedHeader(keyId === undefined ? { alg: algorithm } : { alg: algorithm, kid: keyId })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(`${expiresIn}s`);
  if (issuer !== undefined) jwt.setIssuer(issuer);
  if (audience !== undefined) jwt.setAudience(audience);
  return jwt.sign(key);
}
