/**
 * The named test keys of a scenario file (SCENARIOS.md "Keys"): each derived from its type and name
 * alone, so a file carries no key material and every run signs the same bytes. An `age` key is an
 * age X25519 identity (a requester) whose Ed25519 key is derived from it as `capsule approve --key`
 * and `capsule checkin --key` derive theirs (SPEC.md §7, ownerSeed); an `ed25519` key is a bare
 * Ed25519 key; an `eip191` key is a secp256k1 key that signs as an Ethereum wallet's personal_sign
 * (as `capsule approve --eth-key`).
 *
 * Deliberately not here: what is signed (approval and check-in messages: format/evidence.ts), and
 * real keys — these are public by construction (anyone can derive them from the name) and must
 * never guard a real capsule.
 */
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { identityFromSecret, ownerSeed, type Identity } from '../crypto/identity.ts';
import { wipe } from '../crypto/secrets.ts';
import { addressOf, personalMessageDigest } from '../sandbox/ethereum.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';

export type TestKeyType = 'age' | 'ed25519' | 'eip191';

/** A key's public forms, as params refer to them ("${name.form}"). */
export interface TestKeyForms {
  type: TestKeyType;
  /** age keys: the recipient (age1…), what a requester is. */
  recipient?: string;
  /** age and ed25519 keys: the 32-byte Ed25519 public key as 64 hex digits. */
  ed25519?: string;
  /** eip191 keys: the Ethereum address as 0x and 40 hex digits. */
  address?: string;
}

/** The domain of the derivation: changing it changes every test key (and every scenario's bytes). */
const DOMAIN = 'capsule-logic-test-key:v1:';

interface Held {
  forms: TestKeyForms;
  /** The Ed25519 seed (age: derived from the identity; ed25519: the key), or the secp256k1 secret. */
  secret: Uint8Array;
  edPublic?: Uint8Array;
  ethAddress?: Uint8Array;
  identity?: Identity;
}

export class TestKeys {
  readonly #keys = new Map<string, Held>();
  /** Signatures by key and message: Ed25519 and RFC 6979 ECDSA are deterministic, so each is made once. */
  readonly #signed = new Map<string, EvidenceItem>();

  /**
   * Derives every declared key (SHA-256 of the domain, type and name).
   * @param declared - name → { type } as the file's "keys" (already schema-checked).
   */
  constructor(declared: Record<string, { type: TestKeyType }>) {
    for (const [name, { type }] of Object.entries(declared)) this.#keys.set(name, derive(name, type));
  }

  /** Declared names, in the file's order. */
  names(): string[] {
    return [...this.#keys.keys()];
  }

  /** A key's public forms, or undefined for a name not declared. */
  get(name: string): TestKeyForms | undefined {
    return this.#keys.get(name)?.forms;
  }

  /**
   * Evidence of `kind` over `message`, signed by key `name`: Ed25519 for age and ed25519 keys,
   * EIP-191 personal_sign for eip191 keys.
   * @throws RangeError for a name not declared (the file is checked before anything is signed)
   */
  sign(name: string, kind: 'approval' | 'checkin', message: string): EvidenceItem {
    const memo = `${name}\u0000${kind}\u0000${message}`;
    const done = this.#signed.get(memo);
    if (done) return done;
    const k = this.#keys.get(name);
    if (!k) throw new RangeError(`test key ${JSON.stringify(name)} is not declared`);
    const m = new TextEncoder().encode(message);
    let item: EvidenceItem;
    if (k.forms.type === 'eip191') {
      const rec = secp256k1.sign(personalMessageDigest(m), k.secret, { prehash: false, format: 'recovered' });
      const sig = new Uint8Array(65); // noble: v ‖ r ‖ s; Ethereum: r ‖ s ‖ v
      sig.set(rec.subarray(1), 0);
      sig[64] = rec[0]! + 27;
      item = { kind, scheme: 'eip191', signer: k.ethAddress!, message: m, signature: sig };
    } else {
      item = { kind, scheme: 'ed25519', signer: k.edPublic!, message: m, signature: ed25519.sign(m, k.secret) };
    }
    this.#signed.set(memo, item);
    return item;
  }

  /** Wipes every secret; the keys cannot sign afterwards. */
  dispose(): void {
    for (const k of this.#keys.values()) {
      wipe(k.secret);
      k.identity?.dispose();
    }
    this.#keys.clear();
    this.#signed.clear();
  }
}

function derive(name: string, type: TestKeyType): Held {
  const seed = new Uint8Array(createHash('sha256').update(`${DOMAIN}${type}:${name}`).digest());
  if (type === 'age') {
    const identity = identityFromSecret(seed);
    wipe(seed);
    const secret = ownerSeed(identity);
    const edPublic = ed25519.getPublicKey(secret);
    return { forms: { type, recipient: identity.recipient, ed25519: hex(edPublic) }, secret, edPublic, identity };
  }
  if (type === 'ed25519') {
    const edPublic = ed25519.getPublicKey(seed);
    return { forms: { type, ed25519: hex(edPublic) }, secret: seed, edPublic };
  }
  // A SHA-256 output is a valid secp256k1 secret unless it is 0 or ≥ n (probability ~2^-128): hash again then.
  let secret = seed;
  while (!secp256k1.utils.isValidSecretKey(secret)) {
    const next = new Uint8Array(createHash('sha256').update(secret).digest());
    wipe(secret);
    secret = next;
  }
  const ethAddress = addressOf(secp256k1.getPublicKey(secret, false));
  return { forms: { type, address: `0x${hex(ethAddress)}` }, secret, ethAddress };
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
