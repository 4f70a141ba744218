/**
 * Wallet signing load benchmark (issue #11; part of `npm run bench`, BENCH_ONLY=wallet): a real
 * `capsule agent` on the HSM6 simulator with a wallet created by `capsule wallet create`, 64
 * closed-loop clients, every request authenticated (a fresh `auth` nonce each, so the replay cache
 * works as in production). Each configuration runs BENCH_AGENT_SECONDS (default 30) in total, as
 * three interleaved rounds of a third each (a fresh agent per round: 5 s warm-up, then measured),
 * and the table gives the median of the rounds — so that the machine's drift falls on all alike:
 * - `POST /v1/wallet/sign` kind eth-tx (an EIP-1559 transfer as JSON fields) under the standard
 *   daily-limit contract (state read, spend recorded and committed on every allow);
 * - the same under tx-cap (stateless), which separates decoding from the state commit;
 * - `POST /v1/sign` — the digest path (32 bytes, P-256 slot key) under the standard capsule policy;
 * - the same run's bare node:http peer answering the same client.
 * For each: requests/s, p50/p99, the agent's CPU per decision (user+system from /proc over the run
 * ÷ decisions) and RSS start → end. The goal is decoding + policy ≤ 0.3 ms CPU per signature over
 * the digest path, and RSS growth ≤ 10 %.
 */
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { makeRequestAuth } from '../agent/crypto/requesterAuth.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { CLIENTS, ROOT, cpuMs, load, provisionDevice, rssMiB, startAgent, startPeer, type LoadResult, type RunningAgent } from './agentProcess.ts';

const SECONDS = Number(process.env.BENCH_AGENT_SECONDS ?? 30);
const PATH = "m/44'/60'/0'/0/0";
const BOB = '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB';

const dev = await provisionDevice('wallet-bench-');
const { dir, cli } = dev;
cli(['wallet', 'create', 'hot', '--data-dir', dev.data, '--mnemonic-to-stdout']);
const wasm = async (file: string) => (await buildPolicy(`contracts-as/contracts/${file}`, { cwd: ROOT })).wasm;
const modules = { daily: await wasm('wallet/daily-limit.ts'), cap: await wasm('wallet/tx-cap.ts'), digest: await wasm('policy.ts') };
const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const account = (logic: Uint8Array, params: unknown) => ({ wallet: 'hot', path: PATH, chain: 'ethereum', chainId: 1, logic: hash(logic), params });
const configs = {
  daily: { ratePerSecond: 0, clientFuelPerMinute: 0, wallet: { accounts: [account(modules.daily, { value: String(10n ** 30n) })] } },
  cap: { ratePerSecond: 0, clientFuelPerMinute: 0, wallet: { accounts: [account(modules.cap, { value: String(10n ** 30n) })] } },
  digest: {
    ratePerSecond: 0,
    clientFuelPerMinute: 0,
    signing: [{ slot: 1, logic: hash(modules.digest), params: { timeLock: { notBefore: Date.now() - 86_400_000 } } }],
  },
};

const me = generateIdentity();
const tx = {
  type: 'eip1559',
  chainId: 1,
  nonce: 7,
  to: BOB,
  value: '1000000000000000',
  gas: 21000,
  maxFeePerGas: '30000000000',
  maxPriorityFeePerGas: '1000000000',
};
const walletBody = { kind: 'eth-tx', transaction: tx, wallet: 'hot', path: PATH, requester: me.recipient };
const digestBody = { slot: 1, digest: 'ab'.repeat(32), requester: me.recipient };

interface Row {
  name: string;
  r: LoadResult;
  cpuPerDecision: number;
  rss0: number;
  rss1: number;
}

/** One configuration: start the agent, push the module, warm up 5 s, measure SECONDS. */
async function measure(name: string, config: object, module: Uint8Array, path: string, body: Record<string, unknown>): Promise<Row> {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const a: RunningAgent = await startAgent(dev, join(dir, 'config.json'));
  try {
    const pushed = await fetch(a.url + '/v1/modules', { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: new Uint8Array(module) });
    if (pushed.status !== 201 && pushed.status !== 200) throw new Error(`module push: ${pushed.status} ${await pushed.text()}`);
    const st = (await (await fetch(a.url + '/v1/status')).json()) as { now: number; guardian: { recipients: { x25519: string } } };
    const skew = st.now - Date.now(); // the module's clock against ours, so `at` is the guardian's time
    const make = () =>
      JSON.stringify({
        ...body,
        auth: makeRequestAuth({
          requesterSecret: me.secretKey,
          requesterPk: me.publicKey,
          guardian: st.guardian.recipients.x25519,
          method: 'POST',
          path,
          body,
          at: Date.now() + skew,
        }),
      });
    await load(a.url, path, make, 200, 5); // warm-up: worker compile, caches, V8 heap growth
    const rss0 = rssMiB(a.pid);
    const c0 = cpuMs(a.pid);
    const r = await load(a.url, path, make, 200, SECONDS / ROUNDS);
    const cpuPerDecision = (cpuMs(a.pid) - c0) / r.n;
    return { name, r, cpuPerDecision, rss0, rss1: rssMiB(a.pid) };
  } finally {
    await a.stop();
  }
}

const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** The median round of each figure (the rounds' RSS growths as a median too). */
function medianRow(rounds: Row[]): Row & { growth: number } {
  const growth = median(rounds.map((x) => (x.rss1 - x.rss0) / x.rss0));
  const r = {
    rps: median(rounds.map((x) => x.r.rps)),
    p50: median(rounds.map((x) => x.r.p50)),
    p99: median(rounds.map((x) => x.r.p99)),
    n: median(rounds.map((x) => x.r.n)),
  };
  return {
    name: rounds[0]!.name,
    r,
    cpuPerDecision: median(rounds.map((x) => x.cpuPerDecision)),
    rss0: median(rounds.map((x) => x.rss0)),
    rss1: median(rounds.map((x) => x.rss1)),
    growth,
  };
}

try {
  const runs: [string, object, Uint8Array, string, Record<string, unknown>][] = [
    ['eth-tx, daily-limit (decode + policy + spend committed + secp256k1 sign + audit)', configs.daily, modules.daily, '/v1/wallet/sign', walletBody],
    ['eth-tx, tx-cap (decode + stateless policy + sign + audit)', configs.cap, modules.cap, '/v1/wallet/sign', walletBody],
    ['digest path: POST /v1/sign, P-256 slot key, standard policy (time lock open)', configs.digest, modules.digest, '/v1/sign', digestBody],
  ];
  const peerBody = JSON.stringify({ ...walletBody, auth: { guardian: 'x'.repeat(62), at: 0, nonce: '0'.repeat(32), mac: '0'.repeat(64) } });
  const byRun: Row[][] = runs.map(() => []);
  const floors: Row[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [name, config, module, path, body]] of runs.entries()) byRun[i]!.push(await measure(name, config, module, path, body));
    const peer = await startPeer();
    const c0 = cpuMs(peer.pid);
    const rss0 = rssMiB(peer.pid);
    const r = await load(peer.url, '/', peerBody, 200, SECONDS / ROUNDS);
    floors.push({ name: 'peer', r, cpuPerDecision: (cpuMs(peer.pid) - c0) / r.n, rss0, rss1: rssMiB(peer.pid) });
    peer.stop();
  }
  const rows = byRun.map(medianRow);
  const floor = medianRow(floors).r;
  const floorCpu = medianRow(floors).cpuPerDecision;

  const f = (x: number) => x.toFixed(2);
  const digest = rows[2]!;
  console.log(
    `\nwallet signing load: ${CLIENTS} concurrent clients, ${SECONDS} s per run (${ROUNDS} interleaved rounds, medians), simulator module (HSM6), every request authenticated`,
  );
  console.log('| run | requests/s | p50 | p99 | agent CPU per decision | CPU over the digest path | agent RSS start → end |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const over =
      row === digest
        ? '—'
        : `${row.cpuPerDecision - digest.cpuPerDecision >= 0 ? '+' : ''}${f(row.cpuPerDecision - digest.cpuPerDecision)} ms (${(row.cpuPerDecision / digest.cpuPerDecision).toFixed(2)}×)`;
    console.log(
      `| ${row.name} | ${row.r.rps.toFixed(0)} | ${f(row.r.p50)} ms | ${f(row.r.p99)} ms | ${f(row.cpuPerDecision)} ms | ${over} | ${row.rss0.toFixed(0)} → ${row.rss1.toFixed(0)} MiB (${(row.growth * 100).toFixed(1)}%) |`,
    );
  }
  console.log(
    `| peer: bare node:http, same client and body size | ${floor.rps.toFixed(0)} | ${f(floor.p50)} ms | ${f(floor.p99)} ms | ${f(floorCpu)} ms | | |`,
  );
} finally {
  me.dispose();
  rmSync(dir, { recursive: true, force: true });
}
