/**
 * EIP-712 hashing by micro-eth-signer: the domain separator, the struct hash and the signing digest
 * of a typed-data document, from the library's own `core/message.js` (its `encoder`, `sigHash` and
 * `getDomainType`, the code its signTyped/verifyTyped run).
 *
 * Why this loads a module by its resolved file: micro-eth-signer 0.20.1's package exports only
 * signTyped/verifyTyped/recoverAddressTyped for typed data, all of which need the private key;
 * the digest functions live in the same module but outside its export map. The version is pinned
 * exactly in package.json, and test/wallet-decode.test.ts checks every digest against viem's
 * independent implementation, so a moved file fails loudly rather than silently.
 *
 * Deliberately not here: any EIP-712 encoding of our own.
 */

interface TypedEncoder {
  structHash(type: string, message: unknown): string;
  getHash(primaryType: string, message: unknown): string;
}

interface MessageModule {
  encoder(types: Record<string, readonly { name: string; type: string }[]>, domain: unknown): TypedEncoder;
  sigHash(typed: unknown): string;
  getDomainType(domain: unknown): { name: string; type: string }[];
}

const url = new URL('./core/message.js', import.meta.resolve('micro-eth-signer'));
const lib = (await import(url.href)) as MessageModule;
for (const f of ['encoder', 'sigHash', 'getDomainType'] as const) {
  if (typeof lib[f] !== 'function') throw new Error(`micro-eth-signer: core/message.js has no ${f}(); the pinned version changed`);
}

export interface TypedDataHashes {
  domainHash: Uint8Array;
  structHash: Uint8Array;
  /** keccak256(0x1901 ‖ domainHash ‖ structHash): the digest signed. */
  digest: Uint8Array;
}

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.slice(2), 'hex'));

/**
 * The three EIP-712 hashes of a parsed document `{ types, primaryType, domain, message }`, with the
 * document's own EIP712Domain type when it declares one (as eth_signTypedData_v4 documents do),
 * else the one implied by the domain's fields (the library's rule). Throws the library's errors.
 */
export function eip712Hashes(typed: {
  types: Record<string, readonly { name: string; type: string }[]>;
  primaryType: string;
  domain: unknown;
  message: unknown;
}): TypedDataHashes {
  const types = { EIP712Domain: lib.getDomainType(typed.domain), ...typed.types };
  const enc = lib.encoder(types, typed.domain);
  return {
    domainHash: bytes(enc.structHash('EIP712Domain', typed.domain)),
    structHash: bytes(enc.structHash(typed.primaryType, typed.message)),
    digest: bytes(lib.sigHash(typed)),
  };
}
