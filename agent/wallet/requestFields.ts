/**
 * Boundary parsing of the scalar fields of a signing request (hex bytes, Ethereum quantities,
 * addresses) into the encodings ABI §4.2 prescribes: u256 as 32-byte big-endian, other integers as
 * safe JS numbers, addresses as 20 bytes. Every failure names the field, the expectation and what came.
 *
 * Deliberately not here: any transaction encoding (RLP, EIP-712, PSBT): the libraries do that.
 */
import { WalletRequestError, type WalletRequestErrorCode } from '../errors.ts';

const U256_MAX = (1n << 256n) - 1n;

/** A short, printable rendering of a value that came in, for error messages (never a secret). */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'bigint') return `${v}`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** The 32-byte big-endian form of a uint256 (§4.2 u256). */
export function u256(v: bigint): Uint8Array {
  if (v < 0n || v > U256_MAX) throw new RangeError(`u256: ${v} is outside 0..2^256-1`);
  return Uint8Array.from(Buffer.from(v.toString(16).padStart(64, '0'), 'hex'));
}

/**
 * Bytes from hex text (even length, optional 0x prefix, any case).
 * @throws WalletRequestError `code` naming `field`
 */
export function hexBytes(v: unknown, field: string, code: WalletRequestErrorCode): Uint8Array {
  if (typeof v !== 'string') throw new WalletRequestError(code, `${field}: expected hex text, got ${shown(v)}`);
  const digits = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) {
    throw new WalletRequestError(code, `${field}: expected an even number of hex digits (optionally 0x-prefixed), got ${shown(v)}`);
  }
  return Uint8Array.from(Buffer.from(digits, 'hex'));
}

/**
 * An Ethereum quantity as a bigint: a JSON safe integer, "0x…" hex or a decimal string, 0..2^256-1.
 * @throws WalletRequestError ERR_BAD_TRANSACTION (or `code`) naming `field`
 */
export function quantity(v: unknown, field: string, code: WalletRequestErrorCode = 'ERR_BAD_TRANSACTION'): bigint {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'bigint') n = v;
  else if (typeof v === 'string' && /^0[xX][0-9a-fA-F]{1,64}$/.test(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v)) n = BigInt(v);
  if (n === undefined || n < 0n || n > U256_MAX) {
    throw new WalletRequestError(code, `${field}: expected a non-negative integer below 2^256 (JSON safe integer, "0x" hex or decimal text), got ${shown(v)}`);
  }
  return n;
}

/**
 * A bigint that ABI §4.2 encodes as a CBOR uint (nonce, gas limit, chain id): at most 2^53-1, so
 * that every CBOR decoder reads it exactly.
 * @throws WalletRequestError `code` naming `field`
 */
export function safeUint(v: bigint, field: string, code: WalletRequestErrorCode): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WalletRequestError(code, `${field}: expected an integer from 0 to 2^53-1, got ${v}`);
  }
  return Number(v);
}

/** 20 address bytes from "0x…" hex as the libraries print it. */
export function addressBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/^0x/i, ''), 'hex'));
}

/** Lowercase hex with a 0x prefix. */
export function hex0x(b: Uint8Array): string {
  return `0x${Buffer.from(b).toString('hex')}`;
}
