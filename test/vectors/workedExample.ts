/**
 * The worked example of SPEC.md §13.3, computed: every intermediate value of decrypting the
 * `one-byte` vector with only HKDF, SHA-256, X25519 and AES-GCM. The test suite checks that SPEC.md
 * contains exactly this text, so the spec and the bytes cannot drift apart.
 */
import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { definitions } from './definitions.ts';
import { parseIdentityFile } from '../../agent/crypto/identity.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const wrap = (label: string, h: string) => {
  const lines = [];
  for (let i = 0; i < h.length; i += 64) lines.push(i === 0 ? `${label.padEnd(16)}${h.slice(i, i + 64)}` : `${''.padEnd(16)}${h.slice(i, i + 64)}`);
  return lines.join('\n');
};

export async function workedExample(): Promise<string> {
  const d = (await definitions()).find((x) => x.name === 'one-byte')!;
  const cap = d.bytes;
  const [id] = parseIdentityFile(d.identities.join('\n'));
  const hlen = new DataView(cap.buffer, cap.byteOffset).getUint32(12);
  const header = cap.subarray(16, 16 + hlen);
  const head = cap.subarray(0, 16 + hlen);
  const capsuleId = header.subarray(header.indexOf(0x50, 2) + 1, header.indexOf(0x50, 2) + 17); // 02 50 <16 bytes>
  // The stanza body is the last 80-byte string (58 50 <80 bytes>) before the payload map ends.
  const at = Buffer.from(header).indexOf(Buffer.from([0x66, 0x78, 0x32, 0x35, 0x35, 0x31, 0x39, 0x58, 0x50])) + 9;
  const body = header.subarray(at, at + 80);
  const E = body.subarray(0, 32);
  const S = x25519.getSharedSecret(id!.secretKey, E);
  const wrapKey = new Uint8Array(hkdfSync('sha256', S, Buffer.concat([E, id!.publicKey]), 'capsule/v1 x25519', 32));
  const d1 = createDecipheriv('aes-256-gcm', wrapKey, Buffer.alloc(12));
  d1.setAAD(capsuleId);
  d1.setAuthTag(body.subarray(64, 80));
  const fileKey = Buffer.concat([d1.update(body.subarray(32, 64)), d1.final()]);
  const payloadKey = new Uint8Array(hkdfSync('sha256', fileKey, capsuleId, 'capsule/v1 payload', 32));
  const headerHash = createHash('sha256').update(head).digest();
  const chunk = cap.subarray(16 + hlen);
  const nonce = Buffer.alloc(12);
  nonce[11] = 1;
  const d2 = createDecipheriv('aes-256-gcm', payloadKey, nonce);
  d2.setAAD(headerHash);
  d2.setAuthTag(chunk.subarray(chunk.length - 16));
  const plain = Buffer.concat([d2.update(chunk.subarray(0, chunk.length - 16)), d2.final()]);
  return [
    'The `one-byte` vector, step by step (all values hex; reproduce with `node:crypto` or `openssl`):',
    '',
    '```',
    `identity        ${d.identities[0]}`,
    wrap('secret s', hex(id!.secretKey)),
    wrap('recipient R', hex(id!.publicKey)) + `  (${id!.recipient})`,
    wrap('preamble', hex(cap.subarray(0, 16))),
    wrap('header', hex(header)),
    wrap('id', hex(capsuleId)),
    wrap('stanza E', hex(E)),
    wrap('S = X25519(s,E)', hex(S)),
    wrap('wrap_key', hex(wrapKey)),
    wrap('file_key', hex(fileKey)),
    wrap('payload_key', hex(payloadKey)),
    wrap('header_hash', hex(headerHash)),
    wrap('nonce_0', hex(nonce)),
    wrap('chunk_0', hex(chunk)),
    wrap('plaintext', hex(plain)),
    wrap('sha256(plain)', createHash('sha256').update(plain).digest('hex')) + '  (= header payload.digest)',
    '```',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await workedExample());
