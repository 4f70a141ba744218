/**
 * Other tools' TPM bindings in the same LUKS2 header, recognised so that `luks-enroll` can tell the
 * operator what else unlocks the disk (and `luks-key` can point at it when there is no capsule
 * token). Read from `cryptsetup luksDump --dump-json-metadata` (Cryptsetup.metadata):
 *
 *  - `systemd-tpm2` (systemd-cryptenroll --tpm2-device): the sealed object itself in the token
 *    (`tpm2-blob`), `tpm2-pcrs` (array of PCR numbers), `tpm2-pcr-bank` (sha1/sha256),
 *    `tpm2-primary-alg` (ecc/rsa), `tpm2-policy-hash` (hex), `tpm2-pin` (bool); newer systemd adds
 *    `tpm2-pubkey` / `tpm2-pubkey-pcrs` (a signed PCR policy), `tpm2_pcrlock`, `tpm2_srk`, `tpm2_salt`.
 *  - `clevis` (clevis luks bind … tpm2): a JWE whose protected header names the pin and, for tpm2,
 *    `pcr_ids` ("0,7"), `pcr_bank` and `key` (the primary's algorithm); an `sss` pin nests compact
 *    JWEs, looked into one level deep.
 *
 * Only facts for a message: the header is not authenticated, every field is checked before it is
 * printed, and nothing here changes or refuses anything.
 *
 * Deliberately not here: unsealing with those tokens (systemd-cryptsetup or clevis do that),
 * FIDO2/PKCS#11 tokens, and clevis tang pins beyond naming them.
 */
import { Cryptsetup } from './Cryptsetup.ts';

export interface SystemdTpm2Token {
  tool: 'systemd-tpm2';
  id: number;
  keyslots: string[];
  /** PCRs bound by value (`tpm2-pcrs`). */
  pcrs: number[];
  pcrBank: string | undefined;
  primaryAlg: string | undefined;
  policyHash: string | undefined;
  /** Whether unsealing needs a PIN typed at boot (`tpm2-pin`). */
  pin: boolean;
  /** PCRs bound through a signed policy (`tpm2-pubkey-pcrs`), empty without one. */
  signedPcrs: number[];
  /** A systemd-pcrlock policy (`tpm2_pcrlock`). */
  pcrlock: boolean;
}

export interface ClevisToken {
  tool: 'clevis';
  id: number;
  keyslots: string[];
  /** The pins: "tpm2", "tang", or for sss the pins inside it. */
  pins: string[];
  /** The tpm2 pin's settings, when there is one. */
  tpm2?: { pcrs: number[]; pcrBank: string | undefined; key: string | undefined };
}

export type ForeignToken = SystemdTpm2Token | ClevisToken;

/** A short word from an unauthenticated header, or undefined (never printed unchecked). */
function word(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z0-9_.-]{1,32}$/.test(v) ? v : undefined;
}

function pcrList(v: unknown): number[] {
  if (typeof v === 'string') v = v.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (!Array.isArray(v)) return [];
  return [...new Set(v.filter((p): p is number => Number.isInteger(p) && p >= 0 && p <= 31))].sort((a, b) => a - b);
}

function slots(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && /^[0-9]{1,2}$/.test(s)) : [];
}

function jsonB64url(text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== 'string' || text.length > 65536) return undefined;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}

function clevis(id: number, t: Record<string, unknown>): ClevisToken | undefined {
  const header = jsonB64url((t.jwe as { protected?: unknown } | undefined)?.protected);
  const c = header?.clevis as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return undefined;
  const out: ClevisToken = { tool: 'clevis', id, keyslots: slots(t.keyslots), pins: [] };
  const take = (cfg: Record<string, unknown>) => {
    const pin = word(cfg.pin);
    if (!pin) return;
    out.pins.push(pin);
    const tpm = cfg.tpm2 as Record<string, unknown> | undefined;
    if (pin === 'tpm2' && tpm && typeof tpm === 'object' && !out.tpm2) {
      out.tpm2 = { pcrs: pcrList(tpm.pcr_ids), pcrBank: word(tpm.pcr_bank), key: word(tpm.key) };
    }
  };
  if (c.pin === 'sss') {
    const inner = (c.sss as { jwe?: unknown } | undefined)?.jwe;
    for (const compact of Array.isArray(inner) ? inner.slice(0, 16) : []) {
      const h = typeof compact === 'string' ? jsonB64url(compact.split('.')[0]) : undefined;
      if (h && typeof h.clevis === 'object' && h.clevis !== null) take(h.clevis as Record<string, unknown>);
    }
    out.pins = ['sss', ...out.pins];
  } else {
    take(c);
  }
  return out.pins.length ? out : undefined;
}

/**
 * The systemd-tpm2 and clevis tokens among `tokens` (LUKS2 metadata's "tokens" object), by token id.
 * Malformed fields come back empty or undefined; a token that is not recognisable is left out.
 */
export function foreignTokens(tokens: Record<string, unknown>): ForeignToken[] {
  const out: ForeignToken[] = [];
  const ids = Object.keys(tokens)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0 && n < 32)
    .sort((a, b) => a - b);
  for (const id of ids) {
    const t = tokens[String(id)] as Record<string, unknown> | null;
    if (!t || typeof t !== 'object') continue;
    if (t.type === 'systemd-tpm2') {
      out.push({
        tool: 'systemd-tpm2',
        id,
        keyslots: slots(t.keyslots),
        pcrs: pcrList(t['tpm2-pcrs']),
        pcrBank: word(t['tpm2-pcr-bank']),
        primaryAlg: word(t['tpm2-primary-alg']),
        policyHash: typeof t['tpm2-policy-hash'] === 'string' && /^[0-9a-f]{40,128}$/.test(t['tpm2-policy-hash']) ? t['tpm2-policy-hash'] : undefined,
        pin: t['tpm2-pin'] === true,
        signedPcrs: pcrList(t['tpm2-pubkey-pcrs']),
        pcrlock: t.tpm2_pcrlock === true,
      });
    } else if (t.type === 'clevis') {
      const c = clevis(id, t);
      if (c) out.push(c);
    }
  }
  return out;
}

/**
 * The foreign tokens of `device`'s LUKS2 header.
 * @throws DeviceError ERR_LUKS (not LUKS2, cryptsetup missing).
 */
export async function readForeignTokens(device: string, env: NodeJS.ProcessEnv = process.env): Promise<ForeignToken[]> {
  return foreignTokens((await new Cryptsetup(env).metadata(device)).tokens);
}

const pcrText = (pcrs: number[], bank: string | undefined) =>
  pcrs.length === 0 ? 'no PCRs' : `${pcrs.length === 1 ? 'PCR' : 'PCRs'} ${pcrs.join(', ')}${bank ? ` (${bank} bank)` : ''}`;

/** One line for the operator: "a systemd-tpm2 token (token 0, keyslot 1) sealed to PCR 7 (sha256 bank), …". */
export function describeForeignToken(t: ForeignToken): string {
  const at = `token ${t.id}${t.keyslots.length ? `, keyslot ${t.keyslots.join(', ')}` : ''}`;
  if (t.tool === 'systemd-tpm2') {
    const policy = [
      pcrText(t.pcrs, t.pcrBank),
      ...(t.signedPcrs.length ? [`a signed policy over ${pcrText(t.signedPcrs, undefined)}`] : []),
      ...(t.pcrlock ? ['a systemd-pcrlock policy'] : []),
    ].join(' and ');
    return `a systemd-tpm2 token (${at}) sealed to ${policy}${t.primaryAlg ? `, ${t.primaryAlg} primary key` : ''}, ${t.pin ? 'with a PIN' : 'no PIN'}`;
  }
  const tpm = t.tpm2 ? `: its tpm2 pin sealed to ${pcrText(t.tpm2.pcrs, t.tpm2.pcrBank)}${t.tpm2.key ? `, ${t.tpm2.key} primary key` : ''}` : '';
  return `a clevis token (${at}, pin ${t.pins.join(' → ')})${tpm}`;
}
