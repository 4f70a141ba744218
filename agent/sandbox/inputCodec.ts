/**
 * The evaluation inputs' canonical CBOR (inputs.ts), written directly for their usual shapes:
 * cborg's canonical encoder sorts map keys by encoding each one, ~7 µs for a context map, which
 * was a large part of a warm evaluation. Here the keys of the context and evidence maps are a
 * fixed set whose canonical order (shorter encoding first, then bytewise: RFC 8949 §4.2.1) is
 * written out below, and state keys are sorted by (length, code units), the same order for the
 * ASCII strings accepted here.
 *
 * Every function returns undefined for a value outside the shapes it writes (a non-ASCII string, a
 * negative or non-integer number, a byte string that is not a Uint8Array, …): the caller then uses
 * the general encoder. So the bytes, and every inputsSha256, are encodeCanonical's
 * (test/sandbox-warm.test.ts compares the two on generated inputs).
 *
 * Deliberately not here: what the inputs mean (inputs.ts) and general CBOR (format/cbor.ts).
 */
import { encodeCanonical } from '../format/cbor.ts';
import type { EvaluationInput, EvidenceItem } from './inputs.ts';

const BYTES = 2;
const TEXT = 3;
const ARRAY = 4;
const MAP = 5;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;

/**
 * Appends CBOR items to a growing buffer, reused from one encoding to the next (allocating typed
 * arrays per call cost more than the encoding). Views it returns are valid until the next use of
 * the writer: callers copy what they keep.
 */
export class Writer {
  #buf = new Uint8Array(4096);
  #n = 0;
  #busy = false;

  /** The shared writer, emptied; a fresh one if it is in use (never, unless re-entered). */
  static take(): Writer {
    const w = shared.#busy ? new Writer() : shared;
    w.#busy = true;
    w.#n = 0;
    return w;
  }

  /** Hands the writer back (after take()). */
  give(): void {
    this.#busy = false;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#n;
  }

  /** A view of what was written from `start` on (valid until the writer is used again). */
  view(start: number): Uint8Array {
    return this.#buf.subarray(start, this.#n);
  }

  #room(extra: number): void {
    if (this.#n + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#n + extra));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next; // views of the old buffer stay as they were
  }

  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#n++] = b;
  }

  /** A head in shortest form: `value` a non-negative safe integer. */
  head(major: number, value: number): void {
    this.#room(9);
    const b = this.#buf;
    const m = major << 5;
    if (value < 24) b[this.#n++] = m | value;
    else if (value <= 0xff) {
      b[this.#n++] = m | 24;
      b[this.#n++] = value;
    } else if (value <= 0xffff) {
      b[this.#n++] = m | 25;
      b[this.#n++] = value >> 8;
      b[this.#n++] = value & 0xff;
    } else if (value <= 0xffffffff) {
      b[this.#n++] = m | 26;
      this.#u32(value);
    } else {
      b[this.#n++] = m | 27;
      this.#u32(Math.floor(value / 2 ** 32));
      this.#u32(value >>> 0);
    }
  }

  #u32(v: number): void {
    const b = this.#buf;
    b[this.#n++] = v >>> 24;
    b[this.#n++] = (v >>> 16) & 0xff;
    b[this.#n++] = (v >>> 8) & 0xff;
    b[this.#n++] = v & 0xff;
  }

  bytes(v: Uint8Array): void {
    this.head(BYTES, v.length);
    this.raw(v);
  }

  /** `s` is ASCII (checked by the caller): one byte per code unit. */
  ascii(s: string): void {
    this.head(TEXT, s.length);
    this.#room(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#n++] = s.charCodeAt(i);
  }

  raw(v: Uint8Array): void {
    this.#room(v.length);
    this.#buf.set(v, this.#n);
    this.#n += v.length;
  }
}

const shared = new Writer();

function isAscii(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

const isUint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/**
 * Writes the context map (inputs.ts contextGeneric): keys in canonical order now, capsule,
 * request, requester, authenticated; capsule's id, size, logic, owner, digest, created. `request`
 * (any value) is encodeCanonical's encoding of it, spliced in: a map value's encoding does not
 * depend on where it sits. `input.now` and `input.requester`'s type are checked by the caller.
 */
export function writeContext(w: Writer, input: EvaluationInput): Uint8Array | undefined {
  const c = input.capsule;
  const owner = c.owner ?? null;
  if (
    !isAscii(input.requester) ||
    !isBytes(c.id) ||
    !isBytes(c.logic) ||
    !isBytes(c.digest) ||
    !isUint(c.created) ||
    !isUint(c.size) ||
    (owner !== null && !isBytes(owner))
  )
    return undefined;
  const request = input.request === undefined ? undefined : encodeCanonical(input.request);
  const start = w.length;
  w.head(MAP, 3 + (request === undefined ? 0 : 1) + (input.authenticated === undefined ? 0 : 1));
  w.ascii('now');
  w.head(0, input.now);
  w.ascii('capsule');
  w.head(MAP, 6);
  w.ascii('id');
  w.bytes(c.id);
  w.ascii('size');
  w.head(0, c.size);
  w.ascii('logic');
  w.bytes(c.logic);
  w.ascii('owner');
  if (owner === null) w.byte(NULL);
  else w.bytes(owner);
  w.ascii('digest');
  w.bytes(c.digest);
  w.ascii('created');
  w.head(0, c.created);
  if (request !== undefined) {
    w.ascii('request');
    w.raw(request);
  }
  w.ascii('requester');
  w.ascii(input.requester);
  if (input.authenticated !== undefined) {
    w.ascii('authenticated');
    w.byte(input.authenticated === true ? TRUE : FALSE);
  }
  return w.view(start);
}

/** Writes the evidence array: each item's keys in canonical order kind, scheme, signer, message, signature. */
export function writeEvidence(w: Writer, items: readonly EvidenceItem[]): Uint8Array | undefined {
  for (const e of items) {
    if (!isAscii(e.kind) || !isAscii(e.scheme) || !isBytes(e.signer) || !isBytes(e.message) || !isBytes(e.signature)) return undefined;
  }
  const start = w.length;
  w.head(ARRAY, items.length);
  for (const e of items) {
    w.head(MAP, 5);
    w.ascii('kind');
    w.ascii(e.kind);
    w.ascii('scheme');
    w.ascii(e.scheme);
    w.ascii('signer');
    w.bytes(e.signer);
    w.ascii('message');
    w.bytes(e.message);
    w.ascii('signature');
    w.bytes(e.signature);
  }
  return w.view(start);
}

/** Writes the state map (hex key → value): keys by length, then code units (bytewise, for ASCII). */
export function writeState(w: Writer, state: ReadonlyMap<string, Uint8Array>): Uint8Array | undefined {
  const keys: string[] = [];
  for (const [k, v] of state) {
    if (!isAscii(k) || !isBytes(v)) return undefined;
    keys.push(k);
  }
  keys.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  const start = w.length;
  w.head(MAP, keys.length);
  for (const k of keys) {
    w.ascii(k);
    w.bytes(state.get(k)!);
  }
  return w.view(start);
}

/** Writes the array the inputs digest is taken over: [context, params or null, evidence, state] as byte strings. */
export function writeDigestItems(w: Writer, context: Uint8Array, params: unknown, evidence: Uint8Array, state: Uint8Array): Uint8Array | undefined {
  if (params !== null && !isBytes(params)) return undefined;
  const start = w.length;
  w.head(ARRAY, 4);
  w.bytes(context);
  if (params === null) w.byte(NULL);
  else w.bytes(params);
  w.bytes(evidence);
  w.bytes(state);
  return w.view(start);
}
