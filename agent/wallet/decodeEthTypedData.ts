/**
 * Kind `eth-typed-data`: an EIP-712 document (eth_signTypedData_v4 JSON), hashed by micro-eth-signer
 * (eip712.ts), presented as ABI §4.2's eth-typed-data map — the domain's fields, the domain and
 * struct hashes and the document bytes as received — and signed as a 65-byte r ‖ s ‖ v.
 *
 * Refused: text that is not JSON, a document without types/primaryType/domain/message objects, one
 * the library cannot hash (undeclared types or fields, values that do not fit their types), JSON
 * numbers that are not exact integers (above 2^53 they would be signed rounded), a domain chain id
 * other than the account's (EIP-712: "the user-agent should refuse signing if it does not match
 * the currently active chain"), and primaryType EIP712Domain (no message to show a policy).
 *
 * Deliberately not here: interpreting the message (permits, orders): a policy parses `document`.
 */
import { WalletRequestError } from '../errors.ts';
import { eip712Hashes, type TypedDataHashes } from './eip712.ts';
import { hexBytes, quantity, safeUint, shown } from './requestFields.ts';
import type { DecodedSignRequest, EthSignatureOutput } from './SignRequest.ts';
import { rsv, signEcdsa } from './signEcdsa.ts';
import { ethereumAddress } from './keyFacts.ts';
import type { EthereumAccount } from './WalletAccount.ts';

const bad = (message: string, cause?: unknown): never => {
  throw new WalletRequestError('ERR_BAD_TYPED_DATA', message, cause === undefined ? {} : { cause });
};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function documentText(input: unknown): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (cause) {
      return bad(`typedData: expected UTF-8 JSON text, got ${input.length} bytes that are not UTF-8`, cause);
    }
  }
  if (isObject(input)) {
    try {
      return JSON.stringify(input);
    } catch (cause) {
      return bad('typedData: expected a JSON-serialisable document (no bigint, no cycles)', cause);
    }
  }
  return bad(`typedData: expected an EIP-712 document (JSON text or object), got ${shown(input)}`);
}

function parse(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text, (key, value) => {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        bad(`typedData: the JSON number at ${JSON.stringify(key)} is not an integer below 2^53 (${value}); send large or fractional values as text`);
      }
      return value;
    });
  } catch (cause) {
    if (cause instanceof WalletRequestError) throw cause;
    return bad(`typedData: expected JSON text, got ${text.length} characters that do not parse (reason in cause)`, cause);
  }
  if (!isObject(doc)) return bad(`typedData: expected a JSON object, got ${shown(doc)}`);
  for (const k of ['types', 'domain', 'message'] as const) {
    if (!isObject(doc[k])) bad(`typedData.${k}: expected an object, got ${shown(doc[k])}`);
  }
  if (typeof doc.primaryType !== 'string') bad(`typedData.primaryType: expected a type name, got ${shown(doc.primaryType)}`);
  if (doc.primaryType === 'EIP712Domain') bad("typedData.primaryType: EIP712Domain signs a domain with no message; expected the message's type");
  if (!Object.hasOwn(doc.types as object, doc.primaryType as string))
    bad(`typedData.primaryType: ${shown(doc.primaryType)} is not declared in typedData.types`);
  return doc;
}

/** ABI §4.2's "domain" map from the document's domain, each present field checked for its type. */
function domainMap(domain: Record<string, unknown>, account: EthereumAccount): { map: Map<string, unknown>; chainId?: number } {
  const map = new Map<string, unknown>();
  let chainId: number | undefined;
  for (const k of ['name', 'version'] as const) {
    if (domain[k] === undefined) continue;
    if (typeof domain[k] !== 'string') bad(`typedData.domain.${k}: expected text, got ${shown(domain[k])}`);
    map.set(k, domain[k]);
  }
  if (domain.chainId !== undefined) {
    const id = quantity(domain.chainId, 'typedData.domain.chainId', 'ERR_BAD_TYPED_DATA');
    if (id !== BigInt(account.chainId)) {
      throw new WalletRequestError('ERR_WRONG_CHAIN', `typedData.domain.chainId: this account signs for chain ${account.chainId}, got ${id}`);
    }
    chainId = safeUint(id, 'typedData.domain.chainId', 'ERR_BAD_TYPED_DATA');
    map.set('chainId', chainId);
  }
  if (domain.verifyingContract !== undefined) {
    const a = hexBytes(domain.verifyingContract, 'typedData.domain.verifyingContract', 'ERR_BAD_TYPED_DATA');
    if (a.length !== 20) bad(`typedData.domain.verifyingContract: expected a 20-byte address, got ${shown(domain.verifyingContract)}`);
    map.set('verifyingContract', a);
  }
  if (domain.salt !== undefined) {
    const s = hexBytes(domain.salt, 'typedData.domain.salt', 'ERR_BAD_TYPED_DATA');
    if (s.length !== 32) bad(`typedData.domain.salt: expected 32 bytes, got ${shown(domain.salt)}`);
    map.set('salt', s);
  }
  return { map, ...(chainId === undefined ? {} : { chainId }) };
}

/**
 * Decodes an eth-typed-data request for `account`.
 * @throws WalletRequestError ERR_BAD_TYPED_DATA, ERR_WRONG_CHAIN
 */
export function decodeEthTypedData(input: string | Uint8Array | Record<string, unknown>, account: EthereumAccount): DecodedSignRequest {
  const text = documentText(input);
  const doc = parse(text);
  const { map: domain, chainId } = domainMap(doc.domain as Record<string, unknown>, account);
  let hashes: TypedDataHashes;
  try {
    hashes = eip712Hashes(doc as never);
  } catch (cause) {
    return bad(
      `typedData: expected a document that hashes as EIP-712 (every type and field declared, every value fitting its type); micro-eth-signer refuses this one (reason in cause)`,
      cause,
    );
  }
  const from = ethereumAddress(account.publicKey);
  const request = new Map<string, unknown>([
    ['kind', 'eth-typed-data'],
    ['wallet', account.wallet],
    ['path', account.path],
    ['hash', hashes.digest],
    ['chain', 'ethereum'],
    ...(chainId === undefined ? [] : [['chainId', chainId] as [string, unknown]]),
    ['from', from],
    ['primaryType', doc.primaryType],
    ['domain', domain],
    ['domainHash', hashes.domainHash],
    ['structHash', hashes.structHash],
    ['document', new TextEncoder().encode(text)],
  ]);
  return {
    kind: 'eth-typed-data',
    request,
    hash: hashes.digest,
    signatures: [{ path: account.path, digest: hashes.digest, scheme: 'ecdsa' }],
    needsSchnorr: false,
    async finish(signer): Promise<EthSignatureOutput> {
      const signature = rsv(await signEcdsa(signer, account.path, hashes.digest, account.publicKey));
      return { kind: 'eth-typed-data', signature, text: `0x${Buffer.from(signature).toString('hex')}` };
    },
  };
}
