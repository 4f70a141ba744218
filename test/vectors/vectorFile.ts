/**
 * The vector file format (SPEC.md §13): `key: value` lines, a blank line, then the capsule bytes.
 */
export interface Vector {
  name: string;
  expect: string;
  verify: string;
  identities: string[];
  /** P-256 private scalars (64 lowercase hex digits each) for p256-ecdh stanzas. */
  p256: string[];
  /** RSA private keys (PKCS#8 DER, base64) for tpm2-rsa stanzas, standing in for a guardian's TPM key. */
  tpm2Rsa: string[];
  payload?: string;
  comment: string;
  source: string;
  bytes: Uint8Array;
}

export function formatVector(v: Vector): Uint8Array {
  const lines = [`expect: ${v.expect}`, `verify: ${v.verify}`];
  for (const id of v.identities) lines.push(`identity: ${id}`);
  for (const d of v.p256) lines.push(`identity-p256: ${d}`);
  for (const k of v.tpm2Rsa) lines.push(`identity-tpm2-rsa: ${k}`);
  if (v.payload) lines.push(`payload: ${v.payload}`);
  lines.push(`comment: ${v.comment}`, `source: ${v.source}`);
  const head = new TextEncoder().encode(lines.filter(Boolean).join('\n') + '\n\n');
  const out = new Uint8Array(head.length + v.bytes.length);
  out.set(head, 0);
  out.set(v.bytes, head.length);
  return out;
}

export function parseVector(name: string, file: Uint8Array): Vector {
  let end = -1;
  for (let i = 0; i + 1 < file.length; i++) {
    if (file[i] === 0x0a && file[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`${name}: no blank line after the vector's text header`);
  const text = new TextDecoder().decode(file.subarray(0, end));
  const v: Vector = { name, expect: '', verify: '', identities: [], p256: [], tpm2Rsa: [], comment: '', source: '', bytes: file.subarray(end + 2) };
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9-]+): ?(.*)$/.exec(line);
    if (!m) throw new Error(`${name}: bad vector line ${JSON.stringify(line)}`);
    const [, k, val] = m as unknown as [string, string, string];
    if (k === 'identity') v.identities.push(val);
    else if (k === 'identity-p256') {
      if (!/^[0-9a-f]{64}$/.test(val)) throw new Error(`${name}: identity-p256 must be 64 lowercase hex digits, got ${val.length} characters`);
      v.p256.push(val);
    } else if (k === 'identity-tpm2-rsa') {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(val))
        throw new Error(`${name}: identity-tpm2-rsa must be base64 (PKCS#8 DER), got ${val.length} characters that are not`);
      v.tpm2Rsa.push(val);
    } else if (k === 'expect' || k === 'verify' || k === 'payload' || k === 'comment' || k === 'source') v[k] = val;
    else throw new Error(`${name}: unknown vector key ${k}`);
  }
  if (!/^(success|error ERR_[A-Z_]+)$/.test(v.expect)) throw new Error(`${name}: bad expect line ${JSON.stringify(v.expect)}`);
  if (!/^(ok|error ERR_[A-Z_]+)$/.test(v.verify)) throw new Error(`${name}: bad verify line ${JSON.stringify(v.verify)}`);
  return v;
}
