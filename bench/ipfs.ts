/**
 * Publish and fetch on the embedded IPFS node (part of `npm run bench`; BENCH_ONLY=ipfs; issues #6
 * and 15): a 256 MiB capsule (BENCH_IPFS_MIB), BENCH_IPFS_RUNS interleaved rounds (default 5), medians:
 *   published — added and pinned to a fresh filesystem repository (HeliaStore.add, pinning from the
 *     importer's block list); peers in the same rounds: the offline CID computation (the same
 *     hashing, nothing stored), the import followed by Helia's own pins.add (which walks the DAG:
 *     what publishing did before issue 15), and a plain file copy;
 *   fetched — over bitswap by a fresh node B in this process from node A in a second process (this
 *     file run with BENCH_IPFS_ROLE=serve), every block verified (HeliaStore.get); peers: the same
 *     bytes from A's process over a bare node:http server on 127.0.0.1 to fetch(), and — when a
 *     Kubo-RPC daemon can be had (test/helpers/kuboDaemon.ts; BENCH_IPFS_KUBO=0 skips it) — from that
 *     daemon, a third process, over its RPC: KuboStore.get (block by block, verified) and plain `cat`;
 *   re-read — from the last published repository, verified; peer: fs read of the file.
 * Files on tmpfs when it has room. Both processes share the machine's 2 cores.
 * Deliberately not here: CID vs seal (cid.ts).
 */
import { scratchDir } from './scratch.ts';
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream, rmSync, writeFileSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bytesOf } from '../agent/io/sources.ts';
import { HeliaStore } from '../agent/store/HeliaStore.ts';
import type { KuboStore } from '../agent/store/KuboStore.ts';
import { computeCid, importOptions, owned } from '../agent/store/importSettings.ts';

const MIB = 1024 * 1024;

/** What the serving process prints once ready: its node's address, the CID it holds, its HTTP URL. */
interface Served {
  addr: string;
  cid: string;
  http: string;
}

/** The second process: node A holding the file, and the HTTP peer; runs until its stdin closes. */
async function serve(): Promise<void> {
  const file = process.env.BENCH_IPFS_FILE!;
  const a = await HeliaStore.open({ dir: process.env.BENCH_IPFS_DIR! });
  const cid = await a.add(bytesOf({ path: file }));
  const server = createServer((_q, res) => {
    res.writeHead(200, { 'content-length': Number(process.env.BENCH_IPFS_BYTES) });
    createReadStream(file, { highWaterMark: MIB }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const served: Served = { addr: (await a.addresses())[0]!, cid: cid.toString(), http: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
  process.stdout.write(`${JSON.stringify(served)}\n`);
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  server.close();
  await a.stop();
}

if (process.env.BENCH_IPFS_ROLE === 'serve') await serve();
else await main();

async function main(): Promise<void> {
  const size = Number(process.env.BENCH_IPFS_MIB ?? 256) * MIB;
  const runs = Math.max(1, Number(process.env.BENCH_IPFS_RUNS ?? 5));
  const root = scratchDir('ipfs-bench-', 6 * size);
  const file = join(root, 'c.capsule');
  {
    const buf = Buffer.alloc(size);
    randomFillSync(buf); // a capsule's bytes are ciphertext: random is what IPFS sees
    writeFileSync(file, buf);
  }
  const times = new Map<string, number[]>();
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    const r = await f();
    (times.get(name) ?? times.set(name, []).get(name)!).push(performance.now() - s);
    return r;
  };
  const drain = async (it: AsyncIterable<Uint8Array>) => {
    let n = 0;
    for await (const c of it) n += c.length;
    return n;
  };
  const expect = (what: string, got: number) => {
    if (got !== size) throw new Error(`${what}: ${got} bytes of ${size}`);
  };
  const cleanups: (() => Promise<unknown> | void)[] = [];
  try {
    // Publish, interleaved with its peers; each round on fresh repositories.
    const cid = await computeCid(bytesOf({ path: file }));
    let last: HeliaStore | undefined;
    for (let i = 0; i < runs; i++) {
      await timed('cid', () => computeCid(bytesOf({ path: file })));
      await last?.stop();
      const store = (last = await HeliaStore.open({ dir: join(root, `pub${i}`), listen: [], ephemeral: true }));
      const added = await timed('publish', () => store.add(bytesOf({ path: file })));
      if (!added.equals(cid)) throw new Error(`node CID ${added} != offline CID ${cid}`);
      if (i > 0) rmSync(join(root, `pub${i - 1}`), { recursive: true, force: true });
      await timed('walk', () => importAndWalkPin(join(root, `walk${i}`), file));
      rmSync(join(root, `walk${i}`), { recursive: true, force: true });
      await timed('copy', () => copyFile(file, join(root, 'copy.bin')));
      rmSync(join(root, 'copy.bin'));
    }
    for (let i = 0; i < runs; i++) {
      expect('re-read', await timed('reread', () => drain(last!.get(cid, { maxBytes: size }))));
      await timed('fs', () => readFile(file));
    }
    await last?.stop();
    rmSync(join(root, `pub${runs - 1}`), { recursive: true, force: true });

    // Fetch: node A and the HTTP peer in a second process; a Kubo-RPC daemon in a third, if any.
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_IPFS_ROLE: 'serve', BENCH_IPFS_FILE: file, BENCH_IPFS_DIR: join(root, 'a'), BENCH_IPFS_BYTES: String(size) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    cleanups.push(async () => {
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    });
    const served = await new Promise<Served>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l) as Served));
      child.once('exit', (code) => reject(new Error(`the serving process exited (${code})`)));
    });
    if (served.cid !== cid.toString()) throw new Error(`serving node CID ${served.cid} != ${cid}`);
    const kubo = await kuboPeer(file, cid.toString(), cleanups);
    for (let i = 0; i < runs; i++) {
      const b = await HeliaStore.open({ dir: join(root, `b${i}`), listen: [], ephemeral: true });
      try {
        await b.connect(served.addr);
        expect('bitswap', await timed('bitswap', () => drain(b.get(cid, { maxBytes: size }))));
      } finally {
        await b.stop();
        rmSync(join(root, `b${i}`), { recursive: true, force: true });
      }
      expect('http', await timed('http', async () => drain((await fetch(served.http)).body as unknown as AsyncIterable<Uint8Array>)));
      if ('store' in kubo) {
        expect('kubo get', await timed('kuboGet', () => drain(kubo.store.get(cid, { maxBytes: size }))));
        expect(
          'kubo cat',
          await timed('kuboCat', async () =>
            drain((await fetch(`${kubo.url}/api/v0/cat?arg=${cid}`, { method: 'POST' })).body as unknown as AsyncIterable<Uint8Array>),
          ),
        );
      }
    }

    const med = (k: string) => {
      const v = [...times.get(k)!].sort((x, y) => x - y);
      return v[(v.length - 1) >> 1]!;
    };
    const ms = (k: string) => `${med(k).toFixed(0)} ms`;
    const mbs = (k: string) => (size / (1e6 * (med(k) / 1000))).toFixed(0);
    const row = (op: string, k: string, peer: string, p: string) => `| ${op} | ${ms(k)} | ${mbs(k)} | ${peer} | ${ms(p)} | ${(med(k) / med(p)).toFixed(2)}× |`;
    const rows = [
      `\nIPFS, embedded node: ${size / MIB} MiB capsule (${root.startsWith('/dev/shm') ? 'tmpfs' : 'disk'}), medians of ${runs} interleaved rounds`,
      '| operation | time | MB/s | peer (same rounds) | peer time | ratio (ours / peer) |',
      '|---|---|---|---|---|---|',
      row('publish: add + pin (HeliaStore.add)', 'publish', 'CID only, nothing stored', 'cid'),
      row('publish: add + pin (HeliaStore.add)', 'publish', "import + Helia's pins.add (walks the DAG)", 'walk'),
      row('publish: add + pin (HeliaStore.add)', 'publish', 'file copy (cp)', 'copy'),
      row('fetch: node B from A (another process) over bitswap, verified', 'bitswap', "loopback HTTP from A's process, bare node:http", 'http'),
      ...('store' in kubo
        ? [
            row(
              'fetch: node B from A (another process) over bitswap, verified',
              'bitswap',
              'Kubo-RPC daemon (js-ipfs 0.66), KuboStore.get, verified',
              'kuboGet',
            ),
            row('fetch: node B from A (another process) over bitswap, verified', 'bitswap', 'Kubo-RPC daemon (js-ipfs 0.66), `cat`, unverified', 'kuboCat'),
          ]
        : [`| fetch from a Kubo-RPC daemon | skipped: ${kubo.skipped} | | | | |`]),
      row("re-read from the node's repository, verified", 'reread', 'fs read of the file', 'fs'),
      `(${cid}; publish ${times
        .get('publish')!
        .map((t) => t.toFixed(0))
        .join('/')} ms, CID ${times
        .get('cid')!
        .map((t) => t.toFixed(0))
        .join('/')} ms)`,
    ];
    console.log(rows.join('\n'));
  } finally {
    for (const c of cleanups.reverse()) await c();
    rmSync(root, { recursive: true, force: true });
  }
}

/** What publishing did before issue 15: import into a bare Helia, then its pins.add walks the DAG back. */
async function importAndWalkPin(dir: string, file: string): Promise<void> {
  const { FsBlockstore } = await import('blockstore-fs');
  const { FsDatastore } = await import('datastore-fs');
  const { createHeliaLight } = await import('helia');
  const { importer } = await import('ipfs-unixfs-importer');
  const blockstore = new FsBlockstore(join(dir, 'blocks'));
  const datastore = new FsDatastore(join(dir, 'data'));
  await blockstore.open();
  await datastore.open();
  const helia = createHeliaLight({ blockstore, datastore });
  await helia.start();
  try {
    let root;
    for await (const e of importer([{ content: owned(bytesOf({ path: file })) }], helia.blockstore, importOptions())) root = e.cid;
    for await (const _ of helia.pins.add(root!)) void _;
  } finally {
    await helia.stop();
  }
}

/** A Kubo-RPC daemon holding the file, or why there is none. */
async function kuboPeer(
  file: string,
  cid: string,
  cleanups: (() => Promise<unknown> | void)[],
): Promise<{ store: KuboStore; url: string } | { skipped: string }> {
  if (process.env.BENCH_IPFS_KUBO === '0') return { skipped: 'BENCH_IPFS_KUBO=0' };
  const { startKuboRpc } = await import('../test/helpers/kuboDaemon.ts');
  const { KuboStore: Kubo } = await import('../agent/store/KuboStore.ts');
  const daemon = await startKuboRpc();
  if ('skipped' in daemon) return { skipped: daemon.skipped };
  cleanups.push(() => daemon.stop());
  const store = new Kubo(daemon.url);
  const added = await store.add(bytesOf({ path: file }));
  if (added.toString() !== cid) throw new Error(`Kubo-RPC daemon CID ${added} != ${cid}`);
  return { store, url: daemon.url };
}
