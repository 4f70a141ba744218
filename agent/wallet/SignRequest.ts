/**
 * The shapes of a wallet signing request: what a caller sends (SignInput, one variant per kind of
 * POST /v1/wallet/sign), what a decoder gives back (DecodedSignRequest: the ABI §4.2 "request" map
 * for the policy, the digests the guardian computed, and finish()), and what finish() returns.
 *
 * Deliberately not here: decoding (decodeSignRequest.ts and one decoder per kind) or transport
 * encodings (the API layer turns bytes into hex/base64 as its schema says).
 */
import type { WalletSigner } from './WalletSigner.ts';

export const SIGN_KINDS = ['eth-tx', 'eth-typed-data', 'eth-message', 'btc-psbt', 'raw-digest'] as const;
export type SignKind = (typeof SIGN_KINDS)[number];

/**
 * A request as the caller sends it.
 * - eth-tx: an unsigned EIP-2718 transaction as hex (legacy with an EIP-155 chain id, EIP-2930,
 *   EIP-1559), or its fields as a JSON object (eth_signTransaction style: type, chainId, nonce, to,
 *   value, gas|gasLimit, gasPrice | maxFeePerGas + maxPriorityFeePerGas, data|input, accessList, from).
 * - eth-typed-data: an EIP-712 document (eth_signTypedData_v4 JSON), as text, UTF-8 bytes or parsed.
 * - eth-message: personal_sign bytes; a string is taken as its UTF-8 text, never as hex.
 * - btc-psbt: a BIP174 PSBT, base64 text or binary.
 * - raw-digest: 32 bytes, or 64 hex digits (optionally 0x-prefixed).
 */
export type SignInput =
  | { kind: 'eth-tx'; transaction: string | Record<string, unknown> }
  | { kind: 'eth-typed-data'; typedData: string | Uint8Array | Record<string, unknown> }
  | { kind: 'eth-message'; message: string | Uint8Array }
  | { kind: 'btc-psbt'; psbt: string | Uint8Array }
  | { kind: 'raw-digest'; digest: string | Uint8Array };

/** One digest the guardian computed and will sign in finish(), with the key's path and the scheme. */
export interface PlannedSignature {
  path: string;
  digest: Uint8Array;
  scheme: 'ecdsa' | 'schnorr';
  /** btc-psbt: the input index it signs. */
  input?: number;
  /** schnorr: the BIP341 tweak (the input's Merkle root, null for none). */
  taprootTweak?: Uint8Array | null;
}

export interface DecodedSignRequest {
  readonly kind: SignKind;
  /** ABI §4.2 `"request"`: text keys, u256 as 32-byte big-endian, ready for encodeCanonical. */
  readonly request: Map<string, unknown>;
  /** `"request"."hash"`: what approvals name (and the capsule map's "digest"). */
  readonly hash: Uint8Array;
  /** Every digest finish() will sign, computed here from the decoded request. */
  readonly signatures: readonly PlannedSignature[];
  /** finish() needs WalletSigner.signSchnorr (a Taproot input of ours). */
  readonly needsSchnorr: boolean;
  /**
   * Signs the planned digests through `signer` and assembles the output. Checks every signature it
   * gets back against the account's key before using it; repeatable (it never mutates the decoded state).
   * @throws WalletRequestError ERR_UNSUPPORTED_BY_MODEL (Schnorr needed, signer has none; nothing
   *   signed), ERR_SIGNER_FAULT (a signature that does not verify); the signer's own errors
   */
  finish(signer: WalletSigner): Promise<SignOutput>;
}

/** eth-tx: the signed transaction, ready for eth_sendRawTransaction. */
export interface EthTxOutput {
  kind: 'eth-tx';
  rawTransaction: Uint8Array;
  /** keccak256 of rawTransaction: the hash the network knows it by. */
  transactionHash: Uint8Array;
  /** r ‖ s ‖ yParity (0|1), 65 bytes: for the audit log. */
  signature: Uint8Array;
  /** "0x…" hex of rawTransaction (what the CLI prints). */
  text: string;
}

/** eth-typed-data, eth-message: the 65-byte r ‖ s ‖ v signature, v 27|28. */
export interface EthSignatureOutput {
  kind: 'eth-typed-data' | 'eth-message';
  signature: Uint8Array;
  /** "0x…" hex of signature. */
  text: string;
}

/** btc-psbt: the PSBT with our inputs signed (finalized, and the transaction extracted, when complete). */
export interface BtcPsbtOutput {
  kind: 'btc-psbt';
  psbt: Uint8Array;
  /** Every input is signed: the PSBT is finalized and `transaction` is the network transaction. */
  complete: boolean;
  transaction?: Uint8Array;
  /** The signatures we added, as placed in the PSBT (DER ‖ sighash for ECDSA, 64|65 bytes for Schnorr). */
  signatures: { input: number; signature: Uint8Array }[];
  /** Base64 of psbt. */
  text: string;
}

/** raw-digest: the 64-byte r ‖ s signature (low S) and its recovery id. */
export interface RawDigestOutput {
  kind: 'raw-digest';
  signature: Uint8Array;
  recovery: 0 | 1;
  /** Hex of signature. */
  text: string;
}

export type SignOutput = EthTxOutput | EthSignatureOutput | BtcPsbtOutput | RawDigestOutput;
