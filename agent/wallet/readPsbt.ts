/**
 * A BIP174 PSBT (v0, or BIP370 v2) read by @scure/btc-signer from base64 text or binary, with
 * the library's structural checks (duplicate keys, typed-key lengths, a witness-serialized or
 * scriptSig-carrying unsigned transaction, a nonWitnessUtxo that does not hash to the input's
 * txid) and its BIP174 signer check that each input's redeem/witness scripts match the script it
 * spends. Every failure is ERR_BAD_PSBT with the library's reason chained as `cause`.
 *
 * Why the script check runs here, per input, instead of inside fromPSBT: the library's built-in
 * check also decodes every *output* script and refuses one holding an undefined opcode — valid
 * under consensus, and present in the BIP341 test transaction — which would make such PSBTs
 * unreadable although nothing of ours depends on those outputs' structure.
 *
 * Unknown and proprietary key-value pairs are kept (and returned in the signed PSBT): they are the
 * other participants' metadata, not ours to drop. Outputs with scripts the library does not know
 * (OP_RETURN and others) are allowed: they are shown to the policy with no address.
 *
 * Deliberately not here: deciding what is ours or signing (decodeBtcPsbt.ts).
 */
import { base64 } from '@scure/base';
import { Transaction } from '@scure/btc-signer';
import { checkScript } from '@scure/btc-signer/payment.js';
import { getPrevOut } from '@scure/btc-signer/transaction.js';
import { WalletRequestError } from '../errors.ts';
import { shown } from './requestFields.ts';

/** The options every PSBT of a request is read and re-serialized with. */
export const PSBT_OPTIONS = {
  allowUnknownOutputs: true,
  allowUnknownInputs: true,
  unknown: 'ignore',
  proprietary: 'ignore',
  disableScriptCheck: true,
} as const;

const MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff];

/**
 * Parses a PSBT.
 * @throws WalletRequestError ERR_BAD_PSBT
 */
export function readPsbt(input: string | Uint8Array): Transaction {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (typeof input === 'string') {
    try {
      bytes = base64.decode(input.trim());
    } catch (cause) {
      throw new WalletRequestError('ERR_BAD_PSBT', `psbt: expected base64 text (RFC 4648, padded), got ${shown(input)}`, { cause });
    }
  } else {
    throw new WalletRequestError('ERR_BAD_PSBT', `psbt: expected base64 text or bytes, got ${shown(input)}`);
  }
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new WalletRequestError(
      'ERR_BAD_PSBT',
      `psbt: expected the magic bytes 70 73 62 74 ff ("psbt" 0xff), got ${Buffer.from(bytes.subarray(0, 5)).toString('hex') || 'no bytes'}`,
    );
  }
  let tx: Transaction;
  try {
    tx = Transaction.fromPSBT(bytes, PSBT_OPTIONS);
  } catch (cause) {
    throw new WalletRequestError(
      'ERR_BAD_PSBT',
      `psbt: expected a valid BIP174 PSBT, got ${bytes.length} bytes that @scure/btc-signer refuses (reason in cause)`,
      { cause },
    );
  }
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    if (!input.witnessUtxo && !input.nonWitnessUtxo) continue;
    try {
      checkScript(getPrevOut(input).script, input.redeemScript, input.witnessScript);
    } catch (cause) {
      throw new WalletRequestError(
        'ERR_BAD_PSBT',
        `psbt.inputs[${i}]: expected its redeemScript/witnessScript to match the script it spends (BIP174 signer check); @scure/btc-signer refuses them (reason in cause)`,
        { cause },
      );
    }
  }
  return tx;
}
