/**
 * Policy-gated wallet signing (DESIGN.md "The hot wallet"): a request to sign an Ethereum
 * transaction, EIP-712 document, personal message, Bitcoin PSBT or (where allowed) a raw digest
 * with a wallet account is decoded by the guardian (agent/wallet), shown to the account's policy
 * (contracts-as/ABI.md §4.2: the context's "request" map; the capsule map names the account, its
 * `digest` is the request's hash) and signed only if the policy allows. The policy's state persists
 * per account ("wallet:<account capsule id hex>"), one decision at a time (`serial`) so a daily limit
 * cannot be over-spent. Decided by the one decision pipeline (Decider.ts); the entry records the
 * kind, the request hash and what was signed (the output text up to 32 KiB, else its SHA-256).
 *
 * Deliberately not here: decoding and signing (agent/wallet), the keys (WalletKeys), HTTP (api.ts),
 * configuration parsing (config.ts "wallet").
 */
import { addr } from 'micro-eth-signer';
import { AgentError, WalletError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import type { WalletKeys } from '../keys/WalletKeys.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import { decodeSignRequest } from '../wallet/decodeSignRequest.ts';
import { ethereumAddress } from '../wallet/keyFacts.ts';
import { keyStoreSigner } from '../wallet/keyStoreSigner.ts';
import type { SignOutput } from '../wallet/SignRequest.ts';
import { bitcoinAddress, type BitcoinNetworkName, type WalletAccount } from '../wallet/WalletAccount.ts';
import type { Json } from './AuditLog.ts';
import { Decider, type DeciderDeps, type DecisionAnswer, decisionAnswer } from './Decider.ts';

/** One account a guardian serves and its policy, from the agent's configuration (config.ts "wallet"). */
export type WalletAccountPolicy = {
  wallet: string;
  path: string;
  /** SHA-256 (hex) of the policy module, which must be in the module store. */
  logic: string;
  /** Deterministic CBOR params, if any. */
  params?: Uint8Array;
  /** raw-digest requests may be presented to the policy (ABI §4.2); otherwise refused before it runs. */
  rawDigest?: boolean;
} & ({ chain: 'ethereum'; chainId: number } | { chain: 'bitcoin'; network: BitcoinNetworkName; keys?: string[] });

/** An account as GET /v1/wallet/accounts lists it. */
export interface AccountListing {
  wallet: string;
  path: string;
  chain: 'ethereum' | 'bitcoin';
  /** EIP-55 checksummed (Ethereum), or the network's P2WPKH/P2TR address (Bitcoin); absent with `error`. */
  address?: string;
  chainId?: number;
  network?: BitcoinNetworkName;
  /** Why the account cannot sign now (its wallet is not on the module: ERR_NO_WALLET). */
  error?: { code: string; message: string };
}

/** A wallet decision's answer: on allow, what finish() produced. */
export interface WalletSignOutcome extends DecisionAnswer {
  kind: string;
  /** The request's hash (hex): what approvals name. */
  hash: string;
  output?: SignOutput;
}

/** The capsule id an account's policy sees (and its state is kept under): ABI §4.2. */
export function accountCapsuleId(wallet: string, path: string): Uint8Array {
  return sha256(new TextEncoder().encode(`capsule/v1 wallet account ${wallet} ${path}`)).subarray(0, 16);
}

/** What wallet signing needs besides the pipeline's parts: the custodian's wallets (absent: none). */
export interface WalletServiceDeps extends DeciderDeps {
  wallet?: WalletKeys;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Longest output text an entry keeps whole (a large signed PSBT is recorded by its SHA-256). */
const MAX_AUDIT_OUTPUT = 32 * 1024;

/** What a wallet-sign entry records of what was signed: the signature(s) and the answered output. */
function auditOf(o: SignOutput): { [k: string]: Json } {
  const output: { [k: string]: Json } =
    o.text.length <= MAX_AUDIT_OUTPUT ? { output: o.text } : { outputSha256: hex(sha256(new TextEncoder().encode(o.text))), outputBytes: o.text.length };
  switch (o.kind) {
    case 'eth-tx':
      return { ...output, signature: hex(o.signature), transactionHash: hex(o.transactionHash) };
    case 'eth-typed-data':
    case 'eth-message':
      return { ...output, signature: hex(o.signature) };
    case 'btc-psbt':
      return { ...output, complete: o.complete, signatures: o.signatures.map((x) => ({ input: x.input, signature: hex(x.signature) })) };
    case 'raw-digest':
      return { ...output, signature: hex(o.signature), recovery: o.recovery };
  }
}

export class WalletService {
  readonly #accounts: Map<string, WalletAccountPolicy>;
  readonly #resolved = new Map<string, WalletAccount>();
  readonly #d: WalletServiceDeps;
  readonly #decider: Decider;

  constructor(accounts: WalletAccountPolicy[], deps: WalletServiceDeps) {
    this.#accounts = new Map(accounts.map((a) => [`${a.wallet} ${a.path}`, a]));
    this.#d = deps;
    this.#decider = new Decider(deps);
  }

  /**
   * Every configured account with its address; an account whose wallet is not on the module is
   * listed with `error` (ERR_NO_WALLET) so that one missing wallet does not hide the others.
   * @throws AgentError ERR_UNAVAILABLE (503: the key store holds no wallets); KeyStoreError ERR_MODULE_CALL
   */
  async accounts(): Promise<AccountListing[]> {
    const out: AccountListing[] = [];
    for (const p of this.#accounts.values()) {
      let a: WalletAccount;
      try {
        a = await this.#account(p);
      } catch (e) {
        if (!(e instanceof WalletError && e.code === 'ERR_NO_WALLET')) throw e;
        out.push({
          wallet: p.wallet,
          path: p.path,
          chain: p.chain,
          ...(p.chain === 'ethereum' ? { chainId: p.chainId } : { network: p.network }),
          error: { code: e.code, message: e.message },
        });
        continue;
      }
      out.push(
        a.chain === 'ethereum'
          ? { wallet: a.wallet, path: a.path, chain: 'ethereum', chainId: a.chainId, address: addr.addChecksum(`0x${hex(ethereumAddress(a.publicKey))}`) }
          : { wallet: a.wallet, path: a.path, chain: 'bitcoin', network: a.network, address: bitcoinAddress(a) },
      );
    }
    return out;
  }

  /**
   * Decodes `input` for the account (wallet, path), lets its policy decide, and on allow signs.
   * @throws AgentError ERR_NOT_FOUND (404: no such account configured, or its module not stored),
   *   ERR_UNAVAILABLE (503: no wallet keys), ERR_UNAUTHENTICATED (401), ERR_AUDIT (503);
   *   WalletRequestError (its own status: decodeSignRequest's codes, ERR_SIGNER_FAULT);
   *   WalletError; SandboxError; KeyStoreError: Decider.decide
   */
  async sign(input: unknown, wallet: string, path: string, requester: string, evidence: EvidenceItem[], authenticated = false): Promise<WalletSignOutcome> {
    const policy = this.#accounts.get(`${wallet} ${path}`);
    if (!policy) {
      throw new AgentError(
        'ERR_NOT_FOUND',
        `wallet sign: no account ${JSON.stringify(wallet)} ${JSON.stringify(path)} is configured on this guardian, so it never signs`,
        {
          hint: 'configure it: "wallet": {"accounts": [{"wallet": NAME, "path": PATH, "chain": …, "logic": "<sha256>", "params": {…}}]}; GET /v1/wallet/accounts lists them',
        },
      );
    }
    const account = await this.#account(policy);
    const decoded = decodeSignRequest(input, account); // nothing decided or audited for a malformed request
    const id = accountCapsuleId(wallet, path);
    const keys = this.#keys();
    const fields = { requestKind: decoded.kind, wallet, path, logic: policy.logic, requester, hash: hex(decoded.hash) };
    const o = await this.#decider.decide<SignOutput>({
      op: 'wallet-sign',
      scope: `wallet:${hex(id)}`,
      concurrency: 'serial',
      subject: `wallet sign ${wallet} ${path}`,
      module: {
        hash: policy.logic,
        notFound: () =>
          new AgentError('ERR_NOT_FOUND', `wallet sign: the policy module ${policy.logic} for ${wallet} ${path} is not in the module store`, {
            hint: 'capsule logic push MODULE.wasm --guardian URL',
          }),
      },
      input: {
        requester,
        evidence,
        params: policy.params,
        authenticated,
        request: decoded.request,
        capsule: { id, created: 0, owner: null, logic: Uint8Array.from(Buffer.from(policy.logic, 'hex')), size: 0, digest: decoded.hash },
      },
      fields,
      act: async () => {
        const output = await decoded.finish(keyStoreSigner(keys, wallet));
        return { result: output, audit: auditOf(output) };
      },
    });
    return {
      ...decisionAnswer(o),
      kind: decoded.kind,
      hash: hex(decoded.hash),
      output: o.result,
    };
  }

  #keys(): WalletKeys {
    const keys = this.#d.wallet;
    if (!keys || !keys.capabilities.supported) {
      throw new AgentError('ERR_UNAVAILABLE', "wallet: this guardian's key store holds no wallets (a ZYMKEY4/HSM4, or none configured)", {
        hint: 'the hot wallet needs an HSM6/SCM, or the soft key store for development',
      });
    }
    return keys;
  }

  /** The account with its public keys, derived once. */
  async #account(p: WalletAccountPolicy): Promise<WalletAccount> {
    const key = `${p.wallet} ${p.path}`;
    const known = this.#resolved.get(key);
    if (known) return known;
    const keys = this.#keys();
    const publicKey = await keys.publicKey(p.wallet, p.path);
    const a: WalletAccount =
      p.chain === 'ethereum'
        ? { wallet: p.wallet, path: p.path, publicKey, rawDigest: p.rawDigest, chain: 'ethereum', chainId: p.chainId }
        : {
            wallet: p.wallet,
            path: p.path,
            publicKey,
            rawDigest: p.rawDigest,
            chain: 'bitcoin',
            network: p.network,
            keys: p.keys ? await Promise.all(p.keys.map(async (path) => ({ path, publicKey: await keys.publicKey(p.wallet, path) }))) : undefined,
          };
    this.#resolved.set(key, a);
    return a;
  }
}
