/**
 * The agent's decision services and their routes, built when the agent first needs them rather
 * than at start (issue 15, memory budget): the release pipeline (Releaser: age for the answers,
 * the capsule format), signing, requester authentication and the decision endpoints (api.ts).
 * Agent.ts imports this file at the first request for a decision endpoint. The hot wallet's service (its
 * transaction decoders: micro-eth-signer, @scure/btc-signer) is imported at the first wallet request.
 *
 * Deliberately not here: what is opened at start (Agent.ts) and the routes themselves (api.ts).
 */
import type { CapsuleRegistry } from './CapsuleRegistry.ts';
import type { DeciderDeps } from './Decider.ts';
import type { DiskReserve } from './DiskSpace.ts';
import type { Route } from './HttpServer.ts';
import type { IpfsService } from './IpfsService.ts';
import type { SigningPolicy } from './SigningService.ts';
import type { WalletAccountPolicy, WalletService } from './WalletService.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import { routes } from './api.ts';
import { Releaser } from './Releaser.ts';
import { RequestAuthenticator } from './RequestAuthenticator.ts';
import { SigningService } from './SigningService.ts';

/** What the services are built from (all opened by Agent.start): the pipeline's parts and the rest. */
export interface ServiceDeps extends DeciderDeps {
  guardian: Guardian;
  reserve: DiskReserve;
  /** Proves and records headers outside a decision (approvals). */
  registry: CapsuleRegistry;
  signing: SigningPolicy[];
  wallet: WalletAccountPolicy[];
  /** IPFS (undefined when the ipfs setting is "off"): modules missing from the store come from it, capsules by CID too. */
  ipfs?: Pick<IpfsService, 'capsules' | 'modules'>;
}

/** The built services: the Releaser and the routes. */
export interface Services {
  releaser: Releaser;
  routes: Route[];
}

/** Builds the decision services over `d`; `gate` wraps the routes (the scheduler's budget check). */
export function buildServices(d: ServiceDeps, gate: (r: Route[]) => Route[]): Services {
  const { guardian, store, modules, audit, sandbox, clock, fuelLimit, reserve, registry, ipfs } = d;
  const decider = { store, modules, audit, sandbox, clock, fuelLimit }; // what every decision service decides with
  const releaser = new Releaser({
    ...decider,
    guardian,
    reserve,
    registry,
    fetchModule: ipfs ? (hash, cid) => ipfs.modules.module(hash, cid) : undefined,
  });
  const signing = new SigningService(d.signing, { ...decider, keyStore: guardian.keyStore });
  let wallet: Promise<WalletService> | undefined;
  const walletService = () =>
    (wallet ??= import('./WalletService.ts').then(({ WalletService }) => new WalletService(d.wallet, { ...decider, wallet: guardian.keyStore.wallet })));
  return {
    releaser,
    routes: gate(
      routes({
        releaser,
        signing,
        store,
        modules,
        audit,
        clock,
        fetcher: ipfs?.capsules,
        auth: new RequestAuthenticator({ guardian, store, clock }),
        wallet: {
          sign: async (...a) => (await walletService()).sign(...a),
          accounts: async () => (await walletService()).accounts(),
        },
      }),
    ),
  };
}
