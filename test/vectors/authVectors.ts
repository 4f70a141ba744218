/**
 * Requester-authentication test vectors (docs/API.md "Requester authentication"): definitions,
 * the text file format, and `node test/vectors/authVectors.ts` (npm run vectors:auth), which
 * writes test/vectors/auth/*.auth-vector. Deterministic (fixed keys, times and nonces): running it
 * twice gives identical files, and test/requester-auth.test.ts checks the committed files against
 * it and runs every vector through the guardian's checks.
 *
 * File format: `key: value` lines. `expect:` is `success` or `error CODE`; `guardian-identity`
 * verifies, `now` is the guardian's time (ms), `seen-nonce` (optional) is a nonce the guardian
 * already accepted from this requester, `method`/`path`/`body` are the request (body: one line of
 * JSON, with its `auth`). Positive vectors also give the intermediate values `body-sha256`,
 * `key` (HKDF output) and `mac-input`. Deliberately not here: the checks themselves (agent code).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeIdentity, encodeRecipient, identityFromSecret, type Identity } from '../../agent/crypto/identity.ts';
import { sha256 } from '../../agent/crypto/kdf.ts';
import { authKey, authMessage, AUTH_WINDOW_MS, bodyDigest, makeRequestAuth } from '../../agent/crypto/requesterAuth.ts';
import { x25519Shared } from '../../agent/crypto/x25519.ts';

export const AUTH_DIR = fileURLToPath(new URL('./auth/', import.meta.url));
export const AUTH_EXTENSION = '.auth-vector';

export interface AuthVector {
  name: string;
  expect: string;
  comment: string;
  guardianIdentity: string;
  now: number;
  seenNonce?: string;
  method: string;
  path: string;
  /** The body exactly as sent (one line of JSON). */
  body: string;
  bodySha256?: string;
  key?: string;
  macInput?: string;
}

const te = new TextEncoder();
const idOf = (label: string): Identity => identityFromSecret(sha256(te.encode(`capsule-request-auth test vector ${label}`)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const NOW = 1_893_456_000_000; // 2030-01-01T00:00:00Z
const nonce = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (n * 16 + i) & 255);

export function authVectors(): AuthVector[] {
  const guardian = idOf('guardian');
  const otherGuardian = idOf('other guardian');
  const requester = idOf('requester');
  const stranger = idOf('stranger');
  const release = { capsule: 'Y2Fwc3VsZQ==', requester: requester.recipient, evidence: [] as unknown[] };
  const byId = { id: '00112233445566778899aabbccddeeff', requester: requester.recipient };
  const sign = { slot: 0, digest: 'ab'.repeat(32), requester: requester.recipient };
  const make = (o: { body: Record<string, unknown>; path?: string; by?: Identity; to?: Identity; at?: number; n?: number }) => {
    const by = o.by ?? requester;
    const to = o.to ?? guardian;
    return makeRequestAuth({
      requesterSecret: by.secretKey,
      requesterPk: by.publicKey,
      guardian: to.recipient,
      method: 'POST',
      path: o.path ?? '/v1/release',
      body: o.body,
      at: o.at ?? NOW,
      nonce: nonce(o.n ?? 1),
    });
  };
  const out: AuthVector[] = [];
  const add = (name: string, expect: string, comment: string, body: Record<string, unknown>, extra: Partial<AuthVector> = {}) => {
    out.push({
      name,
      expect,
      comment,
      guardianIdentity: encodeIdentity(guardian.secretKey),
      now: NOW,
      method: 'POST',
      path: '/v1/release',
      body: JSON.stringify(body),
      ...extra,
    });
  };
  const positive = (name: string, comment: string, body: Record<string, unknown>, path: string, text?: string) => {
    const auth = body.auth as { at: number; nonce: string };
    const key = authKey(x25519Shared(requester.secretKey, guardian.publicKey), requester.publicKey, guardian.publicKey);
    const digest = bodyDigest(body);
    const input = authMessage({
      method: 'POST',
      path,
      bodySha256: digest,
      guardianPk: guardian.publicKey,
      requesterPk: requester.publicKey,
      at: auth.at,
      nonce: Uint8Array.from(Buffer.from(auth.nonce, 'hex')),
    });
    add(name, 'success', comment, body, { path, body: text ?? JSON.stringify(body), bodySha256: hex(digest), key: hex(key), macInput: hex(input) });
  };

  // ---- positive ----
  positive('release-capsule', "a release by capsule bytes, made at the guardian's time", { ...release, auth: make({ body: release }) }, '/v1/release');
  positive(
    'release-id-window-start',
    "by id, made exactly AUTH_WINDOW_MS before the guardian's time (the window is inclusive)",
    { ...byId, auth: make({ body: byId, at: NOW - AUTH_WINDOW_MS, n: 2 }) },
    '/v1/release',
  );
  positive(
    'sign-window-end',
    "a sign request, made exactly AUTH_WINDOW_MS after the guardian's time",
    { ...sign, auth: make({ body: sign, path: '/v1/sign', at: NOW + AUTH_WINDOW_MS, n: 3 }) },
    '/v1/sign',
  );
  {
    const b = { requester: requester.recipient, evidence: [{ z: 1, a: 'é' }], capsule: 'AA==' };
    const auth = make({ body: b, n: 4 });
    // Member order and whitespace do not matter: the MAC covers the RFC 8785 (JCS) form.
    const text = `{ "evidence" : [ { "z": 1, "a": "\\u00e9" } ], "auth": ${JSON.stringify(auth)}, "capsule": "AA==", "requester": ${JSON.stringify(b.requester)} }`;
    positive(
      'jcs-order-and-whitespace',
      'members in another order, with whitespace and a \\u escape: the MAC is over the JCS form without auth',
      { ...b, auth },
      '/v1/release',
      text,
    );
  }

  // ---- negative ----
  const good = make({ body: release, n: 5 });
  const flip = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);
  add('mac-bit-flipped', 'error ERR_UNAUTHENTICATED', 'the MAC with its first bits changed', { ...release, auth: { ...good, mac: flip(good.mac) } });
  add('stranger-knows-recipient', 'error ERR_UNAUTHENTICATED', "made by another identity for the requester's recipient (a stranger who knows age1…)", {
    ...release,
    auth: make({ body: release, by: stranger, n: 6 }),
  });
  add('stale', 'error ERR_UNAUTHENTICATED', 'made 1 ms before the window', { ...release, auth: make({ body: release, at: NOW - AUTH_WINDOW_MS - 1, n: 7 }) });
  add('future', 'error ERR_UNAUTHENTICATED', 'made 1 ms after the window', { ...release, auth: make({ body: release, at: NOW + AUTH_WINDOW_MS + 1, n: 8 }) });
  add('other-guardian', 'error ERR_UNAUTHENTICATED', 'made for another guardian (auth.guardian names it)', {
    ...release,
    auth: make({ body: release, to: otherGuardian, n: 9 }),
  });
  add('other-guardian-relabelled', 'error ERR_UNAUTHENTICATED', "made with another guardian's key, auth.guardian rewritten to this one", {
    ...release,
    auth: { ...make({ body: release, to: otherGuardian, n: 10 }), guardian: guardian.recipient },
  });
  add('evidence-added', 'error ERR_UNAUTHENTICATED', 'an evidence item added after the MAC was made', {
    ...release,
    evidence: [{ kind: 'approval' }],
    auth: good,
  });
  add('requester-swapped', 'error ERR_UNAUTHENTICATED', 'body.requester replaced by another recipient', {
    ...release,
    requester: stranger.recipient,
    auth: good,
  });
  add('path-swapped', 'error ERR_UNAUTHENTICATED', 'made for /v1/sign, sent to /v1/release', { ...sign, auth: make({ body: sign, path: '/v1/sign', n: 11 }) });
  add('at-altered', 'error ERR_UNAUTHENTICATED', 'auth.at moved by 1 ms (still fresh)', { ...release, auth: { ...good, at: good.at + 1 } });
  add('nonce-altered', 'error ERR_UNAUTHENTICATED', 'auth.nonce changed', { ...release, auth: { ...good, nonce: flip(good.nonce) } });
  add(
    'replayed-nonce',
    'error ERR_REPLAYED',
    'a valid request whose nonce the guardian already accepted from this requester',
    { ...release, auth: good },
    { seenNonce: good.nonce },
  );
  add('nonce-short', 'error ERR_BAD_REQUEST', 'a 15-byte nonce', { ...release, auth: { ...good, nonce: good.nonce.slice(2) } });
  add('mac-uppercase', 'error ERR_BAD_REQUEST', 'the MAC in upper-case hex', { ...release, auth: { ...good, mac: good.mac.toUpperCase() } });
  add('at-text', 'error ERR_BAD_REQUEST', 'auth.at as a string', { ...release, auth: { ...good, at: String(good.at) } });
  add('extra-member', 'error ERR_BAD_REQUEST', 'an unknown member in auth', { ...release, auth: { ...good, v: 1 } });
  add('missing-mac', 'error ERR_BAD_REQUEST', 'auth without mac', { ...release, auth: { guardian: good.guardian, at: good.at, nonce: good.nonce } });
  {
    const zero = encodeRecipient(new Uint8Array(32)); // valid bech32, low-order point
    add('requester-low-order', 'error ERR_BAD_RECIPIENT', 'the requester is the all-zero (low-order) X25519 key', { ...release, requester: zero, auth: good });
  }
  for (const i of [guardian, otherGuardian, requester, stranger]) i.dispose();
  return out;
}

export function formatAuthVector(v: AuthVector): string {
  const lines = [`expect: ${v.expect}`, `comment: ${v.comment}`, `guardian-identity: ${v.guardianIdentity}`, `now: ${v.now}`];
  if (v.seenNonce) lines.push(`seen-nonce: ${v.seenNonce}`);
  lines.push(`method: ${v.method}`, `path: ${v.path}`, `body: ${v.body}`);
  if (v.bodySha256) lines.push(`body-sha256: ${v.bodySha256}`, `key: ${v.key}`, `mac-input: ${v.macInput}`);
  lines.push(`source: test/vectors/authVectors.ts "${v.name}" (npm run vectors:auth)`);
  return lines.join('\n') + '\n';
}

export function parseAuthVector(name: string, text: string): AuthVector {
  const v: Record<string, string> = {};
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const m = /^([a-z0-9-]+): (.*)$/.exec(line);
    if (!m) throw new Error(`${name}: bad vector line ${JSON.stringify(line.slice(0, 60))}`);
    v[m[1]!] = m[2]!;
  }
  if (!/^(success|error ERR_[A-Z_]+)$/.test(v.expect ?? '')) throw new Error(`${name}: bad expect line`);
  return {
    name,
    expect: v.expect!,
    comment: v.comment ?? '',
    guardianIdentity: v['guardian-identity']!,
    now: Number(v.now),
    seenNonce: v['seen-nonce'],
    method: v.method!,
    path: v.path!,
    body: v.body!,
    bodySha256: v['body-sha256'],
    key: v.key,
    macInput: v['mac-input'],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(AUTH_DIR, { recursive: true });
  for (const f of readdirSync(AUTH_DIR)) if (f.endsWith(AUTH_EXTENSION)) rmSync(AUTH_DIR + f);
  const all = authVectors();
  for (const v of all) writeFileSync(AUTH_DIR + v.name + AUTH_EXTENSION, formatAuthVector(v));
  const pos = all.filter((v) => v.expect === 'success').length;
  console.log(`wrote ${all.length} vectors (${pos} positive, ${all.length - pos} negative) to ${AUTH_DIR}`);
}
