/**
 * `capsule keygen [-o FILE]`: a new X25519 identity in age's file format (usable by `age -d -i`);
 * the owner's Ed25519 signing key is derived from it (SPEC.md §7). The file is created with mode
 * 0600 and never overwritten. Deliberately not here: passphrase protection (use age -p on it).
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatIdentityFile, generateIdentity, ownerPublicKey } from '../../crypto/identity.ts';
import { UsageError } from '../../errors.ts';
import { ioError } from '../../io/sources.ts';
import { KEYGEN as SPEC } from '../specs/capsule.ts';
import { parse, str } from '../args.ts';
import { say, writeOut, type Terminal } from '../Terminal.ts';

/** Runs `capsule keygen` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function keygen(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const out = str(p, 'output');
  const id = generateIdentity();
  try {
    const text = formatIdentityFile(id, new Date());
    if (out === undefined || out === '-') {
      await writeOut(t, text);
      return 0;
    }
    const path = resolve(t.cwd, out);
    let fh;
    try {
      fh = await open(path, 'wx', 0o600);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError('ERR_OUTPUT_EXISTS', `${out}: already exists; refusing to overwrite a key`, {
          cause,
          hint: 'choose another file name, or move the old key away first',
        });
      }
      throw ioError(out, 'create', cause);
    }
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    say(t, `public key: ${id.recipient}`);
    say(t, `owner signing key (ed25519): ${Buffer.from(ownerPublicKey(id)).toString('hex')}`);
    return 0;
  } finally {
    id.dispose();
  }
}
