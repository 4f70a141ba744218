/**
 * The LUKS2 token that records how a keyslot is bound to this device's hardware, so that
 * `cryptsetup luksDump` lists it (type and keyslot) and `cryptsetup token export` shows the rest:
 *
 *   { "type": "capsule-device", "version": 1, "keyslots": ["1"],
 *     "bindings": [ { "kind": "zymbit-lock", "path": "luks/<uuid>.lock", "sha256": "<hex of the blob>",
 *                     "model": "HSM6", "serial": "…", "created": "<ISO time>" } ] }
 *
 * One token per device, one keyslot, and a list of *bindings*: each is one way to recover the same
 * 64-byte key. Today there is one kind, `zymbit-lock` (the key locked by the module with its
 * this-device-only key, the blob in the guardian's data directory at `path`, relative to it).
 * The TPM issue adds `{ "kind": "tpm2-seal", … }` (the same key sealed under a PCR/authValue policy)
 * to the same token: the keyscript tries the bindings in order and uses the first this build knows,
 * so a device with both opens with either, and an older build skips a kind it does not know.
 * `version` changes only if the meaning of existing fields changes; a new kind needs no new version.
 *
 * The LUKS2 header is not authenticated: anyone holding the disk can edit a token. So nothing here
 * is trusted for security — the blob's hash is a consistency check (a clear error before the
 * module is asked), the path must be exactly the one derived from the device's UUID (no traversal),
 * and the module's MAC plus the purpose/UUID framing inside the blob (luksKey.ts) decide.
 *
 * Deliberately not here: running cryptsetup (Cryptsetup.ts) and the key itself (luksKey.ts).
 */
import { DeviceError } from '../errors.ts';

export const TOKEN_TYPE = 'capsule-device';
export const TOKEN_VERSION = 1;
export const ZYMBIT_LOCK = 'zymbit-lock';

/** The module-locked copy of the key. */
export interface ZymbitLockBinding {
  kind: typeof ZYMBIT_LOCK;
  /** Relative to the guardian's data directory: always `luks/<uuid>.lock`. */
  path: string;
  /** SHA-256 of the blob, lower-case hex. */
  sha256: string;
  /** The module that locked it (public facts, for the operator and clearer errors). */
  model: string;
  serial: string;
  created: string;
}

/** A binding of a kind this build does not know (kept, skipped). */
export interface OtherBinding { kind: string; [field: string]: unknown }

export interface CapsuleToken {
  type: typeof TOKEN_TYPE;
  version: typeof TOKEN_VERSION;
  keyslots: string[];
  bindings: Array<ZymbitLockBinding | OtherBinding>;
}

/** Where a device's lock blob lives, relative to the data directory. */
export function lockPathFor(uuid: string): string {
  return `luks/${uuid}.lock`;
}

/** The token for keyslot `slot` bound by `binding`. */
export function makeToken(slot: number, binding: ZymbitLockBinding): CapsuleToken {
  return { type: TOKEN_TYPE, version: TOKEN_VERSION, keyslots: [String(slot)], bindings: [binding] };
}

/**
 * The first capsule token in `tokens` (LUKS2 metadata's "tokens" object), by token id, or undefined.
 */
export function findCapsuleToken(tokens: Record<string, unknown>): { id: number; json: unknown } | undefined {
  const ids = Object.keys(tokens).map(Number).filter((n) => Number.isInteger(n)).sort((a, b) => a - b);
  for (const id of ids) {
    const t = tokens[String(id)] as { type?: unknown } | null;
    if (t && typeof t === 'object' && t.type === TOKEN_TYPE) return { id, json: t };
  }
  return undefined;
}

/**
 * Validates a capsule token read from device `uuid` (`where` names it in messages).
 * @throws DeviceError ERR_LUKS_TOKEN_VERSION (a version this build does not know),
 *   ERR_LUKS_TOKEN (malformed: keyslots, bindings, a zymbit-lock binding's fields or path).
 */
export function parseToken(json: unknown, uuid: string, where: string): CapsuleToken {
  const bad = (field: string, want: string, got: unknown) => new DeviceError('ERR_LUKS_TOKEN',
    `${where}: capsule token ${field}: expected ${want}, got ${JSON.stringify(got)?.slice(0, 80)}`, {
      hint: 'the LUKS2 header was edited or damaged: inspect it with `cryptsetup token export`, then re-enrol (`capsule device luks-enroll`)',
    });
  if (typeof json !== 'object' || json === null) throw bad('', 'a JSON object', json);
  const t = json as Record<string, unknown>;
  if (t.type !== TOKEN_TYPE) throw bad('type', JSON.stringify(TOKEN_TYPE), t.type);
  if (t.version !== TOKEN_VERSION) {
    throw new DeviceError('ERR_LUKS_TOKEN_VERSION', `${where}: capsule token version ${JSON.stringify(t.version)?.slice(0, 40)}: this build knows version ${TOKEN_VERSION} only`, {
      hint: 'the device was enrolled by another version of capsule: upgrade capsule, or unlock with the passphrase and re-enrol',
    });
  }
  const slots = t.keyslots;
  if (!Array.isArray(slots) || slots.length !== 1 || !slots.every((s) => typeof s === 'string' && /^([0-9]|[12][0-9]|3[01])$/.test(s))) {
    throw bad('keyslots', 'one keyslot number 0..31 as a string', slots);
  }
  if (!Array.isArray(t.bindings) || t.bindings.length === 0) throw bad('bindings', 'a non-empty array', t.bindings);
  const bindings = t.bindings.map((b, i) => {
    if (typeof b !== 'object' || b === null || typeof (b as { kind?: unknown }).kind !== 'string') throw bad(`bindings[${i}]`, 'an object with a string "kind"', b);
    return (b as { kind: string }).kind === ZYMBIT_LOCK ? parseZymbitLock(b as Record<string, unknown>, uuid, `bindings[${i}]`, bad) : b as OtherBinding;
  });
  return { type: TOKEN_TYPE, version: TOKEN_VERSION, keyslots: slots as string[], bindings };
}

function parseZymbitLock(b: Record<string, unknown>, uuid: string, at: string, bad: (f: string, w: string, g: unknown) => DeviceError): ZymbitLockBinding {
  // Exactly the path derived from this device's UUID: a token cannot point the unlock at another file.
  if (b.path !== lockPathFor(uuid)) throw bad(`${at}.path`, JSON.stringify(lockPathFor(uuid)), b.path);
  if (typeof b.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(b.sha256)) throw bad(`${at}.sha256`, '64 lower-case hex digits', b.sha256);
  for (const k of ['model', 'serial', 'created'] as const) {
    if (typeof b[k] !== 'string' || (b[k] as string).length > 200) throw bad(`${at}.${k}`, 'a string', b[k]);
  }
  return { kind: ZYMBIT_LOCK, path: b.path, sha256: b.sha256, model: b.model as string, serial: b.serial as string, created: b.created as string };
}

/**
 * The zymbit-lock binding of a parsed token.
 * @throws DeviceError ERR_LUKS_TOKEN when it has none (only kinds this build does not know).
 */
export function zymbitBinding(token: CapsuleToken, where: string): ZymbitLockBinding {
  const b = token.bindings.find((x): x is ZymbitLockBinding => x.kind === ZYMBIT_LOCK);
  if (!b) {
    throw new DeviceError('ERR_LUKS_TOKEN', `${where}: the capsule token has no binding this build can use (kinds: ${token.bindings.map((x) => x.kind).join(', ')})`, {
      hint: 'upgrade capsule, or unlock with the passphrase',
    });
  }
  return b;
}
