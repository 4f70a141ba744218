/**
 * `capsule seal FILE|- --guardian RECIPIENT… [--threshold M] --logic MODULE.wasm [--params JSON] [--sign-with ID] -o OUT`.
 * With --threshold the --guardian recipients form an M-of-n guardian set (SPEC.md §5.6).
 *
 * Off the device, `--guardian age1…|capsule-ecdh1…` wraps the key to published recipients. On the
 * guardian itself, `--on-guardian x25519|p256-ecdh|zymbit-lock` uses its own keys (zymbit-lock:
 * locked by this module, not recoverable from paper — said on stderr) and signs the header with
 * its slot key. Output goes to a temporary name and is renamed when complete. With `--publish` the
 * capsule and its module are then added to IPFS (the header's logic.cid is set to the module's CID),
 * its CID is printed on stdout, and with --sign-with an announcement is sent (cli/ipfs.ts).
 * Deliberately not here: compiling logic (`capsule logic build`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CID } from 'multiformats/cid';
import { seal, sealToFile } from '../../capsule/seal.ts';
import { sha256 } from '../../crypto/kdf.ts';
import { encodeCanonical } from '../../format/cbor.ts';
import { MAX_PARAMS_SIZE } from '../../format/constants.ts';
import { UsageError } from '../../errors.ts';
import { ioError } from '../../io/sources.ts';
import { SEAL as SPEC } from '../specs/capsule.ts';
import { list, need, parse, str } from '../args.ts';
import { inputOf, loadIdentities, loadModule } from '../files.ts';
import { Progress } from '../Progress.ts';
import { refuseBinaryToTty, say, writeOut, type Terminal } from '../Terminal.ts';
import type { OwnStanza } from '../../guardian/Guardian.ts';
import { dataDirOf } from '../dataDir.ts';

const SYNOPSIS = SPEC.synopsis;

function ownStanza(text: string): OwnStanza {
  if (text === 'x25519' || text === 'p256-ecdh' || text === 'zymbit-lock' || text === 'tpm2-rsa') return text;
  throw new UsageError('ERR_USAGE', `--on-guardian: expected x25519, p256-ecdh, zymbit-lock or tpm2-rsa, got ${JSON.stringify(text)}`, {
    hint: `usage: ${SYNOPSIS}`,
  });
}

/** Runs `capsule seal` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function sealCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const publish = p.values.publish === true;
  for (const f of ['guardian-key', 'ipfs', 'peer']) {
    if (p.values[f] !== undefined && !publish) throw new UsageError('ERR_USAGE', `--${f} goes with --publish`, { hint: `usage: ${SYNOPSIS}` });
  }
  const guardians = list(p, 'guardian');
  const own = list(p, 'on-guardian').map(ownStanza);
  if (guardians.length === 0 && own.length === 0)
    throw new UsageError('ERR_USAGE', 'missing required option --guardian (or --on-guardian on the guardian itself)', { hint: `usage: ${SYNOPSIS}` });
  if (str(p, 'data-dir') !== undefined && own.length === 0 && !publish)
    throw new UsageError('ERR_USAGE', '--data-dir goes with --on-guardian or --publish', { hint: `usage: ${SYNOPSIS}` });
  const threshold = thresholdOf(str(p, 'threshold'), guardians.length, own.length);
  const module = await loadModule(t, need(p, 'logic', SYNOPSIS));
  const params = await paramsOf(t, str(p, 'params'), str(p, 'params-file'));
  // Published capsules carry their module's locator, so a guardian can fetch the logic by CID.
  const cid = cidOf(str(p, 'logic-cid')) ?? (publish ? (await (await import('../../store/importSettings.ts')).computeCid(module, t.signal)).bytes : undefined);
  const signWith = str(p, 'sign-with');
  const owners = signWith ? await loadIdentities(t, signWith) : undefined;
  const out = str(p, 'output');
  if (publish && own.length === 0 && signWith !== undefined && str(p, 'guardian-key') === undefined) {
    throw new UsageError('ERR_USAGE', 'an announcement (--publish with --sign-with) names the guardian: add --guardian-key capsule-guardian1…', {
      hint: 'capsule guardian show prints it; or publish without --sign-with (no announcement)',
    });
  }
  if (publish && signWith === undefined && str(p, 'guardian-key') !== undefined)
    throw new UsageError('ERR_USAGE', '--guardian-key goes with --sign-with (it is part of the signed announcement)', {
      hint: 'add --sign-with IDENTITY to announce, or drop --guardian-key to publish without announcing',
    });
  const input = inputOf(t, p.positionals[0]!);
  if (out === undefined || out === '-') refuseBinaryToTty(t, 'a capsule');
  if (publish && (out === undefined || out === '-'))
    throw new UsageError('ERR_USAGE', '--publish needs -o FILE (stdout then carries the CID)', { hint: `usage: ${SYNOPSIS}` });

  // On the guardian: its own stanzas and its header signature. Opened last, closed in finally.
  // The guardian (key stores, FFI) and IPFS code load only when asked for: a plain seal starts faster.
  const g = own.length
    ? await (await import('../../guardian/Guardian.ts')).Guardian.open(dataDirOf(t, str(p, 'data-dir')), { env: t.env ?? process.env })
    : undefined;
  const mine = g?.onGuardianSeal(own);
  if (mine?.lock)
    say(t, "warning: zymbit-lock: only this device's module can open this capsule; the paper backup cannot (add --on-guardian x25519 for a recoverable copy)");
  const progress = new Progress(t, 'sealing');
  const options = {
    recipients: [...guardians, ...(mine?.recipients ?? [])],
    lock: mine?.lock,
    guardian: mine?.guardian,
    threshold,
    logic: { hash: sha256(module), cid, params },
    owner: owners?.[0],
    digest: p.values['salted-digest'] ? ('salted-chunked-sha256' as const) : ('chunked-sha256' as const),
    onProgress: (d: number, n: number) => progress.update(d, n),
    signal: t.signal,
  };
  try {
    if (out === undefined || out === '-') {
      for await (const piece of seal(input, options)) await writeOut(t, piece as Uint8Array);
    } else {
      const id = await sealToFile(input, resolve(t.cwd, out), { ...options, outName: out });
      progress.end();
      const stanzas = options.recipients.length + (options.lock ? 1 : 0);
      const what = threshold === undefined ? `${stanzas} key stanza(s)` : `a ${threshold}-of-${stanzas} guardian set (one share stanza each)`;
      say(t, `sealed ${Buffer.from(id).toString('hex')} with ${what}${g ? ', signed by this guardian' : ''} -> ${out}`);
      // A failure here leaves the sealed capsule in place (it is complete); publish it again with `capsule publish`.
      if (publish)
        await (await import('../ipfs.ts')).publishFile(
          t,
          p,
          { path: resolve(t.cwd, out), name: out },
          { module, signWith: owners?.[0], guardianKey: str(p, 'guardian-key') },
        );
    }
  } finally {
    progress.end();
    await g?.close();
    for (const o of owners ?? []) o.dispose();
  }
  return 0;
}

async function paramsOf(t: Terminal, json: string | undefined, file: string | undefined): Promise<Uint8Array | undefined> {
  if (json !== undefined && file !== undefined) {
    throw new UsageError('ERR_USAGE', 'give --params or --params-file, not both');
  }
  let text = json;
  const flag = file !== undefined ? `--params-file ${file}` : '--params';
  if (file !== undefined) {
    try {
      text = await readFile(resolve(t.cwd, file), 'utf8');
    } catch (cause) {
      throw ioError(file, 'read', cause);
    }
  }
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    // The parser's message quotes the input, which may be a file's content: name the position only.
    const at = /position (\d+)/.exec((cause as Error).message)?.[1];
    throw new UsageError('ERR_BAD_PARAMS', `${flag}: not valid JSON${at === undefined ? '' : ` (at character ${at})`}`, {
      cause,
      hint: `example: --params '{"notBefore":"2030-01-01T00:00:00Z"}'`,
    });
  }
  if (value === null) {
    throw new UsageError('ERR_BAD_PARAMS', `${flag}: null is not a parameter value`, { hint: 'omit --params for a logic module without parameters' });
  }
  checkJson(value, flag, 'params');
  const bytes = encodeCanonical(value);
  if (bytes.length > MAX_PARAMS_SIZE) {
    throw new UsageError('ERR_BAD_PARAMS', `${flag}: encodes to ${bytes.length} bytes of CBOR, above the ${MAX_PARAMS_SIZE}-byte cap`);
  }
  return bytes;
}

/** JSON numbers must survive as exact integers or finite floats. */
function checkJson(v: unknown, flag: string, at: string): void {
  if (typeof v === 'number' && !Number.isFinite(v)) {
    throw new UsageError('ERR_BAD_PARAMS', `${flag}: ${at} overflows to ${v} (beyond the range of a 64-bit float)`, { hint: 'pass huge numbers as strings' });
  }
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
    throw new UsageError('ERR_BAD_PARAMS', `${flag}: ${at} is the integer ${v}, beyond ±(2^53-1) (JSON numbers lose precision there)`, {
      hint: 'pass large numbers as strings',
    });
  }
  if (Array.isArray(v)) v.forEach((x, i) => checkJson(x, flag, `${at}[${i}]`));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) checkJson(x, flag, `${at}.${k}`);
}

/**
 * `--threshold M`: an integer 1..n with at least two --guardian, off the device only (the
 * guardian's own stanzas do not join a set from the CLI).
 */
function thresholdOf(text: string | undefined, n: number, own: number): number | undefined {
  if (text === undefined) return undefined;
  const hint = 'example: capsule seal FILE --guardian A --guardian B --guardian C --threshold 2 --logic L.wasm -o OUT';
  if (own > 0) throw new UsageError('ERR_USAGE', '--threshold goes with --guardian recipients, not with --on-guardian', { hint });
  if (!/^[0-9]{1,3}$/.test(text))
    throw new UsageError('ERR_USAGE', `--threshold: expected a whole number M, got ${JSON.stringify(text.slice(0, 20))}`, { hint });
  const m = Number(text);
  if (n < 2) throw new UsageError('ERR_USAGE', `--threshold needs at least two --guardian (a guardian set of 2..16), got ${n}`, { hint });
  if (m < 1 || m > n)
    throw new UsageError('ERR_USAGE', `--threshold: expected M from 1 to the ${n} guardians given, got ${m}`, {
      hint: "any M of the guardians' shares open the capsule, so 1 <= M <= the number of --guardian",
    });
  return m;
}

function cidOf(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  try {
    return CID.parse(text).bytes;
  } catch (cause) {
    throw new UsageError('ERR_USAGE', `--logic-cid: not a CID (${JSON.stringify(text.slice(0, 64))})`, { cause });
  }
}
