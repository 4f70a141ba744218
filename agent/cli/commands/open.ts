/**
 * `capsule open CAPSULE --guardian URL --identity FILE [--approval FILE]… [--drand-beacon FILE|JSON]… -o OUT`:
 * asks the guardian to release the capsule's key to this identity's recipient (with the approvals
 * and drand beacons as evidence, checked here before anything is sent), opens the answer (age) with
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
import { decryptToFile } from '../../capsule/open.ts';
import { capsulePrefix } from '../../client/capsulePrefix.ts';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { openReleaseAnswer } from '../../client/openReleaseAnswer.ts';
import { releaseFromGuardians, type GuardianOutcome } from '../../client/releaseFromGuardians.ts';
import { defaultReceiptsDir, saveReceipt } from '../../client/receiptStore.ts';
import { wipe } from '../../crypto/secrets.ts';
import { AgentError, ContentError, DceError, GuardianSetError, UsageError } from '../../errors.ts';
import { DEFAULT_MAX_BYTES } from './fetch.ts';

const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;
import { parseEvidence } from '../../sandbox/evidence.ts';
import { DRAND_BEACON_HINT, parseDrandBeacon } from '../../sandbox/drandBeacon.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { OPEN as SPEC } from '../specs/client.ts';
import { list, need, parse, positiveInt } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { Progress } from '../Progress.ts';
import type { Terminal } from '../Terminal.ts';

const SYNOPSIS = SPEC.synopsis;

/** Runs `capsule open` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function openCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const file = p.positionals[0]!;
  const cid = await asCid(t, file);
  if (file === '-')
    throw new UsageError('ERR_USAGE', 'open reads the capsule from a file (the guardian needs its header first, then it is decrypted)', {
      hint: `usage: ${SYNOPSIS}`,
    });
  const out = need(p, 'output', SYNOPSIS);
  const guardianUrls = list(p, 'guardian');
  if (guardianUrls.length === 0) need(p, 'guardian', SYNOPSIS); // throws: missing --guardian
  const timeoutMs = positiveInt(p, 'timeout', 30, SYNOPSIS) * 1000;
  if (timeoutMs > 3_600_000) throw new UsageError('ERR_USAGE', `--timeout: at most 3600 seconds, got ${timeoutMs / 1000}`, { hint: `usage: ${SYNOPSIS}` });
  if (cid && guardianUrls.length > 1)
    throw new UsageError('ERR_USAGE', 'a guardian set is opened from the capsule file, not by CID', {
      hint: 'capsule fetch CID -o FILE first, then capsule open FILE with each --guardian',
    });
  const identityFile = need(p, 'identity', SYNOPSIS);
  // Evidence first: a malformed approval or beacon is refused before any key is loaded or anything sent.
  const evidence: EvidenceItem[] = [];
  for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
  evidence.push(...(await drandBeacons(t, list(p, 'drand-beacon'))));
  const identities = await loadIdentities(t, identityFile);
  // Authenticated with the identity (proof of possession): a counted open needs it.
  // Every answer's receipt is kept (docs/AUDIT.md "Receipts"): `capsule audit verify --receipt` checks the guardian's log with it.
  const receiptsDir = p.values.receipts !== undefined ? resolve(t.cwd, String(p.values.receipts)) : defaultReceiptsDir(t.env ?? process.env);
  const clients = guardianUrls.map(
    (u) =>
      new GuardianClient(u, timeoutMs, {
        identity: identities[0],
        onReceipt: async (r) => {
          try {
            await saveReceipt(receiptsDir, r);
          } catch (e) {
            t.stderr.write(
              `capsule: warning: cannot save the receipt for audit entry ${r.seq} in ${receiptsDir} (${(e as NodeJS.ErrnoException).code ?? 'error'})\n`,
            );
          }
        },
      }),
  );
  const client = clients[0]!;
  let src = { path: resolve(t.cwd, file), name: file };
  let fileKey: Uint8Array | undefined;
  const progress = new Progress(t, 'decrypting');
  let tmp: string | undefined;
  try {
    if (cid) {
      const r = await client.releaseByCid(cid.toString(), identities[0]!.recipient, evidence, t.signal);
      if (r.share) {
        throw new GuardianSetError('ERR_BAD_GUARDIAN_SET', `guardian ${client.url}: ${cid} has a guardian set; one guardian's answer is only its share`, {
          hint: 'capsule fetch CID -o FILE, then capsule open FILE with every --guardian of the set',
        });
      }
      tmp = await mkdtemp(join(tmpdir(), 'capsule-open-'));
      src = { path: join(tmp, 'capsule'), name: cid.toString() };
      await downloadVerified(client, cid, src.path, t.signal);
      fileKey = await openReleaseAnswer(client.url, r.answer, identities[0]!, 'file key');
    } else {
      const { prefix, header } = await capsulePrefix(src);
      if (header.guardianSet) {
        const got = await releaseFromGuardians({
          header,
          prefix,
          clients,
          identity: identities[0]!,
          evidence,
          signal: t.signal,
          onOutcome: (o) => t.stderr.write(`capsule: ${outcomeLine(o)}\n`),
        });
        fileKey = got.key;
      } else {
        if (clients.length > 1)
          throw new UsageError('ERR_USAGE', `${file} was sealed without a guardian set: give the one guardian that holds it`, {
            hint: 'several --guardian are for capsules sealed with --threshold',
          });
        const r = await client.release(prefix, identities[0]!.recipient, evidence, t.signal);
        fileKey = await openReleaseAnswer(client.url, r.answer, identities[0]!, 'file key');
      }
    }
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

/** One guardian's verdict, as the line printed while a guardian set is asked. */
function outcomeLine(o: GuardianOutcome): string {
  if (o.verdict === 'allow') return `guardian ${o.url}: allow (share ${o.index}): ${o.reason ?? ''}`;
  if (o.verdict === 'deny') return `guardian ${o.url}: deny: ${o.reason ?? ''}`;
  return `guardian ${o.url}: no share: ${o.reason ?? o.code ?? 'no answer'}`;
}

/**
 * `--drand-beacon` values as evidence (drandBeacon.ts): each is inline JSON (it starts with `{` or
 * `[`) or the name of a file holding it, a beacon as drand serves it or an array of them.
 * @throws UsageError ERR_USAGE (not JSON, or a malformed beacon, naming the field; with a hint);
 *   IoError for a file that cannot be read
 */
export async function drandBeacons(t: Terminal, values: string[]): Promise<EvidenceItem[]> {
  const out: EvidenceItem[] = [];
  for (const v of values) {
    const inline = /^\s*[[{]/.test(v);
    let json: unknown;
    try {
      json = inline ? JSON.parse(v) : await readJsonFile(t, v);
    } catch (cause) {
      if (inline || (cause instanceof UsageError && cause.code === 'ERR_USAGE')) {
        throw new UsageError('ERR_USAGE', `--drand-beacon ${inline ? 'JSON' : v}: not valid JSON`, { cause, hint: DRAND_BEACON_HINT });
      }
      throw cause;
    }
    out.push(...parseDrandBeacon(json, inline ? '--drand-beacon' : v));
  }
  return out;
}

/** A CID when the argument is not an existing file and parses as one. */
async function asCid(t: Terminal, arg: string): Promise<CID | undefined> {
  if (arg === '-' || !/^(baf|Qm)/.test(arg)) return undefined;
  if (
    await stat(resolve(t.cwd, arg)).then(
      () => true,
      () => false,
    )
  )
    return undefined;
  return parseCid(arg, 'CAPSULE');
}

/** The guardian's copy of the capsule, to `path`, refused unless it has exactly this CID. */
async function downloadVerified(client: GuardianClient, cid: CID, path: string, signal?: AbortSignal): Promise<void> {
  const bounded = AbortSignal.any([AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), ...(signal ? [signal] : [])]);
  let n = 0;
  async function* capped(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of body) {
      n += c.length;
      if (n > DEFAULT_MAX_BYTES)
        throw new ContentError('ERR_CONTENT_TOO_LARGE', `guardian ${client.url}: sent more than ${DEFAULT_MAX_BYTES} bytes for ${cid}`, {
          hint: 'nothing was decrypted',
        });
      yield c;
    }
  }
  try {
    const body = await client.content(cid.toString(), bounded);
    await pipeline(Readable.from(capped(body)), createWriteStream(path, { mode: 0o600 }), { signal: bounded });
  } catch (cause) {
    if (signal?.aborted || cause instanceof DceError) throw cause;
    throw new AgentError(
      'ERR_PROTOCOL',
      `guardian ${client.url}: the download of ${cid} was cut short${bounded.aborted ? ` (no end within ${DOWNLOAD_TIMEOUT_MS / 60_000} minutes)` : ''}`,
      {
        cause,
        hint: 'nothing was decrypted; try again',
      },
    );
  }
  const got = await computeCid(bytesOf({ path, name: cid.toString() }, signal), signal);
  if (!got.equals(cid)) {
    throw new ContentError('ERR_CID_MISMATCH', `guardian ${client.url}: served content for ${cid} whose CID is ${got}`, {
      hint: 'the guardian sent other bytes than the CID names; nothing was decrypted',
    });
  }
}
