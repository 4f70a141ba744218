/**
 * drand beacon verification benchmark (issue 17; part of `npm run bench`, BENCH_ONLY=drand): what
 * one `verify_drand_beacon` costs, and the fuel price it gets from that (contracts-as/ABI.md §6:
 * host calls are priced at about 1 fuel unit per nanosecond of CPU, the rate Ed25519's and
 * EIP-191's prices were set by). In-process micro-benchmarks: there is no peer process here. Rounds
 * are interleaved so the machine's drift falls on all alike; the table gives medians:
 * - the host function's core (agent/sandbox/drand.ts verifyDrandBeacon) on a real recorded quicknet
 *   beacon (test/fixtures/drand): decode key and signature with subgroup checks, hash to G1, pairing;
 * - the same in situ: the standard drand-time-lock contract in the real sandbox, allowing with the
 *   beacon, minus the same contract denying before notBefore (no verification);
 * - Ed25519 verification through the host's verifyEd25519 (priced 120 000 units), as the yardstick
 *   of the rate on this machine.
 * Writes bench/out/drand.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import { verifyEd25519 } from '../agent/crypto/verifyEd25519.ts';
import { HOST_FUEL } from '../agent/sandbox/Host.ts';
import { verifyDrandBeacon } from '../agent/sandbox/drand.ts';
import { parseDrandBeacon } from '../agent/sandbox/drandBeacon.ts';
import type { EvaluationInput } from '../agent/sandbox/inputs.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ROUNDS = Number(process.env.BENCH_DRAND_ROUNDS ?? 7);
const PER_ROUND = 8;

const fx = JSON.parse(readFileSync(join(here, '..', 'test', 'fixtures', 'drand', 'quicknet.json'), 'utf8')) as {
  info: { public_key: string; genesis_time: number; period: number };
  beacons: { round: number; signature: string }[];
};
const key = Uint8Array.from(Buffer.from(fx.info.public_key, 'hex'));
const genesis = BigInt(fx.info.genesis_time);
const period = BigInt(fx.info.period);
const beacon = fx.beacons.at(-1)!;
const sig = Uint8Array.from(Buffer.from(beacon.signature, 'hex'));

const edSecret = new Uint8Array(32).fill(5);
const edKey = ed25519.getPublicKey(edSecret);
const edMsg = new TextEncoder().encode('capsule-approval:v1:00112233445566778899aabbccddeeff:age1…');
const edSig = ed25519.sign(edMsg, edSecret);

const module = (await buildPolicy(join(here, '..', 'contracts-as', 'contracts', 'drand-time-lock.ts'))).wasm;
const T = (fx.info.genesis_time + (beacon.round - 1) * fx.info.period) * 1000 - 60_000;
const params = encodeCanonical(
  new Map<string, unknown>([
    ['notBefore', T],
    ['publicKey', fx.info.public_key],
    ['genesis', fx.info.genesis_time],
    ['period', fx.info.period],
  ]),
);
const input = (now: number): EvaluationInput => ({
  now,
  requester: 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq0gq7m',
  params,
  evidence: parseDrandBeacon(beacon, 'bench'),
  capsule: { id: new Uint8Array(16), created: 1, owner: null, logic: new Uint8Array(32), size: 1, digest: new Uint8Array(32) },
});
const sandbox = new Sandbox();
const allowInput = input(T + 120_000);
const denyInput = input(T - 1);
if (sandbox.evaluate(module, allowInput).verdict !== 'allow' || sandbox.evaluate(module, denyInput).verdict !== 'deny')
  throw new Error('bench set-up: unexpected verdicts');

/**
 * CPU time (user + system, ms) per call of `f`, over a batch of `n` calls: CPU rather than wall time,
 * because fuel prices CPU, and because 5 helpers share 2 cores here (wall time doubled under load
 * while CPU time stayed within a few %).
 */
function cpuPerCall(n: number, f: () => unknown): number {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000 / n;
}

const core: number[] = [];
const allow: number[] = [];
const deny: number[] = [];
const ed: number[] = [];
for (let r = 0; r < 2; r++) {
  verifyDrandBeacon(key, genesis, period, BigInt(beacon.round), sig);
  verifyEd25519(edMsg, edSig, edKey);
} // warm-up
const wall: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const t = performance.now();
  core.push(
    cpuPerCall(PER_ROUND, () => {
      if (verifyDrandBeacon(key, genesis, period, BigInt(beacon.round), sig) < 0n) throw new Error('beacon did not verify');
    }),
  );
  wall.push((performance.now() - t) / PER_ROUND);
  allow.push(cpuPerCall(PER_ROUND, () => sandbox.evaluate(module, allowInput)));
  deny.push(cpuPerCall(PER_ROUND * 10, () => sandbox.evaluate(module, denyInput)));
  ed.push(cpuPerCall(PER_ROUND * 100, () => verifyEd25519(edMsg, edSig, edKey)));
}
const coreUs = median(core) * 1000;
const inSituUs = (median(allow) - median(deny)) * 1000;
const edUs = median(ed) * 1000;
const allowFuel = sandbox.evaluate(module, allowInput).fuel;
const suggested = Math.round(coreUs / 1000) * 1_000_000; // 1 unit ≈ 1 ns of CPU, rounded to the ms
const result = {
  verifyUs: +coreUs.toFixed(0),
  verifyWallUs: +(median(wall) * 1000).toFixed(0),
  inSandboxUs: +inSituUs.toFixed(0),
  ed25519Us: +edUs.toFixed(1),
  nsPerUnitEd25519: +((edUs * 1000) / HOST_FUEL.ed25519).toFixed(2),
  price: HOST_FUEL.drand,
  priceFromThisRun: suggested,
  contractFuelAllow: allowFuel,
  samples: core.length,
};
console.log('\ndrand beacon verification (bls-unchained-g1-rfc9380, @noble/curves; medians of interleaved rounds)');
console.table({
  'verify_drand_beacon core, CPU (µs)': result.verifyUs,
  'verify_drand_beacon core, wall (µs)': result.verifyWallUs,
  'in the sandbox: allow − deny, CPU (µs)': result.inSandboxUs,
  'Ed25519 verify, the yardstick, CPU (µs)': result.ed25519Us,
  "ns per fuel unit at Ed25519's price": result.nsPerUnitEd25519,
  'fuel price (HOST_FUEL.drand)': result.price,
  'price this run suggests (1 unit/ns)': result.priceFromThisRun,
  'drand-time-lock allow: fuel used': result.contractFuelAllow,
});
mkdirSync(join(here, 'out'), { recursive: true });
writeFileSync(join(here, 'out', 'drand.json'), JSON.stringify(result, null, 2) + '\n');
