/**
 * Kind `btc-psbt`: a BIP174 PSBT spending P2WPKH and P2TR key-path inputs. Read by
 * @scure/btc-signer (readPsbt.ts), shown as ABI §4.2's btc-psbt map (every input and output with
 * address and amount, and the fee), each of our inputs' sighash computed by the library's BIP143 /
 * BIP341 preimage functions, signed through the WalletSigner and placed back with the library's
 * updateInput (partialSig / tapKeySig); finalized, and the transaction extracted, when every input
 * is signed.
 *
 * Which inputs are ours: an input is ours when the script of the output it spends (witnessUtxo, or
 * the nonWitnessUtxo's output) pays one of the account's keys — P2WPKH of the key, or P2TR whose
 * output key is the key tweaked (BIP341) with the input's tapMerkleRoot, or with nothing when it has
 * none (BIP86). Derivation paths in the PSBT (bip32Derivation, tapBip32Derivation) are the
 * requester's unsigned claims and are never used to decide: the script is what the signature
 * unlocks. An output is change when its script pays one of the account's keys the same way.
 *
 * Refused: inputs whose previous output is unknown (no amount: no fee to show), a negative fee, a
 * sighash type other than ALL (or Taproot's DEFAULT) on an input we sign — NONE, SINGLE and
 * ANYONECANPAY would let others change what the policy approved —, and a PSBT with nothing of ours
 * to sign. Known limit: a P2WPKH input's own signature commits only to its own amount (BIP143), so
 * the fee shown relies on the other inputs' amounts as the PSBT states them; Taproot signatures
 * commit to every amount.
 *
 * Deliberately not here: P2PKH, P2SH-wrapped and script-path spends, multisig, MuSig2.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import { getPrevOut } from '@scure/btc-signer/transaction.js';
import { hash160, sha256x2 } from '@scure/btc-signer/utils.js';
import { WalletRequestError } from '../errors.ts';
import { p2wpkhScript, taprootOutputKey } from './keyFacts.ts';
import { readPsbt } from './readPsbt.ts';
import type { BtcPsbtOutput, DecodedSignRequest, PlannedSignature } from './SignRequest.ts';
import { signEcdsa } from './signEcdsa.ts';
import type { WalletSigner } from './WalletSigner.ts';
import { bitcoinNetwork, ownKeys, type AccountKey, type BitcoinAccount } from './WalletAccount.ts';

const SIGHASH_DEFAULT = 0;
const SIGHASH_ALL = 1;

interface Spend {
  key: AccountKey;
  type: 'p2wpkh' | 'p2tr';
  tweak: Uint8Array | null;
  outputKey?: Uint8Array;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Which of our keys `script` pays, and how (P2WPKH, or P2TR key path tweaked with `merkleRoot`). */
function payee(script: Uint8Array, keys: AccountKey[], merkleRoot: Uint8Array | undefined): Spend | undefined {
  const taproot = script.length === 34 && script[0] === 0x51 && script[1] === 0x20;
  for (const key of keys) {
    if (!taproot && equal(script, p2wpkhScript(key.publicKey))) return { key, type: 'p2wpkh', tweak: null };
    if (taproot) {
      const outputKey = taprootOutputKey(key.publicKey, merkleRoot);
      if (equal(script.subarray(2), outputKey)) return { key, type: 'p2tr', tweak: merkleRoot ?? null, outputKey };
    }
  }
  return undefined;
}

function address(script: Uint8Array, net: ReturnType<typeof bitcoinNetwork>): string | null {
  try {
    return btc.Address(net).encode(btc.OutScript.decode(script));
  } catch {
    return null; // no address form (OP_RETURN, bare multisig, unknown)
  }
}

/** 21 million BTC in satoshi: the largest amount (and sum) a valid transaction carries. */
const MAX_MONEY = 2_100_000_000_000_000n;

/**
 * Decodes a btc-psbt request for `account`.
 * @throws WalletRequestError ERR_BAD_PSBT, ERR_NOTHING_TO_SIGN, ERR_UNSUPPORTED_TRANSACTION
 */
export function decodeBtcPsbt(input: string | Uint8Array, account: BitcoinAccount): DecodedSignRequest {
  const tx = readPsbt(input);
  const net = bitcoinNetwork(account.network);
  const keys = ownKeys(account);
  const n = tx.inputsLength;

  const prevouts = Array.from({ length: n }, (_, i) => {
    const inp = tx.getInput(i);
    if (!inp.witnessUtxo && !inp.nonWitnessUtxo) return undefined;
    try {
      return getPrevOut(inp);
    } catch (cause) {
      throw new WalletRequestError('ERR_BAD_PSBT', `psbt.inputs[${i}]: its previous output cannot be read from the PSBT (reason in cause)`, { cause });
    }
  });
  const spends = prevouts.map((p, i) => (p ? payee(p.script, keys, tx.getInput(i).tapMerkleRoot) : undefined));
  spends.forEach((spend, i) => {
    const internal = tx.getInput(i).tapInternalKey;
    // The output is ours by its key; metadata naming another internal key is a broken PSBT.
    if (spend?.type === 'p2tr' && internal && !equal(internal, spend.key.publicKey.subarray(1))) {
      throw new WalletRequestError(
        'ERR_BAD_PSBT',
        `psbt.inputs[${i}].tapInternalKey: the output pays ${spend.key.path}'s key, but the PSBT names internal key ${Buffer.from(internal).toString('hex')}`,
      );
    }
  });
  const plan: (PlannedSignature & { spend: Spend; sighash: number })[] = [];
  spends.forEach((spend, i) => {
    const inp = tx.getInput(i);
    if (spend && !inp.finalScriptWitness && !inp.finalScriptSig)
      plan.push({ path: spend.key.path, digest: new Uint8Array(0), scheme: spend.type === 'p2tr' ? 'schnorr' : 'ecdsa', input: i, spend, sighash: -1 });
  });
  if (plan.length === 0) {
    throw new WalletRequestError(
      'ERR_NOTHING_TO_SIGN',
      `psbt: none of its ${n} input(s) spends an unsigned output paying this wallet's keys (${keys.map((k) => k.path).join(', ')})`,
    );
  }
  const missing = prevouts.findIndex((p) => p === undefined);
  if (missing >= 0) {
    throw new WalletRequestError(
      'ERR_BAD_PSBT',
      `psbt.inputs[${missing}]: expected a witnessUtxo or nonWitnessUtxo (the amount it spends), got neither: the fee cannot be known`,
    );
  }
  // Consensus bounds every amount and every sum by MAX_MONEY (Bitcoin Core's MoneyRange); anything
  // above is no spendable transaction, and would not fit the exact integers the policy reads.
  const money = (amount: bigint, what: string) => {
    if (amount < 0n || amount > MAX_MONEY)
      throw new WalletRequestError('ERR_BAD_PSBT', `${what}: expected an amount of 0 to ${MAX_MONEY} satoshi (21 million BTC), got ${amount}`);
  };
  prevouts.forEach((p, i) => money(p!.amount, `psbt.inputs[${i}].amount`));
  for (let j = 0; j < tx.outputsLength; j++) money(tx.getOutput(j).amount ?? 0n, `psbt.outputs[${j}].amount`);
  money(
    prevouts.reduce((s, p) => s + p!.amount, 0n),
    "psbt: the inputs' total",
  );
  let spent = 0n;
  for (let j = 0; j < tx.outputsLength; j++) spent += tx.getOutput(j).amount ?? 0n;
  money(spent, "psbt: the outputs' total");
  const fee = tx.fee;
  if (fee < 0n) throw new WalletRequestError('ERR_BAD_PSBT', `psbt: the outputs spend ${-fee} satoshi more than the inputs`);

  const scripts = prevouts.map((p) => p!.script);
  const amounts = prevouts.map((p) => p!.amount);
  for (const p of plan) {
    const i = p.input!;
    const declared = tx.getInput(i).sighashType;
    const allowed = p.spend.type === 'p2tr' ? [undefined, SIGHASH_DEFAULT, SIGHASH_ALL] : [undefined, SIGHASH_ALL];
    if (!allowed.includes(declared)) {
      throw new WalletRequestError(
        'ERR_UNSUPPORTED_TRANSACTION',
        `psbt.inputs[${i}].sighashType: expected ALL${p.spend.type === 'p2tr' ? ' or DEFAULT' : ''} on an input this guardian signs, got 0x${declared!.toString(16)} (it would let others change what the policy approved)`,
      );
    }
    if (p.spend.type === 'p2wpkh') {
      p.sighash = SIGHASH_ALL;
      const pkh = btc.OutScript.encode({ type: 'pkh', hash: hash160(p.spend.key.publicKey) }); // BIP143 scriptCode of P2WPKH
      p.digest = tx.preimageWitnessV0(i, pkh, SIGHASH_ALL, amounts[i]!);
    } else {
      p.sighash = declared ?? SIGHASH_DEFAULT;
      p.taprootTweak = p.spend.tweak;
      p.digest = tx.preimageWitnessV1(i, scripts, p.sighash, amounts);
    }
  }

  const inputs = prevouts.map((p, i) => {
    const inp = tx.getInput(i);
    const spend = spends[i];
    return new Map<string, unknown>([
      ['txid', Uint8Array.from(inp.txid!).reverse()],
      ['vout', inp.index!],
      ['amount', Number(p!.amount)],
      ['address', address(p!.script, net)],
      ['ours', spend !== undefined],
      ...(spend ? [['path', spend.key.path] as [string, unknown]] : []),
    ]);
  });
  const outputs = Array.from({ length: tx.outputsLength }, (_, j) => {
    const o = tx.getOutput(j);
    return new Map<string, unknown>([
      ['address', address(o.script!, net)],
      ['script', Uint8Array.from(o.script!)],
      ['amount', Number(o.amount!)],
      ['change', payee(o.script!, keys, undefined) !== undefined],
    ]);
  });
  const hash = sha256x2(tx.unsignedTx);
  const request = new Map<string, unknown>([
    ['kind', 'btc-psbt'],
    ['wallet', account.wallet],
    ['path', account.path],
    ['hash', hash],
    ['chain', 'bitcoin'],
    ['network', account.network],
    ['inputs', inputs],
    ['outputs', outputs],
    ['fee', Number(fee)],
  ]);
  const signatures: PlannedSignature[] = plan.map((p) => ({
    path: p.path,
    digest: p.digest,
    scheme: p.scheme,
    input: p.input,
    ...(p.scheme === 'schnorr' ? { taprootTweak: p.taprootTweak ?? null } : {}),
  }));
  const needsSchnorr = plan.some((p) => p.scheme === 'schnorr');

  return {
    kind: 'btc-psbt',
    request,
    hash,
    signatures,
    needsSchnorr,
    async finish(signer: WalletSigner): Promise<BtcPsbtOutput> {
      if (needsSchnorr && typeof signer.signSchnorr !== 'function') {
        throw new WalletRequestError(
          'ERR_UNSUPPORTED_BY_MODEL',
          `psbt: input(s) ${plan
            .filter((p) => p.scheme === 'schnorr')
            .map((p) => p.input)
            .join(', ')} are Taproot key-path spends, which need BIP340 Schnorr signatures; this custodian signs only ECDSA`,
        );
      }
      const work = tx.clone();
      const added: { input: number; signature: Uint8Array }[] = [];
      for (const p of plan) {
        const i = p.input!;
        if (p.scheme === 'ecdsa') {
          const sig = await signEcdsa(signer, p.path, p.digest, p.spend.key.publicKey);
          const der = secp256k1.Signature.fromBytes(sig.signature, 'compact').toBytes('der');
          const signature = Uint8Array.from([...der, p.sighash]);
          work.updateInput(i, { partialSig: [[p.spend.key.publicKey, signature]] }, true);
          added.push({ input: i, signature });
        } else {
          const s = await signer.signSchnorr!(p.path, p.digest, { taprootTweak: p.spend.tweak });
          if (!(s instanceof Uint8Array) || s.length !== 64 || !schnorr.verify(s, p.digest, p.spend.outputKey!)) {
            throw new WalletRequestError(
              'ERR_SIGNER_FAULT',
              `signer: the Schnorr signature for ${p.path} (input ${i}) does not verify under the input's tweaked output key`,
            );
          }
          const signature = p.sighash === SIGHASH_DEFAULT ? Uint8Array.from(s) : Uint8Array.from([...s, p.sighash]);
          work.updateInput(i, { tapKeySig: signature }, true);
          added.push({ input: i, signature });
        }
      }
      // Complete when the library can finalize every input (ours now signed, the others already
      // signed or finalized by their owners); otherwise the PSBT goes back partially signed.
      let final: btc.Transaction | undefined;
      try {
        const f = work.clone();
        f.finalize();
        final = f;
      } catch {
        final = undefined;
      }
      const out = final ?? work;
      const psbt = out.toPSBT();
      return {
        kind: 'btc-psbt',
        psbt,
        complete: final !== undefined,
        signatures: added,
        ...(final ? { transaction: final.extract() } : {}),
        text: Buffer.from(psbt).toString('base64'),
      };
    },
  };
}
