/**
 * The shape of a decoded wallet signing request (ABI.md §4.2): `WalletRequest` with every field of
 * the five kinds (absent fields null or −1), the ERC-20 call, EIP-712 domain, PSBT input and output
 * it holds, the kind names, and the Bitcoin sums policies need (our inputs, change, outputs leaving
 * the wallet, the net outflow).
 *
 * Deliberately not here: decoding and checking the request (sdk/wallet.ts `request()`), or policy.
 */
import { U256 } from "./u256";
import { fail } from "./util";

export const KIND_ETH_TX = "eth-tx";
export const KIND_ETH_TYPED_DATA = "eth-typed-data";
export const KIND_ETH_MESSAGE = "eth-message";
export const KIND_BTC_PSBT = "btc-psbt";
export const KIND_RAW_DIGEST = "raw-digest";

/** A decoded ERC-20 `transfer` / `approve` / `transferFrom` call (eth-tx "erc20"). */
export class Erc20Call {
  method: string = "";
  /** The token contract (= the transaction's `to`). */
  token: Uint8Array = new Uint8Array(0);
  /** transferFrom only: whose tokens move. */
  owner: Uint8Array | null = null;
  /** transfer / transferFrom: the receiver; approve: the spender. */
  recipient: Uint8Array = new Uint8Array(0);
  amount: U256 = U256.zero();
}

/** An EIP-712 domain; absent members are null (chainId −1). */
export class TypedDataDomain {
  name: string | null = null;
  version: string | null = null;
  chainId: i64 = -1;
  verifyingContract: Uint8Array | null = null;
  salt: Uint8Array | null = null;
}

export class BtcInput {
  txid: Uint8Array = new Uint8Array(0);
  vout: i64 = 0;
  /** Satoshi. */
  amount: i64 = 0;
  /** Null for a script without an address form. */
  address: string | null = null;
  /** Spends one of this wallet's outputs (the guardian signs it). */
  ours: bool = false;
  /** BIP32 path of our key; present iff ours. */
  path: string | null = null;
}

export class BtcOutput {
  address: string | null = null;
  script: Uint8Array = new Uint8Array(0);
  /** Satoshi. */
  amount: i64 = 0;
  /** Pays one of our own accounts. */
  change: bool = false;
}

/** The request a wallet signing decision is about. Fields a kind does not have are null / −1. */
export class WalletRequest {
  kind: string = "";
  wallet: string = "";
  path: string = "";
  /** What approvals name (ABI.md §4.2, per kind). */
  hash: Uint8Array = new Uint8Array(0);
  /** "ethereum" or "bitcoin". */
  chain: string = "";
  /** eth-tx; eth-typed-data when its domain names one; −1 otherwise. */
  chainId: i64 = -1;
  /** eth-tx: "legacy", "eip2930" or "eip1559". */
  txType: string | null = null;
  /** Our account's address (20 bytes); raw-digest: bytes as the host gave them (or see fromText). */
  from: Uint8Array | null = null;
  /** raw-digest on Bitcoin: our account as text. */
  fromText: string | null = null;
  /** eth-tx: the callee or receiver; null for a contract creation (and for other kinds). */
  to: Uint8Array | null = null;
  value: U256 | null = null;
  nonce: i64 = -1;
  gasLimit: i64 = -1;
  gasPrice: U256 | null = null;
  maxFeePerGas: U256 | null = null;
  maxPriorityFeePerGas: U256 | null = null;
  /** gasLimit × (maxFeePerGas or gasPrice): the most the transaction can cost in fees. */
  maxFee: U256 | null = null;
  data: Uint8Array | null = null;
  /** The first 4 bytes of data, when it has 4 or more. */
  selector: Uint8Array | null = null;
  erc20: Erc20Call | null = null;
  primaryType: string | null = null;
  domain: TypedDataDomain | null = null;
  domainHash: Uint8Array | null = null;
  structHash: Uint8Array | null = null;
  /** The typed-data JSON as received (UTF-8). */
  document: Uint8Array | null = null;
  /** eth-message: the bytes signed with the EIP-191 prefix. */
  message: Uint8Array | null = null;
  /** btc-psbt: "mainnet", "testnet" or "regtest". */
  network: string | null = null;
  inputs: BtcInput[] | null = null;
  outputs: BtcOutput[] | null = null;
  /** btc-psbt: Σ inputs − Σ outputs, satoshi; −1 otherwise. */
  fee: i64 = -1;
  /** raw-digest: the digest to sign (= hash). */
  digest: Uint8Array | null = null;

  isEthTx(): bool { return this.kind == KIND_ETH_TX; }
  isBtcPsbt(): bool { return this.kind == KIND_BTC_PSBT; }

  /** eth-tx that runs code: a contract creation, or call data that is not empty. */
  isContractCall(): bool {
    return this.kind == KIND_ETH_TX && (this.to === null || this.data!.length > 0);
  }

  private btc(what: string): BtcInput[] {
    if (this.kind != KIND_BTC_PSBT) fail(what + ": the request is " + this.kind + ", not btc-psbt");
    return this.inputs!;
  }

  /** Σ amounts of the inputs that spend our outputs (satoshi); traps unless btc-psbt. */
  btcOursIn(): i64 {
    const ins = this.btc("btcOursIn");
    let sum: i64 = 0;
    for (let i = 0; i < ins.length; i++) if (ins[i].ours) sum += ins[i].amount;
    return sum; // ≤ Σ inputs, checked not to overflow when decoded
  }

  /** Σ amounts of the outputs paying our own accounts (change); traps unless btc-psbt. */
  btcChangeOut(): i64 {
    this.btc("btcChangeOut");
    const outs = this.outputs!;
    let sum: i64 = 0;
    for (let i = 0; i < outs.length; i++) if (outs[i].change) sum += outs[i].amount;
    return sum;
  }

  /** Σ amounts of the outputs that are not our change; traps unless btc-psbt. */
  btcExternalOut(): i64 {
    this.btc("btcExternalOut");
    const outs = this.outputs!;
    let sum: i64 = 0;
    for (let i = 0; i < outs.length; i++) if (!outs[i].change) sum += outs[i].amount;
    return sum;
  }

  /**
   * What leaves the wallet, fee included: Σ our inputs − Σ change outputs, or 0 if the
   * transaction pays us more than it spends of ours. Traps unless btc-psbt.
   */
  btcOutflow(): i64 {
    const d = this.btcOursIn() - this.btcChangeOut();
    return d > 0 ? d : 0;
  }
}
