/**
 * The agent's HTTP response bodies as JSON Schemas (draft-07, as ajv reads them), one per shape.
 * They are the single source for two readers: scripts/api-doc.ts renders them into docs/API.md,
 * and test/api-doc.test.ts validates live answers of a real agent against them, so the document
 * and the server cannot drift apart unnoticed. Decision bodies are closed (`additionalProperties:
 * false`): a field the server adds must be documented here first.
 *
 * Deliberately not here: request schemas (they are the ajv schemas the server validates with, in
 * api.ts and coreRoutes.ts, and the generator reads them from there), and which route answers
 * which shape with which status (routeDocs.ts).
 */

const HEX64 = '^[0-9a-f]{64}$';

/** An audit receipt (Receipt.ts): proves the decision's entry is in the guardian's audit log. */
export const RECEIPT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'digest', 'sig', 'guardian'],
  properties: {
    seq: { type: 'integer', minimum: 0 },
    digest: { type: 'string', pattern: HEX64 },
    sig: { type: 'string', pattern: '^[0-9a-f]{128}$' },
    guardian: { type: 'string', pattern: '^capsule-guardian1' },
  },
} as const;

/** `{ error: { code, message, hint? } }`: every refusal; `receipt` when its decision was audited first. */
export const ERROR_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: { code: { type: 'string', pattern: '^ERR_[A-Z0-9_]+$' }, message: { type: 'string', minLength: 1 }, hint: { type: 'string' } },
    },
    receipt: RECEIPT_SCHEMA,
  },
} as const;

/** The members every decision answer carries (allow, deny, check-in). */
const DECISION = {
  reason: { type: 'string' },
  fuel: { type: 'integer', minimum: 0 },
  audit: { type: 'integer', minimum: 0 },
  receipt: RECEIPT_SCHEMA,
} as const;
const DECIDED = ['verdict', 'reason', 'fuel', 'audit', 'receipt'];

/** The `error` member of a denial: always ERR_DENIED, the logic's reason in the message. */
const DENIED_ERROR = {
  type: 'object',
  additionalProperties: false,
  required: ['code', 'message'],
  properties: { code: { const: 'ERR_DENIED' }, message: { type: 'string', minLength: 1 } },
} as const;

/** GET /v1/status 200. */
export const STATUS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'version', 'uptimeMs', 'now', 'guardian', 'clock', 'audit', 'auditLog', 'ipfs', 'module'],
  properties: {
    status: { enum: ['starting', 'started', 'stopping', 'stopped'] },
    version: { const: 'v1' },
    uptimeMs: { type: 'integer', minimum: 0 },
    now: { type: 'integer', description: "the guardian's time, ms since the epoch (sign check-ins and `auth.at` with it)" },
    guardian: {
      type: 'object',
      additionalProperties: false,
      required: ['backend', 'model', 'serial', 'signingKey', 'recipients'],
      properties: {
        backend: { enum: ['zymbit', 'soft', 'tpm2'] },
        model: { type: 'string' },
        serial: { type: 'string' },
        signingKey: { type: 'string', pattern: '^capsule-guardian1' },
        recipients: {
          type: 'object',
          additionalProperties: false,
          required: ['x25519', 'p256'],
          properties: { x25519: { type: 'string', pattern: '^age1' }, p256: { type: ['string', 'null'] }, tpm2: { type: ['string', 'null'] } },
        },
        manufacturer: { type: 'string' },
        firmware: { type: 'string' },
      },
    },
    clock: { type: 'string', description: 'the clock kind (system, file:…, …)' },
    audit: { type: 'integer', minimum: 0, description: 'seq of the last audit entry' },
    auditLog: {
      type: 'object',
      additionalProperties: false,
      required: ['state'],
      properties: { state: { enum: ['ok', 'failing'] }, code: { type: 'string' }, message: { type: 'string' } },
    },
    ipfs: {
      type: 'object',
      required: ['ready'],
      properties: {
        ready: { type: 'boolean' },
        backend: { type: 'string' },
        subscribed: { type: 'boolean' },
        lastError: { type: 'string' },
        announcements: { type: 'object' },
        indexed: { type: 'integer' },
        storedBytes: { type: 'integer' },
        maxStoredBytes: { type: 'integer' },
        imageManifests: { type: 'object' },
      },
    },
    module: {
      type: 'object',
      additionalProperties: false,
      required: ['state'],
      properties: { state: { enum: ['ok', 'failing'] }, code: { type: 'string' }, message: { type: 'string' }, since: { type: 'integer' } },
    },
  },
} as const;

/** POST /v1/modules 201. */
export const MODULE_STORED_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['sha256'],
  properties: { sha256: { type: 'string', pattern: HEX64, description: "the module's SHA-256: capsules name their logic by it" } },
} as const;

/** POST /v1/release 200: the data key, age-encrypted to the requester, base64. */
export const RELEASE_ALLOW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...DECIDED, 'answer'],
  properties: {
    verdict: { const: 'allow' },
    ...DECISION,
    answer: {
      type: 'string',
      contentEncoding: 'base64',
      description: "an age file (to `requester`) holding the capsule's 32-byte data key, or for a capsule with a guardian set this guardian's 32-byte share",
    },
    share: {
      type: 'object',
      additionalProperties: false,
      required: ['index'],
      description:
        'present only for a capsule with a guardian set (SPEC.md §5.6): `answer` holds a Shamir share, at this index of the set; the requester combines m of them',
      properties: { index: { type: 'integer', minimum: 0, maximum: 15 } },
    },
  },
} as const;

/** POST /v1/release and POST /v1/sign 403 when the logic (or signing policy) said no. */
export const DENY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...DECIDED, 'error'],
  properties: { verdict: { const: 'deny' }, ...DECISION, error: DENIED_ERROR },
} as const;

/** POST /v1/checkin 200: the check-in went through the logic (`recorded`: it changed the logic's state). */
export const CHECKIN_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['recorded', ...DECIDED],
  properties: { recorded: { type: 'boolean' }, verdict: { enum: ['allow', 'deny'] }, ...DECISION },
} as const;

/** POST /v1/approvals 201. */
export const APPROVAL_STORED_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['stored', 'audit', 'receipt'],
  properties: { stored: { const: true }, audit: { type: 'integer', minimum: 0 }, receipt: RECEIPT_SCHEMA },
} as const;

/** POST /v1/sign 200: a P-256 signature of the digest by the slot's key. */
export const SIGN_ALLOW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...DECIDED, 'signature', 'recoveryId'],
  properties: {
    verdict: { const: 'allow' },
    ...DECISION,
    signature: { type: 'string', pattern: '^[0-9a-f]{128}$', description: 'r ‖ s, low S' },
    recoveryId: { type: 'integer', minimum: 0, maximum: 3 },
  },
} as const;

/** The members of every wallet decision answer (the request's kind and the hash the policy saw). */
const WALLET_DECISION = {
  ...DECISION,
  kind: { enum: ['eth-tx', 'eth-typed-data', 'eth-message', 'btc-psbt', 'raw-digest'] },
  hash: { type: 'string' },
} as const;

/** POST /v1/wallet/sign 200: `output` is what the CLI prints; the other members depend on `kind`. */
export const WALLET_ALLOW_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...DECIDED, 'kind', 'hash', 'output'],
  properties: {
    verdict: { const: 'allow' },
    ...WALLET_DECISION,
    output: { type: 'string' },
    signature: { type: 'string', pattern: '^[0-9a-f]+$' },
    transactionHash: { type: 'string', pattern: '^0x[0-9a-f]{64}$' },
    complete: { type: 'boolean' },
    transaction: { type: 'string', pattern: '^[0-9a-f]+$' },
    signatures: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['input', 'signature'],
        properties: { input: { type: 'integer', minimum: 0 }, signature: { type: 'string', pattern: '^[0-9a-f]+$' } },
      },
    },
    recovery: { type: 'integer', minimum: 0, maximum: 3 },
  },
} as const;

/** POST /v1/wallet/sign 403 when the account's policy said no. */
export const WALLET_DENY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [...DECIDED, 'kind', 'hash', 'error'],
  properties: { verdict: { const: 'deny' }, ...WALLET_DECISION, error: DENIED_ERROR },
} as const;

/** GET /v1/wallet/accounts 200. */
export const ACCOUNTS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['accounts'],
  properties: {
    accounts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['wallet', 'path', 'chain'],
        properties: {
          wallet: { type: 'string' },
          path: { type: 'string' },
          chain: { enum: ['ethereum', 'bitcoin'] },
          address: { type: 'string' },
          chainId: { type: 'integer' },
          network: { type: 'string' },
          error: {
            type: 'object',
            additionalProperties: false,
            required: ['code', 'message'],
            properties: { code: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
  },
} as const;

/**
 * Every response schema by the name the documentation uses (the name is the heading it is rendered
 * under in docs/API.md, and what routeDocs.ts refers to). `binary` bodies (GET /v1/content 200)
 * have no JSON schema and are not listed.
 */
export const RESPONSE_SCHEMAS = {
  Error: ERROR_SCHEMA,
  Receipt: RECEIPT_SCHEMA,
  Status: STATUS_SCHEMA,
  ModuleStored: MODULE_STORED_SCHEMA,
  ReleaseAllowed: RELEASE_ALLOW_SCHEMA,
  Denied: DENY_SCHEMA,
  CheckinDecided: CHECKIN_SCHEMA,
  ApprovalStored: APPROVAL_STORED_SCHEMA,
  SignAllowed: SIGN_ALLOW_SCHEMA,
  WalletSigned: WALLET_ALLOW_SCHEMA,
  WalletDenied: WALLET_DENY_SCHEMA,
  Accounts: ACCOUNTS_SCHEMA,
} as const;

/** The name of a documented response body. */
export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
