/**
 * Talking to a guardian agent over HTTP (/v1): typed results, and typed errors that keep the
 * agent's code and message (a denial is AgentError ERR_DENIED carrying the logic's reason and
 * fuel). An unreachable agent is ERR_UNREACHABLE naming the URL. Every call takes an AbortSignal
 * and has a timeout. Given an identity, release and sign requests for that identity's recipient
 * are authenticated (docs/API.md "Requester authentication"): the client reads the guardian's
 * recipient and time from GET /v1/status, then sends the request with its `auth` field (so the
 * guardian's clock, not this machine's, decides freshness). JSON bodies go as application/json,
 * modules as application/wasm. Deliberately not here: decrypting (the caller opens the answer with age).
 */
import { AgentError, type AgentErrorCode } from '../errors.ts';
import type { Identity } from '../crypto/identity.ts';
import { makeRequestAuth } from '../crypto/requesterAuth.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import type { Receipt } from '../daemon/Receipt.ts';
import { isReceipt } from './receiptStore.ts';

/** A guardian's allow answer to a release request. */
export interface ReleaseAnswer {
  /** Always 'allow' here: a denial is thrown as AgentError ERR_DENIED. */
  verdict: 'allow';
  /** The logic's reason text. */
  reason: string;
  /** Fuel the logic used (deterministic: the same on every guardian). */
  fuel: number;
  /** The decision's sequence number in the guardian's audit log. */
  audit: number;
  /** The file key as an age file to the requester; for a threshold capsule, this guardian's share. */
  answer: Uint8Array;
  /** Present when `answer` holds a Shamir share (SPEC.md §5.6): the share's index in the guardian set. */
  share?: { index: number };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function evidenceJson(e: EvidenceItem): Record<string, string> {
  return { kind: e.kind, scheme: e.scheme, signer: hex(e.signer), message: hex(e.message), signature: hex(e.signature) };
}

/**
 * Client of a guardian agent's HTTP API (/v1, docs/API.md): typed results, typed errors that keep
 * the agent's code and message, a timeout on every call. Given an identity, release and sign
 * requests for its recipient are authenticated with the guardian's clock.
 * @throws AgentError on every call: ERR_DENIED (403, `reason` and `fuel` attached) when the logic or
 *   signing policy says no, the guardian's own codes (ERR_BAD_REQUEST, ERR_RATE_LIMITED, ERR_NOT_FOUND, …,
 *   with `status`), ERR_UNREACHABLE (no connection or no answer in time), ERR_PROTOCOL (not a capsule agent).
 * @example
 * ```js
 * import { GuardianClient } from 'digital-capsule-engine/client';
 * const client = new GuardianClient('http://127.0.0.1:7373');
 * console.log(await client.status());
 * ```
 */
export class GuardianClient {
  /** The guardian's origin (scheme, host, port), as requests use it. */
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #identity: Identity | undefined;
  readonly #onReceipt: ((r: Receipt) => Promise<void>) | undefined;

  /**
   * @param url - The guardian's base URL, http(s) (its path is ignored).
   * @param timeoutMs - Per-call timeout (default 30 s; release by CID waits up to 5 minutes).
   * @param options - `identity`: authenticate release and sign requests whose requester is its
   *   recipient (the caller disposes it). `onReceipt`: called with every receipt an answer carries
   *   (allow, deny, error), before the call returns or throws.
   * @throws AgentError ERR_CONFIG when `url` is not an http(s) URL.
   */
  constructor(url: string, timeoutMs = 30_000, options: { identity?: Identity; onReceipt?: (r: Receipt) => Promise<void> } = {}) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (cause) {
      throw new AgentError('ERR_CONFIG', `--guardian: expected a URL such as http://127.0.0.1:7373, got ${JSON.stringify(url)}`, { cause });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AgentError('ERR_CONFIG', `--guardian: expected an http(s) URL, got ${u.protocol}`);
    this.url = u.origin;
    this.#timeoutMs = timeoutMs;
    this.#identity = options.identity;
    this.#onReceipt = options.onReceipt;
  }

  /** `body` with an `auth` field when this client holds the requester's identity; as is otherwise. */
  async #authenticated(path: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const id = this.#identity;
    if (!id || id.recipient !== body.requester) return body;
    const sent = Date.now();
    const st = (await this.status(signal)) as { now?: unknown; guardian?: { recipients?: { x25519?: unknown } } };
    const guardian = st.guardian?.recipients?.x25519;
    if (typeof guardian !== 'string' || typeof st.now !== 'number') {
      throw new AgentError('ERR_PROTOCOL', `guardian ${this.url}/v1/status: no guardian.recipients.x25519 and now to authenticate with`, {
        hint: 'is this URL a capsule agent (issue 18 or later)?',
      });
    }
    const at = Math.round(st.now + (Date.now() - sent) / 2); // the guardian's time, give or take half the round trip
    return { ...body, auth: makeRequestAuth({ requesterSecret: id.secretKey, requesterPk: id.publicKey, guardian, method: 'POST', path, body, at }) };
  }

  /**
   * GET /v1/status: the guardian's identity, recipients, clock and state.
   * @param signal - Aborts the call.
   * @returns The status document (docs/API.md).
   * @throws AgentError ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  status(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.#call('GET', '/v1/status', undefined, signal) as Promise<Record<string, unknown>>;
  }

  /**
   * POST /v1/modules: gives the guardian a logic module (it checks and stores it).
   * @param module - The Wasm bytes.
   * @param signal - Aborts the call.
   * @returns The module's SHA-256 (hex), as capsules name it.
   * @throws AgentError with the guardian's code (e.g. a module it refuses), ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  async pushModule(module: Uint8Array, signal?: AbortSignal): Promise<string> {
    return ((await this.#call('POST', '/v1/modules', module, signal)) as { sha256: string }).sha256;
  }

  /**
   * POST /v1/release: asks the guardian to run the capsule's logic and, if it allows, release the
   * file key to `requester`.
   * @param capsule - The capsule's prefix (capsulePrefix()) or whole bytes.
   * @param requester - The `age1…` recipient the key is encrypted to (authenticated when it is this client's identity's).
   * @param evidence - Signed approvals and check-ins the logic may ask for (possibly none).
   * @param signal - Aborts the call.
   * @returns The allow answer; `answer` is an age file holding the 32-byte file key.
   * @throws AgentError ERR_DENIED (with `reason`), the guardian's codes, ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  async release(capsule: Uint8Array, requester: string, evidence: EvidenceItem[], signal?: AbortSignal): Promise<ReleaseAnswer> {
    const body = await this.#authenticated(
      '/v1/release',
      { capsule: Buffer.from(capsule).toString('base64'), requester, evidence: evidence.map(evidenceJson) },
      signal,
    );
    const r = (await this.#call('POST', '/v1/release', body, signal)) as ReleaseAnswer & { answer: string };
    return { ...r, answer: new Uint8Array(Buffer.from(r.answer as unknown as string, 'base64')) };
  }

  /**
   * Release by IPFS CID: the guardian fetches the capsule itself (which may take a while: 5-minute timeout).
   * @param cid - The capsule's CID.
   * @param requester - The `age1…` recipient the key is encrypted to.
   * @param evidence - Signed approvals and check-ins the logic may ask for.
   * @param signal - Aborts the call.
   * @returns The allow answer, as release().
   * @throws AgentError as release(), and the guardian's content codes (e.g. the CID cannot be fetched).
   */
  async releaseByCid(cid: string, requester: string, evidence: EvidenceItem[], signal?: AbortSignal): Promise<ReleaseAnswer> {
    const body = await this.#authenticated('/v1/release', { cid, requester, evidence: evidence.map(evidenceJson) }, signal);
    const r = (await this.#call('POST', '/v1/release', body, signal, 300_000)) as ReleaseAnswer & { answer: string };
    return { ...r, answer: new Uint8Array(Buffer.from(r.answer as unknown as string, 'base64')) };
  }

  /**
   * GET /v1/content: the capsule's bytes from the guardian (unverified here: the caller checks them against the CID).
   * @param cid - The content's CID.
   * @param signal - Aborts the download.
   * @returns The body as a byte stream.
   * @throws AgentError with the guardian's code (ERR_NOT_FOUND, …), ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  async content(cid: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    let res: Response;
    try {
      res = await fetch(`${this.url}/v1/content?cid=${encodeURIComponent(cid)}`, { signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new AgentError('ERR_UNREACHABLE', `guardian ${this.url}: cannot connect`, {
        cause,
        hint: 'check the URL and that `capsule agent` is running there',
      });
    }
    if (!res.ok || !res.body) {
      const e = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } }).error ?? {};
      throw new AgentError((e.code ?? 'ERR_PROTOCOL') as AgentErrorCode, `guardian ${this.url}: ${e.message ?? `HTTP ${res.status}`}`, {
        status: res.status,
        hint: e.hint,
      });
    }
    return res.body as unknown as AsyncIterable<Uint8Array>;
  }

  /**
   * POST /v1/sign: asks the guardian to sign a 32-byte digest with a key slot, if its policy allows.
   * @param slot - The guardian's key slot.
   * @param digest - The 32-byte digest.
   * @param requester - The requester's `age1…` recipient.
   * @param evidence - Signed approvals and check-ins the policy may ask for.
   * @param signal - Aborts the call.
   * @returns The signature (hex), its recovery id, the policy's reason, fuel and audit entry.
   * @throws AgentError ERR_DENIED (with `reason`), the guardian's codes, ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  async sign(
    slot: number,
    digest: Uint8Array,
    requester: string,
    evidence: EvidenceItem[],
    signal?: AbortSignal,
  ): Promise<{ signature: string; recoveryId: number; reason: string; fuel: number; audit: number }> {
    const body = await this.#authenticated('/v1/sign', { slot, digest: hex(digest), requester, evidence: evidence.map(evidenceJson) }, signal);
    return this.#call('POST', '/v1/sign', body, signal) as Promise<{ signature: string; recoveryId: number; reason: string; fuel: number; audit: number }>;
  }

  /**
   * POST /v1/wallet/sign (docs/API.md §6): `request` is { kind, <payload> }; authenticated when this
   * client holds the requester's identity.
   * @param request - { kind, <payload> }: the transaction, typed data or message to sign.
   * @param wallet - The wallet's name on the guardian.
   * @param path - The BIP32 path of the account.
   * @param requester - The requester's `age1…` recipient.
   * @param evidence - Signed approvals and check-ins the policy may ask for.
   * @param signal - Aborts the call.
   * @returns The signed output, the signature, the policy's reason, fuel, audit entry and the signed hash.
   * @throws AgentError ERR_DENIED (403, with `reason`), the guardian's error codes, ERR_UNREACHABLE, ERR_PROTOCOL
   */
  async walletSign(
    request: Record<string, unknown>,
    wallet: string,
    path: string,
    requester: string,
    evidence: EvidenceItem[],
    signal?: AbortSignal,
  ): Promise<{ output: string; signature?: string; reason: string; fuel: number; audit: number; hash: string; [k: string]: unknown }> {
    const body = await this.#authenticated('/v1/wallet/sign', { ...request, wallet, path, requester, evidence: evidence.map(evidenceJson) }, signal);
    return this.#call('POST', '/v1/wallet/sign', body, signal) as Promise<{
      output: string;
      signature?: string;
      reason: string;
      fuel: number;
      audit: number;
      hash: string;
    }>;
  }

  /**
   * POST /v1/checkin: records a signed check-in (a dead man's switch's "still alive") for a capsule.
   * @param capsule - The capsule's prefix or bytes.
   * @param item - The check-in, kind 'checkin'.
   * @param signal - Aborts the call.
   * @returns Whether the guardian recorded it, its reason, and the audit entry.
   * @throws AgentError with the guardian's codes, ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  checkin(capsule: Uint8Array, item: EvidenceItem, signal?: AbortSignal): Promise<{ recorded: boolean; reason: string; audit: number }> {
    return this.#call('POST', '/v1/checkin', { capsule: Buffer.from(capsule).toString('base64'), checkin: evidenceJson(item) }, signal) as Promise<{
      recorded: boolean;
      reason: string;
      audit: number;
    }>;
  }

  /**
   * POST /v1/approvals: stores a signed approval of `requester` for a capsule, for its logic to read later.
   * @param capsule - The capsule's prefix or bytes.
   * @param requester - The approved requester's `age1…` recipient.
   * @param item - The approval, kind 'approval'.
   * @param signal - Aborts the call.
   * @returns Whether it was stored, and the audit entry.
   * @throws AgentError with the guardian's codes, ERR_UNREACHABLE, ERR_PROTOCOL.
   */
  approve(capsule: Uint8Array, requester: string, item: EvidenceItem, signal?: AbortSignal): Promise<{ stored: boolean; audit: number }> {
    return this.#call(
      'POST',
      '/v1/approvals',
      { capsule: Buffer.from(capsule).toString('base64'), requester, approval: evidenceJson(item) },
      signal,
    ) as Promise<{ stored: boolean; audit: number }>;
  }

  async #call(method: string, path: string, body: unknown, signal?: AbortSignal, timeoutMs = this.#timeoutMs): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const raw = body instanceof Uint8Array;
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: body === undefined ? {} : { 'content-type': raw ? 'application/wasm' : 'application/json' },
        body: body === undefined ? undefined : raw ? Buffer.from(body) : JSON.stringify(body),
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new AgentError('ERR_UNREACHABLE', `guardian ${this.url}: ${timeout.aborted ? `no answer within ${timeoutMs} ms` : 'cannot connect'}`, {
        cause,
        hint: 'check the URL and that `capsule agent` is running there',
      });
    }
    let json: Record<string, unknown>;
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch (cause) {
      throw new AgentError('ERR_PROTOCOL', `guardian ${this.url}${path}: answered ${res.status} without a JSON body`, {
        cause,
        hint: 'is this URL a capsule agent?',
      });
    }
    if (this.#onReceipt && isReceipt(json.receipt)) await this.#onReceipt(json.receipt);
    if (res.ok) return json;
    const e = (json.error ?? {}) as { code?: string; message?: string; hint?: string };
    if (res.status === 403 && json.verdict === 'deny') {
      throw Object.assign(
        new AgentError(
          'ERR_DENIED',
          `guardian ${this.url}: denied by the ${path === '/v1/sign' || path === '/v1/wallet/sign' ? 'signing policy' : "capsule's logic"}: ${String(json.reason)}`,
          {
            status: 403,
            hint: `the logic used ${json.fuel} fuel; the decision is audit entry #${json.audit}`,
          },
        ),
        { reason: json.reason, fuel: json.fuel },
      );
    }
    throw new AgentError((e.code ?? 'ERR_PROTOCOL') as AgentErrorCode, `guardian ${this.url}: ${e.message ?? `HTTP ${res.status}`}`, {
      status: res.status,
      hint: e.hint,
    });
  }
}
