/**
 * Which keys a capsule names, read from its header (owner) and logic params, so that the agent
 * stores only evidence the logic would count: approvals from listed approvers (any `approvers`
 * array of `{scheme, key}` at any depth of the params, as the standard m-of-n rule and the policy
 * combinator name them) and check-ins from the owner (header owner, or any `owner` param).
 *
 * Keys may be CBOR byte strings or hex text (either case, optional 0x), as contracts/README.md
 * allows. Malformed params name nothing (the logic itself reports them when it runs).
 * Deliberately not here: verifying signatures (api.ts) and deciding (the logic).
 */
import { decodeCanonical, MAX_DEPTH } from '../format/cbor.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A key as bytes: a byte string, or hex text (optional 0x, either case); undefined otherwise. */
function keyBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (typeof v !== 'string') return undefined;
  const t = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
  return /^(?:[0-9a-fA-F]{2})+$/.test(t) ? Uint8Array.from(Buffer.from(t, 'hex')) : undefined;
}

function walk(v: unknown, depth: number, visit: (key: string, value: unknown) => void): void {
  if (depth > MAX_DEPTH) return;
  if (v instanceof Map) {
    for (const [k, x] of v) {
      if (typeof k === 'string') visit(k, x);
      walk(x, depth + 1, visit);
    }
  } else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1, visit);
}

function decoded(params: Uint8Array | undefined): unknown {
  if (!params) return undefined;
  try {
    return decodeCanonical(params, 'logic params');
  } catch {
    return undefined; // malformed params name nothing; the logic reports them when it runs
  }
}

/** "scheme:hex(key)" of every approver listed in the params (ed25519 keys 32 bytes, eip191 addresses 20). */
export function listedApprovers(params: Uint8Array | undefined): Set<string> {
  const out = new Set<string>();
  walk(decoded(params), 0, (k, v) => {
    if (k !== 'approvers' || !Array.isArray(v)) return;
    for (const a of v) {
      if (!(a instanceof Map)) continue;
      const scheme = a.get('scheme');
      const key = keyBytes(a.get('key'));
      if ((scheme === 'ed25519' && key?.length === 32) || (scheme === 'eip191' && key?.length === 20)) out.add(`${scheme}:${hex(key!)}`);
    }
  });
  return out;
}

/** hex of every Ed25519 key whose check-ins the capsule counts: the header's owner and any `owner` param. */
export function checkinKeys(owner: Uint8Array | undefined | null, params: Uint8Array | undefined): Set<string> {
  const out = new Set<string>();
  if (owner) out.add(hex(owner));
  walk(decoded(params), 0, (k, v) => {
    const key = k === 'owner' ? keyBytes(v) : undefined;
    if (key?.length === 32) out.add(hex(key));
  });
  return out;
}
