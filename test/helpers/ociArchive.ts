/**
 * Real OCI archives for the image tests: an image layout built with `umoci` (init, new, unpack
 * --rootless, a file added, repack, config), turned into an archive by `skopeo copy oci:DIR:TAG
 * oci-archive:FILE.tar[:NAME]` — the toolchain's recipe (/work/shared/TOOLCHAIN.md). Also a tiny,
 * independent ustar reader/writer (not the one under test) to make hostile variants: swapped
 * blobs, `../` names, links, extra files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export interface BuiltImage {
  archive: string;
  /** `sha256:…` of the OCI image manifest, and its size, as index.json lists them. */
  digest: string;
  size: number;
}

/** Builds an image holding `files` (path → text) and writes it as an OCI archive. `name` sets its ref.name. */
export function buildOciArchive(dir: string, label: string, files: Record<string, string>, name?: string): BuiltImage {
  const work = join(dir, `build-${label}`);
  mkdirSync(work, { recursive: true });
  sh('umoci', ['init', '--layout', 'layout'], work);
  sh('umoci', ['new', '--image', 'layout:t'], work);
  sh('umoci', ['unpack', '--rootless', '--image', 'layout:t', 'bundle'], work);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(work, 'bundle', 'rootfs', path, '..'), { recursive: true });
    writeFileSync(join(work, 'bundle', 'rootfs', path), text);
  }
  sh('umoci', ['repack', '--image', 'layout:t', 'bundle'], work);
  sh('umoci', ['config', '--image', 'layout:t', '--config.cmd', '/bin/true'], work);
  const archive = join(dir, `${label}.tar`);
  sh('skopeo', ['copy', '--quiet', 'oci:layout:t', `oci-archive:${archive}${name ? `:${name}` : ''}`], work);
  const index = JSON.parse(
    readTar(archive)
      .find((e) => e.name === 'index.json')!
      .data.toString(),
  );
  return { archive, digest: index.manifests[0].digest, size: index.manifests[0].size };
}

export interface Entry {
  name: string;
  /** '0' file, '5' directory, '1' hard link, '2' symlink, … */
  type: string;
  data: Buffer;
  linkname?: string;
}

/** All entries of a ustar file (a plain reader for the tests: no checks). */
export function readTar(path: string): Entry[] {
  const b = readFileSync(path);
  const out: Entry[] = [];
  for (let off = 0; off + 512 <= b.length; ) {
    const h = b.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const str = (s: number, n: number) => {
      const f = h.subarray(s, s + n);
      const z = f.indexOf(0);
      return f.subarray(0, z === -1 ? n : z).toString('latin1');
    };
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const prefix = str(345, 155);
    out.push({
      name: prefix ? `${prefix}/${str(0, 100)}` : str(0, 100),
      type: String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!),
      data: Buffer.from(b.subarray(off + 512, off + 512 + size)),
      linkname: str(157, 100),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Writes entries as ustar (names ≤ 100 bytes), closed by two zero blocks. */
export function tarBytes(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'latin1');
    h.write(e.type === '5' ? '0000755\0' : '0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(e.data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write('15305051331\0', 136, 'latin1');
    h.write(e.type, 156, 'latin1');
    if (e.linkname) h.write(e.linkname, 157, 100, 'latin1');
    h.write('ustar\u000000', 257, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    parts.push(h, e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function writeTar(path: string, entries: Entry[]): string {
  writeFileSync(path, tarBytes(entries));
  return path;
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
