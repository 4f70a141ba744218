/**
 * Daemon rules in-process, without a spawned agent: the Releaser, approvals and check-ins over
 * real parts (a Store and an AuditLog in a temporary directory, a ModuleStore of WAT modules, the
 * in-process Sandbox, capsules sealed in memory) with two in-memory twins: the guardian (its file
 * key unwrapped with an X25519 identity this test holds) and the clock (fixed). Covers: a release
 * allowed (the answer opens with the requester's identity) and denied (no answer), both audited;
 * approval validation (wrong message, bad signature, unlisted signer, replay) and storage; check-in
 * freshness and named signers; the status table (statusByCode.ts) as errorReply answers with it,
 * including the HTTP layer's own 405/501 and a rate limit's 429 with Retry-After; FetchSlots'
 * refusal; and the Lifecycle's order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync, sign as edSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { Decrypter } from 'age-encryption';
import { identityUnwrapper } from '../agent/capsule/unwrap.ts';
import { seal } from '../agent/capsule/seal.ts';
import { encodeIdentity, generateIdentity } from '../agent/crypto/identity.ts';
import { AgentError, SandboxError } from '../agent/errors.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { approvalMessage, checkinMessage, parseCheckinMessage } from '../agent/format/evidence.ts';
import type { Guardian } from '../agent/guardian/Guardian.ts';
import { MAX_APPROVALS, storeApproval } from '../agent/daemon/Approvals.ts';
import { AuditLog } from '../agent/daemon/AuditLog.ts';
import { CapsuleRegistry } from '../agent/daemon/CapsuleRegistry.ts';
import { checkCheckin, CHECKIN_WINDOW_MS, requireNamedCheckinKey } from '../agent/daemon/Checkins.ts';
import { FetchSlots, MAX_FETCHES } from '../agent/daemon/FetchSlots.ts';
import { errorReply } from '../agent/daemon/HttpServer.ts';
import { Lifecycle } from '../agent/daemon/Lifecycle.ts';
import { ModuleStore } from '../agent/daemon/ModuleStore.ts';
import { present, type Presented } from '../agent/daemon/present.ts';
import { RateLimiter } from '../agent/daemon/RateLimiter.ts';
import { Releaser } from '../agent/daemon/Releaser.ts';
import { STATUS_BY_CODE, statusOf } from '../agent/daemon/statusByCode.ts';
import { Store } from '../agent/daemon/Store.ts';
import type { EvidenceItem } from '../agent/sandbox/inputs.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { expectError, rejectsError } from './helpers/assertError.ts';
import { wat } from './helpers/wat.ts';

const T = 1_893_456_000_000;
const fixed = (verdict: 0 | 1) =>
  wat(`(module
  (import "capsule_v1" "set_reason" (func $reason (param i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "fixed")
  (func (export "decide") (result i32) (call $reason (i32.const 0) (i32.const 5)) (i32.const ${verdict})))`);

const dirs: string[] = [];
const closers: Array<() => Promise<void> | void> = [];
test.after(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An Ed25519 key pair: the raw 32-byte public key and a signer of UTF-8 messages. */
function edKey(): { pub: Uint8Array; sign(message: string): Uint8Array } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = Uint8Array.from(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
  return { pub, sign: (m) => Uint8Array.from(edSign(null, Buffer.from(m), privateKey)) };
}

/** The evidence item as a request carries it (hex fields). */
function item(kind: 'approval' | 'checkin', key: ReturnType<typeof edKey>, message: string, signed = message) {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return { kind, scheme: 'ed25519', signer: hex(key.pub), message: Buffer.from(message).toString('hex'), signature: hex(key.sign(signed)) };
}

async function rig() {
  const dir = mkdtempSync(join(tmpdir(), 'daemon-rules-'));
  dirs.push(dir);
  const sk = p256.utils.randomSecretKey();
  const signer = {
    publicKey: p256.getPublicKey(sk, true),
    sign: async (d: Uint8Array) => p256.sign(d, sk, { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array,
  };
  const store = Store.open(join(dir, 'agent.sqlite'));
  const audit = await AuditLog.open(join(dir, 'audit.log'), signer, T);
  closers.push(
    () => store.close(),
    () => audit.close(),
  );
  const modules = new ModuleStore(join(dir, 'modules'));
  const allow = await modules.add(fixed(1));
  const deny = await modules.add(fixed(0));
  const sandbox = new Sandbox();
  const clock = { kind: 'test', now: async () => T };
  // The guardian twin: its X25519 identity unwraps the file key; its recipient is what check-ins are decided for.
  const gid = generateIdentity();
  const unwrap = identityUnwrapper([gid]);
  const guardian = {
    unwrapFileKey: async (h: Parameters<Guardian['unwrapFileKey']>[0]) => unwrap(h),
    record: { recipients: { x25519: gid.recipient } },
  } as unknown as Guardian;
  const registry = new CapsuleRegistry({ guardian, store, clock });
  const releaser = new Releaser({ guardian, store, modules, audit, sandbox, clock, fuelLimit: sandbox.limits.fuel, registry });
  const sealed = async (logic: string, params?: unknown): Promise<Presented> => {
    const parts: Buffer[] = [];
    for await (const c of seal(new Uint8Array(100).fill(7), {
      recipients: [gid.recipient],
      logic: { hash: Buffer.from(logic, 'hex'), params: params === undefined ? undefined : encodeCanonical(params) },
    }))
      parts.push(c);
    return present(new Uint8Array(Buffer.concat(parts)));
  };
  return { store, audit, clock, releaser, registry, allow, deny, sealed };
}

test('a release the logic allows answers the file key, readable only by the requester; one it denies answers none; both are audited', async () => {
  const r = await rig();
  const me = generateIdentity();
  const p = await r.sealed(r.allow);
  const before = r.audit.seq;
  const ok = await r.releaser.release(p, me.recipient, [], true);
  assert.is(ok.verdict, 'allow');
  const d = new Decrypter();
  d.addIdentity(encodeIdentity(me.secretKey));
  const fileKey = await d.decrypt(ok.answer!);
  assert.is(fileKey.length, 32, 'the answer is the 32-byte file key');
  assert.ok(r.store.capsule(p.headerHash), 'the capsule is registered by its header hash');
  const no = await r.releaser.release(await r.sealed(r.deny), me.recipient, [], true);
  assert.equal([no.verdict, no.reason, no.answer], ['deny', 'fixed', undefined]);
  assert.is(r.audit.seq, before + 2, 'one audit entry per decision');
});

test('a release for a capsule the guardian does not know by id is ERR_NOT_FOUND (404); a non-canonical requester ERR_BAD_REQUEST (400)', async () => {
  const r = await rig();
  let e: unknown;
  try {
    r.releaser.capsuleOf(undefined, 'ab'.repeat(16));
  } catch (x) {
    e = x;
  }
  expectError(e, 'AgentError', 'ERR_NOT_FOUND', /capsule abab.*: unknown to this guardian/);
  assert.is(errorReply(e).status, 404);
  const p = await r.sealed(r.allow);
  await rejectsError(
    () => r.releaser.release(p, ` ${generateIdentity().recipient}`, []),
    'AgentError',
    'ERR_BAD_REQUEST',
    /requester: expected the recipient exactly as encoded/,
  );
});

test('approvals: another message, a bad signature, an unlisted signer are refused (nothing stored); a listed one is stored once', async () => {
  const r = await rig();
  const approver = edKey();
  const stranger = edKey();
  const requester = generateIdentity().recipient;
  const p = await r.sealed(r.allow, { approvers: [{ scheme: 'ed25519', key: Buffer.from(approver.pub).toString('hex') }] });
  const message = approvalMessage(p.id, requester);
  assert.match(message, /^capsule-approval:v1:[0-9a-f]{32}:age1/);
  const refuse = async (raw: unknown, name: string, code: string, re: RegExp, status: number) => {
    let e: unknown;
    try {
      await storeApproval(r, p, requester, raw);
    } catch (x) {
      e = x;
    }
    expectError(e, name, code, re);
    assert.is(errorReply(e).status, status, code);
  };
  await refuse(
    item('approval', approver, approvalMessage(p.id, generateIdentity().recipient)),
    'AgentError',
    'ERR_BAD_REQUEST',
    /^body\.approval\.message: expected "capsule-approval:v1:/,
    400,
  );
  await refuse(
    item('approval', approver, message, `${message}x`),
    'AgentError',
    'ERR_BAD_REQUEST',
    /^body\.approval\.signature: does not verify under the ed25519 signer/,
    400,
  );
  await refuse(item('approval', stranger, message), 'AgentError', 'ERR_FORBIDDEN', /is not an approver listed in this capsule's logic params/, 403);
  await refuse(
    { ...item('approval', approver, message), kind: 'checkin' },
    'AgentError',
    'ERR_BAD_REQUEST',
    /^body\.approval\.kind: expected "approval", got "checkin"/,
    400,
  );
  assert.is(r.store.approvalCount(p.headerHash, requester), 0, 'nothing stored');
  const stored = await storeApproval(r, p, requester, item('approval', approver, message));
  assert.is(stored.audit, r.audit.seq, 'the approval is the last audit entry');
  assert.is(r.store.approvalCount(p.headerHash, requester), 1);
  await refuse(item('approval', approver, message), 'AgentError', 'ERR_REPLAYED', /already recorded for this capsule and requester/, 409);
  assert.ok(MAX_APPROVALS >= 1);
});

test('check-ins: the message names this capsule and a time within the window; stale ones are replays; only named keys count', async () => {
  const r = await rig();
  const owner = edKey();
  const p = await r.sealed(r.allow, { owner: Buffer.from(owner.pub).toString('hex') });
  const parsed = (raw: ReturnType<typeof item>): EvidenceItem =>
    ({
      kind: raw.kind,
      scheme: 'ed25519',
      signer: Buffer.from(raw.signer, 'hex'),
      message: Buffer.from(raw.message, 'hex'),
      signature: Buffer.from(raw.signature, 'hex'),
    }) as EvidenceItem;
  assert.equal(parseCheckinMessage(checkinMessage(p.id, T)), { id: p.id, at: T });
  assert.is(parseCheckinMessage(`${checkinMessage(p.id, T)}0x`), undefined);
  checkCheckin(parsed(item('checkin', owner, checkinMessage(p.id, T))), p.id, T); // fresh, signed: passes
  requireNamedCheckinKey(parsed(item('checkin', owner, checkinMessage(p.id, T))), p);
  let e: unknown;
  try {
    checkCheckin(parsed(item('checkin', owner, checkinMessage(p.id, T - CHECKIN_WINDOW_MS - 1))), p.id, T);
  } catch (x) {
    e = x;
  }
  expectError(e, 'AgentError', 'ERR_REPLAYED', /outside the 10-minute window/);
  assert.is(errorReply(e).status, 409);
  e = undefined;
  try {
    checkCheckin(parsed(item('checkin', owner, checkinMessage('00'.repeat(16), T))), p.id, T);
  } catch (x) {
    e = x;
  }
  expectError(e, 'AgentError', 'ERR_BAD_REQUEST', /^body\.checkin\.message: expected "capsule-checkin:v1:/);
  e = undefined;
  try {
    requireNamedCheckinKey(parsed(item('checkin', edKey(), checkinMessage(p.id, T))), p);
  } catch (x) {
    e = x;
  }
  expectError(e, 'AgentError', 'ERR_FORBIDDEN', /is not a key this capsule names/);
  assert.is(errorReply(e).status, 403);
});

test("statuses come from the one table: typed errors by code, the HTTP layer's own 405/501, untyped errors 500", () => {
  assert.is(errorReply(new SandboxError('ERR_OUT_OF_FUEL', 'x')).status, 422);
  assert.is(errorReply(new AgentError('ERR_QUOTA', 'x')).status, 507);
  assert.is(errorReply(new AgentError('ERR_UNAVAILABLE', 'x')).status, 503);
  assert.is(errorReply(new AgentError('ERR_UNAVAILABLE', 'no ipfs', { status: 501 })).status, 501);
  assert.is(errorReply(new AgentError('ERR_BAD_REQUEST', 'GET', { status: 405 })).status, 405);
  const internal = errorReply(new Error('secret detail'));
  assert.equal([internal.status, internal.body], [500, { error: { code: 'ERR_INTERNAL', message: 'internal error' } }]);
  assert.is(statusOf('ERR_NO_SUCH_CODE'), 500);
  assert.is(STATUS_BY_CODE.ERR_NOT_FOUND, 404);
  assert.ok(Object.isFrozen(STATUS_BY_CODE));
  for (const [code, status] of Object.entries(STATUS_BY_CODE)) assert.ok(status >= 400 && status <= 599 && /^ERR_[A-Z0-9_]+$/.test(code), code);
});

test('a client over its rate is answered 429 with Retry-After', () => {
  const limiter = new RateLimiter({ perAddress: 1, perNetwork: 0, global: 0 });
  let e: unknown;
  for (let i = 0; i < 10 && !e; i++)
    try {
      limiter.take('127.0.0.9');
    } catch (x) {
      e = x;
    }
  expectError(e, 'AgentError', 'ERR_RATE_LIMITED', /too many requests from/);
  const reply = errorReply(e);
  assert.is(reply.status, 429);
  assert.match(reply.headers?.['retry-after'] ?? '', /^[1-9][0-9]*$/);
});

test('fetches by CID beyond MAX_FETCHES are refused at once (ERR_UNAVAILABLE, 503), and a slot is freed when one ends', async () => {
  const slots = new FetchSlots();
  const gates: Array<() => void> = [];
  const running = Array.from({ length: MAX_FETCHES }, () => slots.run(() => new Promise<void>((r) => gates.push(r))));
  await rejectsError(() => slots.run(async () => {}), 'AgentError', 'ERR_UNAVAILABLE', /^busy: 4 fetches by CID in progress$/);
  gates.shift()!();
  await running[0];
  await slots.run(async () => {});
  for (const g of gates) g();
  await Promise.all(running);
});

test('Lifecycle: components stop last-first; a failed stop does not keep the others from stopping', async () => {
  const life = new Lifecycle();
  const log: string[] = [];
  for (const name of ['guardian', 'store', 'http'])
    await life.use(
      name,
      () => name,
      (n) => {
        log.push(n);
        if (n === 'store') throw new Error('store: close failed');
      },
    );
  await rejectsError(
    () =>
      life.use(
        'never',
        () => {
          throw new AgentError('ERR_CONFIG', 'bad');
        },
        () => {
          log.push('never');
        },
      ),
    'AgentError',
    'ERR_CONFIG',
    /^bad$/,
  );
  assert.equal(life.names, ['guardian', 'store', 'http'], 'a component whose start failed is not recorded');
  let thrown: unknown;
  try {
    await life.stopAll();
  } catch (e) {
    thrown = e;
  }
  assert.equal(log, ['http', 'store', 'guardian']);
  assert.match(String(thrown), /store: close failed/);
  assert.equal(life.names, []);
});

test.run();
