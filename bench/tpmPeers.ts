/**
 * Peers for the TPM benchmark (bench/tpm.ts): each operation the `tpm2` KeyStore does, done the
 * other two ways on the same machine in the same run —
 *
 * - tpm2-tools, each command a separate process as a shell script would run it, against a swtpm
 *   given by its `tools` runner (test/helpers/swtpm.ts): the guardian-unwrap pipeline
 *   (createprimary → load → rsadecrypt → flushcontext), and create-primary, rsadecrypt, sign and
 *   load+unseal+flush on their own. These are whole-process figures: compare them with whole-process
 *   figures (a `capsule` command), not with an in-process call.
 * - node:crypto (and @noble/curves for a prehashed P-256 signature): RSA-OAEP-SHA256 decrypt,
 *   P-256 sign, AES-256-GCM decrypt of 64 bytes as the "unseal" peer. In-process figures.
 *
 * Every function does exactly one operation and returns its result, so the caller interleaves,
 * takes medians and checks results. Keys and blobs are made once by the set-up functions.
 *
 * The tools peers need a TPM of their own: swtpm has three object slots and no resource manager,
 * tpm2-tools leave whatever they load in the TPM when they exit, and the pipeline ends with
 * `tpm2_flushcontext -t`, which flushes every transient object, the KeyStore's too. The pipeline
 * addresses its primary and key by handle (0x80000000, 0x80000001: the TPM's first slots, free
 * when it starts from none loaded), as a script that knows its TPM can; with context files instead,
 * rsadecrypt's context load would need a fourth slot.
 *
 * Deliberately not here: timing, medians and tables (bench/tpm.ts), and the KeyStore itself.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { KeyStoreError } from '../agent/errors.ts';

/** Runs a tpm2-tools command against one TPM and returns its stdout; throws when it fails (Swtpm['tools']). */
export type ToolsRunner = (cmd: string, args: string[], input?: Uint8Array) => Buffer;

/** Options shared by both peers. */
export interface PeerOptions {
  /**
   * The OAEP label as tpm2_rsadecrypt's `-l` takes it: letters, digits, `.`, `_`, `-`, 1–64 long,
   * not starting with `-`. The TPM needs a label ending in a zero byte and the tool appends it, so
   * the label the ciphertext must carry is this plus NUL (`oaepLabel`).
   */
  label: string;
  /** The 64 bytes sealed (default random); a copy is kept as `sealedSecret` for the caller's checks. */
  secret?: Uint8Array;
}

/** What both peers expose for the caller to build inputs and check outputs. */
export interface PeerKeys {
  /** Public half of the RSA-2048 decrypt key: encrypt with OAEP, SHA-256 and `oaepLabel`. */
  readonly rsaPublicKey: KeyObject;
  /** `label` plus its NUL terminator: the OAEP label the TPM (and so the node peer) uses. */
  readonly oaepLabel: Buffer;
  /** The P-256 signing key's public point, 65 bytes uncompressed. */
  readonly signPublicKey: Uint8Array;
  /** What the unseal peer returns. */
  readonly sealedSecret: Uint8Array;
}

/** The tpm2-tools peers: each call one operation, each command a process. */
export interface ToolsPeers extends PeerKeys {
  /**
   * Guardian unwrap as a script does it: tpm2_createprimary (ECC P-256 SRK) → tpm2_load (the RSA
   * key blob) → tpm2_rsadecrypt -s oaep -l LABEL (ciphertext on stdin, plaintext on stdout) →
   * tpm2_flushcontext -t. Four processes; leaves no object loaded.
   * @throws {TypeError} `ciphertext` is not a Uint8Array. @throws {RangeError} it is not 256 bytes.
   * @throws {KeyStoreError} ERR_MODULE_CALL when a command fails (the runner's error is the cause).
   */
  toolsUnwrapPipeline(ciphertext: Uint8Array): Buffer;
  /**
   * tpm2_createprimary of the same SRK, one process. It leaves the primary loaded (tools do not
   * flush): call `toolsFlush()` after it, outside the timing. @throws {KeyStoreError} ERR_MODULE_CALL.
   */
  toolsCreatePrimary(): void;
  /**
   * tpm2_rsadecrypt -s oaep -l LABEL with the key's loaded context (the file tpm2_load saved), one
   * process. The context load stays in the TPM: call `toolsFlush()` after it, outside the timing.
   * @throws {TypeError} / {RangeError} as toolsUnwrapPipeline. @throws {KeyStoreError} ERR_MODULE_CALL.
   */
  toolsRsaDecrypt(ciphertext: Uint8Array): Buffer;
  /**
   * tpm2_sign -g sha256 -s ecdsa -d of a 32-byte digest with the signing key's loaded context, one
   * process; returns the DER signature (`-f plain`). Call `toolsFlush()` after it, outside the timing.
   * @throws {TypeError} `digest` is not a Uint8Array. @throws {RangeError} it is not 32 bytes.
   * @throws {KeyStoreError} ERR_MODULE_CALL.
   */
  toolsSign(digest: Uint8Array): Buffer;
  /**
   * tpm2_load of the sealed blob → tpm2_unseal → tpm2_flushcontext -t: three processes, leaves no
   * object loaded. @throws {KeyStoreError} ERR_MODULE_CALL.
   */
  toolsUnseal(): Buffer;
  /** tpm2_flushcontext -t: the clean-up after the one-process peers. @throws {KeyStoreError} ERR_MODULE_CALL. */
  toolsFlush(): void;
}

/** The node:crypto peers, in-process. */
export interface NodePeers extends PeerKeys {
  /** crypto.privateDecrypt, RSA-OAEP with SHA-256 and the label. @throws {TypeError} / {RangeError} as toolsUnwrapPipeline. */
  nodeRsaDecrypt(ciphertext: Uint8Array): Buffer;
  /**
   * P-256 ECDSA of a 32-byte digest as given (what the TPM signs): @noble/curves with prehash off,
   * since node:crypto cannot sign a digest without hashing it again. Returns r ‖ s (64 bytes).
   * @throws {TypeError} `digest` is not a Uint8Array. @throws {RangeError} it is not 32 bytes.
   */
  nodeSignDigest(digest: Uint8Array): Uint8Array;
  /**
   * crypto.sign('sha256', data) with the P-256 key: OpenSSL hashes `data` and signs; not the same
   * input as the TPM's (a digest), so label it as hash-and-sign. Returns DER.
   * @throws {TypeError} `data` is not a Uint8Array.
   */
  nodeSignSha256(data: Uint8Array): Buffer;
  /** AES-256-GCM decrypt (and tag check) of the 64 sealed bytes: the in-memory stand-in for unseal. */
  nodeUnseal(): Buffer;
}

const SRK_ATTRS = 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt|noda';
const SRK = ['-C', 'o', '-g', 'sha256', '-G', 'ecc256:aes128cfb', '-a', SRK_ATTRS];
/** Where an empty swtpm puts the first and second transient objects. */
const FIRST = '0x80000000';
const SECOND = '0x80000001';
const LABEL = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;

function checkOptions(options: PeerOptions): Uint8Array {
  if (typeof options?.label !== 'string') throw new TypeError(`options.label: expected a string, got ${typeof options?.label}`);
  if (!LABEL.test(options.label))
    throw new RangeError(`options.label: expected 1–64 of [A-Za-z0-9._-] not starting with "-", got ${JSON.stringify(options.label)}`);
  // tpm2_rsadecrypt reads -l as a file when one of that name exists (relative to this process's cwd).
  if (existsSync(options.label)) throw new RangeError(`options.label: "${options.label}" names a file here, which tpm2_rsadecrypt would read instead`);
  const secret = options.secret ?? randomBytes(64);
  if (!(secret instanceof Uint8Array)) throw new TypeError(`options.secret: expected a Uint8Array, got ${typeof secret}`);
  if (secret.length !== 64) throw new RangeError(`options.secret: expected 64 bytes, got ${secret.length}`);
  return Uint8Array.from(secret);
}

function checkBytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name}: expected a Uint8Array, got ${value === null ? 'null' : typeof value}`);
  if (length !== undefined && value.length !== length) throw new RangeError(`${name}: expected ${length} bytes, got ${value.length}`);
  return value;
}

/** Runs one tools command; a failure becomes ERR_MODULE_CALL naming the command and the tool's own error line. */
function run(tools: ToolsRunner, cmd: string, args: string[], input?: Uint8Array): Buffer {
  try {
    return tools(cmd, args, input);
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    const why = /ERROR: (?!Unable to run)([^\n]*)/.exec(text)?.[1] ?? text.split('\n').filter(Boolean).pop() ?? 'no output';
    throw new KeyStoreError('ERR_MODULE_CALL', `tpm2-tools peer: ${cmd} failed: ${why.trim()}`, { cause: e });
  }
}

/**
 * Makes the tools peers' keys in `dir` (an existing absolute directory the caller removes): the SRK's
 * saved context, an RSA-2048 decrypt key (OAEP/SHA-256) and a P-256 signing key (ECDSA/SHA-256),
 * each loaded once with its context saved, and a sealed 64-byte object. Leaves no object loaded.
 * @throws {TypeError} `tools` is not a function, `dir` not a string, or options of the wrong type.
 * @throws {RangeError} `dir` is not an absolute path to a directory, or options out of range.
 * @throws {KeyStoreError} ERR_MODULE_CALL when a command fails, or when the TPM already holds
 *   transient objects (the peers need a TPM of their own; see the file header).
 */
export function setUpToolsPeers(tools: ToolsRunner, dir: string, options: PeerOptions): ToolsPeers {
  if (typeof tools !== 'function') throw new TypeError(`tools: expected a function (Swtpm['tools']), got ${typeof tools}`);
  if (typeof dir !== 'string') throw new TypeError(`dir: expected a string, got ${typeof dir}`);
  if (!isAbsolute(dir) || !statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new RangeError(`dir: expected an absolute path to an existing directory, got ${JSON.stringify(dir)}`);
  const secret = checkOptions(options);
  const t = (cmd: string, args: string[], input?: Uint8Array) => run(tools, cmd, args, input);
  const f = (name: string) => join(dir, name);

  const loaded = t('tpm2_getcap', ['handles-transient']).toString().trim();
  if (loaded !== '')
    throw new KeyStoreError(
      'ERR_MODULE_CALL',
      `tpm2-tools peers: expected a TPM with no transient objects, found ${loaded.replace(/\s*-\s*/g, ' ').trim()}; give them a swtpm of their own`,
    );
  t('tpm2_createprimary', [...SRK, '-c', f('srk.ctx')]);
  const create = (alg: string[], attrs: string, name: string, input?: Uint8Array) => {
    t('tpm2_create', ['-C', f('srk.ctx'), ...alg, '-a', attrs, '-u', f(`${name}.pub`), '-r', f(`${name}.priv`)], input);
    t('tpm2_flushcontext', ['-t']);
  };
  create(['-G', 'rsa2048:oaep-sha256:null'], 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt|noda', 'rsa');
  create(['-G', 'ecc256:ecdsa-sha256'], 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda', 'sign');
  create(['-i', '-'], 'fixedtpm|fixedparent|userwithauth|noda', 'seal', secret);
  const loadOnce = (name: string) => {
    t('tpm2_load', ['-C', f('srk.ctx'), '-u', f(`${name}.pub`), '-r', f(`${name}.priv`), '-c', f(`${name}.ctx`)]);
    t('tpm2_readpublic', ['-c', f(`${name}.ctx`), '-f', 'pem', '-o', f(`${name}.pem`)]);
    t('tpm2_flushcontext', ['-t']);
    return createPublicKey(readFileSync(f(`${name}.pem`)));
  };
  const rsaPublicKey = loadOnce('rsa');
  const signKey = loadOnce('sign');

  return {
    rsaPublicKey,
    oaepLabel: Buffer.from(`${options.label}\0`),
    signPublicKey: new Uint8Array(signKey.export({ format: 'der', type: 'spki' }).subarray(-65)),
    sealedSecret: secret,
    toolsUnwrapPipeline(ciphertext) {
      checkBytes('ciphertext', ciphertext, 256);
      t('tpm2_createprimary', [...SRK, '-c', f('unwrap-srk.ctx')]);
      t('tpm2_load', ['-C', FIRST, '-u', f('rsa.pub'), '-r', f('rsa.priv'), '-c', f('unwrap-rsa.ctx')]);
      const plain = t('tpm2_rsadecrypt', ['-c', SECOND, '-s', 'oaep', '-l', options.label], ciphertext);
      t('tpm2_flushcontext', ['-t']);
      return plain;
    },
    toolsCreatePrimary() {
      t('tpm2_createprimary', [...SRK, '-c', f('op-srk.ctx')]);
    },
    toolsRsaDecrypt(ciphertext) {
      checkBytes('ciphertext', ciphertext, 256);
      return t('tpm2_rsadecrypt', ['-c', f('rsa.ctx'), '-s', 'oaep', '-l', options.label], ciphertext);
    },
    toolsSign(digest) {
      checkBytes('digest', digest, 32);
      t('tpm2_sign', ['-c', f('sign.ctx'), '-g', 'sha256', '-s', 'ecdsa', '-d', '-f', 'plain', '-o', f('sig.der')], digest);
      return readFileSync(f('sig.der'));
    },
    toolsUnseal() {
      t('tpm2_load', ['-C', f('srk.ctx'), '-u', f('seal.pub'), '-r', f('seal.priv'), '-c', f('seal.ctx')]);
      const data = t('tpm2_unseal', ['-c', f('seal.ctx')]);
      t('tpm2_flushcontext', ['-t']);
      return data;
    },
    toolsFlush() {
      t('tpm2_flushcontext', ['-t']);
    },
  };
}

/**
 * Makes the node:crypto peers' keys in memory: an RSA-2048 key pair, a P-256 key pair, and the
 * secret sealed under a random AES-256 key (nonce and tag kept beside it).
 * @throws {TypeError} / {RangeError} options of the wrong type or out of range.
 */
export function setUpNodePeers(options: PeerOptions): NodePeers {
  const secret = checkOptions(options);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecPrivate = Buffer.from(ec.privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const aesKey = randomBytes(32);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', aesKey, nonce);
  const sealed = Buffer.concat([c.update(secret), c.final()]);
  const tag = c.getAuthTag();
  const oaepLabel = Buffer.from(`${options.label}\0`);
  return {
    rsaPublicKey: rsa.publicKey,
    oaepLabel,
    signPublicKey: new Uint8Array(ec.publicKey.export({ format: 'der', type: 'spki' }).subarray(-65)),
    sealedSecret: secret,
    nodeRsaDecrypt(ciphertext) {
      checkBytes('ciphertext', ciphertext, 256);
      return privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel }, ciphertext);
    },
    nodeSignDigest(digest) {
      checkBytes('digest', digest, 32);
      return p256.sign(digest, ecPrivate, { prehash: false });
    },
    nodeSignSha256(data) {
      checkBytes('data', data);
      return sign('sha256', data, ec.privateKey);
    },
    nodeUnseal() {
      const d = createDecipheriv('aes-256-gcm', aesKey, nonce);
      d.setAuthTag(tag);
      return Buffer.concat([d.update(sealed), d.final()]);
    },
  };
}
