/**
 * `capsule wallet create|restore|show|address|sign`: the hot wallet from the command line.
 * create/restore/show/address open the guardian's key store directly (the agent must not be
 * running on the same data directory); sign asks a running agent (POST /v1/wallet/sign), which
 * signs only if the account's policy allows.
 *
 * stdout carries data: the 24 words of `create` (only when stdout is a terminal, or with
 * --mnemonic-to-stdout, as `guardian init` does), addresses, and the signed output; notes go to
 * stderr. Deliberately not here: decoding or signing requests (agent/wallet, the agent), the
 * accounts' policies (agent configuration), removing wallets.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { addr } from 'micro-eth-signer';
import { GuardianClient } from '../../client/GuardianClient.ts';
import { AgentError, DceError, UsageError } from '../../errors.ts';
import { Guardian } from '../../guardian/Guardian.ts';
import type { WalletKeys } from '../../keys/WalletKeys.ts';
import { parseEvidence } from '../../sandbox/evidence.ts';
import type { EvidenceItem } from '../../sandbox/inputs.ts';
import { ethereumAddress } from '../../wallet/keyFacts.ts';
import { bitcoinAddress } from '../../wallet/WalletAccount.ts';
import { WALLET, WALLET_ADDRESS, WALLET_CREATE, WALLET_RESTORE, WALLET_SHOW, WALLET_SIGN } from '../specs/wallet.ts';
import { list, need, parse, str } from '../args.ts';
import { loadIdentities, readJsonFile } from '../files.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';
import { dataDirOf } from '../dataDir.ts';
import { runSubcommand } from '../subcommands.ts';

/** `capsule wallet SUB …`. @throws UsageError ERR_USAGE; and what the subcommand throws */
export async function walletCommand(argv: string[], t: Terminal): Promise<number> {
  return runSubcommand(WALLET, { create, restore, show, address, sign }, argv, t);
}

/** Runs `fn` with the guardian's wallets, closing the key store after. */
async function withWallets<T>(t: Terminal, dataDir: string | undefined, fn: (w: WalletKeys) => Promise<T>): Promise<T> {
  const g = await Guardian.open(dataDirOf(t, dataDir), { env: t.env ?? process.env });
  try {
    const w = g.keyStore.wallet;
    if (!w || !w.capabilities.supported) {
      throw new AgentError('ERR_UNAVAILABLE', `this guardian's key store (${g.record.model}) holds no wallets`, {
        hint: 'the hot wallet needs an HSM6/SCM, or the soft backend for development',
      });
    }
    return await fn(w);
  } finally {
    await g.close();
  }
}

async function create(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, WALLET_CREATE);
  const name = p.positionals[0]!;
  // As guardian init: the words go only to a terminal unless the operator says where else.
  if (t.stdout.isTTY !== true && p.values['mnemonic-to-stdout'] !== true) {
    throw new UsageError('ERR_USAGE', 'refusing to write the recovery words to a stdout that is not a terminal', {
      hint: 'run it on a terminal; for scripts pass --mnemonic-to-stdout (the words then go wherever stdout goes)',
    });
  }
  const created = await withWallets(t, str(p, 'data-dir'), (w) => w.create(name));
  say(
    t,
    `wallet ${name} created (master slot ${created.masterSlot}); write down these 24 words and keep them offline: they are shown once and are the only backup`,
  );
  await writeOut(t, created.mnemonic + '\n');
  return 0;
}

async function restore(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, WALLET_RESTORE);
  const name = p.positionals[0]!;
  const chunks: Buffer[] = [];
  for await (const c of t.stdin) chunks.push(Buffer.from(c as Uint8Array));
  const words = Buffer.concat(chunks);
  try {
    const r = await withWallets(t, str(p, 'data-dir'), (w) => w.restore(name, words.toString('utf8')));
    say(t, `wallet ${name} restored (master slot ${r.masterSlot})`);
  } finally {
    words.fill(0);
    for (const c of chunks) c.fill(0);
  }
  return 0;
}

async function show(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, WALLET_SHOW);
  const all = await withWallets(t, str(p, 'data-dir'), (w) => w.list());
  await writeOut(t, p.values.json ? JSON.stringify(all) + '\n' : all.map((w) => `${w.name} (master slot ${w.masterSlot})\n`).join(''));
  return 0;
}

async function address(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, WALLET_ADDRESS);
  const [name, path] = p.positionals as [string, string];
  const network = str(p, 'network');
  if (network !== undefined && !['mainnet', 'testnet', 'regtest'].includes(network))
    throw new UsageError('ERR_USAGE', `--network: expected mainnet, testnet or regtest, got ${JSON.stringify(network)}`, {
      hint: `usage: ${WALLET_ADDRESS.synopsis}`,
    });
  const publicKey = await withWallets(t, str(p, 'data-dir'), (w) => w.publicKey(name, path));
  // The coin type says the chain (SLIP-44): 60' Ethereum; otherwise Bitcoin (1' = testnet).
  const coin = /^m\/\d+'\/(\d+)'/.exec(path)?.[1];
  const text =
    coin === '60'
      ? addr.addChecksum(`0x${Buffer.from(ethereumAddress(publicKey)).toString('hex')}`)
      : bitcoinAddress({ chain: 'bitcoin', wallet: name, path, publicKey, network: (network ?? (coin === '1' ? 'testnet' : 'mainnet')) as 'mainnet' });
  await writeOut(t, `${text}\n`);
  say(t, `public key ${Buffer.from(publicKey).toString('hex')}`);
  return 0;
}

async function sign(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, WALLET_SIGN);
  const url = need(p, 'guardian', WALLET_SIGN.synopsis);
  const wallet = need(p, 'wallet', WALLET_SIGN.synopsis);
  const path = need(p, 'path', WALLET_SIGN.synopsis);
  const given = ['eth-tx', 'typed-data', 'message', 'psbt', 'digest'].filter((k) => str(p, k) !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      'ERR_USAGE',
      `expected exactly one of --eth-tx, --typed-data, --message, --psbt, --digest, got ${given.length === 0 ? 'none' : given.map((g) => `--${g}`).join(', ')}`,
      { hint: `usage: ${WALLET_SIGN.synopsis}` },
    );
  }
  const request = await requestOf(t, given[0]!, str(p, given[0]!)!);
  const ids = await loadIdentities(t, need(p, 'identity', WALLET_SIGN.synopsis));
  const client = new GuardianClient(url, undefined, { identity: ids[0] });
  let r;
  try {
    const evidence: EvidenceItem[] = [];
    for (const f of list(p, 'approval')) evidence.push(...parseEvidence(await readJsonFile(t, f), f));
    r = await client.walletSign(request, wallet, path, ids[0]!.recipient, evidence, t.signal);
  } catch (e) {
    // A denial is the policy's answer, said plainly (exit 1): "denied by the signing policy: <reason>".
    if (e instanceof DceError && e.code === 'ERR_DENIED')
      throw new AgentError('ERR_DENIED', `denied by the signing policy: ${String((e as { reason?: unknown }).reason)}`, {
        cause: e,
        status: 403,
        hint: e.hint,
      });
    throw e;
  } finally {
    for (const i of ids) i.dispose();
  }
  await writeOut(t, `${r.output}\n`);
  say(t, `signed by ${wallet} ${path} at ${client.url}: ${r.reason} (audit entry #${r.audit})`);
  return 0;
}

/** The { kind, payload } of POST /v1/wallet/sign from the one payload option given. */
async function requestOf(t: Terminal, option: string, value: string): Promise<Record<string, unknown>> {
  const file = async (): Promise<Buffer> => {
    try {
      return await readFile(resolve(t.cwd, value));
    } catch (cause) {
      throw new UsageError('ERR_USAGE', `--${option}: cannot read ${value}`, { cause });
    }
  };
  switch (option) {
    case 'eth-tx': {
      if (!value.trimStart().startsWith('{')) return { kind: 'eth-tx', transaction: value };
      try {
        return { kind: 'eth-tx', transaction: JSON.parse(value) };
      } catch (cause) {
        throw new UsageError('ERR_USAGE', '--eth-tx: expected transaction fields as JSON or an unsigned transaction as hex, got invalid JSON', {
          cause,
          hint: `usage: ${WALLET_SIGN.synopsis}`,
        });
      }
    }
    case 'typed-data':
      return { kind: 'eth-typed-data', typedData: (await file()).toString('utf8') };
    case 'message':
      return { kind: 'eth-message', message: value };
    case 'psbt': {
      const b = await file();
      const text = b.toString('latin1').trim();
      // A PSBT file is binary (magic "psbt\xff") or base64 text.
      return { kind: 'btc-psbt', psbt: b.subarray(0, 5).equals(Buffer.from('psbt\xff', 'latin1')) ? b.toString('base64') : text };
    }
    default:
      return { kind: 'raw-digest', digest: value.replace(/^0x/i, '').toLowerCase() };
  }
}
