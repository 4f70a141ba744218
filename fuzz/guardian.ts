/**
 * A guardian for the campaign (fuzz, kill -9, soak): a provisioned simulated device
 * (test/helpers/runningAgent.ts), the standard policy compiled by asc and pushed, capsules sealed
 * to it by the real CLI — one that allows at the agent's time T, one that denies, and a dead-man
 * capsule signed by the owner (so check-ins are accepted) — and a running `capsule agent`.
 *
 * Deliberately not here: the load or faults applied to it (the callers).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../agent/logic/build.ts';
import { identityOf, setClock, startAgent, T, type Running } from '../test/helpers/runningAgent.ts';
import { device, init, recipients, run, secretFile, type Device } from '../test/helpers/guardianDevice.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
import { signWithOwner, ownerPublicKey, type Identity } from '../agent/crypto/identity.ts';
import { CapsuleReader } from '../agent/capsule/CapsuleReader.ts';

export { T };

export interface Fixture {
  d: Device;
  /** The running agent (restart with `restart()`). */
  agent: Running;
  config: Record<string, unknown>;
  me: Identity;
  owner: Identity;
  /** Capsule bytes: allows for `me` at T; denies (opens in 2100); dead-man (owner-signed). */
  allow: Buffer;
  deny: Buffer;
  deadman: Buffer;
  secret: Buffer;
  /** SHA-256 (hex) of policy.wasm; signing slot 1 uses it with a time lock at T. */
  logic: string;
  restart(): Promise<Running>;
  cleanup(): Promise<void>;
}

/** Defaults for a campaign agent: no rate limits or per-client fuel budget (the campaign is the only client, from one address), slot 1 signs. */
export function campaignConfig(logic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ratePerSecond: 0,
    ratePerNetwork: 0,
    rateGlobal: 0,
    clientFuelPerMinute: 0,
    signing: [{ slot: 1, logic, params: { timeLock: { notBefore: T } } }],
    ...extra,
  };
}

/** Fixture options: `ipfs` keeps the embedded IPFS node on (the device helper turns it off). */
export interface FixtureOptions {
  ipfs?: boolean;
  env?: Record<string, string>;
}

let policy: Promise<Uint8Array> | undefined;

/**
 * A provisioned device (as test/helpers/runningAgent.ts provisioned(), which it mirrors) whose
 * policy module is compiled once per process — or read from CAMPAIGN_POLICY_WASM when set (a
 * module built earlier by `capsule logic build`: saves the compile on repeated runs).
 */
async function provision(o: FixtureOptions): Promise<{ d: Device; x25519: string; cleanup(): void }> {
  const d = device();
  if (o.ipfs) delete (d.env as Record<string, string | undefined>).CAPSULE_IPFS;
  Object.assign(d.env, o.env ?? {});
  const r = await init(d);
  if (r.code !== 0) throw new Error(`guardian init: ${r.stderr}`);
  policy ??= process.env.CAMPAIGN_POLICY_WASM
    ? Promise.resolve(new Uint8Array(readFileSync(process.env.CAMPAIGN_POLICY_WASM)))
    : buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT }).then((b) => b.wasm);
  writeFileSync(join(d.dir, 'policy.wasm'), await policy);
  setClock(d, T);
  for (const k of ['me', 'other', 'owner']) if (run(d, ['keygen', '-o', `${k}.key`]).code !== 0) throw new Error(`keygen ${k}`);
  return { d, x25519: recipients(d).x25519, cleanup: () => rmSync(d.dir, { recursive: true, force: true }) };
}

export async function guardianFixture(extra: Record<string, unknown> = {}, secretSize = 200, options: FixtureOptions = {}): Promise<Fixture> {
  const { d, x25519, cleanup } = await provision(options);
  const secret = secretFile(d, secretSize);
  const seal = (out: string, params: unknown, more: string[] = []) => {
    const r = run(d, ['seal', 'secret.bin', '--guardian', x25519, '--logic', 'policy.wasm', '--params', JSON.stringify(params), ...more, '-o', out]);
    if (r.code !== 0) throw new Error(`seal ${out}: ${r.stderr}`);
    return readFileSync(join(d.dir, out));
  };
  const me = identityOf(d, 'me.key');
  const owner = identityOf(d, 'owner.key');
  const allow = seal('allow.capsule', { timeLock: { notBefore: T } });
  const deny = seal('deny.capsule', { timeLock: { notBefore: 4_102_444_800_000 } });
  const deadman = seal('deadman.capsule', { deadMan: { beneficiaries: [me.recipient], silenceMs: 3_600_000 } }, ['--sign-with', 'owner.key']);
  const logic = createHash('sha256')
    .update(readFileSync(join(d.dir, 'policy.wasm')))
    .digest('hex');
  const config = campaignConfig(logic, extra);
  const f: Fixture = {
    d,
    config,
    me,
    owner,
    allow,
    deny,
    deadman,
    secret,
    logic,
    agent: await startAgent(d, config),
    async restart() {
      f.agent = await startAgent(d, config);
      return f.agent;
    },
    async cleanup() {
      await f.agent.stop().catch(() => {});
      me.dispose();
      owner.dispose();
      cleanup();
    },
  };
  const push = await fetch(f.agent.url + '/v1/modules', {
    method: 'POST',
    headers: { 'content-type': 'application/wasm' },
    body: readFileSync(join(d.dir, 'policy.wasm')),
  });
  if (push.status !== 201 && push.status !== 200) throw new Error(`module push: ${push.status} ${await push.text()}`);
  return f;
}

/** A check-in for the dead-man capsule signed by its owner at `at` (the guardian's ms). */
export function checkinBody(f: Fixture, at: number): Record<string, unknown> {
  const id = capsuleIdHex(f.deadman);
  const message = Buffer.from(`capsule-checkin:v1:${id}:${at}`);
  const signature = signWithOwner(f.owner, message);
  return {
    capsule: f.deadman.toString('base64'),
    checkin: {
      kind: 'checkin',
      scheme: 'ed25519',
      signer: Buffer.from(ownerPublicKey(f.owner)).toString('hex'),
      message: message.toString('hex'),
      signature: Buffer.from(signature).toString('hex'),
    },
  };
}

/** The capsule id (hex) from its header. */
export function capsuleIdHex(capsule: Uint8Array): string {
  const reader = new CapsuleReader();
  reader.push(capsule);
  return Buffer.from(reader.parsed!.header.id).toString('hex');
}
