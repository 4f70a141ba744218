/**
 * Requester authentication (docs/API.md "Requester authentication"): a proof that a release or
 * sign request comes from the holder of the requester's age X25519 identity, in the same round
 * trip, with no new key material (any age-keygen identity works).
 *
 *   shared = X25519(requester secret, guardian x25519 public key)        (= X25519(guardian secret, requester public key))
 *   key    = HKDF-SHA256(shared, salt = requester pk ‖ guardian pk, info = "capsule-request-auth/v1", 32)
 *   mac    = HMAC-SHA256(key, authMessage(method, path, SHA-256(JCS(body without "auth")), guardian pk, requester pk, at, nonce))
 *
 * sent as the body field `auth: { guardian, at, nonce, mac }`. Only the two key holders can make
 * the MAC, so it is non-transferable (the guardian could forge it, and it is the only verifier).
 * This file is pure: `makeRequestAuth` (client) and `checkRequestAuth` (guardian: guardian field,
 * freshness, MAC in constant time). Deliberately not here: the replay cache of nonces and where the
 * guardian's secret comes from (agent/daemon/RequestAuthenticator.ts), HTTP.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AgentError } from '../errors.ts';
import { parseRecipient } from './identity.ts';
import { hkdf, sha256 } from './kdf.ts';
import { wipe } from './secrets.ts';
import { x25519Shared } from './x25519.ts';

/** HKDF info, and the domain tag that starts every MAC input. */
export const AUTH_LABEL = 'capsule-request-auth/v1';
/** `at` may differ from the guardian's time by at most this much, either way. */
export const AUTH_WINDOW_MS = 120_000;
export const NONCE_BYTES = 16;

/** The wire form (body field `auth`). */
export interface RequestAuth {
  /** The guardian's x25519 recipient (age1…) the MAC was made for. */
  guardian: string;
  /** Client time, ms since the epoch. */
  at: number;
  /** 16 random bytes, lowercase hex. */
  nonce: string;
  /** HMAC-SHA256, lowercase hex. */
  mac: string;
}

/** JSON Schema of the `auth` field (ajv checks shape; checkRequestAuth checks meaning). */
export const AUTH_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['guardian', 'at', 'nonce', 'mac'],
  properties: {
    guardian: { type: 'string', minLength: 1, maxLength: 200 },
    at: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    nonce: { type: 'string', pattern: `^[0-9a-f]{${NONCE_BYTES * 2}}$` },
    mac: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  },
} as const;

/**
 * RFC 8785 (JCS) canonical JSON: object members sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript's JSON.stringify writes them (which is what JCS specifies).
 * @throws TypeError for values JSON cannot carry (undefined, functions, non-finite numbers).
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: expected a finite number, got ${v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof v}`);
}

/** SHA-256 of the JCS form of a request body without its top-level `auth` member. */
export function bodyDigest(body: Record<string, unknown>): Uint8Array {
  const { auth: _auth, ...rest } = body;
  return sha256(new TextEncoder().encode(canonicalJson(rest)));
}

export interface AuthMessageFields {
  method: string;
  path: string;
  bodySha256: Uint8Array;
  guardianPk: Uint8Array;
  requesterPk: Uint8Array;
  at: number;
  nonce: Uint8Array;
}

/**
 * The MAC input: "capsule-request-auth/v1" ‖ 0x00 ‖ u8 len ‖ method ‖ u16be len ‖ path ‖ body
 * digest (32) ‖ guardian pk (32) ‖ requester pk (32) ‖ u64be at ‖ nonce (16). Fixed fields and
 * length prefixes: no two distinct requests share an input.
 * @throws TypeError on a field of the wrong length or an out-of-range value.
 */
export function authMessage(f: AuthMessageFields): Uint8Array {
  const method = Buffer.from(f.method, 'latin1');
  const path = Buffer.from(f.path, 'latin1');
  if (method.length < 1 || method.length > 255 || !/^[A-Z]+$/.test(f.method))
    throw new TypeError(`method: expected an upper-case HTTP method, got ${JSON.stringify(f.method)}`);
  if (path.length < 1 || path.length > 65535 || !/^\/[\x21-\x7e]*$/.test(f.path))
    throw new TypeError(`path: expected an absolute ASCII path, got ${JSON.stringify(f.path.slice(0, 40))}`);
  for (const [name, b, n] of [
    ['bodySha256', f.bodySha256, 32],
    ['guardianPk', f.guardianPk, 32],
    ['requesterPk', f.requesterPk, 32],
    ['nonce', f.nonce, NONCE_BYTES],
  ] as const) {
    if (b.length !== n) throw new TypeError(`${name}: expected ${n} bytes, got ${b.length}`);
  }
  if (!Number.isSafeInteger(f.at) || f.at < 0) throw new TypeError(`at: expected ms since the epoch, got ${f.at}`);
  const label = Buffer.from(AUTH_LABEL + '\0', 'latin1');
  const out = Buffer.alloc(label.length + 1 + method.length + 2 + path.length + 32 * 3 + 8 + NONCE_BYTES);
  let o = label.copy(out, 0);
  o = out.writeUInt8(method.length, o);
  o += method.copy(out, o);
  o = out.writeUInt16BE(path.length, o);
  o += path.copy(out, o);
  for (const b of [f.bodySha256, f.guardianPk, f.requesterPk]) {
    out.set(b, o);
    o += 32;
  }
  o = out.writeBigUInt64BE(BigInt(f.at), o);
  out.set(f.nonce, o);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * key = HKDF-SHA256(shared, requester pk ‖ guardian pk, AUTH_LABEL, 32); the caller wipes it.
 * `shared` is X25519 of one side's secret with the other's public key (undefined: low order).
 * @throws AgentError ERR_UNAUTHENTICATED when the exchange gives the all-zero (low-order) result.
 */
export function authKey(shared: Uint8Array | undefined, requesterPk: Uint8Array, guardianPk: Uint8Array): Uint8Array {
  if (!shared)
    throw new AgentError('ERR_UNAUTHENTICATED', 'auth: the X25519 exchange with this key gives the all-zero secret (a low-order point)', { status: 401 });
  try {
    return hkdf(shared, Buffer.concat([requesterPk, guardianPk]), AUTH_LABEL, 32);
  } finally {
    wipe(shared);
  }
}

function hmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(message).digest());
}

/**
 * Client side: the `auth` field for `body` (which must not yet carry one).
 * @throws KeyError ERR_BAD_RECIPIENT if `guardian` is not an age recipient; TypeError on bad arguments.
 */
export function makeRequestAuth(o: {
  requesterSecret: Uint8Array;
  requesterPk: Uint8Array;
  guardian: string;
  method: string;
  path: string;
  body: Record<string, unknown>;
  at?: number;
  nonce?: Uint8Array;
}): RequestAuth {
  const guardianPk = parseRecipient(o.guardian);
  const at = o.at ?? Date.now();
  const nonce = o.nonce ?? new Uint8Array(randomBytes(NONCE_BYTES));
  const key = authKey(x25519Shared(o.requesterSecret, guardianPk), o.requesterPk, guardianPk);
  try {
    const mac = hmac(key, authMessage({ method: o.method, path: o.path, bodySha256: bodyDigest(o.body), guardianPk, requesterPk: o.requesterPk, at, nonce }));
    return { guardian: o.guardian, at, nonce: Buffer.from(nonce).toString('hex'), mac: Buffer.from(mac).toString('hex') };
  } finally {
    wipe(key);
  }
}

/** What a verified `auth` proves: who, and the nonce to remember until `expires`. */
export interface VerifiedAuth {
  requesterPk: Uint8Array;
  nonce: Uint8Array;
  at: number;
  /** The nonce may be forgotten after this time (it is stale then anyway). */
  expires: number;
}

/**
 * Guardian side, without the replay cache: the auth was made for this guardian, is fresh, and its
 * MAC verifies (constant time) for `requester` over this method, path and body.
 * `exchange(requesterPk)` returns X25519(guardian secret, requesterPk) (undefined: low order).
 * @throws AgentError ERR_UNAUTHENTICATED (401) naming the field that failed; KeyError ERR_BAD_RECIPIENT for a bad requester.
 */
export async function checkRequestAuth(o: {
  method: string;
  path: string;
  body: Record<string, unknown> & { auth: RequestAuth };
  requester: string;
  guardian: string;
  now: number;
  windowMs?: number;
  exchange: (requesterPk: Uint8Array) => Promise<Uint8Array | undefined>;
}): Promise<VerifiedAuth> {
  const a = o.body.auth;
  const window = o.windowMs ?? AUTH_WINDOW_MS;
  const unauth = (message: string, hint: string) => new AgentError('ERR_UNAUTHENTICATED', message, { status: 401, hint });
  if (a.guardian !== o.guardian) {
    throw unauth(
      `auth.guardian: made for guardian ${a.guardian.slice(0, 70)}, but this guardian is ${o.guardian}`,
      'authenticate to the guardian you send the request to (its recipient is in GET /v1/status)',
    );
  }
  if (a.at < o.now - window || a.at > o.now + window) {
    throw unauth(
      `auth.at: made at ${new Date(a.at).toISOString()}, outside the ±${window / 1000}-second window around the guardian's time ${new Date(o.now).toISOString()}`,
      'make a fresh auth for each request, and check the clocks (capsule open does this)',
    );
  }
  const requesterPk = parseRecipient(o.requester);
  const guardianPk = parseRecipient(o.guardian);
  const nonce = Uint8Array.from(Buffer.from(a.nonce, 'hex'));
  const given = Buffer.from(a.mac, 'hex');
  if (nonce.length !== NONCE_BYTES || given.length !== 32)
    throw unauth(
      `auth: expected a ${NONCE_BYTES}-byte nonce and a 32-byte mac, got ${nonce.length} and ${given.length} bytes`,
      'see docs/API.md "Requester authentication"',
    );
  const key = authKey(await o.exchange(requesterPk), requesterPk, guardianPk);
  let ok: boolean;
  try {
    const want = hmac(key, authMessage({ method: o.method, path: o.path, bodySha256: bodyDigest(o.body), guardianPk, requesterPk, at: a.at, nonce }));
    ok = timingSafeEqual(want, given);
  } finally {
    wipe(key);
  }
  if (!ok) {
    throw unauth(
      `auth.mac: does not verify for requester ${o.requester} (made with another identity, or the request was altered after it was made)`,
      'the auth must be made with the identity whose recipient is body.requester, over this exact request',
    );
  }
  return { requesterPk, nonce, at: a.at, expires: a.at + window };
}
