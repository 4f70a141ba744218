/**
 * The agent's HTTP API, version 1 (all bodies JSON unless noted; errors are
 * `{ "error": { "code", "message", "hint" } }` with the status in HttpServer.errorReply):
 *
 *   GET  /v1/status      guardian, clock, audit position
 *   POST /v1/modules     raw Wasm body → { sha256 }          (content-addressed: no signature)
 *   POST /v1/release     { capsule | id | header | cid, requester, evidence? } → 200 allow + answer | 403 deny
 *   GET  /v1/content?cid=CID   the capsule's bytes (only capsules this guardian fetched or indexed)
 *   POST /v1/checkin     { capsule | id | header, checkin }   owner-signed, fresh, never seen before
 *   POST /v1/approvals   { capsule | id | header, requester, approval }   approver-signed, stored once
 *   POST /v1/sign        { slot, digest, requester, evidence? } → 200 { signature, recoveryId } | 403
 *   POST /v1/wallet/sign { kind, transaction | typedData | message | psbt | digest, wallet, path, requester,
 *                          evidence? } → 200 { output, signature, … } | 403 (the account's policy denied)
 *   GET  /v1/wallet/accounts   { accounts: [{ wallet, path, chain, address, chainId | network }] }
 *
 * Release, sign and wallet sign MAY carry `auth` (docs/API.md "Requester authentication": proof of possession
 * of the requester's identity); a decision that would change state (a counted open, a spent limit)
 * needs it. The answer is readable only by the requester's identity. Check-ins and approvals change
 * state, so they are signed by their author (a key the capsule names) and replays are refused.
 * GET /v1/status and POST /v1/modules are served from coreRoutes.ts (given to the server at start);
 * routes() returns the others, which the agent loads at the first request for one of them.
 * Deliberately not here: HTTP mechanics (HttpServer.ts) and decisions (Releaser.ts).
 */
import { AgentError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { verifyPersonalSign } from '../sandbox/ethereum.ts';
import { parseEvidence } from '../sandbox/evidence.ts';
import { verifyEd25519 } from '../sandbox/Host.ts';
import type { EvidenceItem } from '../sandbox/inputs.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Clock } from './Clock.ts';
import type { Reply, Route } from './HttpServer.ts';
import type { ModuleStore } from './ModuleStore.ts';
import type { Presented } from './present.ts';
import type { Releaser } from './Releaser.ts';
import { requireCanonicalRecipient } from './requireCanonicalRecipient.ts';
import type { SigningService } from './SigningService.ts';
import type { WalletService } from './WalletService.ts';
import type { SignOutput } from '../wallet/SignRequest.ts';
import type { CapsuleFetcher } from './CapsuleFetcher.ts';
import type { Store } from './Store.ts';
import { AUTH_SCHEMA } from '../crypto/requesterAuth.ts';
import { checkinKeys, listedApprovers } from './namedKeys.ts';
import type { RequestAuthenticator } from './RequestAuthenticator.ts';
import { auditedCommit } from './auditedCommit.ts';

/** A check-in older than this, or this far in the future, is refused (with the replay cache: no replays). */
export const CHECKIN_WINDOW_MS = 10 * 60_000;
export const CLOCK_SKEW_MS = 60_000;
const MAX_CAPSULE_PREFIX = 16 + 65536 + 65536 + 16;

const HEX = '^(?:[0-9a-f]{2})*$';
const evidenceSchema = {
  type: 'object', additionalProperties: false, required: ['kind', 'scheme', 'signer', 'message', 'signature'],
  properties: {
    kind: { enum: ['approval', 'checkin'] }, scheme: { enum: ['ed25519', 'eip191'] },
    signer: { type: 'string', pattern: HEX, maxLength: 64 }, message: { type: 'string', pattern: HEX, maxLength: 4096 },
    signature: { type: 'string', pattern: HEX, maxLength: 130 },
  },
};
// The capsule's base64 is checked by decoding (a regular expression over ~90 KB per request cost
// more than the whole decision), and its length is bounded by the body limit.
const capsuleRef = {
  capsule: { type: 'string' },
  id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
  cid: { type: 'string', minLength: 1, maxLength: 200 },
  header: { type: 'string', pattern: '^[0-9a-f]{64}$' },
};
// `header`: a registered capsule by its header hash (D2: a bare id may name several capsules).
const oneOfRef = [{ required: ['capsule'] }, { required: ['id'] }, { required: ['cid'] }, { required: ['header'] }];

export interface ApiDeps {
  releaser: Releaser;
  signing: SigningService;
  /** The hot wallet (absent: its endpoints answer 503). */
  wallet?: Pick<WalletService, 'sign' | 'accounts'>;
  store: Store;
  modules: ModuleStore;
  audit: AuditLog;
  clock: Clock;
  /** Verifies a request's `auth` field (requester authentication). */
  auth: Pick<RequestAuthenticator, 'verify'>;
  /** IPFS (absent when the ipfs setting is "off"). */
  fetcher?: CapsuleFetcher;
}

/** The decision endpoints (everything but GET /v1/status and POST /v1/modules: coreRoutes.ts). */
export function routes(d: ApiDeps): Route[] {
  const capsuleOf = async (b: { capsule?: string; id?: string; cid?: string; header?: string }): Promise<Presented> => {
    if (b.cid === undefined) return d.releaser.capsuleOf(b.capsule !== undefined ? base64(b.capsule, 'body.capsule') : undefined, b.id, b.header);
    if (!d.fetcher) throw new AgentError('ERR_UNAVAILABLE', 'this guardian runs without IPFS (ipfs: off) and cannot fetch by CID', { status: 501, hint: 'send the capsule bytes instead (capsule open FILE)' });
    const p = await d.fetcher.capsuleByCid(b.cid, 'release');
    return d.releaser.capsuleOf(p.prefix, undefined); // the registered-header check, as for bytes
  };
  const bodyLimit = Math.ceil(MAX_CAPSULE_PREFIX / 3) * 4 + 64 * 1024;
  return [
    {
      method: 'POST', path: '/v1/release', maxBody: bodyLimit,
      schema: {
        type: 'object', additionalProperties: false, required: ['requester'], oneOf: oneOfRef,
        properties: { ...capsuleRef, requester: { type: 'string', minLength: 1, maxLength: 200 }, evidence: { type: 'array', maxItems: 64, items: evidenceSchema }, auth: AUTH_SCHEMA },
      },
      handle: async (body) => {
        const b = body as { capsule?: string; id?: string; requester: string; evidence?: unknown[] };
        const evidence = b.evidence ? parseEvidence(b.evidence, 'body.evidence') : [];
        if ((body as { auth?: unknown }).auth !== undefined) requireCanonicalRecipient(b.requester, 'body.requester');
        const authenticated = await d.auth.verify('POST', '/v1/release', body as Record<string, unknown>, b.requester);
        const o = await d.releaser.release(await capsuleOf(b), b.requester, evidence, authenticated);
        const common = { verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt };
        if (o.verdict === 'allow') return { status: 200, body: { ...common, answer: Buffer.from(o.answer!).toString('base64') } };
        return { status: 403, body: { ...common, error: { code: 'ERR_DENIED', message: `denied by the capsule's logic: ${o.reason}` } } };
      },
    },
    {
      method: 'POST', path: '/v1/checkin', maxBody: bodyLimit,
      schema: { type: 'object', additionalProperties: false, required: ['checkin'], oneOf: oneOfRef, properties: { ...capsuleRef, checkin: evidenceSchema } },
      handle: async (body) => {
        const b = body as { capsule?: string; id?: string; checkin: unknown };
        const item = parseEvidence(b.checkin, 'body.checkin')[0]!;
        const p = await capsuleOf(b);
        const now = await d.clock.now();
        checkCheckin(item, p.id, now);
        requireNamedCheckinKey(item, p);
        // Keyed by signer and message: a check-in signed by someone else can never take the owner's place.
        // And by capsule (header hash): a copy of the check-in sent to another capsule with this id first cannot spend it (D2).
        const replayKey = Buffer.from(sha256(Buffer.from(p.headerHash, 'hex'), item.signer, item.message)).toString('hex');
        const o = await d.releaser.checkin(p, item, replayKey, now + CHECKIN_WINDOW_MS + CLOCK_SKEW_MS);
        return { status: 200, body: { recorded: o.changed.length > 0, verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt } };
      },
    },
    {
      method: 'POST', path: '/v1/sign', maxBody: 64 * 1024,
      schema: {
        type: 'object', additionalProperties: false, required: ['slot', 'digest', 'requester'],
        properties: {
          slot: { type: 'integer', minimum: 0, maximum: 65535 }, digest: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          requester: { type: 'string', minLength: 1, maxLength: 200 }, evidence: { type: 'array', maxItems: 64, items: evidenceSchema }, auth: AUTH_SCHEMA,
        },
      },
      handle: async (body) => {
        const b = body as { slot: number; digest: string; requester: string; evidence?: unknown[] };
        const evidence = b.evidence ? parseEvidence(b.evidence, 'body.evidence') : [];
        if ((body as { auth?: unknown }).auth !== undefined) requireCanonicalRecipient(b.requester, 'body.requester');
        const authenticated = await d.auth.verify('POST', '/v1/sign', body as Record<string, unknown>, b.requester);
        const o = await d.signing.sign(b.slot, Uint8Array.from(Buffer.from(b.digest, 'hex')), b.requester, evidence, authenticated);
        const common = { verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt };
        if (o.verdict === 'allow') return { status: 200, body: { ...common, signature: Buffer.from(o.signature!).toString('hex'), recoveryId: o.recoveryId } };
        return { status: 403, body: { ...common, error: { code: 'ERR_DENIED', message: `denied by the signing policy: ${o.reason}` } } };
      },
    },
    {
      method: 'POST', path: '/v1/wallet/sign', maxBody: WALLET_BODY_LIMIT,
      schema: {
        type: 'object', additionalProperties: false, required: ['kind', 'wallet', 'path', 'requester'],
        properties: {
          kind: { type: 'string', maxLength: 32 },
          transaction: { anyOf: [{ type: 'string', maxLength: 256 * 1024 }, { type: 'object' }] },
          typedData: { anyOf: [{ type: 'string', maxLength: 256 * 1024 }, { type: 'object' }] },
          message: { type: 'string', maxLength: 64 * 1024 },
          psbt: { type: 'string', maxLength: 512 * 1024 },
          digest: { type: 'string', maxLength: 66 },
          wallet: { type: 'string', minLength: 1, maxLength: 64 }, path: { type: 'string', minLength: 1, maxLength: 200 },
          requester: { type: 'string', minLength: 1, maxLength: 200 }, evidence: { type: 'array', maxItems: 64, items: evidenceSchema }, auth: AUTH_SCHEMA,
        },
      },
      handle: async (body) => {
        const b = body as Record<string, unknown> & { kind: string; wallet: string; path: string; requester: string; evidence?: unknown[] };
        const wallet = walletOf(d);
        const evidence = b.evidence ? parseEvidence(b.evidence, 'body.evidence') : [];
        if (b.auth !== undefined) requireCanonicalRecipient(b.requester, 'body.requester');
        const authenticated = await d.auth.verify('POST', '/v1/wallet/sign', b, b.requester);
        // The request as decodeSignRequest takes it: its kind and whichever payload fields came (it refuses extras).
        const input: Record<string, unknown> = { kind: b.kind };
        for (const f of WALLET_PAYLOADS) if (b[f] !== undefined) input[f] = b[f];
        const o = await wallet.sign(input, b.wallet, b.path, b.requester, evidence, authenticated);
        const common = { verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt, kind: o.kind, hash: o.hash };
        if (o.verdict === 'allow') return { status: 200, body: { ...common, ...outputJson(o.output!) } };
        return { status: 403, body: { ...common, error: { code: 'ERR_DENIED', message: `denied by the signing policy: ${o.reason}` } } };
      },
    },
    {
      method: 'GET', path: '/v1/wallet/accounts', maxBody: 0,
      handle: async () => ({ status: 200, body: { accounts: await walletOf(d).accounts() } }),
    },
    {
      method: 'POST', path: '/v1/approvals', maxBody: bodyLimit,
      schema: {
        type: 'object', additionalProperties: false, required: ['requester', 'approval'], oneOf: oneOfRef,
        properties: { ...capsuleRef, requester: { type: 'string', minLength: 1, maxLength: 200 }, approval: evidenceSchema },
      },
      handle: async (body) => approve(d, await capsuleOf(body as { capsule?: string; id?: string }), body as { requester: string; approval: unknown }),
    },
    {
      method: 'GET', path: '/v1/content', maxBody: 0,
      handle: async (_body, req) => {
        const cid = new URL(req.url ?? '/', 'http://x').searchParams.get('cid');
        if (!cid) throw new AgentError('ERR_BAD_REQUEST', 'query: expected ?cid=CID', { status: 400 });
        if (!d.fetcher) throw new AgentError('ERR_UNAVAILABLE', 'this guardian runs without IPFS (ipfs: off)', { status: 501 });
        return { status: 200, body: undefined, stream: { chunks: await d.fetcher.stream(cid), type: 'application/octet-stream' } };
      },
    },
  ];
}

/** POST /v1/wallet/sign: a PSBT of a few hundred inputs, as base64, with evidence and auth. */
const WALLET_BODY_LIMIT = 768 * 1024;
const WALLET_PAYLOADS = ['transaction', 'typedData', 'message', 'psbt', 'digest'] as const;

/** @throws AgentError ERR_UNAVAILABLE (503) when the agent runs without a wallet service */
function walletOf(d: ApiDeps): NonNullable<ApiDeps['wallet']> {
  if (!d.wallet) throw new AgentError('ERR_UNAVAILABLE', 'this agent serves no wallet', { status: 503 });
  return d.wallet;
}

/** What a signed request answers, per kind: `output` is what the CLI prints (hex or base64). */
function outputJson(o: SignOutput): Record<string, unknown> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  switch (o.kind) {
    case 'eth-tx': return { output: o.text, signature: hex(o.signature), transactionHash: `0x${hex(o.transactionHash)}` };
    case 'eth-typed-data': case 'eth-message': return { output: o.text, signature: hex(o.signature) };
    case 'btc-psbt': return {
      output: o.text, complete: o.complete, ...(o.transaction ? { transaction: hex(o.transaction) } : {}),
      signatures: o.signatures.map((s) => ({ input: s.input, signature: hex(s.signature) })),
    };
    case 'raw-digest': return { output: o.text, signature: hex(o.signature), recovery: o.recovery };
  }
}

/** Approvals kept per capsule and requester: bounds what any signer can add to a release's evidence. */
export const MAX_APPROVALS = 32;

async function approve(d: ApiDeps, p: Presented, b: { requester: string; approval: unknown }): Promise<Reply> {
  requireCanonicalRecipient(b.requester, 'body.requester');
  const item = parseEvidence(b.approval, 'body.approval')[0]!;
  if (item.kind !== 'approval') throw new AgentError('ERR_BAD_REQUEST', `body.approval.kind: expected "approval", got "${item.kind}"`, { status: 400 });
  const expected = `capsule-approval:v1:${p.id}:${b.requester}`;
  if (Buffer.from(item.message).toString('utf8') !== expected) {
    throw new AgentError('ERR_BAD_REQUEST', `body.approval.message: expected "${expected}" (this capsule and this requester)`, { status: 400, hint: 'make approvals with capsule approve' });
  }
  if (!verifies(item)) {
    throw new AgentError('ERR_BAD_REQUEST', `body.approval.signature: does not verify under the ${item.scheme} signer ${Buffer.from(item.signer).toString('hex')}`, { status: 400, hint: 'the approval was altered or signed by another key' });
  }
  // Stored only if the logic would count it: its signer is an approver the params list. So signers
  // the capsule does not name cannot fill the MAX_APPROVALS slots (nothing stored, nothing audited).
  if (!listedApprovers(p.parsed.header.logic.params).has(`${item.scheme}:${Buffer.from(item.signer).toString('hex')}`)) {
    throw new AgentError('ERR_FORBIDDEN', `body.approval.signer: ${item.scheme} ${Buffer.from(item.signer).toString('hex')} is not an approver listed in this capsule's logic params, so its approval would not count and is not stored`, {
      status: 403, hint: 'the guardian stores approvals only from signers in a params "approvers" list; send other evidence with the release request (capsule open --approval)',
    });
  }
  // Only for a capsule sealed to this guardian (its header authenticated once), one at a time.
  await d.releaser.register(p);
  return d.releaser.lock(p.headerHash, async () => {
    if (d.store.hasApproval(p.headerHash, b.requester, item.signer)) {
      throw new AgentError('ERR_REPLAYED', 'approval: already recorded for this capsule and requester', { status: 409 });
    }
    if (d.store.approvalCount(p.headerHash, b.requester) >= MAX_APPROVALS) {
      throw new AgentError('ERR_TOO_LARGE', `approval: ${MAX_APPROVALS} approvals are already stored for this capsule and requester`, {
        status: 409, hint: 'send further approvals with the release request (capsule open --approval) instead',
      });
    }
    const now = await d.clock.now();
    // D4: intent, then the commit recording it (auditedCommit.ts); the receipt proves the entry (A1).
    const { entry, receipt } = await auditedCommit(d, 'approval', now, { capsule: p.id, header: p.headerHash, requester: b.requester, scheme: item.scheme, signer: Buffer.from(item.signer).toString('hex') },
      () => { d.store.addApproval(p.headerHash, b.requester, item, now); });
    return { status: 201, body: { stored: true, audit: entry.seq, receipt } };
  });
}

/** Strict base64 (canonical padding, no stray characters), decoded in C++ rather than by a regex. */
function base64(text: string, at: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new AgentError('ERR_BAD_REQUEST', `${at}: not canonical base64`, { status: 400 });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function verifies(e: EvidenceItem): boolean {
  return e.scheme === 'ed25519' ? verifyEd25519(e.message, e.signature, e.signer) : verifyPersonalSign(e.message, e.signature, e.signer);
}

/**
 * D9: a check-in counts only from a key the capsule names (header owner, or an `owner` param): any
 * other signer is refused before anything is decided or audited.
 * @throws AgentError ERR_FORBIDDEN (403).
 */
function requireNamedCheckinKey(e: EvidenceItem, p: Presented): void {
  const named = checkinKeys(p.parsed.header.owner, p.parsed.header.logic.params);
  const signer = Buffer.from(e.signer).toString('hex');
  if (named.has(signer)) return;
  throw new AgentError('ERR_FORBIDDEN', named.size === 0
    ? `body.checkin.signer: this capsule names no check-in key (no owner in its header, no "owner" in its logic params), so no check-in is accepted`
    : `body.checkin.signer: ${signer} is not a key this capsule names (its owner or an "owner" param); expected one of ${[...named].join(', ')}`, {
    status: 403, hint: 'sign check-ins with the owner key the capsule was sealed with (capsule checkin --identity OWNER.key)',
  });
}

/** "capsule-checkin:v1:<id>:<ms>", Ed25519, fresh (within the window), validly signed. */
function checkCheckin(e: EvidenceItem, id: string, now: number): void {
  if (e.kind !== 'checkin' || e.scheme !== 'ed25519') {
    throw new AgentError('ERR_BAD_REQUEST', `body.checkin: expected kind "checkin" and scheme "ed25519", got "${e.kind}" / "${e.scheme}"`, { status: 400 });
  }
  const m = /^capsule-checkin:v1:([0-9a-f]{32}):(0|[1-9][0-9]{0,15})$/.exec(Buffer.from(e.message).toString('utf8'));
  if (!m || m[1] !== id) throw new AgentError('ERR_BAD_REQUEST', `body.checkin.message: expected "capsule-checkin:v1:${id}:<ms>"`, { status: 400, hint: 'make check-ins with capsule checkin' });
  const at = Number(m[2]);
  if (at < now - CHECKIN_WINDOW_MS || at > now + CLOCK_SKEW_MS) {
    throw new AgentError('ERR_REPLAYED', `body.checkin: signed at ${new Date(at).toISOString()}, outside the ${CHECKIN_WINDOW_MS / 60_000}-minute window around the guardian's time ${new Date(now).toISOString()}`, {
      status: 409, hint: 'check-ins are fresh or refused (a stale one could be a replay); sign a new one, and check the clocks',
    });
  }
  if (!verifies(e)) throw new AgentError('ERR_BAD_REQUEST', 'body.checkin.signature: does not verify under the signer', { status: 400, hint: 'the check-in was altered or signed by another key' });
}
