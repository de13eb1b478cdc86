// switchyardjs/jwt: verification refuses alg none, wrong audience, wrong issuer, expired,
// not-yet-valid and wrong-key tokens with distinct registry codes; claims become the user, the
// expiry, server-side channels and a capability map authorize enforces; JWKS with key rotation;
// the whole thing end to end over real sockets, including an in-band refresh.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { allows, jwtAuth, patternCovers, signToken, type JwtUser } from '../../adapters/jwt.js';
import type { ClientError } from '../../adapters/client-node.js';
import { connectClient, once, startServer } from '../helpers/server.js';

const secret = new TextEncoder().encode('a-32-byte-secret-for-hs256-tests!');
const other = new TextEncoder().encode('another-32-byte-secret-for-tests');
const base = { key: secret, algorithms: ['HS256'], issuer: 'https://api.test', audience: 'realtime' };
const sign = (claims: Record<string, unknown>, o: Partial<Parameters<typeof signToken>[1]> = {}) =>
  signToken(
    { sub: 'u42', ...claims },
    { key: secret, algorithm: 'HS256', expiresIn: 60, issuer: 'https://api.test', audience: 'realtime', ...o },
  );
const now = () => Math.floor(Date.now() / 1000);
/** A token built by hand, for claims signToken() refuses to produce (past exp, bad caps ...). */
const raw = (claims: Record<string, unknown>) =>
  new SignJWT({ sub: 'u42', exp: now() + 60, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://api.test')
    .setAudience('realtime')
    .sign(secret);

t.test('each kind of bad token is refused with its own documented code', async (t) => {
  const auth = jwtAuth(base);
  const code = async (token: string) => {
    try {
      await auth.verify(token);
      return 'accepted';
    } catch (err) {
      return `${(err as { code: number }).code} ${(err as { reason: string }).reason}`;
    }
  };
  t.equal(await code(await sign({})), 'accepted');
  const unsigned = new UnsecuredJWT({ sub: 'u42' })
    .setIssuer('https://api.test')
    .setAudience('realtime')
    .setExpirationTime('1m')
    .encode();
  t.equal(await code(unsigned), '131 JWT_ALG_NOT_ALLOWED', 'alg none');
  const hs512 = await new SignJWT({ sub: 'u42' })
    .setProtectedHeader({ alg: 'HS512' })
    .setIssuer('https://api.test')
    .setAudience('realtime')
    .setExpirationTime('1m')
    .sign(new Uint8Array(64).fill(7));
  t.equal(await code(hs512), '131 JWT_ALG_NOT_ALLOWED', 'an algorithm outside the allow-list');
  t.equal(await code(await sign({}, { audience: 'billing' })), '134 JWT_WRONG_AUDIENCE');
  t.equal(await code(await sign({}, { issuer: 'https://evil.test' })), '135 JWT_WRONG_ISSUER');
  t.equal(await code(await raw({ exp: now() - 60 })), '132 JWT_EXPIRED');
  t.equal(await code(await raw({ nbf: now() + 600 })), '133 JWT_NOT_YET_VALID');
  t.equal(await code(await sign({}, { key: other })), '136 JWT_BAD_SIGNATURE', 'wrong key');
  t.equal(await code('not.a.jwt'), '130 JWT_INVALID');
  t.equal(await code(''), '130 JWT_INVALID');
  const noSub = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://api.test')
    .setAudience('realtime')
    .setExpirationTime('1m')
    .sign(secret);
  t.match(await code(noSub), /^137 JWT_BAD_CLAIMS/, 'a token without sub');
  const noExp = await new SignJWT({ sub: 'u' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('https://api.test')
    .setAudience('realtime')
    .sign(secret);
  t.match(await code(noExp), /^137 JWT_BAD_CLAIMS/, 'a token that never expires');
  t.match(await code(await raw({ caps: { 'chat.*': ['delete'] } })), /^137 JWT_BAD_CLAIMS/);
  t.match(await code(await raw({ channels: ['user.*'] })), /^137 JWT_BAD_CLAIMS/);
  // Clock skew inside the tolerance is accepted.
  t.equal(await code(await raw({ exp: now() - 3 })), 'accepted', 'expired 3 s ago is within the default 5 s tolerance');
});

t.test('claims become the user, the expiry, server-side channels and enforced capabilities', async (t) => {
  const auth = jwtAuth(base);
  const g = await auth.verify(
    await sign(
      {
        channels: [{ channel: 'user.u42', qos: 1 }],
        caps: { 'chat.>': ['subscribe', 'publish'], 'user.u42': ['history'] },
      },
      { expiresIn: 120 },
    ),
  );
  const user = g.user as JwtUser;
  t.equal(user.id, 'u42');
  t.ok(Math.abs(g.expiresAt! - (Date.now() + 120_000)) < 2_000, 'expiresAt is exp in ms');
  t.same([...g.channels!], [['user.u42', 1]]);
  const may = (action: 'subscribe' | 'publish' | 'history' | 'presence', channel: string) =>
    auth.authorize({ action, channel, user, connectionId: 'c' });
  t.ok(may('subscribe', 'chat.lobby'));
  t.ok(may('publish', 'chat.a.b'));
  t.ok(may('subscribe', 'chat.*'), 'a pattern inside the capability');
  t.notOk(may('subscribe', '>'), 'a pattern wider than the capability');
  t.notOk(may('presence', 'chat.lobby'));
  t.ok(may('history', 'user.u42'));
  t.notOk(may('history', 'user.u43'));
  t.notOk(
    auth.authorize({
      action: 'subscribe',
      channel: 'chat.lobby',
      user: { id: 'x', claims: {}, capabilities: undefined },
      connectionId: 'c',
    }),
    'no capability map: denied',
  );
  t.ok(patternCovers('a.>', 'a.*.c'));
  t.notOk(patternCovers('a.*', 'a.>'));
  t.ok(allows({ 'x.*': ['subscribe'] }, 'subscribe', 'x.y'));
});

t.test('options are validated with 150 naming the option; none is refused even in the allow-list', async (t) => {
  t.throws(() => jwtAuth({ ...base, algorithms: ['none'] }), { code: 150, message: /algorithms.*none/ });
  t.throws(() => jwtAuth({ ...base, algorithms: ['HS256', 'NONE'] }), { code: 150, message: /none/ });
  t.throws(() => jwtAuth({ ...base, algorithms: [] }), { code: 150, message: /algorithms/ });
  t.throws(() => jwtAuth({ algorithms: ['HS256'] }), { code: 150, message: /key/ });
  t.throws(() => jwtAuth({ ...base, jwks: 'https://x.test/jwks' }), { code: 150, message: /exactly one/ });
  t.throws(() => jwtAuth({ ...base, clockTolerance: 3_600 }), { code: 150, message: /clockTolerance/ });
  await t.rejects(signToken({ sub: 'u' }, { key: secret, algorithm: 'none', expiresIn: 60 }), {
    code: 150,
    message: /algorithm/,
  });
  await t.rejects(signToken({ sub: 'u' }, { key: secret, algorithm: 'HS256', expiresIn: 0 }), {
    code: 150,
    message: /expiresIn/,
  });
  await t.rejects(signToken({ sub: '' }, { key: secret, algorithm: 'HS256', expiresIn: 60 }), {
    code: 150,
    message: /sub/,
  });
  await t.rejects(
    signToken(
      { sub: 'u', caps: { 'a.*': ['delete' as 'publish'] } },
      { key: secret, algorithm: 'HS256', expiresIn: 60 },
    ),
    { code: 150, message: /caps/ },
  );
});

t.test('a JWKS endpoint verifies by kid and picks up a rotated key', async (t) => {
  const k1 = await generateKeyPair('ES256');
  const k2 = await generateKeyPair('ES256');
  const keys = [{ ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256' }];
  let fetches = 0;
  const srv = createServer((_req, res) => {
    fetches++;
    res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => srv.close(r)));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/jwks.json`;
  const auth = jwtAuth({ jwks: url, jwksCooldown: 0, algorithms: ['ES256'], audience: 'realtime' });
  const es = (k: CryptoKey, kid: string) =>
    signToken({ sub: 'u1' }, { key: k, algorithm: 'ES256', keyId: kid, expiresIn: 60, audience: 'realtime' });
  t.equal((await auth.verify(await es(k1.privateKey, 'k1'))).user.id, 'u1');
  await t.rejects(auth.verify(await es(k2.privateKey, 'k2')), { code: 136 }, 'a kid the JWKS does not list is refused');
  // Rotation: the issuer publishes k2; the same verifier refetches on the unknown kid.
  keys.push({ ...(await exportJWK(k2.publicKey)), kid: 'k2', alg: 'ES256' });
  t.equal((await auth.verify(await es(k2.privateKey, 'k2'))).user.id, 'u1', 'the rotated key verifies');
  t.equal((await auth.verify(await es(k1.privateKey, 'k1'))).user.id, 'u1', 'the old key still verifies while listed');
  await t.rejects(
    auth.verify(await es(k2.privateKey, 'k1')),
    { code: 136 },
    'a token claiming the wrong kid is refused',
  );
  t.ok(fetches >= 2);
});

t.test('end to end: a JWT connection gets its channels, capability checks and an in-band refresh', async (t) => {
  const rejects: number[] = [];
  const auth = jwtAuth({ ...base, onReject: (e) => rejects.push(e.code) });
  const s = await startServer(t, {
    history: { size: 100, ttl: 60_000, recoveryCap: 100 },
    channels: [{ match: 'chat.>', clientPublish: true }],
    authenticate: auth.authenticate,
    refresh: auth.refresh,
    authorize: auth.authorize,
    refreshLead: 1_500,
  });
  const caps = { 'chat.>': ['subscribe', 'publish'] as const };
  let n = 0;
  const tokens = [
    () => sign({ caps, channels: ['user.u42'] }, { expiresIn: 2 }),
    () => sign({ caps, channels: ['user.u42'] }, { audience: 'billing' }), // refused: 120 naming 134
    () => sign({ caps, channels: ['user.u42'] }, { expiresIn: 600 }),
  ];
  const c = await connectClient(t, s.url, { token: () => tokens[Math.min(n++, 2)]!() });
  const mine = c.subscription('user.u42')!;
  await mine.ready;
  const chat = c.subscribe('chat.lobby', () => {});
  await chat.ready;
  await t.rejects(c.subscribe('admin.log', () => {}).ready, { code: 107 }, 'outside the capability map');
  await t.rejects(c.history('chat.lobby'), { code: 107 }, 'history is not among the capabilities');
  const err = await once<ClientError>(c, 'tokenError');
  t.equal(err.code, 120);
  t.match(err.message, /134 JWT_WRONG_AUDIENCE/, 'the refusal names why');
  const r = await once<{ expiresIn?: number }>(c, 'refreshed');
  t.ok(r.expiresIn! > 500_000);
  t.same(rejects, [134]);
  // A bad token at the handshake is a 401 and is reported to onReject.
  const { connect } = await import('../../adapters/client-node.js');
  const bad = connect(s.url, { token: await sign({}, { key: other }), reconnect: false });
  t.teardown(() => bad.close());
  await once(bad, 'closed');
  t.same(rejects, [134, 136]);
});

t.test('the core never imports jose: only adapters/jwt.ts does', async (t) => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const files: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(root, 'lib'));
  walk(join(root, 'adapters'));
  const importers = files
    .filter((f) => /from ['"]jose['"]|import\(['"]jose['"]\)/.test(readFileSync(f, 'utf8')))
    .map((f) => f.slice(root.length));
  t.same(importers, ['adapters/jwt.ts']);
});
