/**
 * The audit log on its own: chain and signatures written and verified, sequential and concurrent
 * appends (group commit; no append is ever lost), an unacknowledged partial line dropped at open,
 * a log started by another key refused, and every kind of tampering caught by verifyAuditLog.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { AuditLog, verifyAuditLog } from '../agent/daemon/AuditLog.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../agent/crypto/p256.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

function signer() {
  const sk = p256.utils.randomSecretKey();
  return {
    publicKey: p256.getPublicKey(sk, true),
    sign: async (d: Uint8Array) => p256.sign(d, sk, { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array,
  };
}
const made: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'audit-'));
  made.push(d);
  return join(d, 'audit.log');
};

test('sequential and concurrent appends all land, chained and signed; verify returns them in order', async () => {
  const path = fresh();
  const s = signer();
  const log = await AuditLog.open(path, s, 1);
  const a = await log.append('release', 2, { verdict: 'deny' });
  const b = await log.append('release', 3, { verdict: 'allow' }); // right after a drain finished
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append('release', 4 + i, { n: i })));
  await log.close();
  assert.equal([a.seq, b.seq], [1, 2]);
  assert.equal(
    many.map((e) => e.seq),
    Array.from({ length: 50 }, (_, i) => 3 + i),
  );
  const entries = verifyAuditLog(readFileSync(path, 'utf8'), encodeP256Key(GUARDIAN_KEY_HRP, s.publicKey));
  assert.is(entries.length, 53);
  assert.is(entries[0]!.kind, 'genesis');
});

test('open drops an unacknowledged partial line and continues the chain; a log of another key is refused', async () => {
  const path = fresh();
  const s = signer();
  const log = await AuditLog.open(path, s, 1);
  await log.append('release', 2, { verdict: 'deny' });
  await log.close();
  appendFileSync(path, '{"seq":2,"prev":"ab'); // a crash mid-write
  const again = await AuditLog.open(path, s, 3);
  assert.is((await again.append('release', 4, { verdict: 'allow' })).seq, 2);
  await again.close();
  assert.is(verifyAuditLog(readFileSync(path, 'utf8')).length, 3);
  await rejectsError(
    () => AuditLog.open(path, signer(), 5),
    'AuditError',
    'ERR_AUDIT_SIGNATURE',
    /was started by guardian key capsule-guardian1[0-9a-z]+; this guardian signs with capsule-guardian1/,
  );
});

test('verify catches every alteration: a field, a removed or reordered line, a foreign key, a duplicate key, a non-genesis start', async () => {
  const path = fresh();
  const s = signer();
  const log = await AuditLog.open(path, s, 1);
  for (let i = 0; i < 4; i++) await log.append('release', 2 + i, { verdict: i % 2 ? 'allow' : 'deny', fuel: 100 + i });
  await log.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const join_ = (ls: string[]) => ls.join('\n') + '\n';
  throwsError(
    () => verifyAuditLog(join_(lines.map((l, i) => (i === 2 ? l.replace('"fuel":101', '"fuel":1') : l)))),
    'AuditError',
    'ERR_AUDIT_SIGNATURE',
    /line 3: signature does not verify/,
  );
  throwsError(() => verifyAuditLog(join_(lines.filter((_, i) => i !== 2))), 'AuditError', 'ERR_AUDIT_FORMAT', /line 3: expected entry 2/);
  throwsError(() => verifyAuditLog(join_([lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)])), 'AuditError', 'ERR_AUDIT_FORMAT', /line 2: expected entry 1/);
  throwsError(
    () => verifyAuditLog(join_(lines), encodeP256Key(GUARDIAN_KEY_HRP, signer().publicKey)),
    'AuditError',
    'ERR_AUDIT_SIGNATURE',
    /line 1: the log is signed by capsule-guardian1[0-9a-z]+, not by the given guardian key/,
  );
  throwsError(
    () => verifyAuditLog(join_(lines.map((l, i) => (i === 1 ? l.replace('{', '{"verdict":"allow",') : l)))),
    'AuditError',
    'ERR_AUDIT_FORMAT',
    /line 2: not in the form the guardian writes/,
  );
  throwsError(() => verifyAuditLog(join_(lines.slice(1))), 'AuditError', 'ERR_AUDIT_FORMAT', /line 1: expected entry 0/);
  throwsError(() => verifyAuditLog(''), 'AuditError', 'ERR_AUDIT_FORMAT', /empty \(no genesis entry\)/);
  writeFileSync(path, 'not json\n');
  throwsError(() => verifyAuditLog(readFileSync(path, 'utf8')), 'AuditError', 'ERR_AUDIT_FORMAT', /line 1: not JSON/);
});

test.after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

test.run();
