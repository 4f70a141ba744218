/**
 * TPM benchmark (BENCH_ONLY=tpm): the `tpm2` KeyStore (tpm2-tss ESYS through koffi) against a swtpm,
 * each operation beside the same one done by node:crypto (in-process, so compared with our
 * in-process call) and by tpm2-tools (whole processes, so compared with our whole-process
 * figures: `capsule decrypt --on-guardian`, and a release answered by the running agent as a
 * `curl` process sees it). Medians of interleaved rounds; every result is checked.
 *
 * Two swtpms: the tools peers flush every transient object (`tpm2_flushcontext -t`), which would
 * flush the KeyStore's storage key too (bench/tpmPeers.ts says why). TPM_BENCH_ROUNDS sets the
 * rounds (default 30). Deliberately not here: FAPI (bench/tpmFapi.ts measured it for the choice).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { tpm2RsaLabel, unwrapTpm2Rsa, wrapTpm2Rsa } from '../agent/crypto/tpm2RsaStanza.ts';
import { Tpm2KeyStore } from '../agent/keys/Tpm2KeyStore.ts';
import { Tpm2 } from '../agent/keys/tpm2/Tpm2.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { startSwtpm } from '../test/helpers/swtpm.ts';
import { BIN, provisionDevice, ROOT, startAgent } from './agentProcess.ts';
import { setUpNodePeers, setUpToolsPeers } from './tpmPeers.ts';

const ROUNDS = Number(process.env.TPM_BENCH_ROUNDS ?? 30);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const f = (ms: number) => (ms < 1 ? ms.toFixed(3) : ms.toFixed(1));

/** Runs each named sample function once per round, in a rotating order; medians in ms. */
async function interleave(fns: Record<string, () => unknown>, rounds: number): Promise<Record<string, number>> {
  const names = Object.keys(fns);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = -2; r < rounds; r++) {
    // two warm-up rounds, not kept
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r + 2) % names.length]!;
      const t0 = performance.now();
      await fns[n]!();
      if (r >= 0) samples[n]!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n]!)]));
}

const ours = await startSwtpm();
const theirs = await startSwtpm();
const dir = mkdtempSync(join(tmpdir(), 'tpm-bench-'));
try {
  const id = randomBytes(16);
  const label = Buffer.from(tpm2RsaLabel(id)).subarray(0, -1).toString('latin1'); // the C string tpm2-tools takes
  mkdirSync(join(dir, 'tools'));
  const tools = setUpToolsPeers(theirs.tools, join(dir, 'tools'), { label });
  const node = setUpNodePeers({ label });

  // --- in-process: our KeyStore vs node:crypto --------------------------------------------------
  const ks = await Tpm2KeyStore.create(join(dir, 'ks'), { tcti: ours.tcti });
  const fileKey = randomBytes(32);
  const stanza = wrapTpm2Rsa(fileKey, ks.tpm2Rsa.modulus, id);
  const modulusOf = (k: KeyObject) => new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).n!, 'base64url'));
  const nodeStanza = wrapTpm2Rsa(fileKey, modulusOf(node.rsaPublicKey), id);
  const secret = randomBytes(64);
  const blob = await ks.lock(secret);
  const digest = createHash('sha256').update('bench').digest();
  const pub = Uint8Array.of(4, ...(await ks.publicKey(0)));
  const same = (a: Uint8Array | undefined, b: Uint8Array, what: string) => {
    if (!a || !Buffer.from(a).equals(Buffer.from(b))) throw new Error(`${what}: wrong result`);
  };
  const fresh = async () => {
    const t = await Tpm2.open(ours.tcti);
    try {
      await t.srk();
    } finally {
      await t.close();
    }
  };
  await ks.tpm.srk();
  const inProc = await interleave(
    {
      'primary, created': fresh,
      'primary, cached': () => ks.tpm.srk(),
      'node: P-256 key pair': () => p256.keygen(),
      decrypt: async () => same(await ks.tpm2Rsa.decrypt(stanza.body, tpm2RsaLabel(id)), fileKey, 'decrypt'),
      'node: decrypt': () => same(node.nodeRsaDecrypt(nodeStanza.body), fileKey, 'node decrypt'),
      sign: async () => {
        if (!p256.verify(await ks.sign(digest, 0), digest, pub, { prehash: false, lowS: false })) throw new Error('sign: bad signature');
      },
      'node: sign': () => node.nodeSignDigest(digest),
      unseal: async () => same(await ks.unlock(blob), secret, 'unseal'),
      'node: unseal': () => node.nodeUnseal(),
      unwrap: async () => same(await unwrapTpm2Rsa(stanza, 0, id, (c, l) => ks.tpm2Rsa.decrypt(c, l)), fileKey, 'unwrap'),
      'node: unwrap': async () => same(await unwrapTpm2Rsa(nodeStanza, 0, id, async (c) => node.nodeRsaDecrypt(c)), fileKey, 'node unwrap'),
    },
    ROUNDS,
  );
  const transient = (await ks.tpm.transientObjects()).length;
  await ks.close();

  // --- whole processes: a guardian and its agent vs tpm2-tools ------------------------------------
  const device = await provisionDevice('tpm-bench-device-', { tpmTcti: ours.tcti });
  const { dir: dev, env, cli } = device;
  const tpmRecipient = JSON.parse(cli(['guardian', 'show', '--data-dir', 'data', '--json'])).stanzas['tpm2-rsa'] as string;
  writeFileSync(join(dev, 'policy.wasm'), (await buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT })).wasm);
  writeFileSync(join(dev, 'secret.bin'), Buffer.alloc(1000, 7));
  cli(['keygen', '-o', 'me.key']);
  const me = /age1[0-9a-z]+/.exec(readFileSync(join(dev, 'me.key'), 'utf8'))![0];
  cli([
    'seal',
    'secret.bin',
    '--guardian',
    tpmRecipient,
    '--logic',
    'policy.wasm',
    '--params',
    `{"timeLock": {"notBefore": ${Date.now() - 86_400_000}}}`,
    '-o',
    'open.capsule',
  ]);
  writeFileSync(join(dev, 'config.json'), JSON.stringify({ ratePerSecond: 0, clock: 'system' }));
  writeFileSync(join(dev, 'release.json'), JSON.stringify({ capsule: readFileSync(join(dev, 'open.capsule')).toString('base64'), requester: me }));
  const agent = await startAgent(device, join(dev, 'config.json'));
  const url = agent.url;
  await fetch(url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: readFileSync(join(dev, 'policy.wasm')) });
  const toolsCt = wrapTpm2Rsa(fileKey, modulusOf(tools.rsaPublicKey), id).body;
  const proc = (argv: string[], check: (out: Buffer) => boolean, what: string) => () => {
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dev, env });
    if (r.status !== 0 || !check(r.stdout)) throw new Error(`${what}: exit ${r.status}: ${r.stderr}`);
  };
  const whole = await interleave(
    {
      'tools: unwrap pipeline': () => same(tools.toolsUnwrapPipeline(toolsCt), fileKey, 'tools pipeline'),
      'capsule decrypt --on-guardian': proc(
        [process.execPath, BIN, 'decrypt', '--on-guardian', '--data-dir', 'data', 'open.capsule', '-o', '-'],
        (o) => o.length === 1000,
        'decrypt',
      ),
      'release by the agent (curl)': proc(
        ['curl', '-sf', '-H', 'content-type: application/json', '--data-binary', '@release.json', `${url}/v1/release`],
        (o) => o.length > 0,
        'release',
      ),
      'tools: unseal (load, unseal, flush)': () => same(tools.toolsUnseal(), tools.sealedSecret, 'tools unseal'),
      'tools: sign': () => {
        tools.toolsSign(digest);
        tools.toolsFlush();
      },
      'tools: create primary': () => {
        tools.toolsCreatePrimary();
        tools.toolsFlush();
      },
    },
    Math.max(5, ROUNDS >> 1),
  );
  await agent.stop();
  rmSync(dev, { recursive: true, force: true });

  console.log(`\nTPM 2.0 (tpm2 KeyStore, ESYS through koffi) on swtpm ${swtpmVersion()}; medians of ${ROUNDS} interleaved rounds\n`);
  console.log('| in-process operation | ours (ESYS) | node:crypto | ratio |');
  console.log('|---|---|---|---|');
  const row = (what: string, a: number, b?: number, peer = '') =>
    console.log(`| ${what} | ${f(a)} ms | ${b === undefined ? peer : `${f(b)} ms`} | ${b === undefined ? '—' : `${(a / b).toFixed(1)}×`} |`);
  row('create primary (ECC P-256 SRK: new context + CreatePrimary)', inProc['primary, created']!, inProc['node: P-256 key pair']!);
  row('create primary, cached (what every operation pays)', inProc['primary, cached']!, undefined, '(no peer)');
  row('RSA-OAEP decrypt (load + decrypt + flush, HMAC session)', inProc.decrypt!, inProc['node: decrypt']!);
  row('P-256 sign of a digest (load + sign + flush)', inProc.sign!, inProc['node: sign']!);
  row('unseal 64 B (load + policy session + unseal + flush + AES-GCM)', inProc.unseal!, inProc['node: unseal']!);
  row('guardian unwrap of a tpm2-rsa stanza', inProc.unwrap!, inProc['node: unwrap']!);
  console.log(`\ntransient objects loaded afterwards: ${transient} (the storage key only)\n`);
  console.log('| whole process | median | vs the tpm2-tools unwrap pipeline |');
  console.log('|---|---|---|');
  const pipe = whole['tools: unwrap pipeline']!;
  for (const [k, v] of Object.entries(whole)) console.log(`| ${k} | ${f(v)} ms | ${(v / pipe).toFixed(2)}× |`);
  console.log(
    '\n(tools pipeline: createprimary → load → rsadecrypt → flushcontext, four processes; the release includes the logic, the audit fsync and the age answer)',
  );
} finally {
  await ours.stop();
  await theirs.stop();
  rmSync(dir, { recursive: true, force: true });
}

function swtpmVersion(): string {
  return /version ([\d.]+)/.exec(spawnSync('swtpm', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';
}
