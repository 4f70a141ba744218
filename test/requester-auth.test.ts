/**
 * Requester authentication (issue 18 Build 1), stored approvals only from listed approvers
 * (Build 2) and check-ins only from keys the capsule names (D9): the conformance vectors in
 * test/vectors/auth, the `authenticated` context flag through the real sandbox and the SDK, and the
 * real agent over HTTP on 127.0.0.1 (Zymbit simulator, policy.ts compiled with asc).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { Ajv } from 'ajv';
import { ed25519 } from '@noble/curves/ed25519.js';
import { AgentError } from '../agent/errors.ts';
import { ownerPublicKey, parseIdentityFile } from '../agent/crypto/identity.ts';
import { authKey, authMessage, AUTH_SCHEMA, bodyDigest, canonicalJson, checkRequestAuth } from '../agent/crypto/requesterAuth.ts';
import { x25519Shared } from '../agent/crypto/x25519.ts';
import { RequestAuthenticator } from '../agent/daemon/RequestAuthenticator.ts';
import { inputFromJson, inputToJson } from '../agent/daemon/evaluationJson.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { AUTH_DIR, AUTH_EXTENSION, authVectors, formatAuthVector, parseAuthVector, type AuthVector } from './vectors/authVectors.ts';
import { assertFails, recipients, run } from './helpers/guardianDevice.ts';
import { rejectsError } from './helpers/assertError.ts';
import { identityOf, post, provisioned, setClock, startAgent, T, withAuth } from './helpers/runningAgent.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auditLines = (data: string) =>
  readFileSync(join(data, 'audit.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

// ---- vectors ----

const validateAuth = new Ajv().compile(AUTH_SCHEMA);

/** What the guardian's pipeline says about a vector: schema (as api.ts), then checks, then the replay cache. */
async function outcome(v: AuthVector): Promise<string> {
  const body = JSON.parse(v.body);
  const guardian = parseIdentityFile(v.guardianIdentity)[0]!;
  const seen = new Set<string>();
  try {
    if (!validateAuth(body.auth)) throw new AgentError('ERR_BAD_REQUEST', `body.auth: ${validateAuth.errors?.[0]?.message}`);
    const auth = new RequestAuthenticator({
      guardian: { record: { recipients: { x25519: guardian.recipient } } as never, withKeys: async (fn) => fn({ x25519: guardian } as never) },
      store: { remember: (key: string) => !seen.has(key) && !!seen.add(key) },
      clock: { kind: 'vector', now: async () => v.now },
    });
    if (v.seenNonce) {
      // The nonce was accepted before: replay the same request once to fill the cache, then test.
      await auth.verify(v.method, v.path, body, body.requester);
    }
    return (await auth.verify(v.method, v.path, body, body.requester)) ? 'success' : 'unauthenticated';
  } catch (e) {
    return `error ${(e as { code?: string }).code}`;
  } finally {
    guardian.dispose();
  }
}

test("auth vectors: the committed files are exactly the generator's output (npm run vectors:auth), more negative than positive", () => {
  const want = authVectors();
  const files = readdirSync(AUTH_DIR)
    .filter((f) => f.endsWith(AUTH_EXTENSION))
    .sort();
  assert.equal(files, want.map((v) => v.name + AUTH_EXTENSION).sort(), 'one file per definition, no stray files');
  for (const v of want) assert.fixture(readFileSync(join(AUTH_DIR, v.name + AUTH_EXTENSION), 'utf8'), formatAuthVector(v), v.name);
  const positive = want.filter((v) => v.expect === 'success').length;
  assert.ok(positive >= 3 && want.length - positive > positive, `${positive} positive, ${want.length - positive} negative`);
});

test("auth vectors: every committed vector gives its expect: line through the guardian's checks; positives give their intermediate values", async () => {
  const files = readdirSync(AUTH_DIR).filter((f) => f.endsWith(AUTH_EXTENSION));
  assert.ok(files.length >= 20);
  for (const f of files) {
    const v = parseAuthVector(f, readFileSync(join(AUTH_DIR, f), 'utf8'));
    assert.is(await outcome(v), v.expect, f);
    if (v.expect !== 'success') continue;
    const body = JSON.parse(v.body);
    assert.is(hex(bodyDigest(body)), v.bodySha256, `${f}: body-sha256`);
    const g = parseIdentityFile(v.guardianIdentity)[0]!;
    const requesterPk = (await import('../agent/crypto/identity.ts')).parseRecipient(body.requester);
    const key = authKey(x25519Shared(g.secretKey, requesterPk), requesterPk, g.publicKey);
    assert.is(hex(key), v.key, `${f}: key (the guardian's side of the exchange gives the requester's key)`);
    const input = authMessage({
      method: v.method,
      path: v.path,
      bodySha256: bodyDigest(body),
      guardianPk: g.publicKey,
      requesterPk,
      at: body.auth.at,
      nonce: Uint8Array.from(Buffer.from(body.auth.nonce, 'hex')),
    });
    assert.is(hex(input), v.macInput, `${f}: mac-input`);
    g.dispose();
  }
});

test('auth: each failure names its field; JCS orders members by UTF-16 code units; bad arguments are TypeErrors', async () => {
  const [good] = authVectors().filter((v) => v.name === 'release-capsule');
  const v = good!;
  const g = parseIdentityFile(v.guardianIdentity)[0]!;
  const body = JSON.parse(v.body);
  const check = (over: Partial<{ body: unknown; now: number; guardian: string; path: string }>) =>
    checkRequestAuth({
      method: 'POST',
      path: over.path ?? v.path,
      body: (over.body ?? body) as never,
      requester: ((over.body ?? body) as { requester: string }).requester,
      guardian: over.guardian ?? g.recipient,
      now: over.now ?? v.now,
      exchange: async (pk) => x25519Shared(g.secretKey, pk),
    });
  assert.ok((await check({})).nonce.length === 16);
  await rejectsError(
    () => check({ now: v.now + 120_001 }),
    'AgentError',
    'ERR_UNAUTHENTICATED',
    /^auth\.at: made at 2030-01-01T00:00:00\.000Z, outside the ±120-second window around the guardian's time 2030-01-01T00:02:00\.001Z$/,
  );
  await rejectsError(
    () => check({ path: '/v1/sign' }),
    'AgentError',
    'ERR_UNAUTHENTICATED',
    /^auth\.mac: does not verify for requester age1[0-9a-z]+ \(made with another identity, or the request was altered after it was made\)$/,
  );
  await rejectsError(
    () => check({ guardian: body.requester }),
    'AgentError',
    'ERR_UNAUTHENTICATED',
    /^auth\.guardian: made for guardian age1[0-9a-z]+, but this guardian is age1[0-9a-z]+$/,
  );
  g.dispose();
  // UTF-16 code units, not code points: U+1F600 (surrogates D83D DE00) sorts before U+FF5E.
  assert.is(
    canonicalJson({ b: [1, 'x', null, true], a: { d: 1, c: -0.5 }, '\u00e9': 1, 'e\u0301': 2, '\uff5e': 4, '\u{1f600}': 5, Z: 3 }),
    '{"Z":3,"a":{"c":-0.5,"d":1},"b":[1,"x",null,true],"e\u0301":2,"\u00e9":1,"\u{1f600}":5,"\uff5e":4}',
  );
  assert.throws(() => canonicalJson({ a: Infinity }), /canonicalJson: expected a finite number, got Infinity/);
  assert.throws(
    () =>
      authMessage({
        method: 'post',
        path: '/x',
        bodySha256: new Uint8Array(32),
        guardianPk: new Uint8Array(32),
        requesterPk: new Uint8Array(32),
        at: 1,
        nonce: new Uint8Array(16),
      }),
    /method: expected an upper-case HTTP method, got "post"/,
  );
  assert.throws(
    () =>
      authMessage({
        method: 'POST',
        path: '/x',
        bodySha256: new Uint8Array(31),
        guardianPk: new Uint8Array(32),
        requesterPk: new Uint8Array(32),
        at: 1,
        nonce: new Uint8Array(16),
      }),
    /bodySha256: expected 32 bytes, got 31/,
  );
});

// ---- the context flag, through the real sandbox and the SDK ----

test('authenticated flag: the SDK reads it (absent reads false); it is in the audited input and inputsSha256, and JSON round-trips it', async () => {
  const wasm = (await buildPolicy('contracts-as/test/auth-required.ts', { cwd: ROOT })).wasm;
  const sandbox = new Sandbox();
  const base: EvaluationInput = {
    now: T,
    requester: 'age1pdpk3hqw2sa85aga8uwn0e2dhgma303jdwkj5rnm0epr2phut5yqv4telj',
    capsule: { id: new Uint8Array(16), created: 0, owner: null, logic: new Uint8Array(32), size: 0, digest: new Uint8Array(32) },
  };
  const yes = sandbox.evaluate(wasm, { ...base, authenticated: true });
  const no = sandbox.evaluate(wasm, { ...base, authenticated: false });
  const absent = sandbox.evaluate(wasm, base);
  assert.equal([yes.verdict, yes.reason], ['allow', 'requester authenticated']);
  assert.equal([no.verdict, no.reason], ['deny', 'requester not authenticated']);
  assert.equal([absent.verdict, absent.reason], ['deny', 'requester not authenticated']);
  assert.is.not(yes.inputsSha256, no.inputsSha256);
  assert.is.not(no.inputsSha256, absent.inputsSha256, 'absent and false are distinct inputs (older records replay unchanged)');
  const json = inputToJson({ ...base, authenticated: true });
  assert.is((json as { authenticated: boolean }).authenticated, true);
  assert.is(sandbox.evaluate(wasm, inputFromJson(json, 'entry')).inputsSha256, yes.inputsSha256, 'a replay from the audit JSON gives the same input digest');
  assert.not.ok('authenticated' in (inputToJson(base) as object));
  assert.throws(() => inputFromJson({ ...(json as object), authenticated: 'yes' } as never, 'entry'), /entry\.authenticated: expected true or false/);
});

// ---- the real agent ----

test("Build 1: a stranger who knows the beneficiary's recipient cannot spend a counted open; wrong MAC, stale time, replayed nonce, wrong guardian are refused; capsule open authenticates", async () => {
  const { d, x25519, cleanup } = await provisioned();
  try {
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"expiry": {"maxOpens": 2}}', '-o', 'c.capsule']).code,
      0,
    );
    const a = await startAgent(d, { ratePerSecond: 0 });
    const me = identityOf(d, 'me.key');
    const other = identityOf(d, 'other.key');
    try {
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const capsule = readFileSync(join(d.dir, 'c.capsule')).toString('base64');
      const body = { capsule, requester: me.recipient };
      const expect401 = async (b: unknown, message: RegExp, code = 'ERR_UNAUTHENTICATED', status = 401) => {
        const r = await post(a.url, '/v1/release', b);
        assert.is(r.status, status, JSON.stringify(r.json));
        assert.is(r.json.error.code, code);
        assert.match(r.json.error.message, message);
      };
      // Knowing the recipient is not enough: without auth the counted open is refused, nothing committed.
      await expect401(
        body,
        /^release: this decision would change the logic's state \(1 key\(s\), e\.g\. a counted open\) and the requester is not authenticated$/,
      );
      // With an auth made by another identity, for another guardian, stale, or with a changed MAC.
      await expect401(
        await withAuth(a.url, '/v1/release', body, other),
        /^auth\.mac: does not verify for requester age1[0-9a-z]+ \(made with another identity/,
      );
      await expect401(
        await withAuth(a.url, '/v1/release', body, me, { guardian: other.recipient }),
        new RegExp(`^auth\\.guardian: made for guardian ${other.recipient}, but this guardian is ${x25519}$`),
      );
      await expect401(
        await withAuth(a.url, '/v1/release', body, me, { at: T - 121_000 }),
        /^auth\.at: made at 2029-12-31T23:57:59\.000Z, outside the ±120-second window around the guardian's time 2030-01-01T00:00:00\.000Z$/,
      );
      const signed = (await withAuth(a.url, '/v1/release', body, me)) as { auth: { mac: string } };
      await expect401(
        { ...signed, auth: { ...signed.auth, mac: (signed.auth.mac[0] === 'a' ? 'b' : 'a') + signed.auth.mac.slice(1) } },
        /^auth\.mac: does not verify/,
      );
      // The holder of the identity: allowed, first of two opens. The same request again: a replay.
      const ok = await post(a.url, '/v1/release', signed);
      assert.is(ok.status, 200, JSON.stringify(ok.json));
      assert.match(ok.json.reason, /opened 1 of 2 times|1 of 2/);
      await expect401(signed, /^auth\.nonce: [0-9a-f]{32} was already used by this requester \(a replayed request\)$/, 'ERR_REPLAYED', 409);
      // capsule open authenticates by default: the second open.
      const opened = run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'c.out']);
      assert.is(opened.code, 0, opened.stderr);
      assert.ok(readFileSync(join(d.dir, 'c.out')).equals(readFileSync(join(d.dir, 'policy.wasm'))));
      // Both opens spent, by the holder only (none of the refused requests counted).
      assertFails(run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'c2.out']), /opened 2 of 2 times/);
    } finally {
      me.dispose();
      other.dispose();
      assert.is(await a.stop(), 0);
    }
    const log = auditLines(d.data);
    const refused = log.filter((e) => e.error === 'ERR_UNAUTHENTICATED');
    assert.is(refused.length, 1, 'the unauthenticated decision is audited as refused (auth failures are refused before deciding)');
    assert.is(refused[0].logicVerdict, 'allow');
    assert.is(refused[0].input.authenticated, false);
    assert.equal(
      log.filter((e) => e.kind === 'release' && e.verdict === 'allow').map((e) => e.input.authenticated),
      [true, true],
    );
    const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay', '--guardian-key', recipients(d).signingKey]);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /; 4 decisions replayed with the same verdict and fuel/);
  } finally {
    cleanup();
  }
});

test("Build 1: a signing policy's spent limit needs authentication; sign-request authenticates with its identity", async () => {
  const { d, cleanup } = await provisioned();
  try {
    const logic = createHash('sha256')
      .update(readFileSync(join(d.dir, 'policy.wasm')))
      .digest('hex');
    const a = await startAgent(d, { ratePerSecond: 0, signing: [{ slot: 1, logic, params: { expiry: { maxOpens: 1 } } }] });
    try {
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const digest = createHash('sha256').update('pay 1 coin to bob').digest('hex');
      const me = identityOf(d, 'me.key');
      const r = await post(a.url, '/v1/sign', { slot: 1, digest, requester: me.recipient });
      me.dispose();
      assert.is(r.status, 401, JSON.stringify(r.json));
      assert.is(r.json.error.code, 'ERR_UNAUTHENTICATED');
      assert.match(r.json.error.message, /^sign: this decision would change the logic's state/);
      const ok = run(d, ['sign-request', '--guardian', a.url, '--slot', '1', '--digest', digest, '--identity', 'me.key']);
      assert.is(ok.code, 0, ok.stderr);
      assert.match(JSON.parse(ok.stdout).signature, /^[0-9a-f]{128}$/);
      assertFails(
        run(d, ['sign-request', '--guardian', a.url, '--slot', '1', '--digest', digest, '--identity', 'me.key']),
        /denied by the signing policy: .*opened 1 of 1 times/,
      );
    } finally {
      await a.stop();
    }
    assert.is(run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']).code, 0);
  } finally {
    cleanup();
  }
});

test("Build 2: 40 self-signed spam approvals are not stored (403); a listed approver's approval is then stored and counted", async () => {
  const { d, x25519, cleanup } = await provisioned();
  try {
    const a1 = identityOf(d, 'owner.key');
    const params = { mOfN: { threshold: 1, approvers: [{ scheme: 'ed25519', key: hex(ownerPublicKey(a1)).toUpperCase() }] } };
    a1.dispose();
    assert.is(run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', JSON.stringify(params), '-o', 'm.capsule']).code, 0);
    const a = await startAgent(d, { ratePerSecond: 0 });
    try {
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const me = identityOf(d, 'me.key').recipient;
      const capsule = readFileSync(join(d.dir, 'm.capsule')).toString('base64');
      const id = JSON.parse(run(d, ['inspect', 'm.capsule', '--json']).stdout).id;
      const m = new TextEncoder().encode(`capsule-approval:v1:${id}:${me}`);
      for (let i = 0; i < 40; i++) {
        const k = ed25519.utils.randomSecretKey();
        const item = { kind: 'approval', scheme: 'ed25519', signer: hex(ed25519.getPublicKey(k)), message: hex(m), signature: hex(ed25519.sign(m, k)) };
        const r = await post(a.url, '/v1/approvals', { capsule, requester: me, approval: item });
        assert.is(r.status, 403, JSON.stringify(r.json));
        assert.is(r.json.error.code, 'ERR_FORBIDDEN');
        assert.match(
          r.json.error.message,
          /^body\.approval\.signer: ed25519 [0-9a-f]{64} is not an approver listed in this capsule's logic params, so its approval would not count and is not stored$/,
        );
      }
      const stored = run(d, ['approve', 'm.capsule', '--requester', me, '--key', 'owner.key', '--guardian', a.url]);
      assert.is(stored.code, 0, stored.stderr);
      const opened = run(d, ['open', 'm.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'm.out']);
      assert.is(opened.code, 0, `the stored approval counts: ${opened.stderr}`);
    } finally {
      await a.stop();
    }
    assert.is(auditLines(d.data).filter((e) => e.kind === 'approval').length, 1, 'spam left no audit entries');
  } finally {
    cleanup();
  }
});

test("D9: a check-in signed by a key the capsule does not name is refused (403) before anything is audited; the owner's (header or params) is recorded", async () => {
  const { d, x25519, cleanup } = await provisioned();
  try {
    const me = identityOf(d, 'me.key').recipient;
    const dm = { beneficiaries: [me], silenceMs: 3_600_000 };
    assert.is(
      run(d, [
        'seal',
        'policy.wasm',
        '--guardian',
        x25519,
        '--logic',
        'policy.wasm',
        '--sign-with',
        'owner.key',
        '--params',
        JSON.stringify({ deadMan: dm }),
        '-o',
        'dm.capsule',
      ]).code,
      0,
    );
    const other = identityOf(d, 'other.key');
    assert.is(
      run(d, [
        'seal',
        'policy.wasm',
        '--guardian',
        x25519,
        '--logic',
        'policy.wasm',
        '--params',
        JSON.stringify({ any: [{ deadMan: { ...dm, owner: hex(ownerPublicKey(other)) } }] }),
        '-o',
        'p.capsule',
      ]).code,
      0,
    );
    other.dispose();
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 't.capsule']).code,
      0,
    );
    setClock(d, Date.now());
    const a = await startAgent(d, { ratePerSecond: 0 });
    try {
      assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
      const before = auditLines(d.data).length;
      const id = JSON.parse(run(d, ['inspect', 'dm.capsule', '--json']).stdout).id;
      const now = ((await (await fetch(a.url + '/v1/status')).json()) as { now: number }).now;
      const message = new TextEncoder().encode(`capsule-checkin:v1:${id}:${now}`);
      const k = ed25519.utils.randomSecretKey();
      const forged = {
        kind: 'checkin',
        scheme: 'ed25519',
        signer: hex(ed25519.getPublicKey(k)),
        message: hex(message),
        signature: hex(ed25519.sign(message, k)),
      };
      const r = await post(a.url, '/v1/checkin', { capsule: readFileSync(join(d.dir, 'dm.capsule')).toString('base64'), checkin: forged });
      assert.is(r.status, 403, JSON.stringify(r.json));
      assert.is(r.json.error.code, 'ERR_FORBIDDEN');
      assert.match(
        r.json.error.message,
        /^body\.checkin\.signer: [0-9a-f]{64} is not a key this capsule names \(its owner or an "owner" param\); expected one of [0-9a-f]{64}$/,
      );
      assert.is(auditLines(d.data).length, before, 'nothing audited');
      assertFails(
        run(d, ['checkin', 'dm.capsule', '--guardian', a.url, '--key', 'other.key']),
        /body\.checkin\.signer: [0-9a-f]{64} is not a key this capsule names/,
      );
      assertFails(run(d, ['checkin', 't.capsule', '--guardian', a.url, '--key', 'owner.key']), /body\.checkin\.signer: this capsule names no check-in key/);
      assert.is(auditLines(d.data).length, before, 'still nothing audited');
      const ok = run(d, ['checkin', 'dm.capsule', '--guardian', a.url, '--key', 'owner.key']);
      assert.is(ok.code, 0, ok.stderr);
      const byParam = run(d, ['checkin', 'p.capsule', '--guardian', a.url, '--key', 'other.key']);
      assert.is(byParam.code, 0, `an "owner" param names a check-in key: ${byParam.stderr}`);
    } finally {
      await a.stop();
    }
  } finally {
    cleanup();
  }
});

test.run();
