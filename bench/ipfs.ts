/**
 * Publish and fetch on the embedded IPFS node (part of `npm run bench`; BENCH_ONLY=ipfs; issue #6):
 * a 256 MiB capsule (BENCH_IPFS_MIB) is
 *   published — added and pinned to node A's filesystem repository (HeliaStore.add); peers: the
 *     offline CID computation (the same hashing, nothing stored) and a plain file copy;
 *   fetched — by node B over bitswap on 127.0.0.1, every block verified (HeliaStore.get); peer: the
 *     same bytes streamed over a bare node:http server on 127.0.0.1 to a fetch() client;
 *   re-read — from A's own repository, verified; peer: fs read of the file.
 * Everything runs in this one process (both nodes share its event loop and the 2 cores), on tmpfs.
 * Deliberately not here: CID vs seal (cid.ts).
 */
import { scratchDir } from './scratch.ts';
import { randomFillSync } from 'node:crypto';
import { createReadStream, rmSync, writeFileSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bytesOf } from '../agent/io/sources.ts';
import { HeliaStore } from '../agent/store/HeliaStore.ts';
import { computeCid } from '../agent/store/importSettings.ts';

const MIB = 1024 * 1024;
const size = Number(process.env.BENCH_IPFS_MIB ?? 256) * MIB;
const root = scratchDir('ipfs-bench-', 6 * size);
const file = join(root, 'c.capsule');
{
  const buf = Buffer.alloc(size);
  randomFillSync(buf); // a capsule's bytes are ciphertext: random is what IPFS sees
  writeFileSync(file, buf);
}
const timed = async <T>(f: () => Promise<T>): Promise<[number, T]> => {
  const s = performance.now();
  const r = await f();
  return [performance.now() - s, r];
};
const drain = async (it: AsyncIterable<Uint8Array>) => { let n = 0; for await (const c of it) n += c.length; return n; };

const a = await HeliaStore.open({ dir: join(root, 'a') });
const b = await HeliaStore.open({ dir: join(root, 'b'), listen: [], ephemeral: true });
const rows: string[] = [];
try {
  const [cidMs, cid] = await timed(() => computeCid(bytesOf({ path: file })));
  const [copyMs] = await timed(() => copyFile(file, join(root, 'copy.bin')));
  const [addMs, added] = await timed(() => a.add(bytesOf({ path: file })));
  if (!added.equals(cid)) throw new Error(`node CID ${added} != offline CID ${cid}`);
  await b.connect((await a.addresses())[0]!);
  const [fetchMs, fetched] = await timed(() => drain(b.get(cid, { maxBytes: size })));
  if (fetched !== size) throw new Error(`fetched ${fetched} bytes of ${size}`);
  // The peer for fetching: the same bytes over loopback HTTP, in the same process.
  const server = createServer((_q, res) => { res.writeHead(200, { 'content-length': size }); createReadStream(file, { highWaterMark: MIB }).pipe(res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const [httpMs, viaHttp] = await timed(async () => drain((await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).body as unknown as AsyncIterable<Uint8Array>));
  server.close();
  if (viaHttp !== size) throw new Error('http peer short');
  const [rereadMs] = await timed(() => drain(a.get(cid, { maxBytes: size })));
  const [fsMs] = await timed(() => readFile(file));
  const mbs = (ms: number) => (size / (1e6 * (ms / 1000))).toFixed(0);
  rows.push(
    `\nIPFS, embedded node: ${size / MIB} MiB capsule (${root.startsWith('/dev/shm') ? 'tmpfs' : 'disk'}), one run each, both nodes in this process`,
    '| operation | time | MB/s | peer (same run) | peer time | ratio (ours / peer) |',
    '|---|---|---|---|---|---|',
    `| publish: add + pin to node A | ${addMs.toFixed(0)} ms | ${mbs(addMs)} | CID only, nothing stored | ${cidMs.toFixed(0)} ms | ${(addMs / cidMs).toFixed(2)}× |`,
    `| publish: add + pin to node A | ${addMs.toFixed(0)} ms | ${mbs(addMs)} | file copy (cp) | ${copyMs.toFixed(0)} ms | ${(addMs / copyMs).toFixed(2)}× |`,
    `| fetch: node B from A over bitswap, verified | ${fetchMs.toFixed(0)} ms | ${mbs(fetchMs)} | loopback HTTP, bare node:http | ${httpMs.toFixed(0)} ms | ${(fetchMs / httpMs).toFixed(2)}× |`,
    `| re-read from A's repository, verified | ${rereadMs.toFixed(0)} ms | ${mbs(rereadMs)} | fs read of the file | ${fsMs.toFixed(0)} ms | ${(rereadMs / fsMs).toFixed(2)}× |`,
    `(${cid})`,
  );
} finally {
  await a.stop();
  await b.stop();
  rmSync(root, { recursive: true, force: true });
}
console.log(rows.join('\n'));
