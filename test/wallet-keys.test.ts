/**
 * Wallet keys (issue #11, build item 1) through the real binding: the simulator library in native/
 * loaded by the same koffi declarations as the real libzk_app_utils.so, and the soft backend.
 * Checked against published vectors (BIP32 test vectors 1–3, every chain; the Trezor BIP39 English
 * vectors with passphrase "TREZOR"), against each other (same words → same accounts), against
 * independent libraries (@scure/bip32 from the vectors' xprv, @noble/curves recovery and
 * verification, viem's address, bitcoinjs-lib's Taproot output key, @bitcoinerlab/secp256k1's
 * Schnorr verification), across a reopen in a new process, and on every error path.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { secp256k1, schnorr } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { taprootTweakPubkey } from '@scure/btc-signer/utils.js';
import * as ecc from '@bitcoinerlab/secp256k1';
import { initEccLib, payments } from 'bitcoinjs-lib';
import { publicKeyToAddress } from 'viem/accounts';
import { SoftKeyStore } from '../agent/keys/SoftKeyStore.ts';
import { compressPublicKey, lowS } from '../agent/keys/recoverableSignature.ts';
import type { WalletKeys } from '../agent/keys/WalletKeys.ts';
import { ZymbitKeyStore } from '../agent/keys/ZymbitKeyStore.ts';
import { loadZkLibrary, ZK_NISTP256, ZK_SECP256K1 } from '../agent/keys/zymbit/zkBindings.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

initEccLib(ecc);
const LIB = fileURLToPath(new URL('../native/build/libzk_sim.so', import.meta.url));
const VECTORS = fileURLToPath(new URL('./vectors/', import.meta.url));
const handedOut = koffi.load(LIB).func('int zkSimHandedOut(void)') as () => number;
const HARDHAT_WORDS = 'test test test test test test test test test test test junk';
const ETH0 = "m/44'/60'/0'/0/0";
const H = 0x80000000;
const N = secp256k1.Point.Fn.ORDER;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

const temp: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temp.push(d);
  return d;
};
test.after(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

function sim(model = 'HSM6', dir = tempDir('zk-wallet-')): ZymbitKeyStore {
  process.env.ZK_SIM_STATE_DIR = dir;
  process.env.ZK_SIM_MODEL = model;
  delete process.env.ZK_SIM_FAIL_OPEN;
  delete process.env.ZK_SIM_FAULTS;
  return ZymbitKeyStore.open(LIB);
}
const SOFT_PASS = 'correct horse battery staple';
const soft = (path = join(tempDir('soft-wallet-'), 'store.json')) => SoftKeyStore.create(path, SOFT_PASS);

/** A vector file: `key: value` lines; `chain:` starts a node of a BIP32 vector. */
function readVector(file: string): { fields: Record<string, string>; chains: { chain: string; pub: string; prv: string }[] } {
  const fields: Record<string, string> = {};
  const chains: { chain: string; pub: string; prv: string }[] = [];
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const m = /^([a-z-]+): (.*)$/.exec(line);
    if (!m) throw new Error(`${file}: bad line ${JSON.stringify(line)}`);
    if (m[1] === 'chain') chains.push({ chain: m[2]!.replace(/H/g, "'"), pub: '', prv: '' });
    else if (m[1] === 'ext-pub' && chains.length) chains.at(-1)!.pub = m[2]!;
    else if (m[1] === 'ext-prv' && chains.length) chains.at(-1)!.prv = m[2]!;
    else fields[m[1]!] = m[2]!;
  }
  assert.is(fields.expect, 'success', `${file}: expect line`);
  assert.match(fields.source ?? '', /^https:\/\/github\.com\//, `${file}: source URL`);
  return { fields, chains };
}

test("native/bip39_english.h is @scure/bip39's English list, word for word", () => {
  const words = [...readFileSync(fileURLToPath(new URL('../native/bip39_english.h', import.meta.url)), 'utf8').matchAll(/"([a-z]+)",/g)].map((m) => m[1]);
  assert.equal(words, wordlist);
});

for (const file of readdirSync(join(VECTORS, 'bip32')).sort()) {
  test(`BIP32 ${file}: every chain's key, chain code and xpub through the binding`, async () => {
    const { fields, chains } = readVector(join(VECTORS, 'bip32', file));
    const root = HDKey.fromMasterSeed(fromHex(fields.seed!));
    const ks = sim();
    const m = ks.module;
    try {
      const master = await m.simulatorWalletFromSeed('v', fromHex(fields.seed!));
      const slots = new Map<string, number>([['m', master]]);
      for (const { chain, pub, prv } of chains) {
        assert.is(root.derive(chain).publicExtendedKey, pub, `${chain}: the file's xpub (transcription check with @scure/bip32)`);
        const want = HDKey.fromExtendedKey(prv);
        let slot = slots.get(chain);
        let chainCode: Uint8Array | undefined;
        if (slot === undefined) {
          const parent = chain.slice(0, chain.lastIndexOf('/'));
          const last = chain.slice(chain.lastIndexOf('/') + 1);
          const hardened = last.endsWith("'");
          ({ slot, chainCode } = await m.deriveWalletChild(slots.get(parent)!, Number.parseInt(last, 10), hardened, hardened));
          slots.set(chain, slot);
          const parentKey = await m.publicKey(slots.get(parent)!);
          if (chainCode) {
            const rebuilt = new HDKey({
              publicKey: compress(await m.publicKey(slot)),
              chainCode,
              depth: want.depth,
              index: want.index,
              parentFingerprint: fingerprint(parentKey),
            });
            assert.is(rebuilt.publicExtendedKey, pub, `${chain}: xpub rebuilt from the module's key and chain code`);
          }
        }
        assert.is(hex(compress(await m.publicKey(slot))), hex(want.publicKey!), `${chain}: public key`);
        assert.equal(await m.walletNode(slot), { node: chain, wallet: 'v', masterSlot: master }, `${chain}: node address`);
        assert.is(await m.walletSlot(chain, 'v'), slot);
        // Every node's chain code, non-hardened ones included, through a hardened child of it.
        const probe = await m.deriveWalletChild(slot, 7, true, true);
        assert.is(hex(probe.chainCode!), hex(want.deriveChild(H + 7).chainCode!), `${chain}/7': chain code`);
        assert.is(hex(compress(await m.publicKey(probe.slot))), hex(want.deriveChild(H + 7).publicKey!), `${chain}/7': key`);
      }
    } finally {
      await ks.close();
    }
  });
}

test('BIP39 Trezor vectors ("TREZOR"): words → seed → BIP32 root, on the simulator and the soft backend', async () => {
  const files = readdirSync(join(VECTORS, 'bip39')).sort();
  assert.is(files.length, 24);
  const ks = sim();
  const sw = await soft();
  try {
    for (const [i, file] of files.entries()) {
      const { fields: v } = readVector(join(VECTORS, 'bip39', file));
      assert.is(entropyToMnemonic(fromHex(v.entropy!), wordlist), v.mnemonic, `${file}: transcription (entropy → words)`);
      assert.is(hex(mnemonicToSeedSync(v.mnemonic!, v.passphrase)), v.seed, `${file}: transcription (words → seed)`);
      const want = HDKey.fromExtendedKey(v['ext-prv']!);
      const { masterSlot } = await ks.wallet.restore(`t${i}`, v.mnemonic!, { passphrase: v.passphrase });
      assert.is(hex(compress(await ks.module.publicKey(masterSlot))), hex(want.publicKey!), `${file}: root key (simulator)`);
      const child = await ks.module.deriveWalletChild(masterSlot, 0, true, true);
      assert.is(hex(child.chainCode!), hex(want.deriveChild(H).chainCode!), `${file}: m/0' chain code, so the root chain code (simulator)`);
      assert.is(hex(await ks.wallet.publicKey(`t${i}`, "m/0'/1")), hex(want.derive("m/0'/1").publicKey!), `${file}: m/0'/1 (simulator)`);
      await sw.wallet.restore(`t${i}`, v.mnemonic!, { passphrase: v.passphrase });
      assert.is(hex(await sw.wallet.publicKey(`t${i}`, "m/0'/1")), hex(want.derive("m/0'/1").publicKey!), `${file}: m/0'/1 (soft)`);
    }
  } finally {
    await ks.close();
    await sw.close();
  }
});

test("Hardhat's first account: \"test … junk\" at m/44'/60'/0'/0/0 is 0xf39F…2266 on both backends", async () => {
  const ks = sim();
  const sw = await soft();
  try {
    for (const w of [ks.wallet, sw.wallet] as WalletKeys[]) {
      await w.restore('hardhat', HARDHAT_WORDS);
      const pub = secp256k1.Point.fromBytes(await w.publicKey('hardhat', ETH0)).toBytes(false);
      assert.is(publicKeyToAddress(`0x${hex(pub)}`), '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    }
  } finally {
    await ks.close();
    await sw.close();
  }
});

test('create: 24 valid words shown once; the same words give the same accounts on the soft backend and on a fresh module', async () => {
  const a = sim();
  const b = sim();
  const sw = await soft();
  const paths = [ETH0, "m/44'/60'/0'/0/1", "m/84'/0'/0'/0/0", "m/86'/0'/0'/0/0", 'm/0/1/2/3/4/5/6/7/8/9'];
  try {
    const created = await a.wallet.create('main', { passphrase: 'p\u00e4ss' });
    assert.is(created.mnemonic.split(' ').length, 24);
    assert.ok(validateMnemonic(created.mnemonic, wordlist), "the simulator's words carry a valid BIP39 checksum");
    assert.equal(await a.wallet.list(), [{ name: 'main', masterSlot: created.masterSlot }]);
    // The words, typed back with other spacing and case, and the passphrase in another Unicode form.
    const typed = `  ${created.mnemonic.toUpperCase().split(' ').join('   ')} `;
    await b.wallet.restore('main', typed, { passphrase: 'pa\u0308ss' });
    await sw.wallet.restore('main', created.mnemonic, { passphrase: 'p\u00e4ss' });
    const other = await sw.wallet.create('other');
    assert.ok(validateMnemonic(other.mnemonic, wordlist));
    assert.is(other.mnemonic.split(' ').length, 24);
    for (const p of paths) {
      const key = hex(await a.wallet.publicKey('main', p));
      assert.is(hex(await b.wallet.publicKey('main', p)), key, `${p}: restored module`);
      assert.is(hex(await sw.wallet.publicKey('main', p)), key, `${p}: soft backend`);
      assert.is.not(hex(await sw.wallet.publicKey('other', p)), key, `${p}: another wallet differs`);
    }
    assert.is(hex(await a.wallet.publicKey('main', "m/44h/60H/0'/0/0")), hex(await a.wallet.publicKey('main', ETH0)), 'h and H mark hardened steps too');
  } finally {
    await a.close();
    await b.close();
    await sw.close();
  }
});

test('signDigest: low S, a recovery id that recovers the account key, verified by @noble/curves (both backends)', async () => {
  const ks = sim();
  const sw = await soft();
  try {
    // The module's own signatures: S above n/2 about half the time, so normalising is exercised.
    await ks.wallet.restore('w', HARDHAT_WORDS);
    const pub = await ks.wallet.publicKey('w', ETH0);
    const slot = (await ks.module.walletSlot(ETH0, 'w'))!;
    let high = 0;
    for (let i = 0; i < 24; i++) {
      const raw = await ks.module.signWithRecovery(randomBytes(32), slot);
      if (secp256k1.Signature.fromBytes(raw.signature, 'compact').hasHighS()) high++;
    }
    assert.ok(high > 0 && high < 24, `the module returned ${high}/24 high-S signatures`);
    await sw.wallet.restore('w', HARDHAT_WORDS);
    for (const w of [ks.wallet, sw.wallet] as WalletKeys[]) {
      const seen = new Set<number>();
      for (let i = 0; i < 24; i++) {
        const digest = randomBytes(32);
        const { signature, recovery } = await w.signDigest('w', ETH0, digest);
        assert.is(signature.length, 64);
        const sig = secp256k1.Signature.fromBytes(signature, 'compact');
        assert.ok(sig.s <= N / 2n, 'low S');
        assert.ok(secp256k1.verify(signature, digest, pub, { prehash: false, lowS: true }), 'verifies (digest signed as given)');
        assert.is(hex(sig.addRecoveryBit(recovery).recoverPublicKey(digest).toBytes(true)), hex(pub), 'recovers the account key');
        seen.add(recovery);
      }
      assert.equal([...seen].sort(), [0, 1], 'both recovery ids occur');
    }
  } finally {
    await ks.close();
    await sw.close();
  }
});

test('signSchnorr: the soft backend signs BIP341 key-path spends; the module has no Schnorr (ERR_UNSUPPORTED_BY_MODEL)', async () => {
  const sw = await soft();
  const ks = sim();
  const path = "m/86'/0'/0'/0/0";
  try {
    assert.is(sw.wallet.capabilities.schnorr, true);
    assert.is(ks.wallet.capabilities.schnorr, false);
    await sw.wallet.restore('btc', HARDHAT_WORDS);
    const internal = (await sw.wallet.publicKey('btc', path)).slice(1);
    const digest = randomBytes(32);
    // BIP86 (no script tree): the output key as bitcoinjs-lib computes it.
    const q86 = payments.p2tr({ internalPubkey: internal }).pubkey!;
    const s86 = await sw.wallet.signSchnorr('btc', path, digest, { taprootTweak: null });
    assert.is(s86.length, 64);
    assert.ok(ecc.verifySchnorr(digest, q86, s86), 'verifies against the BIP86 output key (@bitcoinerlab/secp256k1)');
    // With a script tree: the key tweaked with the Merkle root.
    const root = randomBytes(32);
    const [qTree] = taprootTweakPubkey(internal, root);
    const sTree = await sw.wallet.signSchnorr('btc', path, digest, { taprootTweak: root });
    assert.ok(schnorr.verify(sTree, digest, qTree), 'verifies against the tweaked output key');
    assert.not.ok(schnorr.verify(sTree, digest, q86), 'not against the BIP86 key');
    await rejectsError(
      () => sw.wallet.signSchnorr('btc', path, digest, { taprootTweak: new Uint8Array(31) }),
      'TypeError',
      undefined,
      /taprootTweak: expected 32 bytes, got 31 bytes/,
    );
    await ks.wallet.restore('btc', HARDHAT_WORDS);
    await rejectsError(
      () => ks.wallet.signSchnorr('btc', path, digest, { taprootTweak: null }),
      'KeyStoreError',
      'ERR_UNSUPPORTED_BY_MODEL',
      /Schnorr \(BIP340\) signing is not in the Zymbit API/,
    );
  } finally {
    await sw.close();
    await ks.close();
  }
});

test('ZYMKEY4 refuses: the raw wallet calls return < 0 and every wallet call is ERR_UNSUPPORTED_BY_MODEL; SCM has the wallet', async () => {
  process.env.ZK_SIM_STATE_DIR = tempDir('zk-zk4-');
  process.env.ZK_SIM_MODEL = 'ZYMKEY4';
  const lib = loadZkLibrary(LIB);
  const ctx: [unknown] = [null];
  assert.is(lib.zkOpen(ctx), 0);
  try {
    const out: [unknown] = [null];
    assert.ok(lib.zkGenWalletMasterSeedWithBIP39(ctx[0], ZK_SECP256K1, '', 'w', null, 0, Uint8Array.of(0), out) < 0);
    assert.is(out[0], null);
    assert.ok(lib.zkRestoreWalletMasterSeedFromBIP39Mnemonic(ctx[0], ZK_SECP256K1, '', 'w', null, 0, Uint8Array.of(0), Buffer.from(`${HARDHAT_WORDS}\0`)) < 0);
    assert.ok(lib.zkSimRestoreWalletMasterSeedFromSeed!(ctx[0], ZK_SECP256K1, 'w', new Uint8Array(32), 32) < 0);
    assert.ok(lib.zkGetWalletKeySlotFromNodeAddr(ctx[0], 'm', 'w', 0, [0]) < 0);
  } finally {
    lib.zkClose(ctx[0]);
  }
  const ks = sim('ZYMKEY4');
  try {
    assert.equal(ks.wallet.capabilities, { supported: false, schnorr: false });
    const refused = /zymbit: wallet keys need an HSM6 or SCM; this module is ZYMKEY4 \(simulated\)/;
    await rejectsError(() => ks.wallet.create('w'), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', refused);
    await rejectsError(() => ks.wallet.restore('w', HARDHAT_WORDS), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', refused);
    await rejectsError(() => ks.wallet.list(), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', refused);
    await rejectsError(() => ks.wallet.publicKey('w', ETH0), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', refused);
    await rejectsError(() => ks.wallet.signDigest('w', ETH0, new Uint8Array(32)), 'KeyStoreError', 'ERR_UNSUPPORTED_BY_MODEL', refused);
    await rejectsError(
      () => ks.module.deriveWalletChild(16, 0, true),
      'KeyStoreError',
      'ERR_UNSUPPORTED_BY_MODEL',
      /zkGenWalletChildKey needs an HSM6, SCM or newer; this module is ZYMKEY4/,
    );
  } finally {
    await ks.close();
  }
  const scm = sim('SCM');
  try {
    assert.match(scm.capabilities.model, /SCM/);
    await scm.wallet.restore('w', HARDHAT_WORDS);
    assert.is(secp256k1.Point.fromBytes(await scm.wallet.publicKey('w', ETH0)).toBytes(true).length, 33);
  } finally {
    await scm.close();
  }
});

test('wallets survive a reopen: a new KeyStore instance and a new process (simulator), a reopened soft store', async () => {
  const dir = tempDir('zk-reopen-');
  let ks = sim('HSM6', dir);
  const { mnemonic, masterSlot } = await ks.wallet.create('kept');
  const key = hex(await ks.wallet.publicKey('kept', ETH0));
  await ks.close();
  ks = sim('HSM6', dir);
  try {
    assert.equal(await ks.wallet.list(), [{ name: 'kept', masterSlot }]);
    assert.is(hex(await ks.wallet.publicKey('kept', ETH0)), key);
  } finally {
    await ks.close();
  }
  const script = `import { ZymbitKeyStore } from ${JSON.stringify(new URL('../agent/keys/ZymbitKeyStore.ts', import.meta.url).href)};
    const ks = ZymbitKeyStore.open(${JSON.stringify(LIB)});
    try { process.stdout.write(Buffer.from(await ks.wallet.publicKey('kept', ${JSON.stringify(ETH0)})).toString('hex')); } finally { await ks.close(); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ZK_SIM_STATE_DIR: dir, ZK_SIM_MODEL: 'HSM6' },
    timeout: 30_000,
  });
  assert.is(r.status, 0, r.stderr.toString());
  assert.is(r.stdout.toString(), key, 'a new process derives the same account');
  const path = join(tempDir('soft-reopen-'), 'store.json');
  const sw = await soft(path);
  await sw.wallet.restore('kept', mnemonic);
  await sw.close();
  const again = await SoftKeyStore.open(path, SOFT_PASS);
  try {
    assert.is(hex(await again.wallet.publicKey('kept', ETH0)), key);
    assert.not.match(readFileSync(path, 'utf8'), new RegExp(mnemonic.split(' ')[0]!), 'no word in the store file');
  } finally {
    await again.close();
  }
});

test('every buffer the library hands out for wallet calls is freed', async () => {
  const ks = sim();
  try {
    const before = handedOut();
    const freed = ks.module.freed;
    await ks.wallet.create('a');
    await ks.wallet.publicKey('a', ETH0);
    await ks.wallet.signDigest('a', ETH0, randomBytes(32));
    await ks.wallet.list();
    await ks.module.deriveWalletChild((await ks.module.walletSlot('m', 'a'))!, 1, true, true);
    assert.is(ks.module.freed - freed, handedOut() - before);
  } finally {
    await ks.close();
  }
});

for (const [backend, make] of [
  ['zymbit', async () => sim()],
  ['soft', () => soft()],
] as const) {
  test(`${backend}: bad names, paths, words, digests and passphrases; missing and duplicate wallets — typed errors`, async () => {
    const ks = await make();
    const w = ks.wallet!;
    try {
      await w.restore('w', HARDHAT_WORDS);
      const badName = /name: expected 1-64 characters of A-Z a-z 0-9 \. _ - starting with a letter or digit, got/;
      for (const name of ['', 'a b', '-x', 'x'.repeat(65), 7 as unknown as string]) {
        await rejectsError(() => w.create(name), 'WalletError', 'ERR_BAD_WALLET_NAME', badName);
        await rejectsError(() => w.publicKey(name, ETH0), 'WalletError', 'ERR_BAD_WALLET_NAME', badName);
      }
      await rejectsError(() => w.create('w'), 'WalletError', 'ERR_WALLET_EXISTS', /a wallet named "w" already exists/);
      await rejectsError(() => w.restore('w', HARDHAT_WORDS), 'WalletError', 'ERR_WALLET_EXISTS', /a wallet named "w" already exists/);
      await rejectsError(() => w.publicKey('nope', ETH0), 'WalletError', 'ERR_NO_WALLET', /no wallet named "nope"/);
      await rejectsError(() => w.signDigest('nope', ETH0, new Uint8Array(32)), 'WalletError', 'ERR_NO_WALLET', /no wallet named "nope"/);
      await rejectsError(
        () => w.publicKey('w', "44'/60'/0'"),
        'WalletError',
        'ERR_BAD_WALLET_PATH',
        /path: expected a path starting at the master key "m\/", got "44'\/60'\/0'"/,
      );
      await rejectsError(() => w.publicKey('w', "M/44'"), 'WalletError', 'ERR_BAD_WALLET_PATH', /starting at the master key/);
      for (const [path, step] of [
        ["m/44'/x", 2],
        ['m/01', 1],
        ['m/2147483648', 1],
        ['m//0', 1],
        ['m/0/', 2],
        ["m/0''", 1],
      ] as const) {
        await rejectsError(
          () => w.publicKey('w', path),
          'WalletError',
          'ERR_BAD_WALLET_PATH',
          new RegExp(`path: step ${step} of .* is not a child number 0\\.\\.2147483647`),
        );
      }
      await rejectsError(
        () => w.publicKey('w', null as unknown as string),
        'WalletError',
        'ERR_BAD_WALLET_PATH',
        /expected a BIP32 path string like .*, got null/,
      );
      await rejectsError(() => w.publicKey('w', 'm'), 'WalletError', 'ERR_PATH_OUTSIDE_WALLET', /"m" is the wallet's master key itself/);
      await rejectsError(
        () => w.signDigest('w', `m${'/0'.repeat(11)}`, new Uint8Array(32)),
        'WalletError',
        'ERR_PATH_OUTSIDE_WALLET',
        /at most 10 steps below "m", got 11/,
      );
      await rejectsError(() => w.signDigest('w', ETH0, new Uint8Array(31)), 'TypeError', undefined, /digest: expected 32 bytes, got 31 bytes/);
      await rejectsError(() => w.signDigest('w', ETH0, 'ab' as unknown as Uint8Array), 'TypeError', undefined, /digest: expected 32 bytes, got string/);
      const words = HARDHAT_WORDS.split(' ');
      const secret = (re: RegExp) => async (f: () => Promise<unknown>) => {
        try {
          await f();
        } catch (e) {
          for (const word of ['test', 'junk', 'tset']) assert.not.ok((e as Error).message.includes(word), 'the message never echoes a word');
        }
        await rejectsError(f, 'KeyError', 'ERR_BAD_MNEMONIC', re);
      };
      await secret(/mnemonic: expected 12, 15, 18, 21 or 24 words, got 11/)(() => w.restore('x', words.slice(1).join(' ')));
      await secret(/mnemonic: word 3 is not in the BIP39 English word list/)(() => w.restore('x', words.map((t, i) => (i === 2 ? 'tset' : t)).join(' ')));
      await secret(/mnemonic: checksum does not match/)(() => w.restore('x', ['junk', ...words.slice(0, 11)].join(' ')));
      await rejectsError(() => w.restore('x', 12 as unknown as string), 'KeyError', 'ERR_BAD_MNEMONIC', /mnemonic: expected a string of words, got number/);
      await rejectsError(
        () => w.create('x', { passphrase: 'é'.repeat(600) }),
        'RangeError',
        undefined,
        /passphrase: expected at most 1024 bytes \(UTF-8\), got 1800/,
      );
      await rejectsError(() => w.create('x', { passphrase: 5 as unknown as string }), 'TypeError', undefined, /passphrase: expected a string, got number/);
      assert.equal(
        (await w.list()).map((x) => x.name),
        ['w'],
        'nothing was created by a refused call',
      );
    } finally {
      await ks.close();
    }
  });
}

test('zymbit: module faults during wallet calls are ERR_MODULE_CALL; a failed lookup of a listed wallet is not "no wallet"', async () => {
  const faults = join(tempDir('zk-faults-'), 'faults');
  const ks = sim();
  process.env.ZK_SIM_FAULTS = faults;
  try {
    await ks.wallet.restore('w', HARDHAT_WORDS);
    writeFileSync(faults, 'fail zkGenWalletChildKey');
    await rejectsError(() => ks.wallet.publicKey('w', ETH0), 'KeyStoreError', 'ERR_MODULE_CALL', /zymbit: zkGenWalletChildKey failed \(-1\)/);
    writeFileSync(faults, 'fail zkGetWalletKeySlotFromNodeAddr');
    await rejectsError(
      () => ks.wallet.publicKey('w', ETH0),
      'KeyStoreError',
      'ERR_MODULE_CALL',
      /zkGetWalletKeySlotFromNodeAddr failed for a wallet the module lists/,
    );
    writeFileSync(faults, 'fail zkGenWalletMasterSeedWithBIP39');
    await rejectsError(() => ks.wallet.create('new'), 'KeyStoreError', 'ERR_MODULE_CALL', /zymbit: zkGenWalletMasterSeedWithBIP39 failed \(-1\)/);
    writeFileSync(faults, '');
    assert.is(secp256k1.Point.fromBytes(await ks.wallet.publicKey('w', ETH0)).toBytes(true).length, 33, 'healed: derives again');
    assert.equal(ks.health(), { state: 'ok' });
  } finally {
    delete process.env.ZK_SIM_FAULTS;
    await ks.close();
  }
});

test('simulator: refuses what the API refuses (duplicate node, chain code of a normal child, generator key, variant, curve, bad words)', async () => {
  const ks = sim();
  const m = ks.module;
  try {
    const master = await m.simulatorWalletFromSeed('s', fromHex('000102030405060708090a0b0c0d0e0f'));
    await rejectsError(
      () => m.simulatorWalletFromSeed('s', new Uint8Array(32)),
      'KeyStoreError',
      'ERR_MODULE_CALL',
      /zkSimRestoreWalletMasterSeedFromSeed failed/,
    );
    const { slot } = await m.deriveWalletChild(master, 0, true);
    await rejectsError(() => m.deriveWalletChild(master, 0, true), 'KeyStoreError', 'ERR_MODULE_CALL', /zkGenWalletChildKey failed/);
    await rejectsError(() => m.deriveWalletChild(slot, 1, false, true), 'KeyStoreError', 'ERR_MODULE_CALL', /zkGenWalletChildKey failed/);
    await rejectsError(() => m.deriveWalletChild(slot, 2 ** 31, false), 'RangeError', undefined, /index: expected an integer 0\.\.2147483647, got 2147483648/);
    await rejectsError(() => m.deriveWalletChild(0, 1, true), 'KeyStoreError', 'ERR_MODULE_CALL', /zkGenWalletChildKey failed/);
    assert.is(await m.walletNode(0), undefined, 'a factory slot is no wallet node');
    assert.is(await m.walletSlot("m/9'", 's'), undefined);
    const ctx = loadZkLibrary(LIB); // raw calls on the same simulated device
    const c: [unknown] = [null];
    assert.is(ctx.zkOpen(c), 0);
    try {
      const pass = Uint8Array.of(0);
      const words = Buffer.from(`${HARDHAT_WORDS}\0`);
      assert.ok(ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_SECP256K1, '', 'g', Uint8Array.of(1), 1, pass, words) < 0, 'a master generator key');
      assert.ok(ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_SECP256K1, 'cardano', 'g', null, 0, pass, words) < 0, 'a variant');
      assert.ok(ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_NISTP256, '', 'g', null, 0, pass, words) < 0, 'a P-256 wallet');
      assert.ok(
        ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_SECP256K1, '', 'g', null, 0, pass, Buffer.from(`${HARDHAT_WORDS.replace('junk', 'test')}\0`)) <
          0,
        'a bad checksum',
      );
      assert.ok(
        ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_SECP256K1, '', 'g', null, 0, pass, Buffer.from(`${HARDHAT_WORDS.toUpperCase()}\0`)) < 0,
        'words not normalised',
      );
      assert.ok(ctx.zkRestoreWalletMasterSeedFromBIP39Mnemonic(c[0], ZK_SECP256K1, '', 'g', null, 0, pass, words) >= 16, 'the same call without them succeeds');
    } finally {
      ctx.zkClose(c[0]);
    }
  } finally {
    await ks.close();
  }
});

test("soft: a sealed seed moved to another wallet's name is refused; calls after close are refused", async () => {
  const path = join(tempDir('soft-tamper-'), 'store.json');
  const sw = await soft(path);
  await sw.wallet.restore('a', HARDHAT_WORDS);
  await sw.wallet.create('b');
  const file = JSON.parse(readFileSync(path, 'utf8'));
  [file.wallets[0].sealed, file.wallets[1].sealed] = [file.wallets[1].sealed, file.wallets[0].sealed];
  writeFileSync(path, JSON.stringify(file));
  try {
    await rejectsError(
      () => sw.wallet.publicKey('a', ETH0),
      'KeyStoreError',
      'ERR_LOCK_INTEGRITY',
      /the sealed seed stored for wallet "a" belongs to another wallet/,
    );
  } finally {
    await sw.close();
  }
  await rejectsError(() => sw.wallet.publicKey('a', ETH0), 'KeyStoreError', 'ERR_MODULE_CALL', /soft key store: closed/);
});

test('a module signature is made low-S with its recovery id flipped (it still recovers the key); a malformed one or a key that is no point is ERR_MODULE_CALL', () => {
  const sk = secp256k1.utils.randomSecretKey();
  const pub = secp256k1.getPublicKey(sk, true);
  let flipped = 0;
  for (let i = 0; i < 16; i++) {
    const digest = randomBytes(32);
    const rec = secp256k1.sign(digest, sk, { prehash: false, lowS: false, format: 'recovered' });
    const high = secp256k1.Signature.fromBytes(rec.slice(1), 'compact').hasHighS();
    const ok = lowS(rec.slice(1), rec[0]!);
    assert.ok(secp256k1.verify(ok.signature, digest, pub, { prehash: false, lowS: true }), 'low S');
    assert.is(ok.recovery, high ? rec[0]! ^ 1 : rec[0]!);
    assert.equal(secp256k1.Signature.fromBytes(ok.signature, 'compact').addRecoveryBit(ok.recovery).recoverPublicKey(digest).toBytes(true), pub);
    if (high) flipped++;
  }
  assert.ok(flipped > 0 && flipped < 16, `both halves seen (${flipped} of 16 high)`);
  throwsError(() => lowS(new Uint8Array(63), 0), 'KeyStoreError', 'ERR_MODULE_CALL', /the module returned a malformed signature \(63 bytes\)/);
  throwsError(() => compressPublicKey(new Uint8Array(64)), 'KeyStoreError', 'ERR_MODULE_CALL', /exported a public key that is not a secp256k1 point/);
});

function compress(xy: Uint8Array): Uint8Array {
  return secp256k1.Point.fromBytes(Uint8Array.of(4, ...xy)).toBytes(true);
}
/** BIP32 key identifier's first 4 bytes (HASH160 of the compressed key), as @scure/bip32 computes it. */
function fingerprint(parentXY: Uint8Array): number {
  return new HDKey({ publicKey: compress(parentXY), chainCode: new Uint8Array(32) }).fingerprint;
}

test.run();
