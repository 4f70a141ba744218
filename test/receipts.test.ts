/**
 * Receipts (issue 18 Build 4) and a fail-closed `capsule audit verify` (D9): every decision answer
 * of the real agent carries {seq, digest, sig, guardian} for its audit entry (allow, deny, and an
 * error answered after its entry was written), `capsule open` stores them, and `capsule audit verify
 * --receipt` proves the log still holds each one — a truncated log, an older copy or a rewritten
 * one fails, naming the receipt and the seq. A log forged under another key fails unless the check
 * is explicitly --unpinned.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { AuditLog, bodyDigest, verifyAuditLog } from '../agent/daemon/AuditLog.ts';
import { checkReceipt, parseReceipt, receiptOf } from '../agent/daemon/Receipt.ts';
import { rollbackFinding } from '../agent/daemon/Anchor.ts';
import { throwsError } from './helpers/assertError.ts';
import { recipients, run } from './helpers/guardianDevice.ts';
import { identityOf, post, provisioned, startAgent, T, withAuth } from './helpers/runningAgent.ts';

// No rate limit and no fuel budget: these tests are about the audit trail, not the scheduler.
const CFG = { ratePerSecond: 0, clientFuelPerMinute: 0 };

function signer() {
  const sk = p256.utils.randomSecretKey();
  return {
    publicKey: p256.getPublicKey(sk, true),
    sign: async (d: Uint8Array) => p256.sign(d, sk, { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array,
  };
}

test('Build 4: receipts are checked against the log: signature, guardian, a missing entry (truncated) and a rewritten one each fail with ERR_AUDIT_RECEIPT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'receipts-'));
  try {
    const path = join(dir, 'audit.log');
    const log = await AuditLog.open(path, signer(), 1);
    const written = [];
    for (let i = 0; i < 3; i++) written.push(await log.append('release', 2 + i, { verdict: 'deny', n: i }));
    await log.close();
    const full = readFileSync(path, 'utf8');
    const entries = verifyAuditLog(full);
    const r = receiptOf(written[2]!, log.guardian);
    assert.equal(r, { seq: 3, digest: bodyDigest(entries[3]!), sig: entries[3]!.sig, guardian: log.guardian });
    checkReceipt(r, entries, 'r.json'); // in the log: no error
    const truncated = verifyAuditLog(full.trim().split('\n').slice(0, 3).join('\n') + '\n');
    throwsError(
      () => checkReceipt(r, truncated, 'r.json'),
      'AuditError',
      'ERR_AUDIT_RECEIPT',
      /^receipt r\.json \(entry 3\): the log ends at entry 2, so the promised entry 3 is missing \(the log was truncated or replaced by an older copy\)$/,
    );
    // The same seq, another entry (the log was cut and continued): the digest differs.
    const other = { ...r, seq: 2 };
    throwsError(
      () => checkReceipt({ ...other, sig: r.sig }, entries, 'r.json'),
      'AuditError',
      'ERR_AUDIT_RECEIPT',
      /^receipt r\.json \(entry 2\): the log's entry 2 is not the one the receipt was given for \(digest [0-9a-f]{64}, receipt [0-9a-f]{64}\): the log was rewritten from this point$/,
    );
    throwsError(
      () => checkReceipt({ ...r, digest: 'ab'.repeat(32) }, entries, 'r.json'),
      'AuditError',
      'ERR_AUDIT_RECEIPT',
      /^receipt r\.json \(entry 3\): its signature does not verify under capsule-guardian1[0-9a-z]+ \(not a receipt this guardian gave\)$/,
    );
    const foreign = await AuditLog.open(join(dir, 'other.log'), signer(), 1);
    const fr = receiptOf(await foreign.append('release', 2, {}), foreign.guardian);
    await foreign.close();
    throwsError(
      () => checkReceipt(fr, entries, 'f.json'),
      'AuditError',
      'ERR_AUDIT_RECEIPT',
      /^receipt f\.json \(entry 1\): given by guardian capsule-guardian1[0-9a-z]+, but the log is capsule-guardian1[0-9a-z]+'s$/,
    );
    throwsError(
      () => parseReceipt('{"seq": 1}', 'x.json'),
      'AuditError',
      'ERR_AUDIT_RECEIPT',
      /^receipt x\.json: expected \{seq, digest \(64 hex\), sig \(128 hex\), guardian\}$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('D5: rollbackFinding: equal or ahead is consistent; behind, replaced, or a missing anchor is ERR_ROLLBACK naming what was found', () => {
  const a = { seq: 5, head: 'aa'.repeat(32), generation: 3 };
  const ok = { logSeq: 5, digestAtAnchor: a.head, wasAnchored: true, generation: 3 };
  assert.is(rollbackFinding(a, ok, 'f'), undefined);
  assert.is(rollbackFinding(a, { ...ok, logSeq: 6, generation: 4 }, 'f'), undefined, 'ahead by the in-flight decision');
  assert.is(rollbackFinding(undefined, { ...ok, wasAnchored: false }, 'f'), undefined, 'first start: nothing to compare');
  const cases: Array<[Parameters<typeof rollbackFinding>, RegExp]> = [
    [
      [a, { ...ok, logSeq: 4, digestAtAnchor: undefined }, 'f'],
      /^rollback: the audit log ends at entry 4, but the anchor records entry 5 \(the log was truncated or replaced by an older copy\)$/,
    ],
    [[a, { ...ok, digestAtAnchor: 'bb'.repeat(32) }, 'f'], /^rollback: the audit log's entry 5 is not the one the anchor records \(the log was replaced\)$/],
    [
      [a, { ...ok, generation: 2 }, 'f'],
      /^rollback: the database is at state generation 2, but the anchor records 3 \(agent\.sqlite was restored from an older copy or deleted\)$/,
    ],
    [[undefined, ok, 'file X'], /^rollback: the anchor \(file X\) is missing, but the audit log or database says one was established$/],
  ];
  for (const [args, message] of cases)
    throwsError(
      () => {
        throw rollbackFinding(...args);
      },
      'AuditError',
      'ERR_ROLLBACK',
      message,
    );
});

test("Build 4: every answer carries its entry's receipt (allow, deny, an audited 401); capsule open stores it; audit verify --receipt catches a truncated or older log", async () => {
  const { d, x25519, cleanup } = await provisioned();
  let a;
  try {
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', `{"timeLock": {"notBefore": ${T}}}`, '-o', 't.capsule']).code,
      0,
    );
    assert.is(
      run(d, [
        'seal',
        'policy.wasm',
        '--guardian',
        x25519,
        '--logic',
        'policy.wasm',
        '--params',
        `{"timeLock": {"notBefore": ${T + 3_600_000}}}`,
        '-o',
        'late.capsule',
      ]).code,
      0,
    );
    assert.is(
      run(d, ['seal', 'policy.wasm', '--guardian', x25519, '--logic', 'policy.wasm', '--params', '{"expiry": {"maxOpens": 2}}', '-o', 'c.capsule']).code,
      0,
    );
    a = await startAgent(d, CFG);
    assert.is(run(d, ['logic', 'push', 'policy.wasm', '--guardian', a.url]).code, 0);
    const me = identityOf(d, 'me.key');
    const key = recipients(d).signingKey;
    const b64 = (f: string) => readFileSync(join(d.dir, f)).toString('base64');
    const deny = await post(a.url, '/v1/release', await withAuth(a.url, '/v1/release', { capsule: b64('late.capsule'), requester: me.recipient }, me));
    assert.is(deny.status, 403);
    const allow = await post(a.url, '/v1/release', await withAuth(a.url, '/v1/release', { capsule: b64('t.capsule'), requester: me.recipient }, me));
    assert.is(allow.status, 200);
    const unauth = await post(a.url, '/v1/release', { capsule: b64('c.capsule'), requester: me.recipient });
    assert.is(unauth.status, 401);
    assert.is(unauth.json.error.code, 'ERR_UNAUTHENTICATED');
    for (const r of [deny, allow, unauth]) {
      assert.is(r.json.receipt.guardian, key);
      assert.match(r.json.receipt.digest, /^[0-9a-f]{64}$/);
    }
    assert.equal([deny.json.receipt.seq, allow.json.receipt.seq], [deny.json.audit, allow.json.audit]);
    // capsule open keeps the receipt of its answer.
    const receipts = join(d.dir, 'receipts');
    const o = run(d, ['open', 't.capsule', '--guardian', a.url, '--identity', 'me.key', '--receipts', receipts, '-o', 'out.bin']);
    assert.is(o.code, 0, o.stderr);
    const files = readdirSync(receipts);
    assert.is(files.length, 1);
    const stored = JSON.parse(readFileSync(join(receipts, files[0]!), 'utf8'));
    assert.is(await a.stop(), 0);
    a = undefined;
    const entries = verifyAuditLog(readFileSync(join(d.data, 'audit.log'), 'utf8'), key);
    for (const r of [deny.json.receipt, allow.json.receipt, unauth.json.receipt, stored]) checkReceipt(r, entries, 'answer');
    assert.is(entries[unauth.json.receipt.seq]!.error, 'ERR_UNAUTHENTICATED');
    const receiptFile = join(receipts, files[0]!);
    const ok = run(d, ['audit', 'verify', '--data-dir', d.data, '--receipt', receiptFile]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /; 1 receipt\(s\) found in the log/);
    // The log cut before the stored receipt's entry: caught.
    const lines = readFileSync(join(d.data, 'audit.log'), 'utf8').trim().split('\n');
    writeFileSync(join(d.dir, 'cut.log'), lines.slice(0, stored.seq).join('\n') + '\n');
    const cut = run(d, ['audit', 'verify', 'cut.log', '--guardian-key', key, '--receipt', receiptFile]);
    assert.is(cut.code, 1);
    assert.match(
      cut.stderr,
      new RegExp(
        `^capsule: error: receipt ${receiptFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(entry ${stored.seq}\\): the log ends at entry ${stored.seq - 1}, so the promised entry ${stored.seq} is missing`,
        'm',
      ),
    );
    // Without the receipt the cut log still verifies: that is what receipts are for.
    assert.is(run(d, ['audit', 'verify', 'cut.log', '--guardian-key', key]).code, 0);
  } finally {
    await a?.stop();
    cleanup();
  }
});

test('D9: audit verify fails closed: a log forged under another key fails against the guardian record or a given key, and with no key at all unless --unpinned', async () => {
  const { d, cleanup } = await provisioned({ policy: false });
  try {
    const forged = await AuditLog.open(join(d.dir, 'forged.log'), signer(), 1);
    await forged.append('release', 2, { verdict: 'allow' });
    await forged.close();
    const pinnedByRecord = run(d, ['audit', 'verify', 'forged.log', '--data-dir', d.data]);
    assert.is(pinnedByRecord.code, 1);
    assert.match(pinnedByRecord.stderr, /^capsule: error: audit log line 1: the log is signed by capsule-guardian1[0-9a-z]+, not by the given guardian key$/m);
    const given = run(d, ['audit', 'verify', 'forged.log', '--guardian-key', recipients(d).signingKey]);
    assert.is(given.code, 1);
    // No key anywhere (the default data directory of this environment holds no guardian): refused.
    const none = run(d, ['audit', 'verify', 'forged.log']);
    assert.is(none.code, 1);
    assert.match(
      none.stderr,
      /^capsule: error: audit verify: no guardian key to check forged\.log against \(no --guardian-key, and no guardian record in .*\)$/m,
    );
    assert.match(
      none.stderr,
      /^capsule: hint: pass --guardian-key capsule-guardian1… \(capsule guardian show prints it\), or --data-dir of the guardian; --unpinned checks only that the log is self-consistent$/m,
    );
    const unpinned = run(d, ['audit', 'verify', 'forged.log', '--unpinned']);
    assert.is(unpinned.code, 0, unpinned.stderr);
    assert.match(unpinned.stderr, /^capsule: warning: --unpinned: the log is checked against the key it names itself/m);
    assert.match(unpinned.stdout, /NOT pinned/);
    const both = run(d, ['audit', 'verify', 'forged.log', '--unpinned', '--guardian-key', recipients(d).signingKey]);
    assert.is(both.code, 1);
    assert.match(both.stderr, /^capsule: error: audit verify: --unpinned and --guardian-key exclude each other$/m);
  } finally {
    cleanup();
  }
});

test.run();
