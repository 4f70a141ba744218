/**
 * TPM 2.0 wire format (TPM 2.0 Library Part 2, big-endian, TPM2B = u16 size ‖ bytes) for the few
 * structures the `tpm2` KeyStore sends and reads: object templates (SRK, RSA decrypt key, P-256
 * signing key, sealed data), PCR selections, schemes, and parsers for signatures, capability data
 * and public areas. tssBindings.ts turns these bytes into C structs with tpm2-tss's own
 * unmarshaller, so this file is the only place the layouts are written.
 *
 * Deliberately not here: talking to a TPM (Tpm2.ts), and any structure the KeyStore does not use.
 */

export const TPM2_ALG = {
  RSA: 0x0001,
  SHA256: 0x000b,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  NULL: 0x0010,
  ECDSA: 0x0018,
  OAEP: 0x0017,
  ECC: 0x0023,
  CFB: 0x0043,
} as const;
export const TPM2_ECC_NIST_P256 = 0x0003;
export const TPM2_SE_POLICY = 0x01;
export const TPM2_SE_TRIAL = 0x03;
export const TPM2_CAP_HANDLES = 0x00000001;
export const TPM2_CAP_TPM_PROPERTIES = 0x00000006;
export const TPM2_HT_TRANSIENT = 0x80000000;
export const TPM2_PT_MANUFACTURER = 0x105;
export const TPM2_PT_VENDOR_STRING_1 = 0x106;
export const TPM2_PT_FIRMWARE_VERSION_1 = 0x10b;
export const TPM2_PT_FIRMWARE_VERSION_2 = 0x10c;
export const TPM2_PT_LOCKOUT_COUNTER = 0x20e;
/** TPMA_PERMANENT; bit 9 is inLockout. */
export const TPM2_PT_PERMANENT = 0x200;
export const TPMA_PERMANENT_IN_LOCKOUT = 1 << 9;

/** TPMA_OBJECT bits (Part 2 §8.3). */
const A = {
  fixedTPM: 0x2,
  fixedParent: 0x10,
  sensitiveDataOrigin: 0x20,
  userWithAuth: 0x40,
  noDA: 0x400,
  restricted: 0x10000,
  decrypt: 0x20000,
  sign: 0x40000,
};

export class Writer {
  #parts: number[] = [];
  u8(v: number): this {
    this.#parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.#parts.push(x);
    return this;
  }
  /** A TPM2B: u16 size ‖ bytes. */
  b(b: Uint8Array): this {
    return this.u16(b.length).bytes(b);
  }
  /** A TPM2B around what `f` writes (TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE). */
  sized(f: (w: Writer) => void): this {
    const inner = new Writer();
    f(inner);
    return this.b(inner.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

export class Reader {
  #v: DataView;
  #o = 0;
  readonly #b: Uint8Array;
  constructor(b: Uint8Array) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  u8(): number {
    return this.#v.getUint8(this.#o++);
  }
  u16(): number {
    const v = this.#v.getUint16(this.#o);
    this.#o += 2;
    return v;
  }
  u32(): number {
    const v = this.#v.getUint32(this.#o);
    this.#o += 4;
    return v;
  }
  bytes(n: number): Uint8Array {
    if (this.#o + n > this.#b.length) throw new RangeError('TPM structure truncated');
    const out = this.#b.slice(this.#o, this.#o + n);
    this.#o += n;
    return out;
  }
  b(): Uint8Array {
    return this.bytes(this.u16());
  }
}

const empty = new Uint8Array(0);

/** The storage root key's template: ECC P-256, restricted decrypt, AES-128-CFB, noDA (TCG SRK shape). */
export function srkTemplate(): Uint8Array {
  return new Writer()
    .sized((w) =>
      w
        .u16(TPM2_ALG.ECC)
        .u16(TPM2_ALG.SHA256)
        .u32(A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.restricted | A.decrypt)
        .b(empty)
        .u16(TPM2_ALG.AES)
        .u16(128)
        .u16(TPM2_ALG.CFB)
        .u16(TPM2_ALG.NULL)
        .u16(TPM2_ECC_NIST_P256)
        .u16(TPM2_ALG.NULL)
        .b(empty)
        .b(empty),
    )
    .done();
}

/** The guardian's RSA-2048 decryption key: not restricted (a restricted key cannot RSA-decrypt), OAEP/SHA-256 only. */
export function rsaDecryptTemplate(): Uint8Array {
  return new Writer()
    .sized((w) =>
      w
        .u16(TPM2_ALG.RSA)
        .u16(TPM2_ALG.SHA256)
        .u32(A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.decrypt)
        .b(empty)
        .u16(TPM2_ALG.NULL)
        .u16(TPM2_ALG.OAEP)
        .u16(TPM2_ALG.SHA256)
        .u16(2048)
        .u32(0)
        .b(empty),
    )
    .done();
}

/** The guardian's P-256 signing key: ECDSA/SHA-256 only. */
export function p256SignTemplate(): Uint8Array {
  return new Writer()
    .sized((w) =>
      w
        .u16(TPM2_ALG.ECC)
        .u16(TPM2_ALG.SHA256)
        .u32(A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.sign)
        .b(empty)
        .u16(TPM2_ALG.NULL)
        .u16(TPM2_ALG.ECDSA)
        .u16(TPM2_ALG.SHA256)
        .u16(TPM2_ECC_NIST_P256)
        .u16(TPM2_ALG.NULL)
        .b(empty)
        .b(empty),
    )
    .done();
}

/**
 * A sealed data object usable only through `policy` (userWithAuth clear, so the authValue alone is
 * not enough: the policy says authValue and, when PCRs are chosen, their values).
 */
export function sealTemplate(policy: Uint8Array): Uint8Array {
  return new Writer()
    .sized((w) =>
      w
        .u16(TPM2_ALG.KEYEDHASH)
        .u16(TPM2_ALG.SHA256)
        .u32(A.fixedTPM | A.fixedParent)
        .b(policy)
        .u16(TPM2_ALG.NULL)
        .b(empty),
    )
    .done();
}

/**
 * TPM2B_SENSITIVE_CREATE: the object's authValue and, for a sealed object, its data. Written
 * straight into one Uint8Array (no intermediate arrays), so the caller can wipe the only copy.
 */
export function sensitiveCreate(auth: Uint8Array, data: Uint8Array = empty): Uint8Array {
  const out = new Uint8Array(2 + 2 + auth.length + 2 + data.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, out.length - 2);
  v.setUint16(2, auth.length);
  out.set(auth, 4);
  v.setUint16(4 + auth.length, data.length);
  out.set(data, 6 + auth.length);
  return out;
}

/** TPML_PCR_SELECTION of `pcrs` in the SHA-256 bank (empty list: no selection). */
export function pcrSelection(pcrs: readonly number[]): Uint8Array {
  const w = new Writer();
  if (pcrs.length === 0) return w.u32(0).done();
  const select = new Uint8Array(3);
  for (const p of pcrs) select[p >> 3]! |= 1 << (p & 7);
  return w.u32(1).u16(TPM2_ALG.SHA256).u8(3).bytes(select).done();
}

/** A TPM2B around `b`, in one Uint8Array the caller may wipe (authValues pass through here). */
export function tpm2b(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + b.length);
  out[0] = b.length >>> 8;
  out[1] = b.length & 0xff;
  out.set(b, 2);
  return out;
}
export const oaepScheme = (): Uint8Array => new Writer().u16(TPM2_ALG.OAEP).u16(TPM2_ALG.SHA256).done();
export const ecdsaScheme = (): Uint8Array => new Writer().u16(TPM2_ALG.ECDSA).u16(TPM2_ALG.SHA256).done();
/** A null hash-check ticket (the digest was not made by the TPM: fine for a non-restricted key). */
export const nullTicket = (): Uint8Array => new Writer().u16(0x8024).u32(0x40000007).b(empty).done();
export const symNull = (): Uint8Array => new Writer().u16(TPM2_ALG.NULL).done();
export const symAes128Cfb = (): Uint8Array => new Writer().u16(TPM2_ALG.AES).u16(128).u16(TPM2_ALG.CFB).done();

/** The unique field of a TPM2B_PUBLIC: the RSA modulus, or the ECC point X ‖ Y. */
export function publicUnique(pub: Uint8Array): { type: number; rsaModulus?: Uint8Array; ecc?: Uint8Array } {
  const r = new Reader(new Reader(pub).b());
  const type = r.u16();
  r.u16(); // nameAlg
  r.u32(); // attributes
  r.b(); // authPolicy
  if (type === TPM2_ALG.RSA) {
    const sym = r.u16();
    if (sym !== TPM2_ALG.NULL) {
      r.u16();
      r.u16();
    }
    const scheme = r.u16();
    if (scheme !== TPM2_ALG.NULL) r.u16();
    r.u16();
    r.u32(); // keyBits, exponent
    return { type, rsaModulus: r.b() };
  }
  if (type === TPM2_ALG.ECC) {
    const sym = r.u16();
    if (sym !== TPM2_ALG.NULL) {
      r.u16();
      r.u16();
    }
    const scheme = r.u16();
    if (scheme !== TPM2_ALG.NULL) r.u16();
    r.u16(); // curve
    const kdf = r.u16();
    if (kdf !== TPM2_ALG.NULL) r.u16();
    const x = r.b();
    const y = r.b();
    const out = new Uint8Array(64);
    out.set(x, 32 - x.length);
    out.set(y, 64 - y.length);
    return { type, ecc: out };
  }
  return { type };
}

/** r ‖ s (64 bytes) from a TPMT_SIGNATURE holding ECDSA. */
export function ecdsaSignature(sig: Uint8Array): Uint8Array {
  const r = new Reader(sig);
  const alg = r.u16();
  if (alg !== TPM2_ALG.ECDSA) throw new RangeError(`TPMT_SIGNATURE: expected ECDSA (0x0018), got 0x${alg.toString(16)}`);
  r.u16();
  const R = r.b();
  const S = r.b();
  const out = new Uint8Array(64);
  out.set(R, 32 - R.length);
  out.set(S, 64 - S.length);
  return out;
}

/** TPMS_CAPABILITY_DATA for TPM properties: property → value. */
export function tpmProperties(data: Uint8Array): Map<number, number> {
  const r = new Reader(data);
  if (r.u32() !== TPM2_CAP_TPM_PROPERTIES) throw new RangeError('TPMS_CAPABILITY_DATA: not TPM properties');
  const out = new Map<number, number>();
  for (let n = r.u32(); n > 0; n--) out.set(r.u32(), r.u32());
  return out;
}

/** TPMS_CAPABILITY_DATA for handles: the list. */
export function handleList(data: Uint8Array): number[] {
  const r = new Reader(data);
  if (r.u32() !== TPM2_CAP_HANDLES) throw new RangeError('TPMS_CAPABILITY_DATA: not handles');
  const out: number[] = [];
  for (let n = r.u32(); n > 0; n--) out.push(r.u32());
  return out;
}
