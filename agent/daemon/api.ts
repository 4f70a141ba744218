/**
 * The agent's HTTP API, version 1 (all bodies JSON unless noted; errors are
 * `{ "error": { "code", "message", "hint" } }`, the status by code in statusByCode.ts):
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
 * Deliberately not here: HTTP mechanics (HttpServer.ts), statuses by error code (statusByCode.ts),
 * decisions (Releaser.ts), approvals (Approvals.ts) and check-ins (Checkins.ts).
 */
import { AgentError } from '../errors.ts';
import { MAX_PREFIX_SIZE } from '../capsule/prefix.ts';
import { parseEvidence } from '../sandbox/evidence.ts';
import type { AuditLog } from './AuditLog.ts';
import type { Clock } from './Clock.ts';
import type { Route } from './HttpServer.ts';
import type { ModuleStore } from './ModuleStore.ts';
import type { Presented } from './present.ts';
import type { Releaser } from './Releaser.ts';
import { requireCanonicalRecipient } from './requireCanonicalRecipient.ts';
import { storeApproval } from './Approvals.ts';
import { checkIn } from './Checkins.ts';
import type { SigningService } from './SigningService.ts';
import type { WalletService } from './WalletService.ts';
import type { SignOutput } from '../wallet/SignRequest.ts';
import type { CapsuleFetcher } from './CapsuleFetcher.ts';
import type { Store } from './Store.ts';
import { AUTH_SCHEMA } from '../crypto/requesterAuth.ts';
import type { RequestAuthenticator } from './RequestAuthenticator.ts';

export { CHECKIN_WINDOW_MS, CLOCK_SKEW_MS } from './Checkins.ts';
export { MAX_APPROVALS } from './Approvals.ts';

const HEX = '^(?:[0-9a-f]{2})*$';
const evidenceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'scheme', 'signer', 'message', 'signature'],
  properties: {
    kind: { enum: ['approval', 'checkin', 'drand'] },
    scheme: { enum: ['ed25519', 'eip191', 'bls-unchained-g1-rfc9380'] },
    signer: { type: 'string', pattern: HEX, maxLength: 64 },
    message: { type: 'string', pattern: HEX, maxLength: 4096 },
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
  fetcher?: Pick<CapsuleFetcher, 'capsuleByCid' | 'stream'>;
}

/** The decision endpoints (everything but GET /v1/status and POST /v1/modules: coreRoutes.ts). */
export function routes(d: ApiDeps): Route[] {
  const capsuleOf = async (b: { capsule?: string; id?: string; cid?: string; header?: string }): Promise<Presented> => {
    if (b.cid === undefined) return d.releaser.capsuleOf(b.capsule !== undefined ? base64(b.capsule, 'body.capsule') : undefined, b.id, b.header);
    if (!d.fetcher)
      throw new AgentError('ERR_UNAVAILABLE', 'this guardian runs without IPFS (ipfs: off) and cannot fetch by CID', {
        status: 501,
        hint: 'send the capsule bytes instead (capsule open FILE)',
      });
    return d.fetcher.capsuleByCid(b.cid, 'release'); // parsed and authenticated by the fetcher (its prefix is a Presented already)
  };
  const bodyLimit = Math.ceil(MAX_PREFIX_SIZE / 3) * 4 + 64 * 1024;
  return [
    {
      method: 'POST',
      path: '/v1/release',
      maxBody: bodyLimit,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['requester'],
        oneOf: oneOfRef,
        properties: {
          ...capsuleRef,
          requester: { type: 'string', minLength: 1, maxLength: 200 },
          evidence: { type: 'array', maxItems: 64, items: evidenceSchema },
          auth: AUTH_SCHEMA,
        },
      },
      handle: async (body) => {
        const b = body as { capsule?: string; id?: string; requester: string; evidence?: unknown[] };
        const evidence = b.evidence ? parseEvidence(b.evidence, 'body.evidence') : [];
        if ((body as { auth?: unknown }).auth !== undefined) requireCanonicalRecipient(b.requester, 'body.requester');
        const authenticated = await d.auth.verify('POST', '/v1/release', body as Record<string, unknown>, b.requester);
        const o = await d.releaser.release(await capsuleOf(b), b.requester, evidence, authenticated);
        const common = { verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt };
        if (o.verdict === 'allow')
          return { status: 200, body: { ...common, answer: Buffer.from(o.answer!).toString('base64'), ...(o.share ? { share: o.share } : {}) } };
        return { status: 403, body: { ...common, error: { code: 'ERR_DENIED', message: `denied by the capsule's logic: ${o.reason}` } } };
      },
    },
    {
      method: 'POST',
      path: '/v1/checkin',
      maxBody: bodyLimit,
      schema: { type: 'object', additionalProperties: false, required: ['checkin'], oneOf: oneOfRef, properties: { ...capsuleRef, checkin: evidenceSchema } },
      handle: async (body) => {
        const b = body as { capsule?: string; id?: string; checkin: unknown };
        const item = parseEvidence(b.checkin, 'body.checkin')[0]!;
        const o = await checkIn(d, await capsuleOf(b), item);
        return {
          status: 200,
          body: { recorded: o.changed.length > 0, verdict: o.verdict, reason: o.reason, fuel: o.fuel, audit: o.audit, receipt: o.receipt },
        };
      },
    },
    {
      method: 'POST',
      path: '/v1/sign',
      maxBody: 64 * 1024,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['slot', 'digest', 'requester'],
        properties: {
          slot: { type: 'integer', minimum: 0, maximum: 65535 },
          digest: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          requester: { type: 'string', minLength: 1, maxLength: 200 },
          evidence: { type: 'array', maxItems: 64, items: evidenceSchema },
          auth: AUTH_SCHEMA,
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
      method: 'POST',
      path: '/v1/wallet/sign',
      maxBody: WALLET_BODY_LIMIT,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['kind', 'wallet', 'path', 'requester'],
        properties: {
          kind: { type: 'string', maxLength: 32 },
          transaction: { anyOf: [{ type: 'string', maxLength: 256 * 1024 }, { type: 'object' }] },
          typedData: { anyOf: [{ type: 'string', maxLength: 256 * 1024 }, { type: 'object' }] },
          message: { type: 'string', maxLength: 64 * 1024 },
          psbt: { type: 'string', maxLength: 512 * 1024 },
          digest: { type: 'string', maxLength: 66 },
          wallet: { type: 'string', minLength: 1, maxLength: 64 },
          path: { type: 'string', minLength: 1, maxLength: 200 },
          requester: { type: 'string', minLength: 1, maxLength: 200 },
          evidence: { type: 'array', maxItems: 64, items: evidenceSchema },
          auth: AUTH_SCHEMA,
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
      method: 'GET',
      path: '/v1/wallet/accounts',
      maxBody: 0,
      handle: async () => ({ status: 200, body: { accounts: await walletOf(d).accounts() } }),
    },
    {
      method: 'POST',
      path: '/v1/approvals',
      maxBody: bodyLimit,
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['requester', 'approval'],
        oneOf: oneOfRef,
        properties: { ...capsuleRef, requester: { type: 'string', minLength: 1, maxLength: 200 }, approval: evidenceSchema },
      },
      handle: async (body) => {
        const b = body as { capsule?: string; id?: string; requester: string; approval: unknown };
        const stored = await storeApproval(d, await capsuleOf(b), b.requester, b.approval);
        return { status: 201, body: { stored: true, ...stored } };
      },
    },
    {
      method: 'GET',
      path: '/v1/content',
      maxBody: 0,
      handle: async (_body, req) => {
        const cid = new URL(req.url ?? '/', 'http://x').searchParams.get('cid');
        if (!cid) throw new AgentError('ERR_BAD_REQUEST', 'query: expected ?cid=CID');
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
  if (!d.wallet) throw new AgentError('ERR_UNAVAILABLE', 'this agent serves no wallet');
  return d.wallet;
}

/** What a signed request answers, per kind: `output` is what the CLI prints (hex or base64). */
function outputJson(o: SignOutput): Record<string, unknown> {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  switch (o.kind) {
    case 'eth-tx':
      return { output: o.text, signature: hex(o.signature), transactionHash: `0x${hex(o.transactionHash)}` };
    case 'eth-typed-data':
    case 'eth-message':
      return { output: o.text, signature: hex(o.signature) };
    case 'btc-psbt':
      return {
        output: o.text,
        complete: o.complete,
        ...(o.transaction ? { transaction: hex(o.transaction) } : {}),
        signatures: o.signatures.map((s) => ({ input: s.input, signature: hex(s.signature) })),
      };
    case 'raw-digest':
      return { output: o.text, signature: hex(o.signature), recovery: o.recovery };
  }
}

/** Strict base64 (canonical padding, no stray characters), decoded in C++ rather than by a regex. */
function base64(text: string, at: string): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new AgentError('ERR_BAD_REQUEST', `${at}: not canonical base64`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
