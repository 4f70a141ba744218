/**
 * A TPM 2.0 through tpm2-tss ESYS (tssBindings.ts): typed results, typed errors naming the call and
 * the TCTI, every library allocation copied out (secret ones wiped first) and released with
 * `Esys_Free` (counted in `freed`, so tests can prove nothing leaks), and every transient object and
 * session flushed when the operation that loaded it ends — there may be no resource manager between
 * us and the TPM (swtpm, or /dev/tpm0), and a TPM holds only a handful of objects.
 *
 * The storage root key (SRK) is re-created from the owner hierarchy's template when first needed
 * and kept loaded while this context is open: deterministic, so nothing about it is stored.
 *
 * Every call after open() runs on koffi's worker threads (`.async`), so the event loop never waits
 * on the TPM. Failures are never retried here: an authorisation failure counts toward the TPM's
 * dictionary-attack lockout, and retrying would only bring the lockout nearer.
 *
 * Deliberately not here: serialising callers (Tpm2KeyStore does: one ESYS context must not be used
 * concurrently), key files and blob formats (Tpm2KeyStore, tpmSeal.ts).
 */
import { KeyStoreError } from '../../errors.ts';
import { ESYS_TR_NONE, ESYS_TR_PASSWORD, ESYS_TR_RH_OWNER, loadTss, type EsysCall, type MuType, STRUCT_BUFFER_SIZE, type TssLibrary } from './tssBindings.ts';
import {
  ecdsaScheme,
  ecdsaSignature,
  handleList,
  nullTicket,
  oaepScheme,
  pcrSelection,
  sensitiveCreate,
  srkTemplate,
  symAes128Cfb,
  symNull,
  TPM2_CAP_HANDLES,
  TPM2_CAP_TPM_PROPERTIES,
  TPM2_HT_TRANSIENT,
  TPM2_PT_FIRMWARE_VERSION_1,
  TPM2_PT_FIRMWARE_VERSION_2,
  TPM2_PT_LOCKOUT_COUNTER,
  TPM2_PT_MANUFACTURER,
  TPM2_PT_PERMANENT,
  TPM2_PT_VENDOR_STRING_1,
  TPM2_SE_POLICY,
  TPMA_PERMANENT_IN_LOCKOUT,
  TPM2_SE_TRIAL,
  tpm2b,
  tpmProperties,
  TPM2_ALG,
  Reader,
} from './tpmWire.ts';

/** The TCTI a guardian uses unless configured otherwise: the kernel's resource manager. */
export const DEFAULT_TCTI = 'device:/dev/tpmrm0';

export interface TpmInfo {
  /** TPM2_PT_MANUFACTURER as its four ASCII letters (e.g. "IFX " for Infineon, "IBM " for swtpm). */
  manufacturer: string;
  vendor: string;
  /** TPM2_PT_FIRMWARE_VERSION_1.2 as "major.minor.build.revision"-style hex words. */
  firmware: string;
}

/** A TPM object as stored: its public area and TPM-wrapped private part (TPM2B wire bytes). */
export interface TpmBlob {
  public: Uint8Array;
  private: Uint8Array;
}

// TPM response codes this layer turns into typed errors (Part 2 §6.6; format 1 has the
// parameter/handle/session number in bits 6 and 8–11, masked away).
const TPM2_SE_HMAC = 0x00;
const SESSION_CONTINUE = 0x01;
const SESSION_ENCRYPT = 0x40;
const SESSION_DECRYPT = 0x20;

const RC = {
  AUTH_FAIL: 0x08e,
  BAD_AUTH: 0x0a2,
  POLICY_FAIL: 0x09d,
  INTEGRITY: 0x09f,
  VALUE: 0x084,
  LOCKOUT: 0x921,
  PCR_CHANGED: 0x128,
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  FAILURE: 0x101,
};

/** The TPM's own code of a TSS2_RC (0 when the error came from a software layer). */
export function tpmCode(rc: number): number {
  const layer = (rc >>> 16) & 0xff;
  if (layer !== 0 && layer !== 11) return 0; // 11: a resource manager passing the TPM's code on
  const low = rc & 0xffff;
  return low & 0x80 ? low & 0xbf : low;
}

/** A TPM format-1 error that names a command parameter (Part 2 §6.6.3: bits 7 and 6 set). */
function isParameterError(rc: number): boolean {
  const layer = (rc >>> 16) & 0xff;
  return (layer === 0 || layer === 11) && (rc & 0xc0) === 0xc0;
}

export class Tpm2 {
  readonly #lib: TssLibrary;
  readonly tcti: string;
  #ctx: unknown;
  #tctiCtx: unknown;
  #srk: Promise<{ handle: number; public: Uint8Array }> | undefined;
  /** Library allocations released so far (leak tests compare it with the calls made). */
  freed = 0;
  readonly info: TpmInfo;

  private constructor(lib: TssLibrary, tcti: string, tctiCtx: unknown, ctx: unknown, info: TpmInfo) {
    this.#lib = lib;
    this.tcti = tcti;
    this.#tctiCtx = tctiCtx;
    this.#ctx = ctx;
    this.info = info;
  }

  /**
   * Connects through `tcti` (tpm2-tss syntax: `device:/dev/tpmrm0`, `swtpm:host=127.0.0.1,port=N`)
   * and reads the manufacturer and firmware.
   * @throws KeyStoreError ERR_MODULE_ABSENT when tpm2-tss cannot be loaded or no TPM answers.
   */
  static async open(tcti = DEFAULT_TCTI): Promise<Tpm2> {
    if (typeof tcti !== 'string' || tcti === '')
      throw new TypeError(`tcti: expected a tpm2-tss TCTI string such as ${DEFAULT_TCTI}, got ${JSON.stringify(tcti)}`);
    let lib: TssLibrary;
    try {
      lib = loadTss();
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', 'tpm2: cannot load tpm2-tss (libtss2-esys.so.0, libtss2-tctildr.so.0, libtss2-mu.so.0)', {
        cause,
        hint: 'install the TPM libraries: apt-get install libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-mu0 libtss2-rc0',
      });
    }
    const tctiOut: [unknown] = [null];
    let rc = lib.tctiInit(tcti, tctiOut);
    if (rc !== 0 || !tctiOut[0]) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', `tpm2: no TPM answers through TCTI ${tcti} (${lib.rcDecode(rc)})`, {
        hint: tcti.startsWith('device:')
          ? 'check the TPM is enabled (dtoverlay=tpm-slb9670 on a Pi) and this user may open the device (group tss)'
          : 'check the TPM simulator is running at that address, or set the TCTI (CAPSULE_TPM_TCTI)',
      });
    }
    const ctxOut: [unknown] = [null];
    rc = lib.esysInit(ctxOut, tctiOut[0], null);
    if (rc !== 0 || !ctxOut[0]) {
      lib.tctiFinalize(tctiOut);
      throw new KeyStoreError('ERR_MODULE_ABSENT', `tpm2: Esys_Initialize failed through TCTI ${tcti} (${lib.rcDecode(rc)})`, {
        hint: 'check the TPM answers (tpm2_getcap properties-fixed)',
      });
    }
    const t = new Tpm2(lib, tcti, tctiOut[0], ctxOut[0], { manufacturer: '', vendor: '', firmware: '' });
    try {
      const p = await t.properties(TPM2_PT_MANUFACTURER, 8);
      const ascii = (v: number | undefined) =>
        v === undefined
          ? ''
          : Buffer.from([v >>> 24, v >>> 16, v >>> 8, v])
              .toString('latin1')
              .replace(/\0/g, '');
      const f1 = p.get(TPM2_PT_FIRMWARE_VERSION_1) ?? 0;
      const f2 = p.get(TPM2_PT_FIRMWARE_VERSION_2) ?? 0;
      Object.assign(t.info, {
        manufacturer: ascii(p.get(TPM2_PT_MANUFACTURER)),
        vendor: [0, 1, 2, 3]
          .map((i) => ascii(p.get(TPM2_PT_VENDOR_STRING_1 + i)))
          .join('')
          .trim(),
        firmware: `${f1 >>> 16}.${f1 & 0xffff}.${f2 >>> 16}.${f2 & 0xffff}`,
      });
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  /** Releases the SRK and the context. */
  async close(): Promise<void> {
    if (!this.#ctx) return;
    const srk = this.#srk;
    this.#srk = undefined;
    if (srk) await srk.then((s) => this.#call('FlushContext', this.#ctx, s.handle)).catch(() => {});
    this.#lib.esysFinalize([this.#ctx]);
    this.#lib.tctiFinalize([this.#tctiCtx]);
    this.#ctx = undefined;
  }

  /** `size` bytes from the TPM's RNG (asked for in pieces of at most 32 bytes). */
  async getRandom(size: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(size) || size < 0 || size > 65536) throw new RangeError(`size: expected an integer 0..65536, got ${size}`);
    const out = new Uint8Array(size);
    for (let at = 0; at < size; ) {
      const o: [unknown] = [null];
      this.#check('GetRandom', await this.#call('GetRandom', this.#live(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, Math.min(32, size - at), o));
      const got = new Reader(this.#take('TPM2B_DIGEST', o[0], true)).b();
      if (got.length === 0)
        throw new KeyStoreError('ERR_MODULE_CALL', 'tpm2: Esys_GetRandom returned no bytes', {
          hint: "the TPM's random generator is not working; check it (tpm2_getrandom 8)",
        });
      out.set(got.subarray(0, size - at), at);
      at += got.length;
      got.fill(0);
    }
    return out;
  }

  /** The SRK (created on first use, then kept loaded): its ESYS handle and public area. */
  srk(): Promise<{ handle: number; public: Uint8Array }> {
    this.#srk ??= (async () => {
      const h: [number] = [0];
      const pub: [unknown] = [null];
      const rc = await this.#call(
        'CreatePrimary',
        this.#live(),
        ESYS_TR_RH_OWNER,
        ESYS_TR_PASSWORD,
        ESYS_TR_NONE,
        ESYS_TR_NONE,
        this.#in('TPM2B_SENSITIVE_CREATE', sensitiveCreate(new Uint8Array(0))),
        this.#in('TPM2B_PUBLIC', srkTemplate()),
        this.#in('TPM2B_DATA', tpm2b(new Uint8Array(0))),
        this.#in('TPML_PCR_SELECTION', pcrSelection([])),
        h,
        pub,
        null,
        null,
        null,
      );
      this.#check('CreatePrimary', rc);
      try {
        return { handle: h[0], public: this.#take('TPM2B_PUBLIC', pub[0]) };
      } catch (e) {
        await this.#flush(h[0]);
        throw e;
      }
    })();
    this.#srk.catch(() => {
      this.#srk = undefined;
    });
    return this.#srk;
  }

  /**
   * Creates an object under the SRK from a template and TPM2B_SENSITIVE_CREATE (wiped by the
   * caller). The command goes through a session salted to the SRK with parameter encryption, so
   * the new object's authValue and sealed data cross the bus encrypted.
   */
  async create(template: Uint8Array, sensitive: Uint8Array): Promise<TpmBlob> {
    const srk = await this.srk();
    const priv: [unknown] = [null];
    const pub: [unknown] = [null];
    const inSensitive = this.#in('TPM2B_SENSITIVE_CREATE', sensitive);
    try {
      this.#check(
        'Create',
        await this.#withSession(
          TPM2_SE_HMAC,
          [],
          (session) =>
            this.#call(
              'Create',
              this.#live(),
              srk.handle,
              session,
              ESYS_TR_NONE,
              ESYS_TR_NONE,
              inSensitive,
              this.#in('TPM2B_PUBLIC', template),
              this.#in('TPM2B_DATA', tpm2b(new Uint8Array(0))),
              this.#in('TPML_PCR_SELECTION', pcrSelection([])),
              priv,
              pub,
              null,
              null,
              null,
            ),
          SESSION_DECRYPT,
        ),
      );
    } finally {
      inSensitive.fill(0);
    }
    let publicArea: Uint8Array;
    try {
      publicArea = this.#take('TPM2B_PUBLIC', pub[0]); // #take frees its pointer whatever happens
    } catch (e) {
      if (priv[0]) {
        this.#lib.esysFree(priv[0]);
        this.freed++;
      }
      throw e;
    }
    return { public: publicArea, private: this.#take('TPM2B_PRIVATE', priv[0]) };
  }

  /**
   * Loads `blob` under the SRK with `auth` as its authValue, runs `fn` with its handle, and flushes
   * it whatever happens.
   * @throws KeyStoreError ERR_LOCK_INTEGRITY when the TPM refuses the blob (made by another TPM,
   *   or altered); whatever `fn` throws.
   */
  async withLoaded<T>(blob: TpmBlob, auth: Uint8Array, fn: (handle: number) => Promise<T>): Promise<T> {
    const srk = await this.srk();
    const h: [number] = [0];
    let priv: Uint8Array;
    let pub: Uint8Array;
    try {
      priv = this.#in('TPM2B_PRIVATE', blob.private);
      pub = this.#in('TPM2B_PUBLIC', blob.public);
    } catch (cause) {
      throw new KeyStoreError('ERR_LOCK_INTEGRITY', 'tpm2: the key blob is not a TPM object (it was altered or is not a blob of this key store)', { cause });
    }
    const rc = await this.#call('Load', this.#live(), srk.handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, h);
    if (rc !== 0) {
      const code = tpmCode(rc);
      // Any error naming one of Load's parameters (inPrivate, inPublic) is the blob's fault: an
      // altered public area fails validation (TPM_RC_HASH, _RESERVED_BITS, _ATTRIBUTES, …)
      // before its integrity is checked, and is no failure of the TPM.
      if (isParameterError(rc) || [RC.INTEGRITY, RC.VALUE, 0x095 /* SIZE */, 0x09c /* KEY */, 0x155 /* SENSITIVE */, 0x0a5 /* BINDING */].includes(code)) {
        throw new KeyStoreError('ERR_LOCK_INTEGRITY', `tpm2: this TPM refuses the blob (${this.#lib.rcDecode(rc)}): it was made by another TPM, or altered`, {
          hint: 'a tpm2 blob opens only on the TPM that made it; a guardian restored on a new TPM must be restored from its paper backup',
        });
      }
      this.#check('Load', rc);
    }
    try {
      const wire = tpm2b(auth);
      const a = this.#in('TPM2B_AUTH', wire);
      try {
        this.#check('TR_SetAuth', this.#lib.esys.TR_SetAuth(this.#live() as never, h[0] as never, a as never));
      } finally {
        a.fill(0);
        wire.fill(0);
      }
      return await fn(h[0]);
    } finally {
      await this.#flush(h[0]);
    }
  }

  /** RSA-OAEP-SHA256 decryption with a loaded key; undefined when the TPM finds the padding wrong. */
  async rsaDecrypt(handle: number, ciphertext: Uint8Array, label: Uint8Array): Promise<Uint8Array | undefined> {
    const out: [unknown] = [null];
    const rc = await this.#withSession(TPM2_SE_HMAC, [], (session) =>
      this.#call(
        'RSA_Decrypt',
        this.#live(),
        handle,
        session,
        ESYS_TR_NONE,
        ESYS_TR_NONE,
        this.#in('TPM2B_PUBLIC_KEY_RSA', tpm2b(ciphertext)),
        this.#in('TPMT_RSA_DECRYPT', oaepScheme()),
        this.#in('TPM2B_DATA', tpm2b(label)),
        out,
      ),
    );
    // A failed OAEP check is TPM_RC_VALUE in the specification; libtpms 0.9 (swtpm) answers
    // TPM_RC_FAILURE for it and goes on working (measured: the next decrypt succeeds). Either
    // means "not encrypted to this key" — unless the TPM really is in failure mode, which its
    // self-test result tells (a TPM in failure mode still answers GetTestResult).
    if (tpmCode(rc) === RC.VALUE) return undefined;
    if (tpmCode(rc) === RC.FAILURE) {
      if (await this.#selfTestPassed()) return undefined;
      this.#check('RSA_Decrypt', rc);
    }
    this.#check('RSA_Decrypt', rc);
    const wire = this.#take('TPM2B_PUBLIC_KEY_RSA', out[0], true);
    try {
      return new Reader(wire).b();
    } finally {
      wire.fill(0);
    }
  }

  /** ECDSA P-256 (SHA-256 scheme) over a 32-byte digest with a loaded key: r ‖ s. */
  async sign(handle: number, digest: Uint8Array): Promise<Uint8Array> {
    const out: [unknown] = [null];
    this.#check(
      'Sign',
      await this.#withSession(TPM2_SE_HMAC, [], (session) =>
        this.#call(
          'Sign',
          this.#live(),
          handle,
          session,
          ESYS_TR_NONE,
          ESYS_TR_NONE,
          this.#in('TPM2B_DIGEST', tpm2b(digest)),
          this.#in('TPMT_SIG_SCHEME', ecdsaScheme()),
          this.#in('TPMT_TK_HASHCHECK', nullTicket()),
          out,
        ),
      ),
    );
    return ecdsaSignature(this.#take('TPMT_SIGNATURE', out[0]));
  }

  /** The policy digest of "authValue, and these PCRs as they are now" (a trial session). */
  async policyDigest(pcrs: readonly number[]): Promise<Uint8Array> {
    return this.#withSession(TPM2_SE_TRIAL, pcrs, async (session) => {
      const out: [unknown] = [null];
      this.#check('PolicyGetDigest', await this.#call('PolicyGetDigest', this.#live(), session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out));
      return new Reader(this.#take('TPM2B_DIGEST', out[0])).b();
    });
  }

  /**
   * Unseals a loaded sealed object through a policy session (authValue + `pcrs`).
   * @throws KeyStoreError ERR_TPM_POLICY when the PCRs changed since sealing; ERR_TPM_AUTH,
   *   ERR_TPM_LOCKOUT as #check says.
   */
  async unseal(handle: number, pcrs: readonly number[]): Promise<Uint8Array> {
    return this.#withSession(TPM2_SE_POLICY, pcrs, async (session) => {
      const out: [unknown] = [null];
      this.#check('Unseal', await this.#call('Unseal', this.#live(), handle, session, ESYS_TR_NONE, ESYS_TR_NONE, out));
      const wire = this.#take('TPM2B_SENSITIVE_DATA', out[0], true);
      try {
        return new Reader(wire).b();
      } finally {
        wire.fill(0);
      }
    });
  }

  /** TPM properties from `first` (TPM2_CAP_TPM_PROPERTIES). */
  async properties(first: number, count: number): Promise<Map<number, number>> {
    const more: [number] = [0];
    const out: [unknown] = [null];
    this.#check(
      'GetCapability',
      await this.#call('GetCapability', this.#live(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, first, count, more, out),
    );
    return tpmProperties(this.#take('TPMS_CAPABILITY_DATA', out[0]));
  }

  /** The transient objects loaded in the TPM now (the SRK among them while it is loaded). */
  async transientObjects(): Promise<number[]> {
    const more: [number] = [0];
    const out: [unknown] = [null];
    this.#check(
      'GetCapability',
      await this.#call('GetCapability', this.#live(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, TPM2_HT_TRANSIENT, 64, more, out),
    );
    return handleList(this.#take('TPMS_CAPABILITY_DATA', out[0]));
  }

  /** The dictionary-attack failure counter (TPM2_PT_LOCKOUT_COUNTER). */
  async lockoutCounter(): Promise<number> {
    return (await this.properties(TPM2_PT_LOCKOUT_COUNTER, 1)).get(TPM2_PT_LOCKOUT_COUNTER) ?? 0;
  }

  /**
   * Runs `fn` with a fresh session, flushed afterwards. HMAC and policy sessions authorise with the
   * object's authValue as an HMAC (never the password in clear) and encrypt the response's first
   * parameter (AES-128-CFB keyed from the authValue and nonces), so neither a key's authValue nor
   * an unsealed secret or decrypted file key crosses the TPM's bus (SPI on a Pi) in clear.
   * A policy session gets PolicyPCR (when `pcrs` is not empty) and PolicyAuthValue.
   */
  async #withSession<T>(type: number, pcrs: readonly number[], fn: (session: number) => Promise<T>, direction = SESSION_ENCRYPT): Promise<T> {
    const s: [number] = [0];
    const trial = type === TPM2_SE_TRIAL;
    // Salted to the SRK (ECDH with its key): the session key, and so the parameter encryption,
    // does not rest on the authValue alone (which, for the LUKS store, sits in the initramfs).
    const salt = trial ? ESYS_TR_NONE : (await this.srk()).handle;
    this.#check(
      'StartAuthSession',
      await this.#call(
        'StartAuthSession',
        this.#live(),
        salt,
        ESYS_TR_NONE,
        ESYS_TR_NONE,
        ESYS_TR_NONE,
        ESYS_TR_NONE,
        null,
        type,
        this.#in('TPMT_SYM_DEF', trial ? symNull() : symAes128Cfb()),
        TPM2_ALG.SHA256,
        s,
      ),
    );
    try {
      if (!trial)
        this.#check(
          'TRSess_SetAttributes',
          this.#lib.esys.TRSess_SetAttributes(this.#live() as never, s[0] as never, (SESSION_CONTINUE | direction) as never, 0xff as never),
        );
      if (type === TPM2_SE_HMAC) return await fn(s[0]);
      if (pcrs.length > 0) {
        this.#check(
          'PolicyPCR',
          await this.#call(
            'PolicyPCR',
            this.#live(),
            s[0],
            ESYS_TR_NONE,
            ESYS_TR_NONE,
            ESYS_TR_NONE,
            this.#in('TPM2B_DIGEST', tpm2b(new Uint8Array(0))),
            this.#in('TPML_PCR_SELECTION', pcrSelection(pcrs)),
          ),
        );
      }
      this.#check('PolicyAuthValue', await this.#call('PolicyAuthValue', this.#live(), s[0], ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE));
      return await fn(s[0]);
    } finally {
      await this.#flush(s[0]);
    }
  }

  /** Flushes a transient object or session, ignoring failures (and a context already closed). */
  async #flush(handle: number): Promise<void> {
    if (!this.#ctx) return;
    await this.#call('FlushContext', this.#ctx, handle).catch(() => 0);
  }

  /** Whether the TPM's self-test result is success (false in failure mode). */
  async #selfTestPassed(): Promise<boolean> {
    const out: [unknown] = [null];
    const result: [number] = [0];
    const rc = await this.#call('GetTestResult', this.#live(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, out, result);
    if (out[0]) {
      this.#lib.esysFree(out[0]);
      this.freed++;
    }
    return rc === 0 && result[0] === 0;
  }

  /** Whether the TPM is in dictionary-attack lockout now (TPMA_PERMANENT inLockout). */
  async inLockout(): Promise<boolean> {
    const v = (await this.properties(TPM2_PT_PERMANENT, 1)).get(TPM2_PT_PERMANENT) ?? 0;
    return (v & TPMA_PERMANENT_IN_LOCKOUT) !== 0;
  }

  /**
   * One ESYS call on a koffi worker thread; resolves with its TSS2_RC. The argument buffers stay
   * alive until it settles because this closure holds them.
   */
  #call(name: EsysCall, ...args: unknown[]): Promise<number> {
    const fn = this.#lib.esys[name];
    return new Promise((resolve, reject) => {
      try {
        fn.async(...args, (err: unknown, rc: number) =>
          err ? reject(new KeyStoreError('ERR_MODULE_CALL', `tpm2: Esys_${name} could not be called`, { cause: err })) : resolve(rc >>> 0),
        );
      } catch (cause) {
        // koffi refuses synchronously (e.g. too many asynchronous calls at once)
        reject(new KeyStoreError('ERR_MODULE_CALL', `tpm2: Esys_${name} could not be called`, { cause }));
      }
    });
  }

  #live(): unknown {
    if (!this.#ctx) throw new KeyStoreError('ERR_MODULE_CALL', 'tpm2: the TPM context is closed');
    return this.#ctx;
  }

  /**
   * Throws the typed error for a failed call. Never retries (see the header).
   * @throws KeyStoreError ERR_TPM_LOCKOUT, ERR_TPM_AUTH, ERR_TPM_POLICY, ERR_MODULE_CALL.
   */
  #check(call: string, rc: number): void {
    if (rc === 0) return;
    const code = tpmCode(rc);
    const said = this.#lib.rcDecode(rc);
    if (code === RC.LOCKOUT) {
      throw new KeyStoreError(
        'ERR_TPM_LOCKOUT',
        `tpm2: Esys_${call}: the TPM is in dictionary-attack lockout (${said}); it refuses authorised use until the lockout recovers`,
        {
          hint: 'do not retry: wait for the recovery interval (tpm2_getcap properties-variable shows TPM2_PT_LOCKOUT_COUNTER), or reset it with the lockout authorisation (tpm2_dictionarylockout --clear-lockout)',
        },
      );
    }
    if ((code === RC.AUTH_FAIL || code === RC.BAD_AUTH) && call === 'CreatePrimary') {
      throw new KeyStoreError(
        'ERR_TPM_AUTH',
        `tpm2: Esys_CreatePrimary: the TPM's owner hierarchy has an authorisation value set (${said}); the storage key is made under the owner hierarchy with an empty one`,
        {
          hint: 'clear the owner authorisation (tpm2_changeauth -c owner -p OLD) or provision on a TPM whose owner hierarchy has none',
        },
      );
    }
    if (code === RC.BAD_AUTH) {
      throw new KeyStoreError('ERR_TPM_AUTH', `tpm2: Esys_${call}: the TPM refused the key's authorisation value (${said})`, {
        hint: 'the auth file in use does not match the one this key was made with (tpm2-auth beside its key file, or CAPSULE_TPM_AUTH_FILE); do not retry',
      });
    }
    if (code === RC.AUTH_FAIL) {
      throw new KeyStoreError(
        'ERR_TPM_AUTH',
        `tpm2: Esys_${call}: the TPM refused the key's authorisation value (${said}); the failure counts toward lockout`,
        {
          hint: "the auth file in use does not match the one this key was made with (tpm2-auth beside its key file, or CAPSULE_TPM_AUTH_FILE); do not retry: each failure brings the TPM's lockout nearer",
        },
      );
    }
    if (code === RC.POLICY_FAIL || code === RC.PCR_CHANGED) {
      throw new KeyStoreError(
        'ERR_TPM_POLICY',
        `tpm2: Esys_${call}: the TPM's PCRs no longer match the policy the data was sealed under, or the blob's PCR list was altered (${said})`,
        {
          hint: 'the boot chain changed (PCR extended): unseal on the measured state it was sealed for, or re-enrol from the recovery key',
        },
      );
    }
    if (code === RC.OBJECT_MEMORY || code === RC.SESSION_MEMORY) {
      throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: Esys_${call}: the TPM is out of object or session memory (${said})`, {
        hint: 'another program leaves objects loaded; use the resource manager (device:/dev/tpmrm0) or flush them (tpm2_flushcontext -t)',
      });
    }
    throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: Esys_${call} failed through TCTI ${this.tcti} (${said})`, {
      hint: 'the TPM did not complete the call; check it answers (tpm2_getcap properties-fixed)',
    });
  }

  /** Wire bytes → the C struct `type`, in a zeroed buffer owned by JS (the caller wipes secret ones). */
  #in(type: MuType, wire: Uint8Array): Uint8Array {
    const dest = new Uint8Array(STRUCT_BUFFER_SIZE);
    const off: [number] = [0];
    const rc = this.#lib.unmarshal[type](wire, wire.length, off, dest);
    if (rc !== 0 || off[0] !== wire.length) {
      dest.fill(0);
      throw new RangeError(`tpm2: ${type}: ${rc !== 0 ? this.#lib.rcDecode(rc) : `${wire.length - off[0]} trailing bytes`}`);
    }
    return dest;
  }

  /** A library-allocated struct → its wire bytes; the struct is wiped first when `secret`, then freed. */
  #take(type: MuType, ptr: unknown, secret = false): Uint8Array {
    if (!ptr) throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: the library returned no ${type}`);
    try {
      const buf = new Uint8Array(STRUCT_BUFFER_SIZE);
      const off: [number] = [0];
      const rc = this.#lib.marshal[type](ptr, buf, buf.length, off);
      if (rc !== 0) throw new KeyStoreError('ERR_MODULE_CALL', `tpm2: cannot read the TPM's ${type} (${this.#lib.rcDecode(rc)})`);
      const out = buf.slice(0, off[0]);
      buf.fill(0);
      return out;
    } finally {
      if (secret) this.#lib.wipe(ptr, STRUCT_SIZE_OF[type] ?? 0);
      this.#lib.esysFree(ptr);
      this.freed++;
    }
  }
}

/** sizeof() of the secret-bearing outputs, so they can be wiped in place before Esys_Free. */
const STRUCT_SIZE_OF: Partial<Record<MuType, number>> = {
  TPM2B_DIGEST: 2 + 64,
  TPM2B_PUBLIC_KEY_RSA: 2 + 512,
  TPM2B_SENSITIVE_DATA: 2 + 256,
};
