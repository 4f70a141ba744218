/**
 * A real EVM node for tests: Hardhat's EDR engine (@nomicfoundation/edr, its native binary shipped
 * in the npm package) as an in-process L1 provider, served as JSON-RPC over node:http on
 * 127.0.0.1:<ephemeral port>, so tests talk to it the way a wallet talks to a node. Accounts are
 * funded in the genesis state (nobody's keys are held by the node: it only verifies signatures).
 *
 * Deliberately not here: forking, mining schedules (auto-mine: a sent transaction is mined at
 * once), any knowledge of the guardian.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import {
  ContractDecoder,
  EdrContext,
  L1_CHAIN_TYPE,
  L1Hardfork,
  MineOrdering,
  l1GenesisState,
  l1HardforkToString,
  l1ProviderFactory,
} from '@nomicfoundation/edr';

let context: Promise<EdrContext> | undefined;

/** EDR allows one context per process ("should only be called once"): shared by every node. */
function edrContext(): Promise<EdrContext> {
  context ??= (async () => {
    const ctx = new EdrContext();
    await ctx.registerProviderFactory(L1_CHAIN_TYPE, l1ProviderFactory());
    return ctx;
  })();
  return context;
}

export interface EvmNode {
  url: string;
  chainId: number;
  /** One JSON-RPC call over HTTP; throws with the node's error message on an error reply. */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  /** Polls eth_getTransactionReceipt until the node has it (auto-mine: at once) or `tries` run out. */
  receipt(hash: string, tries?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface EvmNodeOptions {
  chainId?: number;
  /** Genesis balances in wei by "0x…" address. */
  balances?: Record<string, bigint>;
}

const hexToBytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/^0x/, ''), 'hex'));

/** Starts a node on 127.0.0.1. Call stop() in a finally. */
export async function startEvmNode(options: EvmNodeOptions = {}): Promise<EvmNode> {
  const chainId = options.chainId ?? 31337;
  const ctx = await edrContext();
  const genesis = [
    ...l1GenesisState(L1Hardfork.Prague),
    ...Object.entries(options.balances ?? {}).map(([address, balance]) => ({ address: hexToBytes(address), balance })),
  ];
  let provider: Awaited<ReturnType<EdrContext['createProvider']>> | undefined = await ctx.createProvider(
    L1_CHAIN_TYPE,
    {
      allowBlocksWithSameTimestamp: false,
      allowUnlimitedContractSize: false,
      bailOnCallFailure: false,
      bailOnTransactionFailure: false,
      chainId: BigInt(chainId),
      coinbase: new Uint8Array(20),
      defaultTransactionGasLimit: 30_000_000n,
      genesisState: genesis,
      hardfork: l1HardforkToString(L1Hardfork.Prague),
      initialBaseFeePerGas: 1_000_000_000n,
      minGasPrice: 0n,
      mining: { autoMine: true, memPool: { order: MineOrdering.Priority } },
      network: { genesisBlockGasLimit: 30_000_000n },
      networkId: BigInt(chainId),
      observability: {},
      ownedAccounts: [],
      precompileOverrides: [],
    },
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: () => {} },
    new ContractDecoder(),
  );

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const p = provider;
      if (!p) {
        res.writeHead(503).end();
        return;
      }
      p.handleRequest(Buffer.concat(chunks).toString('utf8')).then(
        (r) => {
          const body = typeof r.data === 'string' ? r.data : JSON.stringify(r.data);
          res.writeHead(200, { 'content-type': 'application/json' }).end(body);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
        },
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('evm node: no TCP address');
  const url = `http://127.0.0.1:${addr.port}/`;
  let id = 0;

  const rpc = async (method: string, params: unknown[] = []): Promise<unknown> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`evm node: ${method}: ${body.error.message}`);
    return body.result;
  };
  return {
    url,
    chainId,
    rpc,
    async receipt(hash, tries = 50) {
      for (let i = 0; i < tries; i++) {
        const r = await rpc('eth_getTransactionReceipt', [hash]);
        if (r) return r as Record<string, unknown>;
        await new Promise((ok) => setTimeout(ok, 20));
      }
      throw new Error(`evm node: no receipt for ${hash}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      provider = undefined; // the provider's native resources go with its last reference
    },
  };
}
