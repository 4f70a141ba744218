/**
 * Evidence and state files for offline dry runs (`capsule logic run`): JSON with hex byte strings,
 * validated field by field. Deliberately not here: producing signatures (`capsule approve`, with the
 * release protocol).
 *
 * Evidence file: {"kind": "approval"|"checkin", "scheme": "ed25519"|"eip191", "signer": hex,
 *                 "message": hex, "signature": hex}   (or an array of them)
 *                 or a drand beacon in the same shape: {"kind": "drand", "scheme":
 *                 "bls-unchained-g1-rfc9380", "signer": chain hash or "", "message": round as
 *                 u64 big-endian, "signature": hex} (drandBeacon.ts; the CLI also takes drand's own JSON)
 * State file:    {"<hex key>": "<hex value>", …}
 */
import { UsageError } from '../errors.ts';
import { checkDrandEvidence } from './drandBeacon.ts';
import type { EvidenceItem } from './inputs.ts';

const HEX = /^(?:[0-9a-f]{2})*$/;

function hexField(o: Record<string, unknown>, field: string, at: string): Uint8Array {
  const v = o[field];
  if (typeof v !== 'string' || !HEX.test(v))
    throw new UsageError('ERR_USAGE', `${at}.${field}: expected lowercase hex, got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : typeof v}`);
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

/**
 * Evidence items from JSON (one object or an array), each field checked.
 * @throws UsageError ERR_USAGE naming the item and field (kind, scheme, hex, signer length, and the
 *   drand item's fields: drandBeacon.ts checkDrandEvidence)
 */
export function parseEvidence(json: unknown, at: string): EvidenceItem[] {
  const list = Array.isArray(json) ? json : [json];
  return list.map((item, i) => {
    const where = Array.isArray(json) ? `${at}[${i}]` : at;
    if (typeof item !== 'object' || item === null) throw new UsageError('ERR_USAGE', `${where}: expected an object`);
    const o = item as Record<string, unknown>;
    if (o.kind === 'drand') {
      const e = {
        kind: 'drand',
        scheme: o.scheme,
        signer: hexField(o, 'signer', where),
        message: hexField(o, 'message', where),
        signature: hexField(o, 'signature', where),
      };
      return checkDrandEvidence(e as EvidenceItem, where);
    }
    if (o.kind !== 'approval' && o.kind !== 'checkin')
      throw new UsageError('ERR_USAGE', `${where}.kind: expected "approval", "checkin" or "drand", got ${JSON.stringify(o.kind)}`);
    if (o.scheme !== 'ed25519' && o.scheme !== 'eip191')
      throw new UsageError('ERR_USAGE', `${where}.scheme: expected "ed25519" or "eip191", got ${JSON.stringify(o.scheme)}`);
    const signer = hexField(o, 'signer', where);
    const want = o.scheme === 'ed25519' ? 32 : 20;
    if (signer.length !== want) {
      throw new UsageError(
        'ERR_USAGE',
        `${where}.signer: a ${o.scheme} signer is ${want} bytes (${o.scheme === 'ed25519' ? 'public key' : 'address'}), got ${signer.length}`,
      );
    }
    return { kind: o.kind, scheme: o.scheme, signer, message: hexField(o, 'message', where), signature: hexField(o, 'signature', where) };
  });
}

export function parseState(json: unknown, at: string): Map<string, Uint8Array> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError('ERR_USAGE', `${at}: expected an object of hex key → hex value`);
  const out = new Map<string, Uint8Array>();
  for (const k of Object.keys(json)) {
    if (!HEX.test(k)) throw new UsageError('ERR_USAGE', `${at}: key ${JSON.stringify(k.slice(0, 20))} is not lowercase hex`);
    out.set(k, hexField(json as Record<string, unknown>, k, at));
  }
  return out;
}

export function stateToJson(state: Map<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries([...state].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
}
