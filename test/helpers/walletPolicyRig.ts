/**
 * A rig for running the standard wallet contracts (contracts-as/contracts/wallet) in the real
 * in-process sandbox: compiles each once with the project's asc settings (agent/logic/build.ts),
 * builds the evaluation input of a wallet signing decision as ABI.md §4.2 describes it (the
 * "capsule" map names the account, its digest is the request hash, the decoded request under
 * "request"), runs it, and asserts errors; plus co-signer approvals signed with real Ed25519 and
 * secp256k1 keys over "capsule/v1 approve-sign " ‖ hex(hash); and the log the wallet SDK self-test
 * module must print for a request.
 *
 * Deliberately not here: the requests themselves (walletRequest.ts) or any assertion on verdicts.
 */
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { SandboxError } from '../../agent/errors.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { buildPolicy, type BuildResult } from '../../agent/logic/build.ts';
import { addressOf, personalMessageDigest } from '../../agent/sandbox/ethereum.ts';
import type { EvaluationInput, EvidenceItem } from '../../agent/sandbox/inputs.ts';
import { Sandbox, type DecisionRecord } from '../../agent/sandbox/Sandbox.ts';
import type { Request } from './walletRequest.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const te = new TextEncoder();
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const keyHex = (k: string) => Buffer.from(k).toString('hex');

const builds = new Map<string, Promise<BuildResult>>();

/** Builds `contracts-as/<path>.ts` once (e.g. "contracts/wallet/tx-cap", "test/wallet-selftest"). */
export function build(path: string): Promise<BuildResult> {
  let p = builds.get(path);
  if (!p) {
    p = buildPolicy(`contracts-as/${path}.ts`, { cwd: ROOT });
    builds.set(path, p);
  }
  return p;
}

const sandbox = new Sandbox();
export const REQUESTER = 'age1requester00000000000000000000000000000000000000000000000000';

export interface Run {
  params?: unknown;
  rawParams?: Uint8Array;
  /** The decoded request; omit it for a decision that is not a wallet signing decision. */
  request?: Request;
  now?: number;
  evidence?: EvidenceItem[];
  state?: Map<string, Uint8Array>;
  requester?: string;
}

/** Monday 2030-01-07 10:00:00 UTC: the default evaluation time. */
export const NOW = Date.UTC(2030, 0, 7, 10, 0, 0);

/** The account id of ABI.md §4.2: the first 16 bytes of SHA-256("capsule/v1 wallet account " ‖ wallet ‖ " " ‖ path). */
export function accountId(wallet: string, path: string): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(`capsule/v1 wallet account ${wallet} ${path}`).digest().subarray(0, 16));
}

/** The "capsule" digest of a wallet decision: the request hash (zeros when a test made it malformed). */
function digestOf(q: Request | undefined): Uint8Array {
  const h = q?.get('hash');
  return h instanceof Uint8Array && h.length === 32 ? h : new Uint8Array(32);
}

export function input(r: Run): EvaluationInput {
  const q = r.request;
  const id = q ? accountId(q.get('wallet') as string, q.get('path') as string) : new Uint8Array(16);
  return {
    now: r.now ?? NOW,
    requester: r.requester ?? REQUESTER,
    capsule: { id, created: 0, owner: null, logic: new Uint8Array(32), size: 0, digest: digestOf(q) },
    params: r.rawParams ?? (r.params === undefined ? undefined : encodeCanonical(r.params)),
    evidence: r.evidence ?? [],
    state: r.state ?? new Map(),
    authenticated: true,
    ...(q ? { request: q } : {}),
  };
}

/** Evaluates `contracts-as/contracts/wallet/<name>.ts`. */
export async function run(name: string, r: Run): Promise<DecisionRecord> {
  return sandbox.evaluate((await build(`contracts/wallet/${name}`)).wasm, input(r));
}

/** Evaluates an already built module. */
export function evaluate(wasm: Uint8Array, r: Run): DecisionRecord {
  return sandbox.evaluate(wasm, input(r));
}

/** Asserts the evaluation is ERR_TRAP (an error, never a verdict) with a reason matching `why`. */
export async function traps(name: string, r: Run, why: RegExp): Promise<void> {
  const { wasm } = await build(`contracts/wallet/${name}`);
  let err: unknown;
  try {
    sandbox.evaluate(wasm, input(r));
  } catch (e) {
    err = e;
  }
  assert.instance(err, SandboxError, 'expected an error, not a verdict');
  assert.is((err as SandboxError).code, 'ERR_TRAP', (err as Error).message);
  const reason = /\(reason set by the logic: (".*")\)$/.exec((err as Error).message);
  assert.ok(reason, `no reason in: ${(err as Error).message}`);
  assert.match(JSON.parse(reason![1]!) as string, why);
}

/** Asserts verdict and reason (a RegExp or the exact text). */
export function expectVerdict(d: DecisionRecord, verdict: 'allow' | 'deny', reason: string | RegExp): void {
  assert.is(d.verdict, verdict, d.reason);
  if (typeof reason === 'string') assert.is(d.reason, reason);
  else assert.match(d.reason, reason);
}

// ---- co-signers ----

export const coSignerSecrets = [11, 12, 13].map((n) => new Uint8Array(32).fill(n));
export const coSignerKeys = coSignerSecrets.map((s) => ed25519.getPublicKey(s));
export const strangerSecret = new Uint8Array(32).fill(99);
const ethSecret = new Uint8Array(32).fill(0x42);
export const ethCoSigner = addressOf(secp256k1.getPublicKey(ethSecret, false));

/** The approval message of ABI.md §4.2. */
export function approveMessage(hash: Uint8Array): Uint8Array {
  return te.encode(`capsule/v1 approve-sign ${hex(hash)}`);
}

/** Co-signer `i`'s Ed25519 approval of `hash` (signed with `secret`, claiming co-signer i). */
export function edApproval(i: number, hash: Uint8Array, secret = coSignerSecrets[i]!, message = approveMessage(hash)): EvidenceItem {
  return { kind: 'approval', scheme: 'ed25519', signer: coSignerKeys[i]!, message, signature: ed25519.sign(message, secret) };
}

/** The Ethereum co-signer's EIP-191 approval of `hash`. */
export function ethApproval(hash: Uint8Array): EvidenceItem {
  const message = approveMessage(hash);
  const rec = secp256k1.sign(personalMessageDigest(message), ethSecret, { prehash: false, format: 'recovered' });
  const signature = new Uint8Array(65); // noble: v ‖ r ‖ s; Ethereum: r ‖ s ‖ v
  signature.set(rec.subarray(1), 0);
  signature[64] = rec[0]! + 27;
  return { kind: 'approval', scheme: 'eip191', signer: ethCoSigner, message, signature };
}

/** 8-byte big-endian ms + 32-byte amount records of the daily limit's state. */
export function spendRecords(v: Uint8Array | undefined): [number, bigint][] {
  if (!v) return [];
  const out: [number, bigint][] = [];
  for (let at = 0; at < v.length; at += 40) {
    out.push([Number(Buffer.from(v.subarray(at, at + 8)).readBigUInt64BE()), BigInt(`0x${hex(v.subarray(at + 8, at + 40))}`)]);
  }
  return out;
}

/**
 * The lines contracts-as/test/wallet-selftest.ts logs for `q`, computed from the Map: what the SDK
 * must have decoded ("-" for absent fields, bytes as hex, u256 in decimal, Bitcoin sums).
 */
export function selftestLog(q: Request): string[] {
  const g = (k: string) => q.get(k);
  const b = (v: unknown) => (v === undefined || v === null ? '-' : hex(v as Uint8Array));
  const u = (v: unknown) => (v === undefined ? '-' : BigInt(`0x${hex(v as Uint8Array)}`).toString());
  const n = (v: unknown) => (v === undefined ? '-' : String(v));
  const e = g('erc20') as Map<string, unknown> | undefined;
  const d = g('domain') as Map<string, unknown> | undefined;
  const data = g('data') as Uint8Array | undefined;
  const lines = [
    `kind=${g('kind')}`,
    `wallet=${g('wallet')}`,
    `path=${g('path')}`,
    `hash=${b(g('hash'))}`,
    `chain=${g('chain')}`,
    `chainId=${n(g('chainId'))}`,
    `txType=${n(g('txType'))}`,
    `from=${typeof g('from') === 'string' ? g('from') : b(g('from'))}`,
    `to=${b(g('to'))}`,
    `value=${u(g('value'))}`,
    `nonce=${n(g('nonce'))}`,
    `gasLimit=${n(g('gasLimit'))}`,
    `gasPrice=${u(g('gasPrice'))}`,
    `maxFeePerGas=${u(g('maxFeePerGas'))}`,
    `maxPriorityFeePerGas=${u(g('maxPriorityFeePerGas'))}`,
    `maxFee=${u(g('maxFee'))}`,
    `data=${b(data)}`,
    `selector=${b(g('selector'))}`,
    `erc20=${e ? `${e.get('method')} ${b(e.get('token'))} ${b(e.get('owner'))} ${b(e.get('recipient'))} ${u(e.get('amount'))}` : '-'}`,
    `primaryType=${n(g('primaryType'))}`,
    `domain=${d ? `${n(d.get('name'))} ${n(d.get('version'))} ${n(d.get('chainId'))} ${b(d.get('verifyingContract'))} ${b(d.get('salt'))}` : '-'}`,
    `domainHash=${b(g('domainHash'))}`,
    `structHash=${b(g('structHash'))}`,
    `document=${g('document') ? new TextDecoder().decode(g('document') as Uint8Array) : '-'}`,
    `message=${b(g('message'))}`,
    `network=${n(g('network'))}`,
    `fee=${n(g('fee'))}`,
    `digest=${b(g('digest'))}`,
    `contractCall=${g('kind') === 'eth-tx' && (g('to') === null || data!.length > 0) ? 'yes' : 'no'}`,
  ];
  const ins = g('inputs') as Map<string, unknown>[] | undefined;
  const outs = g('outputs') as Map<string, unknown>[] | undefined;
  for (const x of ins ?? []) {
    lines.push(
      `input=${b(x.get('txid'))} ${x.get('vout')} ${x.get('amount')} ${x.get('address') ?? '-'} ${x.get('ours') ? 'ours' : 'theirs'} ${x.get('path') ?? '-'}`,
    );
  }
  for (const o of outs ?? [])
    lines.push(`output=${o.get('address') ?? '-'} ${b(o.get('script'))} ${o.get('amount')} ${o.get('change') ? 'change' : 'external'}`);
  if (outs) {
    const sum = (xs: Map<string, unknown>[], f: (x: Map<string, unknown>) => boolean) => xs.filter(f).reduce((s, x) => s + (x.get('amount') as number), 0);
    const oursIn = sum(ins!, (x) => x.get('ours') === true);
    const change = sum(outs, (o) => o.get('change') === true);
    lines.push(`sums=${oursIn} ${change} ${sum(outs, (o) => o.get('change') !== true)} ${Math.max(0, oursIn - change)}`);
  }
  return lines;
}
