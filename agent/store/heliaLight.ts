/**
 * A Helia node with libp2p, built from the parts the guardian uses and nothing else: Helia's core
 * class, libp2p, and Helia's libp2p router.
 *
 * Why not `createHeliaLight` from 'helia' and `withLibp2pLight` from '@helia/libp2p': both package
 * indexes statically import what this node never runs. 'helia' imports `@helia/http` (trustless
 * gateways) for `createHelia`, and '@helia/libp2p' imports `libp2pDefaults` (every transport,
 * kad-dht, autonat, webrtc, relays) for `withLibp2p`. Loading those indexes costs ≈50 MiB of RSS and
 * ≈0.5 s of start-up that the agent keeps for its lifetime (issue 15, measured 2026-12-06: 144–151
 * MiB against 96 MiB for the same imports without them). The packages' `exports` maps only expose
 * the indexes, so the two modules we need (`helia.js`, `routing.js`) are loaded by file URL next
 * to the resolved index; the versions are pinned exactly in package.json, and test/ipfs.test.ts
 * runs this node against a second one over TCP.
 *
 * `withLibp2p` below does what `@helia/libp2p`'s `withLibp2pLight` does for a node with no other
 * router: load or create the self key from the datastore keychain (the same record, so a repository
 * keeps its peer id), create libp2p on Helia's datastore, add the libp2p router, start and stop
 * with Helia. Deliberately not here: its re-wrapping of `findProviders`/`findPeer`, which only
 * stores peers found by non-libp2p routers (delegated routing, gateways) that this node does not have.
 */
import type { Helia } from 'helia';
import type { CreateLibp2pOptions, HeliaWithLibp2p } from '@helia/libp2p';
/** libp2p's ServiceMap (not re-exported by 'libp2p'). */
type ServiceMap = Record<string, unknown>;

interface HeliaInit {
  blockstore: unknown;
  datastore: unknown;
}

/** The parts Helia's internal modules export; typed by hand because they are not public entry points. */
interface Parts {
  Helia: new (init: HeliaInit & { name: string; version: string }) => Helia & HeliaMixins;
  heliaVersion: { name: string; version: string };
  libp2pRouting: (libp2p: unknown) => unknown;
}

interface HeliaMixins {
  addMixin(mixin: { name: string; start(helia: Helia): Promise<void>; stop(): Promise<void> }): void;
  hasRouter(name: string): boolean;
  addRouter(router: unknown): void;
}

let parts: Promise<Parts> | undefined;

/** Loads Helia's core class and its libp2p router once, by file URL beside the packages' indexes. */
function loadParts(): Promise<Parts> {
  parts ??= (async () => {
    const helia = import.meta.resolve('helia');
    const routing = import.meta.resolve('@helia/libp2p');
    const [core, version, router] = await Promise.all([
      import(new URL('./helia.js', helia).href),
      import(new URL('./version.js', helia).href),
      import(new URL('./routing.js', routing).href),
    ]);
    return { Helia: core.Helia, heliaVersion: { name: version.name, version: version.version }, libp2pRouting: router.libp2pRouting };
  })();
  return parts;
}

/**
 * A Helia node with libp2p over exactly the given options (no defaults are added).
 * @throws whatever Helia's or libp2p's constructors throw for invalid options; start() throws what libp2p's start throws.
 */
export async function createHeliaWithLibp2p<S extends ServiceMap>(init: HeliaInit, opts: CreateLibp2pOptions<S>): Promise<Helia & HeliaWithLibp2p<S>> {
  const p = await loadParts();
  const [{ createLibp2p }, { loadOrCreateSelfKey }, { userAgent }] = await Promise.all([
    import('libp2p'),
    import('@libp2p/config'),
    import('libp2p/user-agent'),
  ]);
  const helia = new p.Helia({ ...p.heliaVersion, ...init } as never);
  let libp2p: Awaited<ReturnType<typeof createLibp2p<S>>> | undefined;
  Object.defineProperty(helia, 'libp2p', {
    configurable: true,
    enumerable: true,
    get() {
      if (libp2p) return libp2p;
      throw Object.assign(new Error('the node is not started'), { name: 'NotStartedError' });
    },
  });
  helia.addMixin({
    name: 'libp2p',
    async start(h) {
      if (!libp2p) {
        opts.privateKey ??= await loadOrCreateSelfKey(h.datastore, opts.keychain);
        opts.nodeInfo ??= {};
        opts.nodeInfo.name ??= p.heliaVersion.name;
        opts.nodeInfo.version ??= p.heliaVersion.version;
        opts.nodeInfo.userAgent ??= `${p.heliaVersion.name}/${p.heliaVersion.version} ${userAgent()}`;
        opts.datastore ??= h.datastore;
        libp2p = await createLibp2p(opts);
      }
      if (!helia.hasRouter('libp2p-router')) helia.addRouter(p.libp2pRouting(libp2p));
      await libp2p.start();
    },
    async stop() {
      await libp2p?.stop();
    },
  });
  return helia as unknown as Helia & HeliaWithLibp2p<S>;
}
