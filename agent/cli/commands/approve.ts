/**
 * `capsule approve CAPSULE --requester age1… (--key FILE | --eth-key FILE) [--guardian URL]… [-o F]`:
 * an approver's signature for m-of-n logic. The message names the capsule and the requester:
 * "capsule-approval:v1:<capsule id hex>:<requester>". With --key (an age identity file) it is an
 * Ed25519 signature by the key derived from it (as --sign-with); with --eth-key (a file holding a
 * secp256k1 private key in hex) an Ethereum personal_sign. Sent to the guardian with --guardian,
 * else written as an approval file (JSON) for `capsule open --approval`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import { evidenceJson } from '../../client/GuardianClient.ts';
import { toEveryGuardian } from '../../client/toEveryGuardian.ts';
import { failUnlessAll } from '../failUnlessAll.ts';
import { encodeRecipient, parseRecipient } from '../../crypto/identity.ts';
import { wipe } from '../../crypto/secrets.ts';
import { UsageError } from '../../errors.ts';
import { ioError } from '../../io/sources.ts';
import { addressOf, personalMessageDigest } from '../../sandbox/ethereum.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { APPROVE as SPEC } from '../specs/client.ts';
import { list, need, parse, str } from '../args.ts';
import { loadIdentities } from '../files.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';
import { signEd25519 } from './checkin.ts';
import { AtomicFile } from '../../io/AtomicFile.ts';
import { approvalMessage } from '../../format/evidence.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule approve` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function approveCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  // Signed exactly as encoded (lowercase, trimmed): the guardian compares the message byte for byte.
  const requester = encodeRecipient(parseRecipient(need(p, 'requester', SYNOPSIS)));
  const keyFile = str(p, 'key');
  const ethFile = str(p, 'eth-key');
  if ((keyFile === undefined) === (ethFile === undefined))
    throw new UsageError('ERR_USAGE', 'give exactly one of --key and --eth-key', { hint: `usage: ${SYNOPSIS}` });
  const file = p.positionals[0]!;
  const { prefix, id } = await capsulePrefix({ path: resolve(t.cwd, file), name: file });
  const message = approvalMessage(id, requester);
  let item: EvidenceItem;
  if (keyFile !== undefined) {
    const ids = await loadIdentities(t, keyFile);
    try {
      item = signEd25519(ids[0]!, 'approval', message);
    } finally {
      for (const i of ids) i.dispose();
    }
  } else {
    item = await signEthereum(t, ethFile!, message);
  }
  const guardians = list(p, 'guardian');
  if (guardians.length > 0) {
    // Every guardian of a set keeps its own approvals: each gets the same signed approval.
    const results = await toEveryGuardian(guardians, (c) => c.approve(prefix, requester, item, t.signal));
    for (const r of results) if (r.ok) say(t, `approval stored by ${r.url} (audit entry #${r.value.audit})`);
    failUnlessAll(t, results, { what: 'the approval', done: 'stored', command: 'approve' });
    return 0;
  }
  const json = JSON.stringify(evidenceJson(item), null, 2) + '\n';
  const out = str(p, 'output');
  if (out === undefined || out === '-') {
    await writeOut(t, json);
  } else {
    const f = await AtomicFile.create(resolve(t.cwd, out), 0o644, out);
    await f.write(new TextEncoder().encode(json));
    await f.commit();
    say(t, `approval for ${requester} written to ${out}`);
  }
  return 0;
}

async function signEthereum(t: Terminal, file: string, message: string): Promise<EvidenceItem> {
  let text: string;
  try {
    text = (await readFile(resolve(t.cwd, file), 'utf8')).trim().replace(/^0x/i, '');
  } catch (cause) {
    throw ioError(file, 'read', cause);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new UsageError('ERR_USAGE', `${file}: expected a secp256k1 private key as 64 hex digits`);
  const key = Uint8Array.from(Buffer.from(text, 'hex'));
  try {
    const m = new TextEncoder().encode(message);
    const rec = secp256k1.sign(personalMessageDigest(m), key, { prehash: false, format: 'recovered' });
    const sig = new Uint8Array(65); // noble: v ‖ r ‖ s; Ethereum: r ‖ s ‖ v
    sig.set(rec.subarray(1), 0);
    sig[64] = rec[0]! + 27;
    return { kind: 'approval', scheme: 'eip191', signer: addressOf(secp256k1.getPublicKey(key, false)), message: m, signature: sig };
  } finally {
    wipe(key);
  }
}
