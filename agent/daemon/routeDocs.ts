/**
 * The hand-written half of the HTTP API reference (docs/API.md "Endpoints"): per route, what it
 * does, what its request fields mean, which statuses it answers with which documented body, and
 * curl examples; plus the statuses any route can answer (HttpServer's guards). scripts/api-doc.ts
 * joins this with what the server itself holds — each route's ajv request schema (api.ts,
 * coreRoutes.ts), the response schemas (responseSchemas.ts) and the status of every error code
 * (statusByCode.ts) — and test/api-doc.test.ts checks the join against a live agent: every route
 * served is documented here and nothing else is, every field described exists in the schema and
 * every schema field is described, and the runnable examples answer what they say.
 *
 * Deliberately not here: schemas (never copied: read from the server), statuses of codes
 * (statusByCode.ts) and the prose on authentication and request hygiene (docs/API.md §1–6).
 */
import type { ResponseSchemaName } from './responseSchemas.ts';

/** One documented answer: its status, its body (a response schema's name, or raw bytes) and when. */
export interface ResponseDoc {
  status: number;
  body: ResponseSchemaName | 'binary';
  when: string;
}

/**
 * A curl example. Runnable when it holds no `<placeholder>`: the test sends exactly this request
 * (method, path, headers, body) to a live agent and checks `expect`.
 */
export interface ExampleDoc {
  title: string;
  method: 'GET' | 'POST';
  /** Path with its query string. */
  path: string;
  /** JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** A raw body for application/wasm: `@FILE` (curl's --data-binary syntax) or the bytes as text. */
  wasm?: string;
  expect: { status: number; code?: string };
  /** Where curl saves a binary answer (`-o`). */
  saveAs?: string;
}

/** A route's documentation (the route itself, and its request schema, come from the server). */
export interface RouteDoc {
  method: 'GET' | 'POST';
  path: string;
  /** What it does: one paragraph (Markdown). */
  summary: string;
  /** The body's media type (POST only). */
  contentType?: 'application/json' | 'application/wasm';
  /** Meaning of each top-level request field (JSON bodies: exactly the schema's properties). */
  fields?: Readonly<Record<string, string>>;
  /** Query parameters (GET). */
  query?: Readonly<Record<string, string>>;
  /** The answers particular to this route (COMMON_RESPONSES apply to every route too). */
  responses: readonly ResponseDoc[];
  examples: readonly ExampleDoc[];
}

/** The listen address of an agent started with the defaults (config.ts). */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:7373';

/** A well-formed age X25519 recipient (the age README's example), for the runnable examples. */
const EXAMPLE_RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

/** What any route can answer, from the HTTP layer's guards and faults (HttpServer.ts, browserGuards.ts). */
export const COMMON_RESPONSES: readonly ResponseDoc[] = [
  { status: 400, body: 'Error', when: 'POST: the body is not JSON or does not match the request schema (`ERR_BAD_REQUEST`, the message names the field)' },
  { status: 403, body: 'Error', when: 'an `Origin` header whose host the agent does not answer to (`ERR_FORBIDDEN`, §3)' },
  { status: 404, body: 'Error', when: 'no such path (`ERR_NOT_FOUND`)' },
  { status: 405, body: 'Error', when: 'a path served, with another method' },
  { status: 413, body: 'Error', when: "POST: the body is above the route's limit (`ERR_TOO_LARGE`)" },
  { status: 415, body: 'Error', when: "POST: a media type other than the route's (`ERR_UNSUPPORTED_MEDIA_TYPE`, §3)" },
  { status: 421, body: 'Error', when: 'a `Host` the agent does not answer to (`ERR_MISDIRECTED`, §3)' },
  { status: 429, body: 'Error', when: 'a rate limit is spent (`ERR_RATE_LIMITED`, with `Retry-After`, §4)' },
  { status: 500, body: 'Error', when: "a bug (`ERR_INTERNAL`; the details go to the agent's log, not to the client)" },
  {
    status: 503,
    body: 'Error',
    when: 'storage, audit log, module or clock failing, the agent stopping, or too busy (the code says which; it heals without a restart)',
  },
];

const CAPSULE_FIELDS = {
  capsule: 'the capsule as standard base64 (canonical padding): at least its preamble, header and first chunk (`capsule open` sends just that)',
  id: 'the capsule id (32 hex digits) of a capsule this guardian has seen; refused with `ERR_AMBIGUOUS_ID` when several registered headers carry it',
  header: 'the header hash (64 hex digits, `capsule inspect` shows it) of a capsule this guardian has seen',
  cid: "the capsule's IPFS CID: the guardian fetches it first (with IPFS on; otherwise 501)",
} as const;
const EVIDENCE =
  'signed evidence items `{kind, scheme, signer, message, signature}` the logic may count: approvals (`kind: "approval"`, made with `capsule approve`) and drand beacons (`kind: "drand"`, scheme `bls-unchained-g1-rfc9380`: signer the chain hash or empty, message the round as 8 bytes big-endian, signature the beacon\'s 48-byte signature; contracts-as/ABI.md `verify_drand_beacon`)';
const AUTH = "proof that the sender holds `requester`'s identity (§1); needed when the decision would change the logic's state";
const REQUESTER = 'the age X25519 recipient (`age1…`) the answer is encrypted to, exactly as encoded';

/** Every route the agent serves, in the order of the document. */
export const ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: 'GET',
    path: '/v1/status',
    summary:
      "The guardian's public facts and health: its key-store backend, model and serial, its signing key and recipients (seal capsules to `guardian.recipients.x25519`), its clock's current time `now` (clients sign check-ins and `auth.at` with it), the last audit entry's number, and the state of the audit log, the module and IPFS. Cheap: it runs no decision and loads none of the decision code.",
    responses: [{ status: 200, body: 'Status', when: 'always, while the agent runs' }],
    examples: [{ title: 'Read the status', method: 'GET', path: '/v1/status', expect: { status: 200 } }],
  },
  {
    method: 'POST',
    path: '/v1/modules',
    contentType: 'application/wasm',
    summary:
      "Stores a logic module (WebAssembly, at most 1 MiB) in the guardian's module store, after checking it against the logic ABI (contracts-as/ABI.md) and metering it. Content-addressed: the answer is the module's SHA-256, which capsules and signing policies name, so no signature is needed and storing the same module again is harmless. Bounded by `maxModules` and `maxModuleStoreBytes`.",
    responses: [
      { status: 201, body: 'ModuleStored', when: 'stored (or already there)' },
      { status: 400, body: 'Error', when: 'above the size limit (`ERR_BAD_REQUEST`)' },
      { status: 422, body: 'Error', when: 'not a module the sandbox accepts (`ERR_INVALID_MODULE`)' },
      { status: 507, body: 'Error', when: "the module store's quota is spent (`ERR_QUOTA`) or the disk is below its reserve (`ERR_DISK_FULL`)" },
    ],
    examples: [
      { title: 'Push a module built with `capsule logic build`', method: 'POST', path: '/v1/modules', wasm: '@policy.wasm', expect: { status: 201 } },
      {
        title: 'Bytes that are not WebAssembly are refused',
        method: 'POST',
        path: '/v1/modules',
        wasm: 'not wasm',
        expect: { status: 422, code: 'ERR_INVALID_MODULE' },
      },
    ],
  },
  {
    method: 'POST',
    path: '/v1/release',
    contentType: 'application/json',
    summary:
      "Asks for a capsule's data key. The guardian authenticates the capsule's header (it must be sealed to this guardian), runs the capsule's logic in the sandbox with the guardian's time, the requester, the evidence and the logic's stored state, audits the decision, and on allow answers the 32-byte data key encrypted to `requester` (an age file: only the requester's identity opens it). For a capsule sealed to a guardian set (SPEC.md §5.6) the answer holds this guardian's Shamir share instead, with `share.index`; the requester combines m of them (`capsule open --guardian URL` once per guardian). A denial is a 403 with the logic's reason. Name the capsule by exactly one of `capsule`, `id`, `header`, `cid`.",
    fields: { ...CAPSULE_FIELDS, requester: REQUESTER, evidence: EVIDENCE, auth: AUTH },
    responses: [
      { status: 200, body: 'ReleaseAllowed', when: 'the logic allowed' },
      {
        status: 400,
        body: 'Error',
        when: 'a malformed capsule (its format error code, e.g. `ERR_TRUNCATED`), recipient (`ERR_BAD_RECIPIENT`) or evidence; a bad CID (`ERR_BAD_CID`)',
      },
      { status: 401, body: 'Error', when: '`auth` does not verify, or the decision would change state and `auth` is missing (`ERR_UNAUTHENTICATED`, §1)' },
      { status: 403, body: 'Denied', when: 'the logic denied (`ERR_DENIED`, with `reason`)' },
      { status: 404, body: 'Error', when: 'an unknown `id`/`header`, or the logic module is not stored (`ERR_NOT_FOUND`)' },
      { status: 409, body: 'Error', when: 'an `id` several capsules carry (`ERR_AMBIGUOUS_ID`), or a replayed `auth.nonce` (`ERR_REPLAYED`)' },
      { status: 422, body: 'Error', when: 'the logic failed (a sandbox code: `ERR_TRAP`, `ERR_OUT_OF_FUEL`, …); audited, never an allow' },
      { status: 501, body: 'Error', when: '`cid` while the guardian runs without IPFS (`ERR_UNAVAILABLE`)' },
      { status: 502, body: 'Error', when: 'IPFS gave content that does not match its CID' },
      { status: 504, body: 'Error', when: 'the CID could not be found in time (`ERR_CONTENT_UNAVAILABLE`)' },
      { status: 507, body: 'Error', when: "the disk is below its reserve (`ERR_DISK_FULL`) or the capsule store's quota is spent (`ERR_QUOTA`)" },
    ],
    examples: [
      {
        title: 'Release (the CLI does this: `capsule open will.capsule --guardian URL --identity me.key`)',
        method: 'POST',
        path: '/v1/release',
        json: { capsule: '<base64 of the capsule file>', requester: '<your age1… recipient>' },
        expect: { status: 200 },
      },
      {
        title: 'An id this guardian has never seen',
        method: 'POST',
        path: '/v1/release',
        json: { id: '00000000000000000000000000000000', requester: EXAMPLE_RECIPIENT },
        expect: { status: 404, code: 'ERR_NOT_FOUND' },
      },
    ],
  },
  {
    method: 'GET',
    path: '/v1/content',
    summary:
      'The bytes of a capsule this guardian has fetched by CID or indexed from an announcement (so a beneficiary can get a capsule from its guardian); never arbitrary content. Streamed as `application/octet-stream`; a fault half-way cuts the connection, so a short body is an error. Needs IPFS on.',
    query: { cid: "the capsule's CID (required)" },
    responses: [
      { status: 200, body: 'binary', when: "the capsule's bytes (`application/octet-stream`, streamed)" },
      { status: 400, body: 'Error', when: 'no `cid` (`ERR_BAD_REQUEST`), or a malformed one (`ERR_BAD_CID`)' },
      { status: 404, body: 'Error', when: 'not a capsule this guardian holds (`ERR_NOT_FOUND`)' },
      { status: 501, body: 'Error', when: 'the guardian runs without IPFS (`ERR_UNAVAILABLE`)' },
    ],
    examples: [
      { title: 'Fetch a capsule by CID', method: 'GET', path: '/v1/content?cid=<CID>', expect: { status: 200 }, saveAs: 'will.capsule' },
      { title: 'Without a CID', method: 'GET', path: '/v1/content', expect: { status: 400, code: 'ERR_BAD_REQUEST' } },
    ],
  },
  {
    method: 'POST',
    path: '/v1/checkin',
    contentType: 'application/json',
    summary:
      "Records an owner's check-in (the dead-man rule: \"I am still here\"). The check-in is an Ed25519 signature over `capsule-checkin:v1:<id>:<ms>` by a key the capsule names (its owner key, or an `owner` param), made within 10 minutes of the guardian's time (`capsule checkin` makes one). It goes through the capsule's logic, which records it in its state; the decision is audited. A check-in is accepted once: a replay is refused.",
    fields: {
      capsule: CAPSULE_FIELDS.capsule,
      id: CAPSULE_FIELDS.id,
      header: CAPSULE_FIELDS.header,
      cid: CAPSULE_FIELDS.cid,
      checkin: 'the signed check-in `{kind: "checkin", scheme: "ed25519", signer, message, signature}` (hex)',
    },
    responses: [
      { status: 200, body: 'CheckinDecided', when: 'decided; `recorded` says whether the logic kept it' },
      { status: 400, body: 'Error', when: 'not a check-in for this capsule, or its signature does not verify (`ERR_BAD_REQUEST`)' },
      { status: 403, body: 'Error', when: 'signed by a key the capsule does not name (`ERR_FORBIDDEN`, §2)' },
      { status: 404, body: 'Error', when: 'unknown capsule or module (`ERR_NOT_FOUND`)' },
      { status: 409, body: 'Error', when: 'already received, or signed outside the time window (`ERR_REPLAYED`)' },
      { status: 422, body: 'Error', when: 'the logic failed (a sandbox code)' },
    ],
    examples: [
      {
        title: 'Check in (the CLI: `capsule checkin dm.capsule --guardian URL --key owner.key`)',
        method: 'POST',
        path: '/v1/checkin',
        json: {
          capsule: '<base64 of the capsule file>',
          checkin: { kind: 'checkin', scheme: 'ed25519', signer: '<owner public key, hex>', message: '<hex of capsule-checkin:v1:ID:MS>', signature: '<hex>' },
        },
        expect: { status: 200 },
      },
      {
        title: 'Without the check-in',
        method: 'POST',
        path: '/v1/checkin',
        json: { id: '00000000000000000000000000000000' },
        expect: { status: 400, code: 'ERR_BAD_REQUEST' },
      },
    ],
  },
  {
    method: 'POST',
    path: '/v1/approvals',
    contentType: 'application/json',
    summary:
      "Stores an approval for a later release: an Ed25519 or EIP-191 signature over `capsule-approval:v1:<id>:<requester>` by an approver the capsule's logic params list (`capsule approve` makes one). Stored once per capsule, requester and signer, at most 32 per capsule and requester, and counted by the logic at that requester's releases; the storing is audited. Approvals from signers the capsule does not list are refused (send those with the release request instead).",
    fields: {
      capsule: CAPSULE_FIELDS.capsule,
      id: CAPSULE_FIELDS.id,
      header: CAPSULE_FIELDS.header,
      cid: CAPSULE_FIELDS.cid,
      requester: 'the requester the approval is for (`age1…`, exactly as encoded)',
      approval: 'the signed approval `{kind: "approval", scheme, signer, message, signature}` (hex)',
    },
    responses: [
      { status: 201, body: 'ApprovalStored', when: 'stored' },
      { status: 400, body: 'Error', when: 'not an approval for this capsule and requester, or its signature does not verify (`ERR_BAD_REQUEST`)' },
      { status: 403, body: 'Error', when: 'the signer is not an approver the capsule lists (`ERR_FORBIDDEN`, §2)' },
      { status: 404, body: 'Error', when: 'unknown capsule (`ERR_NOT_FOUND`)' },
      { status: 409, body: 'Error', when: 'already stored (`ERR_REPLAYED`)' },
      { status: 413, body: 'Error', when: '32 approvals already stored for this capsule and requester (`ERR_TOO_LARGE`)' },
    ],
    examples: [
      {
        title: 'Store an approval (the CLI: `capsule approve c.capsule --requester age1… --key a1.key --guardian URL`)',
        method: 'POST',
        path: '/v1/approvals',
        json: {
          capsule: '<base64 of the capsule file>',
          requester: '<age1… recipient>',
          approval: { kind: 'approval', scheme: 'ed25519', signer: '<hex>', message: '<hex>', signature: '<hex>' },
        },
        expect: { status: 201 },
      },
      {
        title: 'A malformed approval',
        method: 'POST',
        path: '/v1/approvals',
        json: { id: '00000000000000000000000000000000', requester: EXAMPLE_RECIPIENT, approval: { kind: 'approval' } },
        expect: { status: 400, code: 'ERR_BAD_REQUEST' },
      },
    ],
  },
  {
    method: 'POST',
    path: '/v1/sign',
    contentType: 'application/json',
    summary:
      "Asks a module key slot to sign a 32-byte digest (P-256, low S) under that slot's signing policy: a logic module configured for the slot (`signing` in the agent configuration) decides with the guardian's time, the requester and the evidence; the decision is audited. Slot 0, the guardian's own key, never signs requests.",
    fields: {
      slot: 'the module key slot (configured under `signing`)',
      digest: 'the 32-byte digest to sign, 64 lowercase hex digits',
      requester: 'who asks (`age1…`): the policy sees it, and `auth` proves it',
      evidence: EVIDENCE,
      auth: AUTH,
    },
    responses: [
      { status: 200, body: 'SignAllowed', when: 'the policy allowed' },
      { status: 401, body: 'Error', when: 'as for release (`ERR_UNAUTHENTICATED`)' },
      { status: 403, body: 'Denied', when: 'the policy denied (`ERR_DENIED`)' },
      { status: 404, body: 'Error', when: 'no policy for the slot, or its module is not stored (`ERR_NOT_FOUND`)' },
      { status: 422, body: 'Error', when: 'the policy failed (a sandbox code)' },
    ],
    examples: [
      {
        title: 'Sign a digest (the CLI: `capsule sign-request --guardian URL --slot 1 --digest HEX --identity me.key`)',
        method: 'POST',
        path: '/v1/sign',
        json: { slot: 1, digest: '<64 hex digits>', requester: '<age1… recipient>' },
        expect: { status: 200 },
      },
      {
        title: 'A slot with no policy never signs',
        method: 'POST',
        path: '/v1/sign',
        json: { slot: 65535, digest: 'ab'.repeat(32), requester: EXAMPLE_RECIPIENT },
        expect: { status: 404, code: 'ERR_NOT_FOUND' },
      },
    ],
  },
  {
    method: 'POST',
    path: '/v1/wallet/sign',
    contentType: 'application/json',
    summary:
      "Signs a transaction, typed data, a message, a PSBT or a raw digest with a hot-wallet account, under the account's policy (§6): the guardian decodes the request and computes every digest itself, the policy decides, the decision is audited, and on allow the answer carries what was signed. One payload field, the one `kind` names.",
    fields: {
      kind: '`eth-tx`, `eth-typed-data`, `eth-message`, `btc-psbt` or `raw-digest`',
      transaction: '`eth-tx`: unsigned EIP-2718 hex, or the fields as an object',
      typedData: '`eth-typed-data`: the EIP-712 document (object or JSON text)',
      message: '`eth-message`: the UTF-8 text to `personal_sign`',
      psbt: '`btc-psbt`: the PSBT, base64',
      digest: '`raw-digest`: 64 hex digits',
      wallet: "the wallet's name on the module",
      path: "the account's BIP32 path, as configured",
      requester: 'who asks (`age1…`)',
      evidence: 'co-signer approvals and other evidence the policy may count',
      auth: AUTH,
    },
    responses: [
      { status: 200, body: 'WalletSigned', when: 'the policy allowed' },
      { status: 400, body: 'Error', when: 'a malformed request (`ERR_BAD_SIGN_REQUEST`, `ERR_UNKNOWN_KIND`, `ERR_BAD_TRANSACTION`, …)' },
      { status: 401, body: 'Error', when: 'as for release (`ERR_UNAUTHENTICATED`)' },
      { status: 403, body: 'WalletDenied', when: 'the policy denied (`ERR_DENIED`); also `ERR_RAW_DIGEST_NOT_ALLOWED` (an Error body)' },
      {
        status: 404,
        body: 'Error',
        when: 'no such account, its policy module not stored (`ERR_NOT_FOUND`), or its wallet not on the module (`ERR_NO_WALLET`)',
      },
      {
        status: 422,
        body: 'Error',
        when: 'well-formed but not signable here (`ERR_WRONG_CHAIN`, `ERR_WRONG_ACCOUNT`, `ERR_NOTHING_TO_SIGN`, …), or the policy failed',
      },
      { status: 500, body: 'Error', when: 'a configuration or signer fault (`ERR_BAD_ACCOUNT`, `ERR_SIGNER_FAULT`)' },
    ],
    examples: [
      {
        title: 'Sign a message (the CLI: `capsule wallet sign --guardian URL --wallet hot --path PATH --identity me.key --message TEXT`)',
        method: 'POST',
        path: '/v1/wallet/sign',
        json: { kind: 'eth-message', message: 'hello', wallet: 'hot', path: "m/44'/60'/0'/0/0", requester: '<age1… recipient>' },
        expect: { status: 200 },
      },
      {
        title: 'An account that is not configured',
        method: 'POST',
        path: '/v1/wallet/sign',
        json: { kind: 'eth-message', message: 'hello', wallet: 'nowhere', path: "m/44'/60'/0'/0/0", requester: EXAMPLE_RECIPIENT },
        expect: { status: 404, code: 'ERR_NOT_FOUND' },
      },
    ],
  },
  {
    method: 'GET',
    path: '/v1/wallet/accounts',
    summary:
      'The hot-wallet accounts this guardian serves (configured under `wallet.accounts`), each with its address (Ethereum EIP-55, Bitcoin P2WPKH or P2TR) and chain id or network. An account whose wallet is not on the module is listed with `error` instead of `address`.',
    responses: [{ status: 200, body: 'Accounts', when: 'always (an empty list when none is configured)' }],
    examples: [{ title: 'List the accounts', method: 'GET', path: '/v1/wallet/accounts', expect: { status: 200 } }],
  },
];

/** True when an example is a template (it holds a `<placeholder>`) rather than a request to send as is. */
export function isTemplate(e: ExampleDoc): boolean {
  return /<[^>]+>/.test(e.path + JSON.stringify(e.json ?? '') + (e.wasm?.startsWith('@') ? '<file>' : ''));
}

/**
 * Statuses the HTTP layer sets on an error itself, overriding STATUS_BY_CODE for that one case
 * (statusByCode.ts names them): a client reads the code, and the status says which case it was.
 */
export const STATUS_OVERRIDES: readonly { code: string; status: number; when: string }[] = [
  { code: 'ERR_BAD_REQUEST', status: 405, when: 'a path served, with a method it does not serve' },
  { code: 'ERR_UNAVAILABLE', status: 501, when: 'a fetch by CID (release by `cid`, GET /v1/content) on a guardian running without IPFS' },
];

/**
 * Codes in STATUS_BY_CODE that no request is answered with: raised by the CLI, the device tools,
 * at start-up or on IPFS pubsub. The status table lists them so that every code has one status;
 * docs/API.md lists them apart.
 */
export const NOT_ANSWERED: ReadonlySet<string> = new Set([
  'ERR_USAGE',
  'ERR_REFUSE_TTY',
  'ERR_OUTPUT_EXISTS',
  'ERR_BAD_IMAGE_MANIFEST',
  'ERR_IMAGE_SIGNATURE',
  'ERR_IMAGE_REPLAYED',
  'ERR_NOT_PINNED',
  'ERR_BAD_ARCHIVE',
  'ERR_ARCHIVE_TRUNCATED',
  'ERR_ARCHIVE_PATH',
  'ERR_ARCHIVE_TOO_LARGE',
  'ERR_ARCHIVE_EXTRA',
  'ERR_BLOB_MISMATCH',
  'ERR_BLOB_MISSING',
  'ERR_IMAGE_NOT_LISTED',
  'ERR_ENGINE_MISSING',
  'ERR_ENGINE',
  'ERR_LUKS',
  'ERR_LUKS_TOKEN',
  'ERR_LUKS_TOKEN_VERSION',
  'ERR_LUKS_ENROLLED',
  'ERR_WRONG_MODULE',
  'ERR_NO_MODULE',
  'ERR_PCR_MISMATCH',
  'ERR_UNSAFE_TCTI',
  'ERR_CONFIG',
  'ERR_BAD_ANNOUNCEMENT',
  'ERR_BAD_SHARE',
  'ERR_NOT_ENOUGH_SHARES',
]);

/**
 * What each error code means to a client, for docs/API.md's error tables: exactly the codes of
 * STATUS_BY_CODE (the test checks both ways).
 */
export const ERROR_MEANINGS: Readonly<Record<string, string>> = {
  ERR_BAD_REQUEST:
    'the request is malformed: not JSON, not the schema, bad base64, a bad query, a signature that does not verify (the message names the field)',
  ERR_HEADER_MISMATCH: "the capsule's header is not the one registered under this name",
  ERR_CONFIG: 'a configuration value is wrong (the agent refuses to start)',
  ERR_USAGE: 'a bad command line',
  ERR_BAD_PARAMS: 'logic params that are not valid JSON/CBOR',
  ERR_REFUSE_TTY: 'binary output to a terminal',
  ERR_OUTPUT_EXISTS: 'the output file exists',
  ERR_IO: 'a file could not be read or written',
  ERR_BAD_MAGIC: 'the bytes are not a capsule',
  ERR_UNSUPPORTED_VERSION: 'a capsule format version this guardian does not know',
  ERR_RESERVED_FLAGS: 'the capsule uses reserved flags',
  ERR_HEADER_TOO_LARGE: "the capsule's header is above the 64 KiB cap",
  ERR_TRUNCATED: 'the capsule is cut short (a release needs the preamble, the header and the first chunk)',
  ERR_MALFORMED_HEADER: "the capsule's header does not decode",
  ERR_NON_CANONICAL_HEADER: 'the header is not deterministic CBOR (re-encoded or tampered with)',
  ERR_UNKNOWN_CRITICAL_FIELD: 'the header needs a feature this guardian does not know',
  ERR_UNSUPPORTED_CIPHER: 'a cipher or chunk size this guardian does not know',
  ERR_BAD_STANZA: 'a recipient stanza is malformed',
  ERR_BAD_SIGNATURE: "the header's owner signature does not verify",
  ERR_NO_MATCHING_STANZA: 'the capsule was not sealed to this guardian',
  ERR_CHUNK_AUTH: 'a payload chunk fails authentication (tampered or damaged)',
  ERR_TRAILING_DATA: 'bytes follow the last chunk',
  ERR_PAYLOAD_DIGEST: 'the payload does not match its recorded digest',
  ERR_LOGIC_HASH_MISMATCH: 'the logic module is not the one the capsule names',
  ERR_PAYLOAD_SIZE: 'the payload size does not match the header',
  ERR_BAD_GUARDIAN_SET: "the header's guardian set breaks its rules (SPEC.md §5.6: 2..16 distinct guardians, 1 <= m <= n)",
  ERR_GUARDIAN_SET_MISMATCH: "this guardian's share matches none of the header's share commitments: the header was changed after sealing",
  ERR_BAD_SHARE: "(client) a guardian's released share does not match its commitment in the header",
  ERR_NOT_ENOUGH_SHARES: '(client) fewer than m guardians of the set released a valid share',
  ERR_BAD_IDENTITY: 'an identity that cannot be used',
  ERR_BAD_RECIPIENT: 'not an age X25519 recipient exactly as encoded (or a low-order key)',
  ERR_NO_IDENTITY: 'no identity was given',
  ERR_BAD_MNEMONIC: 'recovery words that are not valid BIP39',
  ERR_LOCKED_ELSEWHERE: 'a key locked by another module',
  ERR_BAD_SIGN_REQUEST: 'a wallet request without exactly the payload its kind needs',
  ERR_UNKNOWN_KIND: 'a wallet request `kind` this guardian does not sign',
  ERR_BAD_TRANSACTION: 'an Ethereum transaction that does not decode',
  ERR_BAD_TYPED_DATA: 'an EIP-712 document that does not decode',
  ERR_BAD_MESSAGE: 'a message that cannot be signed',
  ERR_BAD_PSBT: 'a PSBT that does not decode',
  ERR_BAD_DIGEST: 'a raw digest that is not 32 bytes of hex',
  ERR_WALLET_EXISTS: 'a wallet with that name already exists',
  ERR_BAD_WALLET_NAME: 'a malformed wallet name',
  ERR_BAD_WALLET_PATH: 'a malformed BIP32 path',
  ERR_PATH_OUTSIDE_WALLET: 'a path the wallet does not serve',
  ERR_BAD_CID: 'not a CID',
  ERR_BAD_ANNOUNCEMENT: 'a malformed capsule announcement (IPFS pubsub: logged, never answered)',
  ERR_BAD_IMAGE_MANIFEST: 'a malformed image manifest',
  ERR_IMAGE_SIGNATURE: 'an image manifest signature that does not verify',
  ERR_IMAGE_REPLAYED: 'an image manifest older than the pinned one',
  ERR_NOT_PINNED: 'no pinned image manifest',
  ERR_BAD_ARCHIVE: 'a malformed OCI archive',
  ERR_ARCHIVE_TRUNCATED: 'an OCI archive cut short',
  ERR_ARCHIVE_PATH: 'an unsafe path in an OCI archive',
  ERR_ARCHIVE_TOO_LARGE: 'an OCI archive above its cap',
  ERR_ARCHIVE_EXTRA: 'an OCI archive with unlisted entries',
  ERR_BLOB_MISMATCH: 'a blob that does not match its descriptor',
  ERR_BLOB_MISSING: 'a blob missing from an OCI archive',
  ERR_IMAGE_NOT_LISTED: 'an image the manifest does not list',
  ERR_ENGINE_MISSING: 'no container engine',
  ERR_ENGINE: 'the container engine failed',
  ERR_LUKS: 'cryptsetup failed',
  ERR_LUKS_TOKEN: 'no usable capsule LUKS token',
  ERR_LUKS_TOKEN_VERSION: 'a LUKS token version this build does not know',
  ERR_LUKS_ENROLLED: 'the device is already bound',
  ERR_WRONG_MODULE: 'locked by another module or TPM',
  ERR_NO_MODULE: 'no module or TPM answered',
  ERR_PCR_MISMATCH: 'the PCRs no longer hold their enrolment values',
  ERR_UNSAFE_TCTI: 'a TCTI of a kind that can load code',
  ERR_UNAUTHENTICATED: "`auth` does not verify, or a decision that would change the logic's state came without it (§1)",
  ERR_DENIED: "the capsule's logic or the signing policy said no (the body carries `reason`, `fuel`, `audit`, `receipt`)",
  ERR_FORBIDDEN: "a check-in or approval signer the capsule does not name (§2), or a web page's `Origin` (§3)",
  ERR_RAW_DIGEST_NOT_ALLOWED: 'a raw-digest request for an account without `rawDigest: true`',
  ERR_NOT_FOUND: 'no such endpoint, capsule, logic module, signing slot or wallet account',
  ERR_NO_WALLET: "the account's wallet is not on the module",
  ERR_REPLAYED: 'already received: a check-in, an approval or an `auth.nonce` (or a check-in outside its time window)',
  ERR_AMBIGUOUS_ID: 'several registered capsules carry this id: name it by its bytes or `header`',
  ERR_TOO_LARGE: "a body above the endpoint's limit, or no room for another approval",
  ERR_CONTENT_TOO_LARGE: 'IPFS content above `maxCapsuleBytes`',
  ERR_UNSUPPORTED_MEDIA_TYPE: "a body without the endpoint's Content-Type (§3)",
  ERR_MISDIRECTED: 'a Host header this agent does not answer to (§3)',
  ERR_INVALID_MODULE: 'a logic module the sandbox refuses (contracts-as/ABI.md)',
  ERR_OUT_OF_FUEL: 'the logic ran out of fuel',
  ERR_LIMIT: 'the logic exceeded a sandbox limit',
  ERR_GUEST_MEMORY: 'the logic passed memory outside its own to a host call',
  ERR_TRAP: 'the logic trapped (the message carries its panic text)',
  ERR_BAD_VERDICT: 'the logic returned neither allow nor deny',
  ERR_TIMEOUT: 'the logic exceeded the wall-clock limit',
  ERR_SANDBOX: 'the sandbox itself failed (a bug)',
  ERR_BAD_DAG: 'the CID names IPFS content that is not a file',
  ERR_UNSUPPORTED_TRANSACTION: 'a transaction type this guardian does not sign',
  ERR_WRONG_CHAIN: "a request for another chain than the account's",
  ERR_WRONG_ACCOUNT: 'a request that is not for this account',
  ERR_NOTHING_TO_SIGN: 'a PSBT with no input of this account',
  ERR_UNSUPPORTED_BY_MODEL: "a request the module's model cannot sign (e.g. Schnorr)",
  ERR_RATE_LIMITED: 'over a rate limit: retry after `Retry-After` seconds (§4)',
  ERR_INTERNAL: "a bug; the details are in the agent's log",
  ERR_BAD_ACCOUNT: 'a wallet account configured wrongly',
  ERR_SIGNER_FAULT: 'the module signed wrongly',
  ERR_CID_MISMATCH: 'IPFS gave content that does not match its CID',
  ERR_IPFS: 'the IPFS node failed',
  ERR_UNAVAILABLE: 'try again later: busy (`Retry-After`), stopping, the clock unreadable, IPFS not ready, or no wallet service',
  ERR_AUDIT: 'the decision could not be audited, so it is not answered',
  ERR_IPFS_UNREACHABLE: 'the IPFS node (Kubo) is down',
  ERR_STORE_FULL: "the agent's disk is full",
  ERR_STORE_BUSY: "the agent's database is locked",
  ERR_STORE: "the agent's storage failed (I/O, read-only, damaged)",
  ERR_MODULE_ABSENT: 'the security module is absent',
  ERR_MODULE_CALL: 'a call to the security module failed',
  ERR_LOCK_INTEGRITY: 'a locked key failed its integrity check',
  ERR_TPM_AUTH: "the TPM refused the key's authorisation",
  ERR_TPM_LOCKOUT: 'the TPM is in dictionary-attack lockout',
  ERR_TPM_POLICY: "the TPM's PCRs no longer match the policy",
  ERR_KEYSTORE_FILE: "a key store's file is missing or malformed",
  ERR_NO_GUARDIAN: 'no guardian is provisioned',
  ERR_GUARDIAN_EXISTS: 'a guardian is already provisioned',
  ERR_GUARDIAN_MISMATCH: 'the guardian record belongs to another module',
  ERR_NOT_CONFIRMED: "the guardian's recovery words were not confirmed",
  ERR_PROVISIONING: 'provisioning failed',
  ERR_ISOLATION: 'the sandbox isolation the guardian needs is missing',
  ERR_AUDIT_FORMAT: 'the audit log is malformed',
  ERR_AUDIT_CHAIN: "the audit log's chain is broken",
  ERR_AUDIT_SIGNATURE: "an audit entry's signature does not verify",
  ERR_AUDIT_REPLAY: 'a replayed decision differs from the audited one',
  ERR_AUDIT_RECEIPT: 'a receipt does not match the log',
  ERR_AUDIT_UNPINNED: 'the audit log is not pinned to a guardian key',
  ERR_ROLLBACK: 'the audit log or database was rolled back',
  ERR_ANCHOR: "the audit log's anchor does not match",
  ERR_CONTENT_UNAVAILABLE: 'the CID was not found on IPFS within `fetchTimeoutMs`',
  ERR_QUOTA: 'a storage quota is spent (`maxModules`, `maxModuleStoreBytes`, `maxStoredBytes`)',
  ERR_DISK_FULL: 'the disk is below its free-space reserve `minFreeBytes`',
};
