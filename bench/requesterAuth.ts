/**
 * Requester-authentication benchmark (`BENCH_ONLY=auth npm run bench`): what verifying a request's
 * `auth` field costs the guardian (docs/API.md "Requester authentication"), split into the pure
 * check (JCS + SHA-256 of the body, X25519 with a key in memory, HKDF, HMAC) for a release by id
 * (~150 B) and by capsule bytes (~90 KB of base64), and the agent's whole path (RequestAuthenticator:
 * the module unlocks the seed, keys are derived, the nonce is remembered in SQLite) on the Zymbit
 * simulator through koffi. Also the client's cost of making one. Medians.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { checkRequestAuth, makeRequestAuth, type RequestAuth } from '../agent/crypto/requesterAuth.ts';
import { x25519Shared } from '../agent/crypto/x25519.ts';
import { RequestAuthenticator } from '../agent/daemon/RequestAuthenticator.ts';
import { Store } from '../agent/daemon/Store.ts';
import { Guardian, slotSigningKey } from '../agent/guardian/Guardian.ts';
import { writeGuardianFile } from '../agent/guardian/GuardianFile.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { bip39Seed, guardianRecipients, deriveGuardianKeys } from '../agent/keys/hierarchy.ts';
import { ZymbitKeyStore } from '../agent/keys/ZymbitKeyStore.ts';

const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
if (!existsSync(LIB)) throw new Error(`${LIB} is missing: run bash native/build.sh first`);
const scratch = mkdtempSync(join(tmpdir(), 'auth-bench-'));
process.env.ZK_SIM_STATE_DIR = mkdtempSync(join(scratch, 'zk-'));
process.env.ZK_SIM_MODEL = 'HSM6';

const median = async (f: () => unknown, n: number) => {
  for (let i = 0; i < Math.min(100, n); i++) await f();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    xs.push(performance.now() - t);
  }
  return +(xs.sort((a, b) => a - b)[n >> 1]! * 1000).toFixed(1);
};

const entropy = randomBytes(32);
const kept = deriveGuardianKeys(entropy);
const guardian = kept.x25519;
const requester = generateIdentity();
const NOW = Date.now();
const bodies = {
  'by id (~150 B)': { id: 'ab'.repeat(16), requester: requester.recipient },
  'by capsule (~90 KB)': { capsule: randomBytes(67_000).toString('base64'), requester: requester.recipient, evidence: [] },
};
const make = (body: Record<string, unknown>) =>
  makeRequestAuth({
    requesterSecret: requester.secretKey,
    requesterPk: requester.publicKey,
    guardian: guardian.recipient,
    method: 'POST',
    path: '/v1/release',
    body,
    at: NOW,
  });

// The agent's path: a real guardian on the simulator (seed unlocked per request, as for unwraps).
const dataDir = mkdtempSync(join(scratch, 'guardian-'));
const ks = ZymbitKeyStore.open(LIB);
const rec = guardianRecipients(entropy);
await writeGuardianFile(
  dataDir,
  {
    format: 'capsule-guardian/v1',
    created: new Date().toISOString(),
    restored: false,
    backend: 'zymbit',
    library: LIB,
    model: ks.capabilities.model,
    serial: ks.capabilities.serial,
    ecdh: true,
    signingSlot: 0,
    recipients: { x25519: rec.x25519, p256: rec.p256 },
    signingKey: encodeP256Key(GUARDIAN_KEY_HRP, await slotSigningKey(ks, 0)),
    lockedSeed: Buffer.from(await ks.lock(bip39Seed(entropy))).toString('base64'),
    isolation: 'bench',
  },
  false,
);
await ks.close();
const g = await Guardian.open(dataDir, { env: { ...process.env, CAPSULE_ZYMBIT_LIB: LIB } });
const store = Store.open(join(scratch, 'agent.sqlite'));
const authenticator = new RequestAuthenticator({ guardian: g, store, clock: { kind: 'bench', now: async () => NOW } });

const unlockUs = await median(() => g.withKeys((k) => x25519Shared(k.x25519.secretKey, requester.publicKey)), 300);
let r = 0;
const rowUs = await median(() => store.remember(`bench-${r++}`, NOW + 1, NOW), 300);
console.log('\nrequester authentication: cost per request, medians');
console.log(`parts of the guardian's path: seed unlock in the module + key derivation + X25519 ${unlockUs} µs; one replay-cache row in SQLite ${rowUs} µs`);
console.log('| body | client: make auth | guardian: check (key in memory) | guardian: whole path (seed unlock + derive + check + replay row) |');
console.log('|---|---|---|---|');
for (const [name, body] of Object.entries(bodies)) {
  const signed = { ...body, auth: make(body) } as Record<string, unknown> & { auth: RequestAuth };
  const makeUs = await median(() => make(body), 500);
  const checkUs = await median(
    () =>
      checkRequestAuth({
        method: 'POST',
        path: '/v1/release',
        body: signed,
        requester: requester.recipient,
        guardian: guardian.recipient,
        now: NOW,
        exchange: async (pk) => x25519Shared(guardian.secretKey, pk),
      }),
    500,
  );
  // Fresh nonces each time (the replay cache would refuse a repeat).
  const fresh = Array.from({ length: 400 }, () => ({ ...body, auth: make(body) }));
  let i = 0;
  const wholeUs = await median(() => authenticator.verify('POST', '/v1/release', fresh[i++]!, requester.recipient), 300);
  console.log(`| ${name} | ${makeUs} µs | ${checkUs} µs | ${wholeUs} µs |`);
}
store.close();
await g.close();
kept.dispose();
requester.dispose();
rmSync(scratch, { recursive: true, force: true });
