/**
 * The agent's decision services and their routes, built when the agent first needs them rather
 * than at start (issue 15, memory budget): the release pipeline (Releaser: age for the answers,
 * the capsule format), signing, requester authentication and the decision endpoints (api.ts).
 * Agent.ts imports this file at the first request for a decision endpoint, or when IPFS first
 * registers a capsule it fetched by CID (with the Releaser). The hot wallet's service (its
 * transaction decoders: micro-eth-signer, @scure/btc-signer) is imported at the first wallet request.
 *
 * Deliberately not here: what is opened at start (Agent.ts) and the routes themselves (api.ts).
 */
import type { AuditLog } from './AuditLog.ts';
import type { CapsuleFetcher } from './CapsuleFetcher.ts';
import type { Clock } from './Clock.ts';
import type { Evaluator } from './Decider.ts';
import type { DiskReserve } from './DiskSpace.ts';
import type { Route } from './HttpServer.ts';
import type { ModuleStore } from './ModuleStore.ts';
import type { Store } from './Store.ts';
import type { SigningPolicy } from './SigningService.ts';
import type { WalletAccountPolicy, WalletService } from './WalletService.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import { routes } from './api.ts';
import { Releaser } from './Releaser.ts';
import { RequestAuthenticator } from './RequestAuthenticator.ts';
import { SigningService } from './SigningService.ts';

/** What the services are built from (all opened by Agent.start). */
export interface ServiceDeps {
  guardian: Guardian;
  store: Store;
  modules: ModuleStore;
  audit: AuditLog;
  sandbox: Evaluator;
  clock: Clock;
  fuelLimit: number;
  reserve: DiskReserve;
  signing: SigningPolicy[];
  wallet: WalletAccountPolicy[];
  /** IPFS (undefined when the ipfs setting is "off"): modules missing from the store come from it. */
  fetcher?: () => CapsuleFetcher;
}

/** The built services: the Releaser (CapsuleFetcher registers fetched capsules with it) and the routes. */
export interface Services {
  releaser: Releaser;
  routes: Route[];
}

/** Builds the decision services over `d`; `gate` wraps the routes (the scheduler's budget check). */
export function buildServices(d: ServiceDeps, gate: (r: Route[]) => Route[]): Services {
  const { guardian, store, modules, audit, sandbox, clock, fuelLimit, reserve } = d;
  const fetcher = d.fetcher;
  const releaser = new Releaser({
    guardian, store, modules, audit, sandbox, clock, fuelLimit, reserve,
    fetchModule: fetcher ? (hash, cid) => fetcher().module(hash, cid) : undefined,
  });
  const signing = new SigningService(d.signing, { keyStore: guardian.keyStore, store, modules, audit, sandbox, clock, fuelLimit });
  let wallet: Promise<WalletService> | undefined;
  const walletService = () => (wallet ??= import('./WalletService.ts').then(({ WalletService }) => new WalletService(d.wallet, {
    wallet: guardian.keyStore.wallet, store, modules, audit, sandbox, clock, fuelLimit,
  })));
  return {
    releaser,
    routes: gate(routes({
      releaser, signing, store, modules, audit, clock, fetcher: fetcher?.(), auth: new RequestAuthenticator({ guardian, store, clock }),
      wallet: {
        sign: async (...a) => (await walletService()).sign(...a),
        accounts: async () => (await walletService()).accounts(),
      },
    })),
  };
}
