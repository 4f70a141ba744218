/**
 * Verifiable time with drand (issue 17 item 4): real recorded quicknet beacons (test/fixtures/drand,
 * sources in its README) verified offline by the host's `verify_drand_beacon` (agent/sandbox/drand.ts,
 * through a real metered module in the real sandbox), its defined error results, the evidence forms
 * (drand's JSON for the CLI, the evidence shape on the wire), the standard drand-time-lock contract
 * compiled with asc, and end to end over a real agent process: a drand-time-lock capsule opens with a
 * real beacon and not with a forged one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { SandboxError } from '../agent/errors.ts';
import { encodeCanonical } from '../agent/format/cbor.ts';
import { buildPolicy } from '../agent/logic/build.ts';
import {
  DRAND_BAD_KEY,
  DRAND_BAD_LENGTH,
  DRAND_BAD_RANGE,
  DRAND_INVALID,
  QUICKNET,
  drandFirstRoundAtOrAfter,
  drandRoundTime,
  verifyDrandBeacon,
} from '../agent/sandbox/drand.ts';
import { drandEvidence, parseDrandBeacon } from '../agent/sandbox/drandBeacon.ts';
import { parseEvidence } from '../agent/sandbox/evidence.ts';
import { HOST_FUEL } from '../agent/sandbox/Host.ts';
import { encodeInputs, encodeInputsGeneric, type EvaluationInput, type EvidenceItem } from '../agent/sandbox/inputs.ts';
import { Sandbox } from '../agent/sandbox/Sandbox.ts';
import { throwsError } from './helpers/assertError.ts';
import { assertFails, run, secretFile } from './helpers/guardianDevice.ts';
import { provisioned, setClock, startAgent } from './helpers/runningAgent.ts';
import { wat } from './helpers/wat.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
interface Beacon {
  round: number;
  randomness: string;
  signature: string;
}
const FX = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/drand/quicknet.json'), 'utf8')) as {
  info: { public_key: string; genesis_time: number; period: number; hash: string; schemeID: string };
  beacons: Beacon[];
};
const KEY = Uint8Array.from(Buffer.from(FX.info.public_key, 'hex'));
const G = BigInt(FX.info.genesis_time);
const P = BigInt(FX.info.period);
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const byRound = (r: number) => FX.beacons.find((b) => b.round === r)!;
const B123 = byRound(123);
const LATE = byRound(30662982); // published 2026-07-23T07:38:30Z
const roundMs = (r: number) => (FX.info.genesis_time + (r - 1) * FX.info.period) * 1000;
/** The unlock time of the contract tests: 30 s before LATE, so R(T) = LATE.round − 10. */
const T = roundMs(LATE.round) - 30_000;
const flipLast = (h: string) => h.slice(0, -2) + (parseInt(h.slice(-2), 16) ^ 1).toString(16).padStart(2, '0');
/** A forger's signature: a well-formed G1 point (it passes every format check) made without the chain's key. */
const FORGED = Buffer.from(bls12_381.G1.Point.BASE.multiply(0x5eed_f00dn).toBytes(true)).toString('hex');
const CAPSULE = { id: new Uint8Array(16).fill(1), created: 1, owner: null, logic: new Uint8Array(32), size: 1, digest: new Uint8Array(32) };

// ---- recorded fixtures ----

test('every recorded quicknet beacon verifies, its randomness is SHA-256(signature), and it does not verify as round + 1', () => {
  assert.is(FX.info.public_key, QUICKNET.publicKey);
  assert.is(FX.info.hash, QUICKNET.hash);
  assert.is(FX.info.schemeID, 'bls-unchained-g1-rfc9380');
  assert.ok(FX.beacons.length >= 3);
  for (const b of FX.beacons) {
    const sig = bytes(b.signature);
    assert.is(verifyDrandBeacon(KEY, G, P, BigInt(b.round), sig), BigInt(roundMs(b.round)), `round ${b.round}`);
    assert.is(createHash('sha256').update(sig).digest('hex'), b.randomness, `round ${b.round} randomness`);
    assert.is(verifyDrandBeacon(KEY, G, P, BigInt(b.round + 1), sig), DRAND_INVALID, `round ${b.round} as ${b.round + 1}`);
  }
});

test('round arithmetic: R(T) is the first round published at or after T', () => {
  assert.is(drandRoundTime(1n, G, P), G * 1000n);
  assert.is(drandFirstRoundAtOrAfter(G * 1000n - 5n, G, P), 1n);
  assert.is(drandFirstRoundAtOrAfter(BigInt(roundMs(LATE.round)), G, P), BigInt(LATE.round));
  assert.is(drandFirstRoundAtOrAfter(BigInt(roundMs(LATE.round)) + 1n, G, P), BigInt(LATE.round + 1));
  assert.is(drandFirstRoundAtOrAfter(BigInt(T), G, P), BigInt(LATE.round - 10));
  assert.is(drandRoundTime(0n, G, P), undefined);
  assert.is(drandRoundTime(1n << 62n, G, P), undefined, 'beyond an i64 of ms');
});

// ---- the host import, through a real metered module ----

const escape = (b: Uint8Array) => [...b].map((x) => `\\${x.toString(16).padStart(2, '0')}`).join('');
/** A module calling verify_drand_beacon(key, genesis, period, round, sig) and storing the i64 result as state "r". */
function caller(key: Uint8Array, sig: Uint8Array, round: bigint, genesis = G, period = P, lens?: [number, number]): Uint8Array {
  return wat(`(module
    (import "capsule_v1" "verify_drand_beacon" (func $v (param i32 i32 i64 i64 i64 i32 i32) (result i64)))
    (import "capsule_v1" "state_set" (func $set (param i32 i32 i32 i32)))
    (memory (export "memory") 1 1)
    (data (i32.const 0) "${escape(key)}")
    (data (i32.const 256) "${escape(sig)}")
    (data (i32.const 512) "r")
    (func (export "decide") (result i32)
      (i64.store (i32.const 600) (call $v (i32.const 0) (i32.const ${lens?.[0] ?? key.length}) (i64.const ${genesis}) (i64.const ${period})
        (i64.const ${round}) (i32.const 256) (i32.const ${lens?.[1] ?? sig.length})))
      (call $set (i32.const 512) (i32.const 1) (i32.const 600) (i32.const 8))
      (i32.const 1)))`);
}
const sandbox = new Sandbox();
const bare: EvaluationInput = { now: 0, requester: 'age1x', capsule: CAPSULE };
function hostCall(module: Uint8Array, fuel?: number): { result: bigint; fuel: number } {
  const r = (fuel ? new Sandbox({ fuel }) : sandbox).evaluate(module, bare);
  return { result: Buffer.from(r.state.get(Buffer.from('r').toString('hex'))!).readBigInt64LE(), fuel: r.fuel };
}

test("host: a real recorded beacon verifies and gives its round's time; the call costs HOST_FUEL.drand", () => {
  const ok = hostCall(caller(KEY, bytes(B123.signature), 123n));
  assert.is(ok.result, 1692803733000n);
  const late = hostCall(caller(KEY, bytes(LATE.signature), BigInt(LATE.round)));
  assert.is(late.result, BigInt(roundMs(LATE.round)));
  const short = hostCall(caller(KEY, bytes(B123.signature).subarray(0, 47), 123n));
  assert.is(short.result, DRAND_BAD_LENGTH);
  assert.ok(ok.fuel - short.fuel >= HOST_FUEL.drand, `a verification costs ${ok.fuel - short.fuel} units`);
  assert.ok(ok.fuel - short.fuel < HOST_FUEL.drand + 1000);
});

test('host: forged signature, wrong round, wrong public key and malformed lengths give the defined results', () => {
  const sig = bytes(B123.signature);
  assert.is(hostCall(caller(KEY, bytes(flipLast(B123.signature)), 123n)).result, DRAND_INVALID, 'corrupted (last byte flipped)');
  assert.is(hostCall(caller(KEY, bytes(FORGED), 123n)).result, DRAND_INVALID, 'forged (a G1 point made without the key)');
  assert.is(hostCall(caller(KEY, bytes(byRound(2).signature), 123n)).result, DRAND_INVALID, 'a real signature of another round');
  assert.is(hostCall(caller(KEY, sig, 124n)).result, DRAND_INVALID, 'round r presented as r + 1');
  const otherKey = bls12_381.G2.Point.BASE.multiply(7n).toBytes(true);
  assert.is(hostCall(caller(otherKey, sig, 123n)).result, DRAND_INVALID, 'a valid G2 key of another chain');
  const notAPoint = Uint8Array.from(KEY);
  notAPoint[5]! ^= 1;
  assert.is(hostCall(caller(notAPoint, sig, 123n)).result, DRAND_BAD_KEY, 'key not a G2 point');
  const identity = new Uint8Array(96);
  identity[0] = 0xc0;
  assert.is(hostCall(caller(identity, sig, 123n)).result, DRAND_BAD_KEY, 'the identity as a key');
  const sigIdentity = new Uint8Array(48);
  sigIdentity[0] = 0xc0;
  assert.is(hostCall(caller(KEY, sigIdentity, 123n)).result, DRAND_INVALID, 'the identity as a signature');
  assert.is(hostCall(caller(KEY.subarray(0, 48), sig, 123n)).result, DRAND_BAD_LENGTH, 'a 48-byte key');
  assert.is(hostCall(caller(KEY, new Uint8Array(96), 123n)).result, DRAND_BAD_LENGTH, 'a 96-byte signature');
  assert.is(hostCall(caller(KEY, sig, 0n)).result, DRAND_BAD_RANGE, 'round 0');
  assert.is(hostCall(caller(KEY, sig, -5n)).result, DRAND_BAD_RANGE, 'a negative round');
  assert.is(hostCall(caller(KEY, sig, 123n, G, 0n)).result, DRAND_BAD_RANGE, 'period 0');
  assert.is(hostCall(caller(KEY, sig, 123n, -1n)).result, DRAND_BAD_RANGE, 'negative genesis');
  assert.is(hostCall(caller(KEY, sig, 1n << 61n)).result, DRAND_BAD_RANGE, 'a time beyond an i64 of ms');
});

test('host: out of fuel inside the verification, a range outside guest memory, a wrong import type', () => {
  throwsError(() => hostCall(caller(KEY, bytes(B123.signature), 123n), 10_000_000), 'SandboxError', 'ERR_OUT_OF_FUEL', /ran out of fuel: limit 10000000/);
  throwsError(
    () => hostCall(caller(KEY, bytes(B123.signature), 123n, G, P, [96, 65536]), 0),
    'SandboxError',
    'ERR_GUEST_MEMORY',
    /verify_drand_beacon: \(ptr 256, len 65536\) is outside guest memory/,
  );
  const i32Round = wat(`(module (import "capsule_v1" "verify_drand_beacon" (func $v (param i32 i32 i64 i64 i32 i32 i32) (result i64)))
    (memory (export "memory") 1 1) (func (export "decide") (result i32) (i32.const 1)))`);
  throwsError(
    () => sandbox.evaluate(i32Round, bare),
    'SandboxError',
    'ERR_INVALID_MODULE',
    /imports "verify_drand_beacon" as \(i32, i32, i64, i64, i32, i32, i32\) -> \(i64\)/,
  );
});

test('ABI.md §4.3 test vectors', () => {
  const abi = readFileSync(join(ROOT, 'contracts-as/ABI.md'), 'utf8');
  assert.ok(abi.includes(`| 123 | \`${B123.signature}\` | 1692803733000 |`));
  assert.ok(abi.includes(`| ${LATE.round} | \`${LATE.signature}\` | ${roundMs(LATE.round)} |`));
  const sig = bytes(B123.signature);
  const badKey = Uint8Array.from(KEY);
  badKey[5]! ^= 1;
  assert.is(verifyDrandBeacon(KEY, G, P, 124n, sig), -1n);
  assert.is(verifyDrandBeacon(KEY, G, P, 123n, bytes(B123.signature.slice(0, -2) + '93')), -1n);
  assert.is(verifyDrandBeacon(KEY, G, P, 123n, sig.subarray(0, 47)), -2n);
  assert.is(verifyDrandBeacon(badKey, G, P, 123n, sig), -3n);
  assert.is(verifyDrandBeacon(KEY, G, P, 0n, sig), -4n);
});

// ---- evidence ----

test('drand JSON → evidence: round as u64 big-endian, signature, chain hash; the wire shape round-trips and encodes as the generic CBOR', () => {
  const [e] = parseDrandBeacon({ ...LATE, chain: QUICKNET.hash }, 'b.json');
  assert.equal(e, drandEvidence(BigInt(LATE.round), bytes(LATE.signature), bytes(QUICKNET.hash)));
  assert.is(e!.kind, 'drand');
  assert.is(e!.scheme, 'bls-unchained-g1-rfc9380');
  assert.is(Buffer.from(e!.message).toString('hex'), LATE.round.toString(16).padStart(16, '0'));
  const wire = { kind: 'drand', scheme: e!.scheme, signer: QUICKNET.hash, message: Buffer.from(e!.message).toString('hex'), signature: LATE.signature };
  assert.equal(parseEvidence(wire, 'body.evidence')[0], e);
  assert.is(parseDrandBeacon([B123, LATE], 'x').length, 2);
  assert.is(parseDrandBeacon({ round: 123, signature: B123.signature.toUpperCase() }, 'x')[0]!.signer.length, 0, 'no chain: empty signer');
  const input: EvaluationInput = { ...bare, evidence: [e!, parseDrandBeacon(B123, 'x')[0]!] };
  assert.is(encodeInputs(input).digest, encodeInputsGeneric(input).digest);
});

test('malformed beacons are refused with ERR_USAGE naming the field', () => {
  const cases: [unknown, RegExp][] = [
    ['{"round":1}', /^b: expected a drand beacon object/],
    [[], /^b: expected a drand beacon or an array of them, got an empty array$/],
    [{ ...B123, round: 0 }, /^b\.round: expected an integer ≥ 1, got 0$/],
    [{ ...B123, round: '123' }, /^b\.round: expected an integer ≥ 1, got "123"$/],
    [{ round: 123 }, /^b\.signature: required$/],
    [{ ...B123, signature: B123.signature.slice(2) }, /^b\.signature: a bls-unchained-g1-rfc9380 signature is 48 bytes, got 47$/],
    [{ ...B123, signature: B123.signature + B123.signature, randomness: undefined }, /^b\.signature: .* got 96 \(96 bytes: a chain that signs on G2/],
    [{ round: 123, signature: '00'.repeat(48) }, /^b\.signature: not a compressed point of BLS12-381 G1/],
    [{ round: 123, signature: 'zz' }, /^b\.signature: expected hex, got "zz"$/],
    [{ ...B123, randomness: LATE.randomness }, /^b\.randomness: is not SHA-256 of the signature \(the beacon was altered\)$/],
    [{ ...B123, previous_signature: 'aa' }, /^b\.previous_signature: a chained beacon/],
    [{ ...B123, sig: 'aa' }, /^b\.sig: unknown key/],
    [{ ...B123, chain: 'abcd' }, /^b\.chain: a chain hash is 32 bytes, got 2$/],
    [[B123, { ...B123, round: -1 }], /^b\[1\]\.round: expected an integer ≥ 1/],
  ];
  for (const [json, why] of cases) throwsError(() => parseDrandBeacon(json, 'b'), 'UsageError', 'ERR_USAGE', why);
  const wire = { kind: 'drand', scheme: 'bls-unchained-g1-rfc9380', signer: '', message: '000000000000007b', signature: B123.signature };
  assert.is(parseEvidence(wire, 'e')[0]!.kind, 'drand');
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...wire, scheme: 'ed25519' }, /^e\.scheme: a "drand" item has scheme "bls-unchained-g1-rfc9380", got "ed25519"$/],
    [{ ...wire, message: '7b' }, /^e\.message: a drand round is 8 bytes \(u64 big-endian\), got 1$/],
    [{ ...wire, message: '0000000000000000' }, /^e\.message: drand rounds start at 1, got 0$/],
    [{ ...wire, signer: 'abcd' }, /^e\.signer: a drand chain hash is 32 bytes \(or empty\), got 2$/],
    [{ ...wire, signature: 'ab' }, /^e\.signature: a bls-unchained-g1-rfc9380 signature is 48 bytes, got 1$/],
    [{ ...wire, kind: 'beacon' }, /^e\.kind: expected "approval", "checkin" or "drand", got "beacon"$/],
  ];
  for (const [json, why] of bad) throwsError(() => parseEvidence(json, 'e'), 'UsageError', 'ERR_USAGE', why);
});

// ---- the standard contract, compiled with asc, in the real sandbox ----

let built: Promise<Uint8Array> | undefined;
const contract = () => (built ??= buildPolicy('contracts-as/contracts/drand-time-lock.ts', { cwd: ROOT }).then((b) => b.wasm));
const PARAMS = { notBefore: T, publicKey: FX.info.public_key, genesis: FX.info.genesis_time, period: FX.info.period };
async function decide(now: number, evidence: EvidenceItem[], params: Record<string, unknown> = PARAMS) {
  return sandbox.evaluate(await contract(), { now, requester: 'age1x', capsule: CAPSULE, params: encodeCanonical(params), evidence });
}
const beacon = (b: Partial<Beacon> & { round: number; signature: string }, chain?: string) =>
  parseDrandBeacon({ round: b.round, signature: b.signature, ...(chain ? { chain } : {}) }, 'b');
const RT = LATE.round - 10;

test('drand-time-lock allows with a real beacon of round ≥ R(T) once the clock is at T; the same inputs give the same fuel', async () => {
  const r = await decide(T, beacon(LATE));
  assert.is(r.verdict, 'allow', r.reason);
  assert.is(r.reason, `open since ${T} (2026-07-23T07:38:00Z); drand round ${LATE.round} (2026-07-23T07:38:30Z) verified`);
  assert.ok(r.fuel > HOST_FUEL.drand && r.fuel < 50_000_000, `fuel ${r.fuel}`);
  assert.is((await decide(T, beacon(LATE))).fuel, r.fuel);
  // The beacon of exactly R(T) suffices: T on a round's publication time.
  const exact = await decide(roundMs(LATE.round), beacon(LATE), { ...PARAMS, notBefore: roundMs(LATE.round) });
  assert.is(exact.verdict, 'allow', exact.reason);
  // A matching chain hash on both sides, and later beacons after an earlier one, still allow.
  assert.is((await decide(T + 1, [...beacon(B123), ...beacon(LATE, QUICKNET.hash)], { ...PARAMS, chainHash: QUICKNET.hash })).verdict, 'allow');
});

test('drand-time-lock denies: forged beacon, round before R(T), no beacon, clock before T (even with a real beacon), another chain', async () => {
  const forged = await decide(T, beacon({ round: LATE.round, signature: FORGED }));
  assert.is(forged.verdict, 'deny');
  assert.is(forged.reason, `drand beacon for round ${LATE.round} does not verify under the chain's public key`);
  const relabelled = await decide(T, beacon({ round: LATE.round + 1, signature: LATE.signature }));
  assert.is(relabelled.reason, `drand beacon for round ${LATE.round + 1} does not verify under the chain's public key`);
  const early = await decide(T + 3_600_000, beacon(B123));
  assert.is(early.verdict, 'deny');
  assert.is(early.reason, `drand beacon of round 123 is before round ${RT}, the first at or after ${T} (2026-07-23T07:38:00Z)`);
  assert.ok(early.fuel < 1_000_000, 'an early round is not verified');
  const none = await decide(T, []);
  assert.is(none.reason, `needs a drand beacon (bls-unchained-g1-rfc9380) of round ${RT} or later: the clock says ${T} (2026-07-23T07:38:00Z) has passed`);
  const clock = await decide(T - 1, beacon(LATE));
  assert.is(clock.verdict, 'deny');
  assert.is(clock.reason, `opens at ${T} (2026-07-23T07:38:00Z) with a drand beacon of round ${RT} or later`);
  assert.ok(clock.fuel < 1_000_000, 'before T nothing is verified');
  const other = await decide(T, beacon(LATE, 'ab'.repeat(32)), { ...PARAMS, chainHash: QUICKNET.hash });
  assert.match(other.reason, /^needs a drand beacon/);
  // Only the first candidate is verified: a forged one first is a deny, not a search.
  assert.is((await decide(T, [...beacon({ round: LATE.round, signature: FORGED }), ...beacon(LATE)])).verdict, 'deny');
});

test('drand-time-lock: misconfigured params are errors, never allows', async () => {
  const traps = async (params: Record<string, unknown>, why: RegExp) => {
    let err: unknown;
    try {
      await decide(T, beacon(LATE), params);
    } catch (e) {
      err = e;
    }
    assert.instance(err, SandboxError);
    assert.is((err as SandboxError).code, 'ERR_TRAP');
    assert.match((err as Error).message, why);
  };
  const badKey = Buffer.from(KEY);
  badKey[5]! ^= 1;
  await traps({ ...PARAMS, publicKey: badKey.toString('hex') }, /params\.publicKey: not a point of BLS12-381 G2/);
  await traps({ ...PARAMS, publicKey: 'abcd' }, /params\.publicKey: expected 96 bytes/);
  await traps({ ...PARAMS, period: 0 }, /params\.period: must be at least 1/);
  await traps({ ...PARAMS, chainHash: 'ab' }, /params\.chainHash: expected 32 bytes/);
  await traps({ ...PARAMS, round: 5 }, /params\.round: unknown parameter/);
  const { genesis: _g, ...noGenesis } = PARAMS;
  await traps(noGenesis, /params\.genesis: required/);
});

test('SDK (sdk/drand.ts): verifyDrandBeacon true/false and traps on malformed input; round arithmetic', async () => {
  const selftest = (await buildPolicy('contracts-as/test/drand-selftest.ts', { cwd: ROOT })).wasm;
  const at = roundMs(LATE.round) + 1;
  const twice = new Sandbox({ fuel: 100_000_000 }); // it verifies twice: try… and the trapping form
  const evalWith = (o: Record<string, unknown>) =>
    twice.evaluate(selftest, {
      ...bare,
      params: encodeCanonical({ key: KEY, sig: bytes(LATE.signature), round: LATE.round, genesis: FX.info.genesis_time, period: 3, at, ...o }),
    });
  const ok = evalWith({});
  assert.is(ok.verdict, 'allow');
  assert.is(ok.reason, `raw ${roundMs(LATE.round)}; roundAt ${LATE.round}; first ${LATE.round + 1}; firstTime ${roundMs(LATE.round + 1)}`);
  assert.is(
    evalWith({ at: FX.info.genesis_time * 1000 - 1 }).reason,
    `raw ${roundMs(LATE.round)}; roundAt 0; first 1; firstTime ${FX.info.genesis_time * 1000}`,
  );
  assert.is(
    evalWith({ at: roundMs(LATE.round) }).reason,
    `raw ${roundMs(LATE.round)}; roundAt ${LATE.round}; first ${LATE.round}; firstTime ${roundMs(LATE.round)}`,
  );
  const forged = evalWith({ sig: bytes(FORGED) });
  assert.is(forged.verdict, 'deny');
  assert.match(forged.reason, /^raw -1;/);
  const traps = (o: Record<string, unknown>, why: RegExp) => throwsError(() => evalWith(o), 'SandboxError', 'ERR_TRAP', why);
  traps({ sig: bytes(LATE.signature).subarray(0, 47) }, /drand: the public key must be 96 bytes and the signature 48, got 96 and 47/);
  const badKey = Uint8Array.from(KEY);
  badKey[5]! ^= 1;
  traps({ key: badKey }, /drand: the chain's public key is not a point of BLS12-381 G2/);
  traps({ round: 0 }, /drand: round 0, genesis 1692803367 s, period 3 s are out of range/);
  traps({ period: 0 }, /drand: round \d+, genesis 1692803367 s, period 0 s are out of range/);
});

// ---- end to end: a real agent, the CLI ----

test('end to end: a drand-time-lock capsule opens with a real recorded beacon and not with a forged one (logic run agrees)', async () => {
  const { d, x25519, cleanup } = await provisioned({ policy: false });
  try {
    writeFileSync(join(d.dir, 'drand.wasm'), await contract());
    const plain = secretFile(d);
    assert.is(
      run(d, [
        'seal',
        'secret.bin',
        '--guardian',
        x25519,
        '--logic',
        'drand.wasm',
        '--params',
        JSON.stringify({ ...PARAMS, chainHash: QUICKNET.hash }),
        '-o',
        'c.capsule',
      ]).code,
      0,
    );
    writeFileSync(join(d.dir, 'beacon.json'), JSON.stringify(LATE));
    writeFileSync(join(d.dir, 'forged.json'), JSON.stringify({ round: LATE.round, signature: FORGED }));
    const me = /age1[0-9a-z]+/.exec(readFileSync(join(d.dir, 'me.key'), 'utf8'))![0];
    const dry = run(d, [
      'logic',
      'run',
      'drand.wasm',
      '--capsule',
      'c.capsule',
      '--requester',
      me,
      '--at',
      String(T + 60_000),
      '--drand-beacon',
      'beacon.json',
    ]);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^allow: open since ${T} .*drand round ${LATE.round}`));
    const dryInline = run(d, [
      'logic',
      'run',
      'drand.wasm',
      '--capsule',
      'c.capsule',
      '--requester',
      me,
      '--at',
      String(T + 60_000),
      '--drand-beacon',
      JSON.stringify(B123),
    ]);
    assert.match(dryInline.stdout, /^deny: drand beacon of round 123 is before round/);
    setClock(d, T + 3_600_000); // the guardian's clock is past T
    const a = await startAgent(d);
    try {
      assert.is(run(d, ['logic', 'push', 'drand.wasm', '--guardian', a.url]).code, 0);
      assertFails(
        run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '--drand-beacon', 'forged.json', '-o', 'out.bin']),
        new RegExp(`denied by the capsule's logic: drand beacon for round ${LATE.round} does not verify under the chain's public key`),
      );
      assert.not.ok(existsSync(join(d.dir, 'out.bin')));
      assertFails(
        run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '-o', 'out.bin']),
        /denied by the capsule's logic: needs a drand beacon/,
      );
      assertFails(
        run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '--drand-beacon', '{"round": 1}', '-o', 'out.bin']),
        /^capsule: error: --drand-beacon\.signature: required$/,
        /^capsule: hint: a beacon is the JSON drand serves for a round/,
      );
      const ok = run(d, ['open', 'c.capsule', '--guardian', a.url, '--identity', 'me.key', '--drand-beacon', 'beacon.json', '-o', 'out.bin']);
      assert.is(ok.code, 0, ok.stderr);
      assert.ok(readFileSync(join(d.dir, 'out.bin')).equals(plain), 'the payload');
    } finally {
      assert.is(await a.stop(), 0);
    }
    // The audited decisions (beacons included in their inputs) replay offline to the same verdict and fuel.
    const v = run(d, ['audit', 'verify', '--data-dir', d.data, '--replay']);
    assert.is(v.code, 0, v.stderr);
    assert.match(v.stdout, /; 3 decisions replayed with the same verdict and fuel\n$/);
  } finally {
    cleanup();
  }
});

test.run();
