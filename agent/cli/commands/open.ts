/**
 * `capsule open CAPSULE --guardian URL --identity FILE [--approval FILE]… -o OUT`: asks the
 * guardian to release the capsule's key to this identity's recipient, opens the answer (age) with
 * the identity, and decrypts the capsule locally, streaming (OUT appears only if all verified).
 * The request is authenticated with the identity (docs/API.md "Requester authentication"), so the
 * guardian may count an open for it. A denial is exit 1 with the logic's reason.
 * Deliberately not here: the protocol (GuardianClient).
 *
 * By CID (`capsule open bafy… --guardian URL …`): the guardian fetches the capsule from IPFS itself
 * and decides; then its bytes come from the guardian (`GET /v1/content`) into a temporary file, are
 * checked against the CID, and decrypted from there.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CID } from 'multiformats/cid';
import { bytesOf } from '../../io/sources.ts';
import { parseCid } from '../../store/ContentStore.ts';
import { computeCid } from '../../store/importSettings.ts';
import { Decrypter } from 'age-encryption';
import { decryptToFile } from '../../capsule/open.ts';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { defaultReceiptsDir, saveReceipt } from '../../client/receiptStore.ts';
import { encodeIdentity } from '../../crypto/identity.ts';
import { wipe } from '../../crypto/secrets.ts';
import { AgentError, ContentError, DceError, UsageError } from '../../errors.ts';
import { DEFAULT_MAX_BYTES } from './fetch.ts';

const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;
import { parseEvidence } from '../../sandbox/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { OPEN as SPEC } from '../specs/client.ts';
import { list, need, parse } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { Progress } from '../Progress.ts';
import type { Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule open` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function openCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const file = p.positionals[0]!;
  const cid = await asCid(t, file);
  if (file === '-') throw new UsageError('ERR_USAGE', 'open reads the capsule from a file (the guardian needs its header first, then it is decrypted)', { hint: `usage: ${SYNOPSIS}` });
  const out = need(p, 'output', SYNOPSIS);
  const guardianUrl = need(p, 'guardian', SYNOPSIS);
  const identities = await loadIdentities(t, need(p, 'identity', SYNOPSIS));
  // Authenticated with the identity (proof of possession): a counted open needs it.
  // Every answer's receipt is kept (docs/AUDIT.md "Receipts"): `capsule audit verify --receipt` checks the guardian's log with it.
  const receiptsDir = p.values.receipts !== undefined ? resolve(t.cwd, String(p.values.receipts)) : defaultReceiptsDir(t.env ?? process.env);
  const client = new GuardianClient(guardianUrl, undefined, {
    identity: identities[0],
    onReceipt: async (r) => {
      try {
        await saveReceipt(receiptsDir, r);
      } catch (e) {
        t.stderr.write(`capsule: warning: cannot save the receipt for audit entry ${r.seq} in ${receiptsDir} (${(e as NodeJS.ErrnoException).code ?? 'error'})\n`);
      }
    },
  });
  const evidence: EvidenceItem[] = [];
  for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
  let src = { path: resolve(t.cwd, file), name: file };
  let fileKey: Uint8Array | undefined;
  const progress = new Progress(t, 'decrypting');
  let tmp: string | undefined;
  try {
    let r;
    if (cid) {
      r = await client.releaseByCid(cid.toString(), identities[0]!.recipient, evidence, t.signal);
      tmp = await mkdtemp(join(tmpdir(), 'capsule-open-'));
      src = { path: join(tmp, 'capsule'), name: cid.toString() };
      await downloadVerified(client, cid, src.path, t.signal);
    } else {
      const { prefix } = await capsulePrefix(src);
      r = await client.release(prefix, identities[0]!.recipient, evidence, t.signal);
    }
    const d = new Decrypter();
    d.addIdentity(encodeIdentity(identities[0]!.secretKey));
    try {
      fileKey = await d.decrypt(r.answer);
    } catch (cause) {
      throw new AgentError('ERR_PROTOCOL', `guardian ${client.url}: the release answer does not open with ${identities[0]!.recipient}'s identity`, { cause });
    }
    if (fileKey.length !== 32) throw new AgentError('ERR_PROTOCOL', `guardian ${client.url}: the release answer holds ${fileKey.length} bytes, not a 32-byte file key`);
    const k = fileKey;
    await decryptToFile(src, () => Uint8Array.from(k), resolve(t.cwd, out), { outName: out, signal: t.signal, onProgress: (a, b) => progress.update(a, b) });
  } finally {
    progress.end();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    wipe(fileKey);
    for (const id of identities) id.dispose();
  }
  return 0;
}

/** A CID when the argument is not an existing file and parses as one. */
async function asCid(t: Terminal, arg: string): Promise<CID | undefined> {
  if (arg === '-' || !/^(baf|Qm)/.test(arg)) return undefined;
  if (await stat(resolve(t.cwd, arg)).then(() => true, () => false)) return undefined;
  return parseCid(arg, 'CAPSULE');
}

/** The guardian's copy of the capsule, to `path`, refused unless it has exactly this CID. */
async function downloadVerified(client: GuardianClient, cid: CID, path: string, signal?: AbortSignal): Promise<void> {
  const bounded = AbortSignal.any([AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), ...(signal ? [signal] : [])]);
  let n = 0;
  async function* capped(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of body) {
      n += c.length;
      if (n > DEFAULT_MAX_BYTES) throw new ContentError('ERR_CONTENT_TOO_LARGE', `guardian ${client.url}: sent more than ${DEFAULT_MAX_BYTES} bytes for ${cid}`, { hint: 'nothing was decrypted' });
      yield c;
    }
  }
  try {
    const body = await client.content(cid.toString(), bounded);
    await pipeline(Readable.from(capped(body)), createWriteStream(path, { mode: 0o600 }), { signal: bounded });
  } catch (cause) {
    if (signal?.aborted || cause instanceof DceError) throw cause;
    throw new AgentError('ERR_PROTOCOL', `guardian ${client.url}: the download of ${cid} was cut short${bounded.aborted ? ` (no end within ${DOWNLOAD_TIMEOUT_MS / 60_000} minutes)` : ''}`, {
      cause, hint: 'nothing was decrypted; try again',
    });
  }
  const got = await computeCid(bytesOf({ path, name: cid.toString() }, signal), signal);
  if (!got.equals(cid)) {
    throw new ContentError('ERR_CID_MISMATCH', `guardian ${client.url}: served content for ${cid} whose CID is ${got}`, { hint: 'the guardian sent other bytes than the CID names; nothing was decrypted' });
  }
}
