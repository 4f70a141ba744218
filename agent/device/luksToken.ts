/**
 * The LUKS2 token that records how a keyslot is bound to this device's hardware, so that
 * `cryptsetup luksDump` lists it (type and keyslot) and `cryptsetup token export` shows the rest:
 *
 *   { "type": "capsule-device", "version": 1, "keyslots": ["1"],
 *     "bindings": [ { "kind": "zymbit-lock", "path": "luks/<uuid>.lock", "sha256": "<hex of the blob>",
 *                     "model": "HSM6", "serial": "…", "created": "<ISO time>" } ] }
 *
 *   a TPM 2.0 guardian's binding (the same fields, and what the TPM needs):
 *                   { "kind": "tpm2-seal", "path": "luks/<uuid>.tpm2.lock", "sha256": "…",
 *                     "model": "TPM 2.0 …", "serial": "tpm2-<SRK fingerprint>", "backend": "tpm2",
 *                     "pcrs": [7], "pcrBank": "sha256", "tcti": "device:/dev/tpmrm0", "created": "…" }
 *
 * One token per device, one keyslot, and a list of *bindings*: each is one way to recover the same
 * 64-byte key. `zymbit-lock`: the key locked by the module with its this-device-only key.
 * `tpm2-seal`: the key sealed by the TPM under an authValue and, when `pcrs` is not empty, a policy on
 * those PCRs of the SHA-256 bank (luksTpm2.ts). Either blob lives in the guardian's data directory at
 * `path`, relative to it. `luks-key` uses the first binding this build knows (or the one of the
 * backend asked for), so an older build skips a kind it does not know. `version` changes only if the
 * meaning of existing fields changes; a new kind or a new field needs no new version (version 1
 * tokens from before the TPM binding parse unchanged).
 *
 * The LUKS2 header is not authenticated: anyone holding the disk can edit a token. So nothing here
 * is trusted for security — the blob's hash is a consistency check (a clear error before the
 * hardware is asked), the path must be exactly the one derived from the device's UUID (no traversal),
 * `tcti` is a record for the operator and is never used to reach the TPM (a TCTI string can name a
 * command to run), and the hardware's checks plus the purpose/UUID framing inside the blob decide.
 *
 * Deliberately not here: running cryptsetup (Cryptsetup.ts), the key itself (luksKey.ts), the TPM
 * (luksTpm2.ts), and other tools' tokens (luksInterop.ts).
 */
import { DeviceError } from '../errors.ts';

export const TOKEN_TYPE = 'capsule-device';
export const TOKEN_VERSION = 1;
export const ZYMBIT_LOCK = 'zymbit-lock';
export const TPM2_SEAL = 'tpm2-seal';
/** The backends a binding can name (`--backend`), and the binding kind of each. */
export type BindingBackend = 'zymbit' | 'tpm2';
export const KIND_OF: Record<BindingBackend, string> = { zymbit: ZYMBIT_LOCK, tpm2: TPM2_SEAL };

/** What every binding with a blob in the data directory records. */
interface BlobBinding {
  /** Relative to the guardian's data directory, derived from the UUID (lockPathFor). */
  path: string;
  /** SHA-256 of the blob, lower-case hex. */
  sha256: string;
  /** The hardware that locked it (public facts, for the operator and clearer errors). */
  model: string;
  serial: string;
  created: string;
}

/** The module-locked copy of the key. */
export interface ZymbitLockBinding extends BlobBinding {
  kind: typeof ZYMBIT_LOCK;
}

/** The TPM-sealed copy of the key. */
export interface Tpm2SealBinding extends BlobBinding {
  kind: typeof TPM2_SEAL;
  backend: 'tpm2';
  /** PCRs of `pcrBank` the seal's policy covers; empty: authValue only. */
  pcrs: number[];
  pcrBank: 'sha256';
  /** The TCTI used at enrolment: a record only (see the header). */
  tcti: string;
}

/** A binding of a kind this build does not know (kept, skipped). */
export interface OtherBinding {
  kind: string;
  [field: string]: unknown;
}

export type KnownBinding = ZymbitLockBinding | Tpm2SealBinding;

export interface CapsuleToken {
  type: typeof TOKEN_TYPE;
  version: typeof TOKEN_VERSION;
  keyslots: string[];
  bindings: Array<KnownBinding | OtherBinding>;
}

/** Where a device's blob lives, relative to the data directory (the hook copies luks/*.lock). */
export function lockPathFor(uuid: string, kind: string = ZYMBIT_LOCK): string {
  return kind === TPM2_SEAL ? `luks/${uuid}.tpm2.lock` : `luks/${uuid}.lock`;
}

/** The token for keyslot `slot` bound by `binding`. */
export function makeToken(slot: number, binding: KnownBinding): CapsuleToken {
  return { type: TOKEN_TYPE, version: TOKEN_VERSION, keyslots: [String(slot)], bindings: [binding] };
}

/**
 * The first capsule token in `tokens` (LUKS2 metadata's "tokens" object), by token id, or undefined.
 */
export function findCapsuleToken(tokens: Record<string, unknown>): { id: number; json: unknown } | undefined {
  const ids = Object.keys(tokens)
    .map(Number)
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b);
  for (const id of ids) {
    const t = tokens[String(id)] as { type?: unknown } | null;
    if (t && typeof t === 'object' && t.type === TOKEN_TYPE) return { id, json: t };
  }
  return undefined;
}

type Bad = (field: string, want: string, got: unknown) => DeviceError;

/**
 * Validates a capsule token read from device `uuid` (`where` names it in messages).
 * @throws DeviceError ERR_LUKS_TOKEN_VERSION (a version this build does not know),
 *   ERR_LUKS_TOKEN (malformed: keyslots, bindings, a known binding's fields or path).
 */
export function parseToken(json: unknown, uuid: string, where: string): CapsuleToken {
  const bad: Bad = (field, want, got) =>
    new DeviceError('ERR_LUKS_TOKEN', `${where}: capsule token ${field}: expected ${want}, got ${JSON.stringify(got)?.slice(0, 80)}`, {
      hint: 'the LUKS2 header was edited or damaged: inspect it with `cryptsetup token export`, then re-enrol (`capsule device luks-enroll`)',
    });
  if (typeof json !== 'object' || json === null) throw bad('', 'a JSON object', json);
  const t = json as Record<string, unknown>;
  if (t.type !== TOKEN_TYPE) throw bad('type', JSON.stringify(TOKEN_TYPE), t.type);
  if (t.version !== TOKEN_VERSION) {
    throw new DeviceError(
      'ERR_LUKS_TOKEN_VERSION',
      `${where}: capsule token version ${JSON.stringify(t.version)?.slice(0, 40)}: this build knows version ${TOKEN_VERSION} only`,
      {
        hint: 'the device was enrolled by another version of capsule: upgrade capsule, or unlock with the passphrase and re-enrol',
      },
    );
  }
  const slots = t.keyslots;
  if (!Array.isArray(slots) || slots.length !== 1 || !slots.every((s) => typeof s === 'string' && /^([0-9]|[12][0-9]|3[01])$/.test(s))) {
    throw bad('keyslots', 'one keyslot number 0..31 as a string', slots);
  }
  if (!Array.isArray(t.bindings) || t.bindings.length === 0) throw bad('bindings', 'a non-empty array', t.bindings);
  const bindings = t.bindings.map((b, i) => {
    if (typeof b !== 'object' || b === null || typeof (b as { kind?: unknown }).kind !== 'string')
      throw bad(`bindings[${i}]`, 'an object with a string "kind"', b);
    const kind = (b as { kind: string }).kind;
    if (kind === ZYMBIT_LOCK) return { kind, ...parseBlobFields(b as Record<string, unknown>, uuid, kind, `bindings[${i}]`, bad) } as ZymbitLockBinding;
    if (kind === TPM2_SEAL) return parseTpm2Seal(b as Record<string, unknown>, uuid, `bindings[${i}]`, bad);
    return b as OtherBinding;
  });
  return { type: TOKEN_TYPE, version: TOKEN_VERSION, keyslots: slots as string[], bindings };
}

function parseBlobFields(b: Record<string, unknown>, uuid: string, kind: string, at: string, bad: Bad): BlobBinding {
  // Exactly the path derived from this device's UUID: a token cannot point the unlock at another file.
  const path = lockPathFor(uuid, kind);
  if (b.path !== path) throw bad(`${at}.path`, JSON.stringify(path), b.path);
  if (typeof b.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(b.sha256)) throw bad(`${at}.sha256`, '64 lower-case hex digits', b.sha256);
  for (const k of ['model', 'serial', 'created'] as const) {
    if (typeof b[k] !== 'string' || (b[k] as string).length > 200) throw bad(`${at}.${k}`, 'a string', b[k]);
  }
  return { path, sha256: b.sha256, model: b.model as string, serial: b.serial as string, created: b.created as string };
}

function parseTpm2Seal(b: Record<string, unknown>, uuid: string, at: string, bad: Bad): Tpm2SealBinding {
  const common = parseBlobFields(b, uuid, TPM2_SEAL, at, bad);
  if (b.backend !== 'tpm2') throw bad(`${at}.backend`, '"tpm2"', b.backend);
  const pcrs = b.pcrs;
  if (!Array.isArray(pcrs) || pcrs.length > 24 || !pcrs.every((p) => Number.isInteger(p) && p >= 0 && p <= 23) || new Set(pcrs).size !== pcrs.length) {
    throw bad(`${at}.pcrs`, 'distinct PCR numbers 0..23', pcrs);
  }
  if (b.pcrBank !== 'sha256') throw bad(`${at}.pcrBank`, '"sha256"', b.pcrBank);
  if (typeof b.tcti !== 'string' || b.tcti.length > 200) throw bad(`${at}.tcti`, 'a string', b.tcti);
  return { kind: TPM2_SEAL, backend: 'tpm2', ...common, pcrs: pcrs as number[], pcrBank: 'sha256', tcti: b.tcti };
}

/**
 * The binding `luks-key` uses: the first of a kind this build knows, or the first of `backend`'s kind.
 * @throws DeviceError ERR_LUKS_TOKEN when there is none.
 */
export function usableBinding(token: CapsuleToken, where: string, backend?: BindingBackend): KnownBinding {
  const kinds = backend ? [KIND_OF[backend]] : Object.values(KIND_OF);
  const b = token.bindings.find((x): x is KnownBinding => kinds.includes(x.kind));
  if (!b) {
    const have = token.bindings.map((x) => x.kind).join(', ');
    throw new DeviceError(
      'ERR_LUKS_TOKEN',
      backend
        ? `${where}: the capsule token has no ${KIND_OF[backend]} binding (--backend ${backend}; kinds: ${have})`
        : `${where}: the capsule token has no binding this build can use (kinds: ${have})`,
      {
        hint: backend ? 'omit --backend to use the binding the token has, or unlock with the passphrase' : 'upgrade capsule, or unlock with the passphrase',
      },
    );
  }
  return b;
}
