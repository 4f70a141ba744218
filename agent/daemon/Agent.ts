/**
 * `capsule agent`: the guardian as a service. start() opens the guardian (module), the database,
 * the module store, the audit log and the sandbox, then listens; stop() stops accepting, lets
 * in-flight requests finish, and closes everything in reverse order (state is committed per
 * request, so nothing is left to flush). Status: stopped → starting → started → stopping → stopped.
 * Under systemd (NOTIFY_SOCKET set) it speaks sd_notify itself (sdNotify.ts): STATUS while it
 * starts, READY=1 once it listens, STATUS refreshed while it serves, STOPPING=1 when it stops,
 * and WATCHDOG=1 pings from the event loop when the unit sets WatchdogSec= (NotifyAccess=main).
 *
 * Logs are one JSON object per line on stderr, prefixed `capsule: `; they carry no secrets (no
 * keys, no evidence bodies, no answers).
 *
 * Memory (issue 15): what only requests need is loaded by the first request that needs it, not at
 * start — the decision services and their routes (services.ts: age, the capsule format, ajv's
 * validators, signing; the wallet's decoders at the first wallet request), IPFS only when it is
 * on — and only `sandboxWarmWorkers` sandbox workers start with the agent; the others start when
 * decisions queue for them and stop again after WORKER_IDLE_STOP_MS idle (DecisionScheduler.ts).
 *
 * Deliberately not here: the routes (api.ts, coreRoutes.ts) and the decisions (Releaser.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../errors.ts';
import { sweepPartials } from '../io/partials.ts';
import { Guardian } from '../guardian/Guardian.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { WorkerSandbox } from '../sandbox/WorkerSandbox.ts';
import { DEFAULT_LIMITS } from '../sandbox/limits.ts';
import { DecisionScheduler } from './DecisionScheduler.ts';
import type { AuditLog } from './AuditLog.ts';
import { openAudit } from './openAudit.ts';
import { fileClock, moduleClock, systemClock, type Clock } from './Clock.ts';
import type { AgentConfig } from './config.ts';
import { coreRoutes } from './coreRoutes.ts';
import { HttpServer } from './HttpServer.ts';
import { ModuleStore } from './ModuleStore.ts';
import { ProcessChecker } from './ProcessChecker.ts';
import type { Evaluator } from './Decider.ts';
import { Store } from './Store.ts';
import { DiskReserve, startupDiskError } from './DiskSpace.ts';
import { CapsuleRegistry } from './CapsuleRegistry.ts';
import type { IpfsService } from './IpfsService.ts';
import { Lifecycle } from './Lifecycle.ts';
import type { ImageManifestWatcher } from './ImageManifestWatcher.ts';
import type { Services } from './services.ts';
import type { IpfsSpec } from '../store/ContentStore.ts';
import { sdNotify, type SdNotify } from './sdNotify.ts';
import { trimMalloc, trimWhenQuiet, tuneMalloc } from './mallocTrim.ts';

/** How often STATUS= is refreshed while serving (sent only when the text changed). */
const STATUS_EVERY_MS = 5000;
/** A sandbox worker started on demand (beyond sandboxWarmWorkers) is stopped after this long idle. */
export const WORKER_IDLE_STOP_MS = 60_000;

export type AgentStatus = 'stopped' | 'starting' | 'started' | 'stopping';

export interface AgentOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces the recorded backend (tests, embedding). */
  keyStore?: KeyStore;
  clock?: Clock;
  sandbox?: Evaluator & { start?(): Promise<void>; stop?(): Promise<void> };
  log?: (line: string) => void;
}

export class Agent {
  readonly config: AgentConfig;
  readonly #o: AgentOptions;
  #status: AgentStatus = 'stopped';
  /** Once started: the server (for the URL and in-flight counts) and the components to stop. */
  #parts: { http: HttpServer; life: Lifecycle } | undefined;
  #startedAt = 0;
  #notify: SdNotify | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  #stopTrimming: (() => void) | undefined;

  constructor(config: AgentConfig, options: AgentOptions = {}) {
    this.config = config;
    this.#o = options;
  }

  get status(): AgentStatus {
    return this.#status;
  }

  get url(): string | undefined {
    const a = this.#parts?.http.address;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : undefined;
  }

  log(event: string, fields: Record<string, unknown> = {}): void {
    (this.#o.log ?? ((l) => process.stderr.write(l + '\n')))(`capsule: ${JSON.stringify({ at: new Date().toISOString(), event, ...fields })}`);
  }

  async start(): Promise<void> {
    if (this.#status !== 'stopped') throw new Error(`Agent: start() while ${this.#status}`);
    this.#status = 'starting';
    const c = this.config;
    const env = this.#o.env ?? process.env;
    // The components, in start order; stop() (or a failed start) stops them last-first.
    const life = new Lifecycle();
    const notify = (this.#notify = sdNotify(env, { log: (e, f) => this.log(e, f) }));
    // Pinged from the start: opening a module or a long audit log must not look like a hang.
    notify.startWatchdog();
    notify.status('starting: opening the guardian');
    const tuned = await tuneMalloc(); // before the allocations of the start itself
    try {
      const guardian = await life.use(
        'guardian',
        () => Guardian.open(c.dataDir, { env, keyStore: this.#o.keyStore, moduleTimeoutMs: c.moduleTimeoutMs }),
        (g) => g.close(),
      );
      // The guardian's own slot signs capsule headers and audit entries: signing arbitrary digests
      // with it would let a requester forge both.
      const own = c.signing.find((p) => p.slot === guardian.record.signingSlot);
      if (own) {
        throw new AgentError(
          'ERR_CONFIG',
          `signing: slot ${own.slot} is the guardian's own key (it signs capsule headers and audit entries) and cannot sign requests`,
          {
            hint: 'register signing policies for other slots (1, 2, or keys generated on the module)',
          },
        );
      }
      const clock = this.#o.clock ?? clockFor(c.clock, guardian);
      await clock.now(); // a guardian without a time decides nothing: fail at start, not per request
      const store = await life.use(
        'store',
        () => Store.open(join(c.dataDir, 'agent.sqlite')),
        (st) => st.close(),
      );
      await mkdir(c.dataDir, { recursive: true });
      // Temporary files of writers killed outright (kill -9, power loss): never state, only litter.
      for (const dir of [c.dataDir, join(c.dataDir, 'modules')]) await sweepPartials(dir);
      const signer = guardian.onGuardianSeal([]).guardian;
      // The whole chain is checked, the rollback anchor compared with the log and the database, and
      // intents whose commit never happened voided (D4, D5; docs/AUDIT.md).
      const audit: AuditLog = await life.use(
        'audit',
        async () =>
          openAudit({
            dataDir: c.dataDir,
            signer,
            guardianKey: guardian.record.signingKey,
            lock: guardian.keyStore,
            store,
            now: await clock.now(),
            acceptRollback: c.acceptRollback,
            log: (e, f) => this.log(e, f),
          }),
        (a) => a.close(),
      );
      // Anyone may push modules or make the guardian keep capsules: quotas, and a free-space reserve
      // that keeps room for decisions and the audit log (D3). Each module's metered binary is kept
      // beside it (issue 15): Binaryen runs once per module, in the module checker's short-lived
      // process (ProcessChecker.ts), when the module enters the store (or at its first decision,
      // for modules stored by an older version), and never again, restarts included.
      const reserve = new DiskReserve(c.dataDir, c.minFreeBytes);
      const checker = await life.use(
        'module checker',
        () => new ProcessChecker(),
        (ch) => ch.close(),
      );
      const modules = new ModuleStore(join(c.dataDir, 'modules'), {
        maxBytes: c.maxModuleStoreBytes,
        maxModules: c.maxModules,
        reserve,
        log: (e, f) => this.log(e, f),
        meteredCache: checker,
      });
      void modules.usage(); // counts what is stored (for the quota) and makes older 0644 module files 0600, in the background
      // The sandbox workers are always given metered bytes, so they never load Binaryen. The warm
      // ones (sandboxWarmWorkers) start while the rest opens and the server listens; the first
      // decision waits for its worker, so ready (READY=1) does not; the others start when decisions
      // queue for them. Decisions are scheduled per client, round-robin, with a fuel budget per
      // client (D12, DecisionScheduler.ts).
      const injected = this.#o.sandbox;
      const sandbox = new DecisionScheduler({
        workers: injected
          ? [{ evaluate: async (m, i) => injected.evaluate(m, i), start: async () => injected.start?.(), stop: async () => injected.stop?.() }]
          : Array.from({ length: c.sandboxWorkers }, () => new WorkerSandbox({ fuel: c.fuel }, { alwaysMetered: true })),
        warm: injected ? undefined : c.sandboxWarmWorkers,
        idleStopMs: WORKER_IDLE_STOP_MS,
        maxQueued: c.maxQueuedDecisions,
        fuelPerMinute: c.clientFuelPerMinute,
        fuelLimit: c.fuel,
        timeoutMs: DEFAULT_LIMITS.timeoutMs,
        // Validated and metered once per module (memory, then its .metered file, then the checker
        // off the event loop); workers only compile.
        meter: injected ? undefined : (m) => modules.metered(m, DEFAULT_LIMITS),
      });
      // Not awaited here (wrapped): the workers start while the rest opens; stopping waits for them first.
      await life.use(
        'sandbox',
        () => {
          const ready = sandbox.start();
          ready.catch(() => {});
          return { ready };
        },
        async ({ ready }) => {
          await ready.catch(() => {});
          await sandbox.stop();
        },
      );
      // /v1/status reports the guardian's time (clients sign check-ins with it); refreshed per request.
      let lastNow = await clock.now();
      const timed: Clock = { kind: clock.kind, now: async () => (lastNow = await clock.now()) };
      // Headers are proved and recorded outside decisions for approvals and for capsules fetched by CID.
      const registry = new CapsuleRegistry({ guardian, store, clock: timed, reserve });
      // IPFS is opened in the background once the agent is ready (libp2p takes ~1 s to load; a Kubo
      // daemon may be down and is retried with backoff): fetches by CID wait for it, nothing else
      // does. Its code is imported only when it is on ("off" needs no parsing: config.ts validated it).
      let ipfs: IpfsService | undefined;
      let images: ImageManifestWatcher | undefined;
      if (c.ipfs !== 'off') {
        const [{ parseIpfsSpec }, { openContentStore }, { IpfsService }, { ImageManifestWatcher }] = await Promise.all([
          import('../store/ContentStore.ts'),
          import('../store/openContentStore.ts'),
          import('./IpfsService.ts'),
          import('./ImageManifestWatcher.ts'),
        ]);
        const spec = parseIpfsSpec(c.ipfs, 'ipfs') as Exclude<IpfsSpec, { kind: 'off' }>; // c.ipfs is not "off" here
        images = new ImageManifestWatcher({ dataDir: c.dataDir, log: (e, f) => this.log(e, f) });
        await images.start();
        ipfs = new IpfsService({
          topics: [images.handler()],
          open: (signal) => openContentStore(spec, { dataDir: c.dataDir, listen: c.ipfsListen, signal }),
          peers: c.ipfsPeers,
          store,
          modules,
          registry,
          guardianKey: guardian.onGuardianSeal([]).guardian!.publicKey,
          maxCapsuleBytes: c.maxCapsuleBytes,
          maxStoredBytes: c.maxStoredBytes,
          fetchTimeoutMs: c.fetchTimeoutMs,
          reserve,
          now: () => timed.now(),
          log: (e, f) => this.log(e, f),
        });
      }
      // The decision services: built at the first request for a decision endpoint (HttpServer's
      // `more`); a sandbox worker starts meanwhile if none has (sandboxWarmWorkers 0), since a
      // decision is what comes next.
      let services: Promise<Services> | undefined;
      const loadServices = () =>
        (services ??= (sandbox.prewarm(), import('./services.ts'))
          .then(({ buildServices }) =>
            buildServices(
              {
                guardian,
                store,
                modules,
                audit,
                sandbox,
                clock: timed,
                fuelLimit: c.fuel,
                reserve,
                registry,
                signing: c.signing,
                wallet: c.wallet.accounts,
                ipfs,
              },
              (r) => sandbox.gate(r),
            ),
          )
          .catch((e) => {
            services = undefined;
            throw e;
          }));
      const status = () => ({
        status: this.#status,
        version: 'v1',
        uptimeMs: Math.round(performance.now() - this.#startedAt),
        now: lastNow,
        guardian: {
          backend: guardian.keyStore.capabilities.backend,
          model: guardian.record.model,
          serial: guardian.record.serial,
          signingKey: guardian.record.signingKey,
          recipients: guardian.record.recipients,
          ...(guardian.keyStore.capabilities.firmware
            ? { manufacturer: guardian.keyStore.capabilities.manufacturer, firmware: guardian.keyStore.capabilities.firmware }
            : {}),
        },
        clock: clock.kind,
        audit: audit.seq,
        auditLog: audit.health,
        ipfs: ipfs ? { ...ipfs.status(), imageManifests: images!.status() } : { ready: false, backend: 'off' },
        // ok, or failing with the module error's code and message; back to ok by itself (probed).
        module: guardian.keyStore.health?.() ?? { state: 'ok' },
      });
      const http = await life.use(
        'http',
        async () => {
          const server = new HttpServer(coreRoutes({ modules, clock: timed, status }), {
            host: c.host,
            port: c.port,
            requestTimeoutMs: c.requestTimeoutMs,
            ratePerSecond: c.ratePerSecond,
            ratePerNetwork: c.ratePerNetwork,
            rateGlobal: c.rateGlobal,
            allowedHosts: c.allowedHosts,
            log: (e, f) => this.log(e, f),
            more: async () => (await loadServices()).routes,
          });
          await server.listen();
          return server;
        },
        (server) => server.close(),
      );
      // Native memory freed by a burst of requests goes back to the system once it is over (mallocTrim.ts).
      if (tuned) this.#stopTrimming = trimWhenQuiet({ activity: () => http.served, busy: () => http.inFlight > 0, trim: trimMalloc });
      this.#parts = { http, life };
      this.#startedAt = performance.now();
      this.#status = 'started';
      this.log('started', { url: this.url, guardian: guardian.record.serial, clock: clock.kind, audit: audit.seq });
      // After the listen and the `started` line: READY=1 means requests are answered now.
      const serving = () => `serving on ${this.url}, audit log at entry ${audit.seq}`;
      notify.ready(serving());
      if (notify.enabled) (this.#statusTimer = setInterval(() => notify.status(serving()), STATUS_EVERY_MS)).unref();
      // Last, after ready (loading libp2p must not delay it: README "start to ready"), so stopped
      // first: fetches by CID in flight end then (503) rather than hold the shutdown for minutes.
      if (ipfs)
        await life.use(
          'ipfs',
          () => ipfs.start(),
          () => ipfs.stop(),
        );
    } catch (e) {
      this.#stopTrimming?.();
      this.#stopTrimming = undefined;
      this.#parts = undefined;
      await life.stopAll(() => {});
      this.#status = 'stopped';
      notify.status(`failed to start: ${(e as { code?: unknown }).code ?? 'error'}`);
      notify.close();
      this.#notify = undefined;
      throw await startupDiskError(c.dataDir, e); // a full disk: say which directory and how much is free (D7)
    }
  }

  async stop(): Promise<void> {
    const p = this.#parts;
    if (this.#status !== 'started' || !p) return;
    this.#status = 'stopping';
    clearInterval(this.#statusTimer);
    this.#stopTrimming?.();
    // The watchdog keeps pinging while in-flight requests finish (TimeoutStopSec bounds that).
    this.#notify?.stopping(`stopping: ${p.http.inFlight} requests in flight`);
    this.log('stopping', { inFlight: p.http.inFlight });
    // Last started first: IPFS, the HTTP server (in-flight requests finish), the sandbox, the
    // module checker, the audit log, the database, the guardian.
    await p.life.stopAll();
    this.#parts = undefined;
    this.#status = 'stopped';
    this.#notify?.close();
    this.#notify = undefined;
    this.log('stopped');
  }
}

function clockFor(spec: string, g: Guardian): Clock {
  if (spec === 'system') return systemClock;
  if (spec.startsWith('file:')) return fileClock(spec.slice(5));
  const ks = g.keyStore;
  // A custodian without a clock (the soft store) falls back to the system clock, and says so in
  // the clock's kind (logged at start, reported by /v1/status).
  return ks.time ? moduleClock(() => ks.time!()) : { kind: 'system (the key store has no clock)', now: systemClock.now };
}
