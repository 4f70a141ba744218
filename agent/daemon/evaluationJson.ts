/**
 * Evaluation inputs as JSON (hex for bytes), so the audit log can carry everything needed to
 * re-run a decision offline (`capsule audit verify --replay`) and get the same verdict and fuel.
 * A wallet decision's `request` map (contracts-as/ABI.md §4.2) is carried as the hex of its
 * deterministic CBOR: the one form that round-trips byte for byte (a u256 byte string stays bytes,
 * an unsigned integer stays a number), so a replay gives the guest the same context bytes.
 * Deliberately not here: the CBOR the guest reads (sandbox/inputs.ts).
 */
import { decode } from 'cborg';
import { DECODE_OPTIONS, encodeCanonical } from '../format/cbor.ts';
import type { Json } from './AuditLog.ts';
import type { EvaluationInput, EvidenceItem } from '../sandbox/inputs.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: unknown, at: string): Uint8Array => {
  if (typeof h !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(h)) throw new TypeError(`${at}: expected lowercase hex`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
};

const boolOf = (v: unknown, at: string): boolean => {
  if (typeof v !== 'boolean') throw new TypeError(`${at}: expected true or false`);
  return v;
};

export function inputToJson(i: EvaluationInput): Json {
  const c = i.capsule;
  return {
    now: i.now,
    requester: i.requester,
    capsule: { id: hex(c.id), created: c.created, owner: c.owner ? hex(c.owner) : null, logic: hex(c.logic), size: c.size, digest: hex(c.digest) },
    params: i.params ? hex(i.params) : null,
    evidence: (i.evidence ?? []).map((e) => ({ kind: e.kind, scheme: e.scheme, signer: hex(e.signer), message: hex(e.message), signature: hex(e.signature) })),
    state: Object.fromEntries([...(i.state ?? new Map())].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, hex(v)])),
    ...(i.authenticated === undefined ? {} : { authenticated: i.authenticated }), // absent in older records: replays unchanged
    ...(i.request === undefined ? {} : { request: hex(encodeCanonical(i.request)) }), // wallet decisions only
  };
}

export function inputFromJson(j: Json, at: string): EvaluationInput {
  const o = j as { [k: string]: Json };
  const c = o.capsule as { [k: string]: Json };
  if (typeof o.now !== 'number' || typeof o.requester !== 'string' || !c) throw new TypeError(`${at}: not an evaluation input`);
  return {
    now: o.now,
    requester: o.requester,
    capsule: {
      id: bytes(c.id, `${at}.capsule.id`),
      created: c.created as number,
      owner: c.owner === null ? null : bytes(c.owner, `${at}.capsule.owner`),
      logic: bytes(c.logic, `${at}.capsule.logic`),
      size: c.size as number,
      digest: bytes(c.digest, `${at}.capsule.digest`),
    },
    params: o.params === null ? undefined : bytes(o.params, `${at}.params`),
    evidence: ((o.evidence ?? []) as { [k: string]: Json }[]).map(
      (e, n) =>
        ({
          kind: e.kind,
          scheme: e.scheme,
          signer: bytes(e.signer, `${at}.evidence[${n}].signer`),
          message: bytes(e.message, `${at}.evidence[${n}].message`),
          signature: bytes(e.signature, `${at}.evidence[${n}].signature`),
        }) as EvidenceItem,
    ),
    state: new Map(Object.entries((o.state ?? {}) as { [k: string]: Json }).map(([k, v]) => [k, bytes(v, `${at}.state.${k}`)])),
    ...(o.authenticated === undefined ? {} : { authenticated: boolOf(o.authenticated, `${at}.authenticated`) }),
    ...(o.request === undefined ? {} : { request: requestOf(o.request, `${at}.request`) }),
  };
}

/**
 * The request map from the hex of its deterministic CBOR: text-keyed maps as Map, byte strings as
 * Uint8Array, integers as numbers (bigint only beyond 2^53, as encoded), and nothing else.
 * @throws TypeError naming `at` (not hex, not one well-formed CBOR map, or not deterministic)
 */
function requestOf(h: Json, at: string): Map<string, unknown> {
  const cbor = bytes(h, at);
  let value: unknown;
  try {
    value = decode(cbor, { ...DECODE_OPTIONS, allowBigInt: true } as never); // a request's amounts may pass 2^53
  } catch (cause) {
    throw new TypeError(`${at}: expected the hex of one well-formed CBOR map`, { cause });
  }
  if (!(value instanceof Map)) throw new TypeError(`${at}: expected a CBOR map, got ${value === null ? 'null' : typeof value}`);
  if (!Buffer.from(encodeCanonical(value)).equals(Buffer.from(cbor))) throw new TypeError(`${at}: not deterministic CBOR (it would not replay byte for byte)`);
  return value as Map<string, unknown>;
}
