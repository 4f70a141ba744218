/**
 * FAPI versus ESYS, measured (`npx node bench/tpmFapi.ts`): the evidence for the `tpm2` KeyStore's
 * choice of tpm2-tss API. One swtpm, one process, both APIs through koffi, on the same TPM:
 *
 * - FAPI (libtss2-fapi): a keystore in a temp dir, provisioned with the two stock profiles (RSA for
 *   the decrypt key and the seal, ECC for the P-256 signing key), then Fapi_Decrypt, Fapi_Sign and
 *   Fapi_Unseal by path. On every call FAPI reads the key's JSON, starts a salted session, loads
 *   the key and flushes both (Fapi_Decrypt sends GetCapability, StartAuthSession, Load,
 *   RSA_Decrypt, FlushContext ×2: seen with TSS2_LOG=tcti+debug).
 * - ESYS (libtss2-esys through agent/keys/tpm2/tssBindings.ts): an ECC P-256 SRK made once, keys
 *   made once; RSA_Decrypt and Sign on a kept-loaded key with a password session, and
 *   Load+Unseal+FlushContext of a sealed object. Inputs are the KeyStore's wire bytes
 *   (agent/keys/tpm2/tpmWire.ts) turned into C structs by tpm2-tss's own unmarshaller, as
 *   tssBindings.ts prescribes; the keys get noDA and the seal no policy, as FAPI's do here.
 *
 * Each figure is the median of samples from interleaved rounds (FAPI and ESYS alternate, and which
 * goes first alternates too), all in-process and all through koffi's `.async` (the KeyStore's way).
 * Start-up costs are timed once per fresh swtpm and the median of those taken.
 *
 * Deliberately not here: tpm2-tools and node:crypto peers (bench/tpmPeers.ts), and any use as a
 * test: it asserts results only so that a figure is never taken from a failing call.
 */
import koffi from 'koffi';
import { createPublicKey, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { startSwtpm, type Swtpm } from '../test/helpers/swtpm.ts';
import {
  ESYS_TR_NONE,
  ESYS_TR_PASSWORD,
  ESYS_TR_RH_OWNER,
  STRUCT_BUFFER_SIZE,
  loadTss,
  type EsysCall,
  type MuType,
  type TssLibrary,
} from '../agent/keys/tpm2/tssBindings.ts';
import {
  TPM2_ALG,
  Writer,
  ecdsaScheme,
  ecdsaSignature,
  nullTicket,
  oaepScheme,
  p256SignTemplate,
  pcrSelection,
  publicUnique,
  rsaDecryptTemplate,
  sensitiveCreate,
  srkTemplate,
  tpm2b,
} from '../agent/keys/tpm2/tpmWire.ts';

// Both libraries log to stderr by default; this script prints only its table.
process.env.TSS2_LOG ??= 'all+NONE';
const ROUNDS = Number(process.env.TPM_BENCH_ROUNDS ?? 20);
const PER_ROUND = 5;
const STARTS = Number(process.env.TPM_BENCH_STARTS ?? 5);
const PROFILES = '/etc/tpm2-tss/fapi-profiles/';

// ---- TPM wire bytes: tpmWire.ts's, with the attributes FAPI gives its objects here ------------
// FAPI's keys are made 'noDa' and its seal has no policy, so the ESYS objects are too: the
// KeyStore's key templates with noDA added, and a seal opened by its authValue (userWithAuth, empty
// policy), which tpmWire's sealTemplate(policy) does not make.
const ATTR = { fixedTPM: 0x2, fixedParent: 0x10, userWithAuth: 0x40, noDA: 0x400 };
const empty = new Uint8Array(0);
/** A TPM2B_PUBLIC template with noDA added to its objectAttributes (after size, type and nameAlg). */
const noDA = (template: Uint8Array) => {
  const v = new DataView(template.buffer, template.byteOffset);
  v.setUint32(6, v.getUint32(6) | ATTR.noDA);
  return template;
};
const sealTemplate = () =>
  new Writer()
    .sized((w) =>
      w
        .u16(TPM2_ALG.KEYEDHASH)
        .u16(TPM2_ALG.SHA256)
        .u32(ATTR.fixedTPM | ATTR.fixedParent | ATTR.userWithAuth | ATTR.noDA)
        .b(empty)
        .u16(TPM2_ALG.NULL)
        .b(empty),
    )
    .done();

// ---- ESYS through the project's raw bindings -------------------------------------------------
class Esys {
  readonly lib: TssLibrary;
  #tcti: [unknown] = [null];
  #ctx: [unknown] = [null];
  constructor(lib: TssLibrary) {
    this.lib = lib;
  }

  open(tcti: string): void {
    let rc = this.lib.tctiInit(tcti, this.#tcti);
    if (rc !== 0) throw new Error(`Tss2_TctiLdr_Initialize(${tcti}): ${this.lib.rcDecode(rc)}`);
    rc = this.lib.esysInit(this.#ctx, this.#tcti[0], null);
    if (rc !== 0) throw new Error(`Esys_Initialize: ${this.lib.rcDecode(rc)}`);
  }

  close(): void {
    if (this.#ctx[0]) this.lib.esysFinalize(this.#ctx);
    if (this.#tcti[0]) this.lib.tctiFinalize(this.#tcti);
  }

  call(name: EsysCall, ...args: unknown[]): Promise<void> {
    return new Promise((resolve, reject) =>
      this.lib.esys[name].async(this.#ctx[0], ...args, (err: unknown, rc: number) => {
        if (err) reject(err);
        else if (rc !== 0) reject(new Error(`Esys_${name}: ${this.lib.rcDecode(rc)} (0x${rc.toString(16)})`));
        else resolve();
      }),
    );
  }

  /** Wire bytes → the C struct, by tpm2-tss's unmarshaller. */
  in(type: MuType, wire: Uint8Array): Uint8Array {
    const dest = new Uint8Array(STRUCT_BUFFER_SIZE);
    const rc = this.lib.unmarshal[type](wire, wire.length, [0], dest);
    if (rc !== 0) throw new Error(`Tss2_MU_${type}_Unmarshal: ${this.lib.rcDecode(rc)}`);
    return dest;
  }

  /**
   * A struct ESYS allocated → wire bytes, then freed. A TPM2B holding a secret is wiped first: its
   * C layout is the wire layout (u16 size ‖ bytes), so the marshalled length covers it exactly.
   */
  out(type: MuType, ptr: unknown, secret = false): Uint8Array {
    const buf = new Uint8Array(STRUCT_BUFFER_SIZE);
    const offset: [number] = [0];
    const rc = this.lib.marshal[type](ptr, buf, buf.length, offset);
    if (secret) this.lib.wipe(ptr, offset[0]);
    this.lib.esysFree(ptr);
    if (rc !== 0) throw new Error(`Tss2_MU_${type}_Marshal: ${this.lib.rcDecode(rc)}`);
    return buf.slice(0, offset[0]);
  }

  async createPrimary(): Promise<number> {
    const h: [number] = [0];
    const pub: [unknown] = [null];
    await this.call(
      'CreatePrimary',
      ESYS_TR_RH_OWNER,
      ESYS_TR_PASSWORD,
      ESYS_TR_NONE,
      ESYS_TR_NONE,
      this.in('TPM2B_SENSITIVE_CREATE', sensitiveCreate(empty)),
      this.in('TPM2B_PUBLIC', srkTemplate()),
      this.in('TPM2B_DATA', tpm2b(empty)),
      this.in('TPML_PCR_SELECTION', pcrSelection([])),
      h,
      pub,
      null,
      null,
      null,
    );
    this.lib.esysFree(pub[0]);
    return h[0];
  }

  async create(parent: number, template: Uint8Array, data?: Uint8Array): Promise<{ priv: Uint8Array; pub: Uint8Array }> {
    const priv: [unknown] = [null];
    const pub: [unknown] = [null];
    await this.call(
      'Create',
      parent,
      ESYS_TR_PASSWORD,
      ESYS_TR_NONE,
      ESYS_TR_NONE,
      this.in('TPM2B_SENSITIVE_CREATE', sensitiveCreate(empty, data)),
      this.in('TPM2B_PUBLIC', template),
      this.in('TPM2B_DATA', tpm2b(empty)),
      this.in('TPML_PCR_SELECTION', pcrSelection([])),
      priv,
      pub,
      null,
      null,
      null,
    );
    return { priv: this.out('TPM2B_PRIVATE', priv[0]), pub: this.out('TPM2B_PUBLIC', pub[0]) };
  }

  async load(parent: number, key: { priv: Uint8Array; pub: Uint8Array }): Promise<number> {
    const h: [number] = [0];
    await this.call('Load', parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, this.in('TPM2B_PRIVATE', key.priv), this.in('TPM2B_PUBLIC', key.pub), h);
    return h[0];
  }

  async decrypt(key: number, ciphertext: Uint8Array): Promise<Uint8Array> {
    const m: [unknown] = [null];
    await this.call(
      'RSA_Decrypt',
      key,
      ESYS_TR_PASSWORD,
      ESYS_TR_NONE,
      ESYS_TR_NONE,
      this.in('TPM2B_PUBLIC_KEY_RSA', tpm2b(ciphertext)),
      this.in('TPMT_RSA_DECRYPT', oaepScheme()),
      this.in('TPM2B_DATA', tpm2b(empty)),
      m,
    );
    return this.out('TPM2B_PUBLIC_KEY_RSA', m[0], true).subarray(2);
  }

  async sign(key: number, digest: Uint8Array): Promise<Uint8Array> {
    const s: [unknown] = [null];
    await this.call(
      'Sign',
      key,
      ESYS_TR_PASSWORD,
      ESYS_TR_NONE,
      ESYS_TR_NONE,
      this.in('TPM2B_DIGEST', tpm2b(digest)),
      this.in('TPMT_SIG_SCHEME', ecdsaScheme()),
      this.in('TPMT_TK_HASHCHECK', nullTicket()),
      s,
    );
    return ecdsaSignature(this.out('TPMT_SIGNATURE', s[0]));
  }

  async unseal(parent: number, sealed: { priv: Uint8Array; pub: Uint8Array }): Promise<Uint8Array> {
    const h = await this.load(parent, sealed);
    try {
      const d: [unknown] = [null];
      await this.call('Unseal', h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, d);
      return this.out('TPM2B_SENSITIVE_DATA', d[0], true).subarray(2);
    } finally {
      await this.call('FlushContext', h);
    }
  }

  flush(h: number): Promise<void> {
    return this.call('FlushContext', h);
  }
}

// ---- FAPI through koffi (measurement only: the KeyStore does not use it) ----------------------
const fapiLib = koffi.load('libtss2-fapi.so.1');
type AsyncFn = ((...a: unknown[]) => number) & { async: (...a: unknown[]) => void };
const F = {
  Initialize: fapiLib.func('uint32_t Fapi_Initialize(_Out_ void **ctx, const char *uri)') as AsyncFn,
  Finalize: fapiLib.func('void Fapi_Finalize(_Inout_ void **ctx)') as AsyncFn,
  Provision: fapiLib.func('uint32_t Fapi_Provision(void *ctx, const char *authEh, const char *authSh, const char *authLockout)') as AsyncFn,
  CreateKey: fapiLib.func('uint32_t Fapi_CreateKey(void *ctx, const char *path, const char *type, const char *policyPath, const char *authValue)') as AsyncFn,
  CreateSeal: fapiLib.func(
    'uint32_t Fapi_CreateSeal(void *ctx, const char *path, const char *type, size_t size, const char *policyPath, const char *authValue, const uint8_t *data)',
  ) as AsyncFn,
  GetTpmBlobs: fapiLib.func(
    'uint32_t Fapi_GetTpmBlobs(void *ctx, const char *path, _Out_ void **pub, _Out_ size_t *pubSize, _Out_ void **priv, _Out_ size_t *privSize, _Out_ void **policy)',
  ) as AsyncFn,
  Decrypt: fapiLib.func(
    'uint32_t Fapi_Decrypt(void *ctx, const char *path, const uint8_t *cipher, size_t cipherSize, _Out_ void **plain, _Out_ size_t *plainSize)',
  ) as AsyncFn,
  Sign: fapiLib.func(
    'uint32_t Fapi_Sign(void *ctx, const char *path, const char *padding, const uint8_t *digest, size_t digestSize, _Out_ void **sig, _Out_ size_t *sigSize, _Out_ void **publicKey, _Out_ void **certificate)',
  ) as AsyncFn,
  Unseal: fapiLib.func('uint32_t Fapi_Unseal(void *ctx, const char *path, _Out_ void **data, _Out_ size_t *size)') as AsyncFn,
  Free: fapiLib.func('void Fapi_Free(void *ptr)') as AsyncFn,
};
const lib = loadTss(); // also Tss2_RC_Decode and explicit_bzero for the FAPI half

function fapi(name: keyof typeof F, ...args: unknown[]): Promise<void> {
  return new Promise((resolve, reject) =>
    F[name].async(...args, (err: unknown, rc: number) => {
      if (err) reject(err);
      else if (rc !== 0) reject(new Error(`Fapi_${name}: ${lib.rcDecode(rc)} (0x${rc.toString(16)})`));
      else resolve();
    }),
  );
}

/** Copies `n` bytes FAPI allocated, wipes and frees them. */
function fapiTake(ptr: unknown, n: number): Uint8Array {
  const out = Uint8Array.from(koffi.decode(ptr, 'uint8_t', n) as number[]);
  lib.wipe(ptr, n);
  F.Free(ptr);
  return out;
}

/**
 * A FAPI configuration in `dir` for `profile`. The stock profiles both name 0x81000001 for their
 * persistent SRK, so the second one provisioned on a TPM fails ("SRK persistent handle already
 * defined"): the ECC profile is copied with 0x81000002 instead, the only change.
 */
function fapiConfig(dir: string, tcti: string, profile: string): string {
  const profiles = join(dir, 'profiles');
  mkdirSync(profiles, { recursive: true });
  cpSync(join(PROFILES, 'P_RSA2048SHA256.json'), join(profiles, 'P_RSA2048SHA256.json'));
  writeFileSync(join(profiles, 'P_ECCP256SHA256.json'), readFileSync(join(PROFILES, 'P_ECCP256SHA256.json'), 'utf8').replace('0x81000001', '0x81000002'));
  const file = join(dir, `fapi-config-${profile}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      profile_name: profile,
      profile_dir: profiles + '/',
      user_dir: join(dir, 'user'),
      system_dir: join(dir, 'system'),
      log_dir: join(dir, 'log'),
      tcti,
      system_pcrs: [],
      ek_cert_less: 'yes',
    }),
  );
  return file;
}

/** Fapi_Initialize under `config` (FAPI reads TSS2_FAPICONF at initialisation only). */
async function fapiOpen(config: string): Promise<[unknown]> {
  process.env.TSS2_FAPICONF = config;
  const ctx: [unknown] = [null];
  await fapi('Initialize', ctx, null);
  return ctx;
}

// ---- measurement ---------------------------------------------------------------------------
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const time = async (f: () => Promise<unknown>) => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};

/** Interleaved rounds of `a` and `b` (order alternating), PER_ROUND samples each per round. */
async function interleave(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const xa: number[] = [];
  const xb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const run = async (f: () => Promise<unknown>, xs: number[]) => {
      for (let i = 0; i < PER_ROUND; i++) xs.push(await time(f));
    };
    if (r % 2 === 0) {
      await run(a, xa);
      await run(b, xb);
    } else {
      await run(b, xb);
      await run(a, xa);
    }
  }
  return [median(xa), median(xb)];
}

const assertEqual = (what: string, got: Uint8Array, want: Uint8Array) => {
  if (!Buffer.from(got).equals(Buffer.from(want)))
    throw new Error(`${what}: got ${Buffer.from(got).toString('hex')}, expected ${Buffer.from(want).toString('hex')}`);
};

if (!statSync(PROFILES, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${PROFILES} is missing: install libtss2-fapi1`);

/** Start-up on a fresh TPM: FAPI first boot (both profiles), FAPI restart, ESYS start (before FAPI when `esysFirst`). */
async function startUp(esysFirst: boolean): Promise<{ fapiFirst: number; fapiSecond: number; fapiRestart: number; esys: number }> {
  const tpm = await startSwtpm();
  const dir = mkdtempSync(join(tmpdir(), 'fapi-start-'));
  const ctxs: [unknown][] = [];
  const esys = new Esys(lib);
  try {
    const rsa = fapiConfig(dir, tpm.tcti, 'P_RSA2048SHA256');
    const ecc = fapiConfig(dir, tpm.tcti, 'P_ECCP256SHA256');
    const esysStart = () =>
      time(async () => {
        esys.open(tpm.tcti);
        await esys.flush(await esys.createPrimary());
      });
    const esysEarly = esysFirst ? await esysStart() : NaN;
    const fapiFirst = await time(async () => {
      const c = await fapiOpen(rsa);
      ctxs.push(c);
      await fapi('Provision', c[0], null, null, null);
    });
    const fapiSecond = await time(async () => {
      const c = await fapiOpen(ecc);
      ctxs.push(c);
      await fapi('Provision', c[0], null, null, null);
    });
    const fapiRestart = await time(async () => {
      ctxs.push(await fapiOpen(rsa));
    });
    return { fapiFirst, fapiSecond, fapiRestart, esys: esysFirst ? esysEarly : await esysStart() };
  } finally {
    for (const c of ctxs) F.Finalize(c);
    esys.close();
    await tpm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const starts: Awaited<ReturnType<typeof startUp>>[] = [];
for (let i = 0; i < STARTS; i++) starts.push(await startUp(i % 2 === 1));

let tpm: Swtpm | undefined;
const dir = mkdtempSync(join(tmpdir(), 'fapi-bench-'));
const fctx: [unknown][] = [];
const esys = new Esys(lib);
const rows: [string, number, number][] = [];
const once: [string, number, number][] = [];
const files: string[] = [];
const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
try {
  tpm = await startSwtpm();
  const rsaCfg = fapiConfig(dir, tpm.tcti, 'P_RSA2048SHA256');
  const eccCfg = fapiConfig(dir, tpm.tcti, 'P_ECCP256SHA256');
  fctx.push(await fapiOpen(eccCfg));
  await fapi('Provision', fctx[0]![0], null, null, null);
  fctx.push(await fapiOpen(rsaCfg));
  const f = fctx[1]![0];
  await fapi('Provision', f, null, null, null);
  const RSA = '/P_RSA2048SHA256/HS/SRK/capsuleRsa';
  const SIGN = '/P_ECCP256SHA256/HS/SRK/capsuleSign';
  const SEAL = '/P_RSA2048SHA256/HS/SRK/capsuleSeal';
  const secret = randomBytes(64);
  const tFapiKey = await time(() => fapi('CreateKey', f, RSA, 'decrypt, noDa', '', null));
  await fapi('CreateKey', f, SIGN, 'sign, noDa', '', null);
  await fapi('CreateSeal', f, SEAL, 'noDa', secret.length, '', null, secret);

  // The decrypt key's public area, from FAPI's keystore: a ciphertext made outside the TPM, as a sealer would.
  const pub: [unknown] = [null],
    pubN: [number] = [0],
    priv: [unknown] = [null],
    privN: [number] = [0],
    pol: [unknown] = [null];
  await fapi('GetTpmBlobs', f, RSA, pub, pubN, priv, privN, pol);
  const fapiPub = fapiTake(pub[0], pubN[0]);
  F.Free(priv[0]);
  F.Free(pol[0]);
  const fileKey = randomBytes(32);
  const oaep = (pub: Uint8Array) =>
    publicEncrypt(
      {
        key: createPublicKey({ key: { kty: 'RSA', n: Buffer.from(publicUnique(pub).rsaModulus!).toString('base64url'), e: 'AQAB' }, format: 'jwk' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      fileKey,
    );
  const fapiCipher = oaep(fapiPub);
  const digest = randomBytes(32);

  const fDecrypt = async () => {
    const p: [unknown] = [null],
      n: [number] = [0];
    await fapi('Decrypt', f, RSA, fapiCipher, fapiCipher.length, p, n);
    return fapiTake(p[0], n[0]);
  };
  const fSign = async (withKey = false) => {
    const s: [unknown] = [null],
      n: [number] = [0],
      k: [unknown] = [null];
    await fapi('Sign', f, SIGN, null, digest, digest.length, s, n, withKey ? k : null, null);
    const pem = withKey ? (koffi.decode(k[0], 'char', -1) as string) : '';
    if (withKey) F.Free(k[0]);
    return { sig: fapiTake(s[0], n[0]), pem };
  };
  const fUnseal = async () => {
    const d: [unknown] = [null],
      n: [number] = [0];
    await fapi('Unseal', f, SEAL, d, n);
    return fapiTake(d[0], n[0]);
  };

  // ESYS: the SRK made once, keys made once. swtpm has three object slots and no resource manager,
  // and FAPI needs two per call (its persistent SRK is paged into one while the key loads into
  // another), so where ESYS keeps a key loaded it flushes the SRK, needed only to load, and makes it
  // again (same seed, same template: the same key) for the next block, outside the timings.
  esys.open(tpm.tcti);
  const tEsysPrimary = await time(async () => {
    await esys.flush(await esys.createPrimary());
  });
  let srk = await esys.createPrimary();
  let rsaBlob!: { priv: Uint8Array; pub: Uint8Array };
  const tEsysKey = await time(async () => {
    rsaBlob = await esys.create(srk, noDA(rsaDecryptTemplate()));
  });
  const signBlob = await esys.create(srk, noDA(p256SignTemplate()));
  const sealBlob = await esys.create(srk, sealTemplate(), secret);
  const esysCipher = oaep(rsaBlob.pub);

  // Correctness before any figure: each path returns what it must.
  assertEqual('Fapi_Decrypt', await fDecrypt(), fileKey);
  const fs1 = await fSign(true);
  const fapiPoint = new Uint8Array(createPublicKey(fs1.pem).export({ format: 'der', type: 'spki' }).subarray(-65));
  if (!p256.verify(fs1.sig, digest, fapiPoint, { prehash: false, format: 'der', lowS: false })) throw new Error('Fapi_Sign: signature does not verify');
  assertEqual('Fapi_Unseal', await fUnseal(), secret);
  assertEqual('Esys_Unseal', await esys.unseal(srk, sealBlob), secret);

  /** Loads `blob`, flushes the SRK, runs `f` with the key, flushes it and makes the SRK again. */
  const withKey = async <T>(blob: { priv: Uint8Array; pub: Uint8Array }, f: (key: number) => Promise<T>): Promise<T> => {
    const key = await esys.load(srk, blob);
    await esys.flush(srk);
    try {
      return await f(key);
    } finally {
      await esys.flush(key);
      srk = await esys.createPrimary();
    }
  };
  await withKey(rsaBlob, async (key) => {
    assertEqual('Esys_RSA_Decrypt', await esys.decrypt(key, esysCipher), fileKey);
    const [a, b] = await interleave(fDecrypt, () => esys.decrypt(key, esysCipher));
    rows.push(['RSA-OAEP decrypt (ESYS: key kept loaded)', a, b]);
  });
  const loadDecryptFlush = async () => {
    const k = await esys.load(srk, rsaBlob);
    try {
      return await esys.decrypt(k, esysCipher);
    } finally {
      await esys.flush(k);
    }
  };
  const [fd2, ed2] = await interleave(fDecrypt, loadDecryptFlush);
  rows.push(['RSA-OAEP decrypt (ESYS: Load+decrypt+Flush, as FAPI does)', fd2, ed2]);
  await withKey(signBlob, async (key) => {
    if (!p256.verify(await esys.sign(key, digest), digest, Uint8Array.from([4, ...publicUnique(signBlob.pub).ecc!]), { prehash: false, lowS: false }))
      throw new Error('Esys_Sign: signature does not verify');
    const [a, b] = await interleave(
      () => fSign(),
      () => esys.sign(key, digest),
    );
    rows.push(['P-256 sign of a digest (ESYS: key kept loaded)', a, b]);
  });
  const [fu, eu] = await interleave(fUnseal, () => esys.unseal(srk, sealBlob));
  rows.push(['unseal 64 B (ESYS: Load+Unseal+Flush)', fu, eu]);
  once.push(['create RSA-2048 decrypt key (one run: prime search varies)', tFapiKey, tEsysKey], ['create primary ECC P-256 SRK (one run)', NaN, tEsysPrimary]);
  await esys.flush(srk);
  files.push(
    ...walk(dir)
      .filter((p) => !p.includes('/profiles/') && !p.includes('fapi-config'))
      .map((p) => `${relative(dir, p)}  ${statSync(p).size} B`),
  );
} finally {
  for (const c of fctx.reverse()) F.Finalize(c);
  esys.close();
  await tpm?.stop();
  rmSync(dir, { recursive: true, force: true });
}

const ms = (x: number) => (Number.isNaN(x) ? '—' : `${x.toFixed(2)} ms`);
console.log(`\nFAPI vs ESYS on swtpm, in-process through koffi (.async), medians of ${ROUNDS}×${PER_ROUND} interleaved samples each`);
console.log('| operation | FAPI | ESYS | FAPI/ESYS |');
console.log('|---|---|---|---|');
for (const [op, a, b] of rows) console.log(`| ${op} | ${ms(a)} | ${ms(b)} | ${(a / b).toFixed(2)}× |`);
for (const [op, a, b] of once) console.log(`| ${op} | ${ms(a)} | ${ms(b)} | ${Number.isNaN(a) ? '—' : (a / b).toFixed(2) + '×'} |`);
const m = (k: keyof (typeof starts)[number]) => median(starts.map((s) => s[k]));
console.log(`\nstart-up, medians of ${STARTS} fresh swtpms`);
console.log('| start | FAPI | ESYS |');
console.log('|---|---|---|');
console.log(
  `| first boot: Fapi_Initialize + Fapi_Provision (RSA profile) / TCTI + Esys_Initialize + CreatePrimary | ${ms(m('fapiFirst'))} | ${ms(m('esys'))} |`,
);
console.log(`| second profile (ECC): Fapi_Initialize + Fapi_Provision | ${ms(m('fapiSecond'))} | — |`);
console.log(`| every later start: Fapi_Initialize on the keystore / TCTI + Esys_Initialize + CreatePrimary | ${ms(m('fapiRestart'))} | ${ms(m('esys'))} |`);
console.log('\nfiles FAPI wrote in its keystore (user_dir user/, system_dir system/, log_dir log/):');
for (const f of files) console.log(`  ${f}`);
