/**
 * The agent's start-up check of its audit log (issue 18 D5): AuditLog.open walks the whole chain
 * (form, seq, prev hashes; signatures of the genesis and the last entry) — measured for a log of
 * 100,000 decision-sized entries (~1 KiB each, like a release with its input), against verifying
 * every signature (what `capsule audit verify` does). The middle entries' signatures are not made
 * (open does not check them), which keeps building the log fast; the chain is real.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { AuditLog, chainDigest, canonicalJson, verifyAuditLog, type AuditEntry, type Json } from '../agent/daemon/AuditLog.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP, normaliseLowS } from '../agent/crypto/p256.ts';
import { sha256 } from '../agent/crypto/kdf.ts';

const N = Number(process.env.AUDIT_ENTRIES ?? 100_000);
const sk = p256.utils.randomSecretKey();
const signer = {
  publicKey: p256.getPublicKey(sk, true),
  sign: async (d: Uint8Array) => p256.sign(d, sk, { prehash: false, lowS: false, format: 'compact' } as never) as Uint8Array,
};
const sign = (e: Omit<AuditEntry, 'sig'>) =>
  Buffer.from(
    normaliseLowS(p256.sign(sha256(new TextEncoder().encode(canonicalJson(e as Json))), sk, { prehash: false, format: 'compact' } as never) as Uint8Array),
  ).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'bench-audit-'));
try {
  const lines: string[] = [];
  let prev = '0'.repeat(64);
  const input = { now: 1893456000000, requester: 'age1' + 'q'.repeat(58), evidence: [], params: 'a'.repeat(600), state: {} };
  for (let seq = 0; seq < N; seq++) {
    const body =
      seq === 0
        ? { guardian: encodeP256Key(GUARDIAN_KEY_HRP, signer.publicKey), seq, prev, at: 1, kind: 'genesis' }
        : {
            capsule: '00'.repeat(16),
            header: 'ab'.repeat(32),
            verdict: 'deny',
            reason: 'not yet',
            fuel: 12345,
            input,
            seq,
            prev,
            at: 1 + seq,
            kind: 'release',
          };
    const entry = { ...body, sig: seq === 0 || seq === N - 1 ? sign(body as never) : 'ee'.repeat(64) } as unknown as AuditEntry;
    lines.push(JSON.stringify(entry));
    prev = chainDigest(entry);
  }
  const text = lines.join('\n') + '\n';
  writeFileSync(join(dir, 'audit.log'), text);
  const t0 = performance.now();
  const log = await AuditLog.open(join(dir, 'audit.log'), signer, 1);
  const openMs = performance.now() - t0;
  await log.close();
  // Every signature (audit verify): measured on 2,000 real signatures and scaled.
  const small: string[] = [];
  let p2 = '0'.repeat(64);
  for (let seq = 0; seq < 2000; seq++) {
    const body =
      seq === 0
        ? { guardian: encodeP256Key(GUARDIAN_KEY_HRP, signer.publicKey), seq, prev: p2, at: 1, kind: 'genesis' }
        : { verdict: 'deny', input, seq, prev: p2, at: 1 + seq, kind: 'release' };
    const entry = { ...body, sig: sign(body as never) } as unknown as AuditEntry;
    small.push(JSON.stringify(entry));
    p2 = chainDigest(entry);
  }
  const t1 = performance.now();
  verifyAuditLog(small.join('\n') + '\n');
  const perSig = (performance.now() - t1) / 2000;
  console.log(
    `audit start-up check: ${N} entries (${(text.length / 2 ** 20).toFixed(0)} MiB): ${openMs.toFixed(0)} ms (${((openMs * 1000) / N).toFixed(1)} µs/entry); every signature (audit verify) ~${perSig.toFixed(2)} ms/entry → ~${((perSig * N) / 1000).toFixed(0)} s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
