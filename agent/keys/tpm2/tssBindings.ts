/**
 * Raw koffi bindings to tpm2-tss: the TCTI loader (libtss2-tctildr), the Enhanced System API
 * (libtss2-esys) and the marshalling library (libtss2-mu), plus libc `explicit_bzero`.
 *
 * Why ESYS and MU rather than koffi struct definitions: every TPM structure crosses this boundary
 * in TPM wire format. Inputs are built as wire bytes (tpmWire.ts) and turned into the C struct by
 * the library's own `Tss2_MU_*_Unmarshal` into a zeroed buffer; outputs the library allocates are
 * turned back into wire bytes by `Tss2_MU_*_Marshal` and released with `Esys_Free`. So no C struct
 * layout (unions, padding, array sizes) is restated here, and the wire format is what the TPM
 * specification defines. Nothing here checks results: that is Tpm2.ts.
 *
 * Deliberately not here: FAPI (README "TPM 2.0 backend" says why), and any call the KeyStore does
 * not need.
 */
import koffi from 'koffi';

/** Size of the zeroed buffer an input struct is unmarshalled into: above every struct used here. */
export const STRUCT_BUFFER_SIZE = 8192;

/** The MU types this binding converts (each has `Tss2_MU_<T>_Marshal` and `_Unmarshal`). */
export const MU_TYPES = [
  'TPM2B_PUBLIC',
  'TPM2B_PRIVATE',
  'TPM2B_SENSITIVE_CREATE',
  'TPM2B_DATA',
  'TPML_PCR_SELECTION',
  'TPM2B_AUTH',
  'TPM2B_PUBLIC_KEY_RSA',
  'TPMT_RSA_DECRYPT',
  'TPM2B_DIGEST',
  'TPMT_SIG_SCHEME',
  'TPMT_TK_HASHCHECK',
  'TPMT_SIGNATURE',
  'TPM2B_SENSITIVE_DATA',
  'TPMS_CAPABILITY_DATA',
  'TPMT_SYM_DEF',
  'TPML_DIGEST',
] as const;
export type MuType = (typeof MU_TYPES)[number];

type Fn = ((...a: never[]) => number) & { async: (...a: unknown[]) => void };

export interface TssLibrary {
  tctiInit: (conf: string, out: [unknown]) => number;
  tctiFinalize: (ctx: [unknown]) => void;
  esysInit: (out: [unknown], tcti: unknown, abi: null) => number;
  esysFinalize: (ctx: [unknown]) => void;
  esysFree: (ptr: unknown) => void;
  rcDecode: (rc: number) => string;
  wipe: (ptr: unknown, size: number) => void;
  marshal: Record<MuType, (src: unknown, buf: Uint8Array, size: number, offset: [number]) => number>;
  unmarshal: Record<MuType, (buf: Uint8Array, size: number, offset: [number], dest: Uint8Array) => number>;
  /** Esys_* by name without the prefix; every one returns TSS2_RC and is called with `.async`. */
  esys: Record<EsysCall, Fn>;
}

export type EsysCall =
  | 'GetRandom'
  | 'CreatePrimary'
  | 'Create'
  | 'Load'
  | 'FlushContext'
  | 'TR_SetAuth'
  | 'RSA_Decrypt'
  | 'Sign'
  | 'Unseal'
  | 'StartAuthSession'
  | 'PolicyPCR'
  | 'PolicyAuthValue'
  | 'PolicyPassword'
  | 'PolicyGetDigest'
  | 'GetCapability'
  | 'TRSess_SetAttributes'
  | 'PCR_Read'
  | 'GetTestResult';

const ESYS_PROTOS: Record<EsysCall, string> = {
  GetRandom: 'uint32_t Esys_GetRandom(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, uint16_t n, _Out_ void **out)',
  CreatePrimary:
    'uint32_t Esys_CreatePrimary(void *ctx, uint32_t hierarchy, uint32_t s1, uint32_t s2, uint32_t s3, const void *sensitive, const void *pub, const void *outside, const void *pcrs, _Out_ uint32_t *handle, _Out_ void **outPublic, void **creationData, void **creationHash, void **ticket)',
  Create:
    'uint32_t Esys_Create(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, const void *sensitive, const void *pub, const void *outside, const void *pcrs, _Out_ void **outPrivate, _Out_ void **outPublic, void **creationData, void **creationHash, void **ticket)',
  Load: 'uint32_t Esys_Load(void *ctx, uint32_t parent, uint32_t s1, uint32_t s2, uint32_t s3, const void *priv, const void *pub, _Out_ uint32_t *handle)',
  FlushContext: 'uint32_t Esys_FlushContext(void *ctx, uint32_t handle)',
  TR_SetAuth: 'uint32_t Esys_TR_SetAuth(void *ctx, uint32_t handle, const void *auth)',
  RSA_Decrypt:
    'uint32_t Esys_RSA_Decrypt(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, const void *cipher, const void *scheme, const void *label, _Out_ void **message)',
  Sign: 'uint32_t Esys_Sign(void *ctx, uint32_t key, uint32_t s1, uint32_t s2, uint32_t s3, const void *digest, const void *scheme, const void *validation, _Out_ void **signature)',
  Unseal: 'uint32_t Esys_Unseal(void *ctx, uint32_t item, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **data)',
  StartAuthSession:
    'uint32_t Esys_StartAuthSession(void *ctx, uint32_t tpmKey, uint32_t bind, uint32_t s1, uint32_t s2, uint32_t s3, const void *nonceCaller, uint8_t type, const void *symmetric, uint16_t authHash, _Out_ uint32_t *session)',
  PolicyPCR: 'uint32_t Esys_PolicyPCR(void *ctx, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3, const void *pcrDigest, const void *pcrs)',
  PolicyAuthValue: 'uint32_t Esys_PolicyAuthValue(void *ctx, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3)',
  PolicyPassword: 'uint32_t Esys_PolicyPassword(void *ctx, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3)',
  PolicyGetDigest: 'uint32_t Esys_PolicyGetDigest(void *ctx, uint32_t session, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **digest)',
  GetCapability:
    'uint32_t Esys_GetCapability(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, uint32_t capability, uint32_t property, uint32_t count, _Out_ uint8_t *more, _Out_ void **data)',
  TRSess_SetAttributes: 'uint32_t Esys_TRSess_SetAttributes(void *ctx, uint32_t session, uint8_t flags, uint8_t mask)',
  GetTestResult: 'uint32_t Esys_GetTestResult(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, _Out_ void **outData, _Out_ uint32_t *testResult)',
  PCR_Read:
    'uint32_t Esys_PCR_Read(void *ctx, uint32_t s1, uint32_t s2, uint32_t s3, const void *selection, _Out_ uint32_t *counter, _Out_ void **selectionOut, _Out_ void **values)',
};

/**
 * Loads the three libraries (their versioned sonames: Debian ships no unversioned .so without the
 * -dev package). Throws whatever koffi throws; Tpm2.ts turns it into a typed error.
 */
export function loadTss(): TssLibrary {
  // tpm2-tss logs warnings and errors to stderr by default; our errors say what failed, and the
  // CLI's stderr carries only `capsule:` lines. TSS2_LOG set by the operator still wins.
  process.env.TSS2_LOG ??= 'all+NONE';
  const tctildr = koffi.load('libtss2-tctildr.so.0');
  const esysLib = koffi.load('libtss2-esys.so.0');
  const mu = koffi.load('libtss2-mu.so.0');
  const rc = koffi.load('libtss2-rc.so.0');
  const libc = koffi.load('libc.so.6');
  const esys = {} as Record<EsysCall, Fn>;
  for (const [name, proto] of Object.entries(ESYS_PROTOS)) esys[name as EsysCall] = esysLib.func(proto) as Fn;
  const marshal = {} as TssLibrary['marshal'];
  const unmarshal = {} as TssLibrary['unmarshal'];
  for (const t of MU_TYPES) {
    marshal[t] = mu.func(`uint32_t Tss2_MU_${t}_Marshal(const void *src, uint8_t *buffer, size_t size, _Inout_ size_t *offset)`) as never;
    unmarshal[t] = mu.func(`uint32_t Tss2_MU_${t}_Unmarshal(const uint8_t *buffer, size_t size, _Inout_ size_t *offset, uint8_t *dest)`) as never;
  }
  return {
    tctiInit: tctildr.func('uint32_t Tss2_TctiLdr_Initialize(const char *conf, _Out_ void **ctx)') as never,
    tctiFinalize: tctildr.func('void Tss2_TctiLdr_Finalize(_Inout_ void **ctx)') as never,
    esysInit: esysLib.func('uint32_t Esys_Initialize(_Out_ void **ctx, void *tcti, void *abi)') as never,
    esysFinalize: esysLib.func('void Esys_Finalize(_Inout_ void **ctx)') as never,
    esysFree: esysLib.func('void Esys_Free(void *ptr)') as never,
    rcDecode: rc.func('const char *Tss2_RC_Decode(uint32_t rc)') as never,
    wipe: libc.func('void explicit_bzero(void *s, size_t n)') as never,
    marshal,
    unmarshal,
    esys,
  };
}

/** ESYS_TR constants (tss2_esys.h). */
export const ESYS_TR_NONE = 0xfff;
export const ESYS_TR_PASSWORD = 0x0ff;
export const ESYS_TR_RH_OWNER = 0x101;
