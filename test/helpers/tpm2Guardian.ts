/**
 * A guardian on a TPM for end-to-end tests: a fresh swtpm, a device directory whose CLI runs see
 * that TPM through CAPSULE_TPM_TCTI, `guardian init --backend tpm2` driven as a script drives it
 * (words read from stdout, three confirmed), and the standard policy (contracts-as/contracts/
 * policy.ts, compiled once per process) as policy.wasm. `stop()` stops the TPM; the device
 * directory goes when the process exits (guardianDevice.ts).
 *
 * TSS2_LOG is removed from the devices' environment: the tests check what the CLI writes to
 * stderr by default, so an operator's logging setting must not leak in from the test runner.
 * Deliberately not here: assertions on behaviour, and tpm2-tools interop (tpm2Tools.ts).
 */
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPolicy } from '../../agent/logic/build.ts';
import { device, init, type Device } from './guardianDevice.ts';
import { startSwtpm, type Swtpm } from './swtpm.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let policy: Promise<Uint8Array> | undefined;

/** The standard unlock policy, compiled by asc once per test process. */
export function standardPolicy(): Promise<Uint8Array> {
  policy ??= buildPolicy('contracts-as/contracts/policy.ts', { cwd: ROOT }).then((b) => b.wasm);
  return policy;
}

/** What `guardian init` recorded (guardian.json): the recipients and the signing key. */
export interface TpmRecipients {
  x25519: string;
  tpm2: string;
  signingKey: string;
  serial: string;
}

export interface TpmGuardian {
  tpm: Swtpm;
  d: Device;
  /** The 24 recovery words `init` showed. */
  words: string[];
  r: TpmRecipients;
  stop(): Promise<void>;
}

/** A device whose CLI runs use `tpm` (and only the default tpm2-tss logging). */
export function tpmDevice(tpm: Swtpm): Device {
  const d = device('HSM6', { CAPSULE_TPM_TCTI: tpm.tcti });
  delete (d.env as Record<string, string | undefined>).TSS2_LOG;
  return d;
}

export function tpmRecipients(d: Device): TpmRecipients {
  const g = JSON.parse(readFileSync(join(d.data, 'guardian.json'), 'utf8'));
  return { x25519: g.recipients.x25519, tpm2: g.recipients.tpm2, signingKey: g.signingKey, serial: g.serial };
}

/** A fresh swtpm and a guardian provisioned on it, with the standard policy as policy.wasm. */
export async function tpmGuardian(): Promise<TpmGuardian> {
  const tpm = await startSwtpm();
  try {
    const d = tpmDevice(tpm);
    const r = await init(d, { args: ['--backend', 'tpm2'] });
    assert.is(r.code, 0, `guardian init --backend tpm2: ${r.stderr}`);
    writeFileSync(join(d.dir, 'policy.wasm'), await standardPolicy());
    return { tpm, d, words: r.words, r: tpmRecipients(d), stop: () => tpm.stop() };
  } catch (e) {
    await tpm.stop();
    throw e;
  }
}

/** A directory with no guardian at all (no data dir, no TPM): sealing "anywhere". */
export async function nowhere(): Promise<Device> {
  const d = device('HSM6');
  for (const k of ['CAPSULE_TPM_TCTI', 'CAPSULE_ZYMBIT_LIB', 'ZK_SIM_STATE_DIR', 'TSS2_LOG']) delete (d.env as Record<string, string | undefined>)[k];
  writeFileSync(join(d.dir, 'policy.wasm'), await standardPolicy());
  return d;
}
