/**
 * `capsule guardian init|show`: provisioning a guardian (fresh seed with a paper backup, or
 * `--restore` from it) and printing what it publishes.
 *
 * stdout carries data: the recovery words (only when stdout is the terminal, or with
 * --mnemonic-to-stdout), then the guardian's public facts; prompts and notes go to stderr.
 * Deliberately not here: the seed (provision.ts, seedChild.ts) and the agent (a later issue).
 */
import { UsageError } from '../../errors.ts';
import type { GuardianRecord } from '../../guardian/GuardianFile.ts';
import { Guardian } from '../../guardian/Guardian.ts';
import { parseBackend } from '../../guardian/keyStoreFor.ts';
import { dataDirOf } from '../dataDir.ts';
import { provision } from '../../guardian/provision.ts';
import type { Capabilities } from '../../keys/KeyStore.ts';
import { parsePcrList } from '../../keys/Tpm2KeyStore.ts';
import { GUARDIAN, GUARDIAN_INIT as INIT, GUARDIAN_SHOW as SHOW } from '../specs/guardian.ts';
import { runSubcommand } from '../subcommands.ts';
import { parse, str } from '../args.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

/** `capsule guardian init|show …`. @throws UsageError ERR_USAGE; and what provisioning or opening the guardian throws */
export async function guardianCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(GUARDIAN, { init, show }, argv, t);
}

export { dataDirOf };

async function init(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, INIT);
  const backend = parseBackend(str(p, 'backend'));
  const pcrsText = str(p, 'pcrs');
  if (pcrsText !== undefined && backend !== 'tpm2') throw new UsageError('ERR_USAGE', '--pcrs goes with --backend tpm2', { hint: `usage: ${INIT.synopsis}` });
  let pcrs: number[] | undefined;
  try {
    pcrs = pcrsText === undefined ? undefined : parsePcrList(pcrsText);
  } catch (cause) {
    throw new UsageError('ERR_USAGE', `--pcrs: expected PCR numbers 0..23 separated by commas (e.g. 7 or 0,2,7), got ${JSON.stringify(pcrsText)}`, {
      cause,
      hint: `usage: ${INIT.synopsis}`,
    });
  }
  const restore = p.values.restore === true;
  if (!restore && p.values['mnemonic-from-stdin'])
    throw new UsageError('ERR_USAGE', '--mnemonic-from-stdin goes with --restore', { hint: `usage: ${INIT.synopsis}` });
  if (restore && (p.values['confirm-words-from-stdin'] || p.values['mnemonic-to-stdout'])) {
    throw new UsageError('ERR_USAGE', '--restore shows no words, so --confirm-words-from-stdin and --mnemonic-to-stdout do not apply', {
      hint: `usage: ${INIT.synopsis}`,
    });
  }
  if (backend === 'soft') say(t, 'warning: the soft backend keeps keys in a passphrase-locked file, NOT in hardware: development only');
  const dataDir = dataDirOf(t, str(p, 'data-dir'));
  const record = await provision({
    dataDir,
    backend,
    restore,
    pcrs,
    force: p.values.force === true,
    confirmFromStdin: p.values['confirm-words-from-stdin'] === true,
    mnemonicFromStdin: p.values['mnemonic-from-stdin'] === true,
    mnemonicToStdout: p.values['mnemonic-to-stdout'] === true,
    env: t.env ?? process.env,
    stdinIsTTY: (t.stdin as { isTTY?: boolean }).isTTY === true,
    stdoutIsTTY: t.stdout.isTTY === true,
    allowUnisolated: p.values['allow-unisolated'] === true,
    onNotice: (text) => say(t, `note: ${text}`),
    onUnisolated: (isolation) => say(t, `warning: the seed process runs WITHOUT confinement (--allow-unisolated): ${isolation}`),
    signal: t.signal,
  });
  say(t, `guardian ${restore ? 'restored' : 'provisioned'} in ${dataDir} (${record.backend}, ${record.model}, ${record.serial})`);
  if (!restore) say(t, "keep the paper backup offline: it is the only way to rebuild this guardian's x25519 and p256-ecdh keys");
  if (backend === 'tpm2')
    say(
      t,
      `the TPM keys are in ${dataDir} (tpm2-keystore.json, and the auth file tpm2-auth): back them up with the data directory; they open only on this TPM`,
    );
  await print(t, record, p.values.json === true);
  return 0;
}

async function show(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SHOW);
  const g = await Guardian.open(dataDirOf(t, str(p, 'data-dir')), { env: t.env ?? process.env });
  try {
    await print(t, g.record, p.values.json === true, g.keyStore.capabilities.hardware, g.keyStore.capabilities);
  } finally {
    await g.close();
  }
  return 0;
}

async function print(t: Terminal, r: GuardianRecord, json: boolean, hardware = r.backend === 'zymbit', caps?: Capabilities): Promise<void> {
  const facts = {
    backend: r.backend,
    model: r.model,
    serial: r.serial,
    hardware,
    created: r.created,
    restored: r.restored,
    stanzas: {
      x25519: r.recipients.x25519,
      'p256-ecdh': r.recipients.p256,
      ...(r.backend === 'tpm2'
        ? { 'tpm2-rsa': r.recipients.tpm2 ?? null }
        : { 'zymbit-lock': 'on this device only (capsule seal --on-guardian zymbit-lock); not recoverable from the paper backup' }),
    },
    signingKey: r.signingKey,
    capabilities: { ecdh: r.ecdh, ...(caps?.firmware ? { manufacturer: caps.manufacturer, firmware: caps.firmware } : {}) },
    isolation: r.isolation,
  };
  if (json) {
    await writeOut(t, JSON.stringify(facts, null, 2) + '\n');
    return;
  }
  await writeOut(
    t,
    [
      `backend: ${r.backend}${r.backend === 'soft' ? ' (NOT FOR PRODUCTION)' : ''}`,
      `model: ${r.model}`,
      `serial: ${r.serial}`,
      ...(caps?.firmware ? [`firmware: ${caps.manufacturer ?? ''} ${caps.firmware}`.replace(/: +/, ': ')] : []),
      `created: ${r.created}${r.restored ? ' (restored from paper)' : ''}`,
      `x25519: ${r.recipients.x25519}`,
      `p256-ecdh: ${r.recipients.p256 ?? `unavailable (${r.model} has no ECDH)`}`,
      r.backend === 'tpm2'
        ? `tpm2-rsa: ${r.recipients.tpm2 ?? 'unavailable'} (this TPM only; not recoverable from the paper backup)`
        : 'zymbit-lock: this device only (seal --on-guardian zymbit-lock)',
      `signing-key: ${r.signingKey}`,
      `seed-process: ${r.isolation}`,
    ].join('\n') + '\n',
  );
}
