/**
 * File arguments shared by the commands: identity files, logic modules, inputs (`-` = stdin) and
 * outputs (`-o FILE`, or stdout when it is not a terminal).
 *
 * Deliberately not here: the operations themselves (commands/*).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseIdentityFile, type Identity } from '../crypto/identity.ts';
import { UsageError } from '../errors.ts';
import { ioError, type ByteSource } from '../io/sources.ts';
import type { Terminal } from './Terminal.ts';

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

export async function loadIdentities(t: Terminal, path: string): Promise<Identity[]> {
  let text: string;
  try {
    text = await readFile(resolve(t.cwd, path), 'utf8');
  } catch (cause) {
    throw ioError(path, 'read', cause);
  }
  return parseIdentityFile(text, path);
}

export async function loadModule(t: Terminal, path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(resolve(t.cwd, path));
  } catch (cause) {
    throw ioError(path, 'read', cause);
  }
  if (bytes.length < 8 || !WASM_MAGIC.every((b, i) => bytes[i] === b)) {
    throw new UsageError('ERR_USAGE', `${path}: not a WebAssembly module (expected the bytes 00 61 73 6d)`, {
      hint: 'pass the compiled .wasm, not the policy source',
    });
  }
  return bytes;
}

export function inputOf(t: Terminal, arg: string): ByteSource {
  return arg === '-' ? t.stdin : { path: resolve(t.cwd, arg), name: arg };
}

/** A JSON file named on the command line (evidence, state). The error names the file, never its content. */
export async function readJsonFile(t: Terminal, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(t.cwd, file), 'utf8');
  } catch (cause) {
    throw ioError(file, 'read', cause);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new UsageError('ERR_USAGE', `${file}: not valid JSON`, { cause });
  }
}
