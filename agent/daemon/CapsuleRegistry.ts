/**
 * Registering a capsule with the guardian: a presented header is proved the sealer's (the file key
 * unwrapped, the first chunk opened with it: authenticateHeader.ts, then the key wiped) and recorded
 * by header hash with its prefix (D2: a capsule is its header). Used before anything is stored under
 * a capsule (approvals: Approvals.ts), and for capsules fetched by CID before the rest of their bytes
 * are (CapsuleFetcher.ts). Built at start: it needs neither age nor the decision services.
 *
 * Deliberately not here: registering as part of a decision (Releaser commits it with the decision's entry).
 */
import { wipe } from '../crypto/secrets.ts';
import type { Guardian } from '../guardian/Guardian.ts';
import { authenticateHeader } from './authenticateHeader.ts';
import type { Clock } from './Clock.ts';
import type { DiskReserve } from './DiskSpace.ts';
import type { Presented } from './present.ts';
import type { Store } from './Store.ts';

export interface RegistryDeps {
  guardian: Pick<Guardian, 'unwrapFileKey'>;
  store: Store;
  clock: Clock;
  /** The data directory's free-space reserve: new registrations are refused below it (D3). */
  reserve?: DiskReserve;
}

export class CapsuleRegistry {
  readonly #d: RegistryDeps;

  constructor(deps: RegistryDeps) {
    this.#d = deps;
  }

  /**
   * Proves `p`'s header is the sealer's and records it (nothing when it is recorded already).
   * @throws AgentError ERR_DISK_FULL (below the reserve); CapsuleFormatError ERR_NO_MATCHING_STANZA,
   *   ERR_CHUNK_AUTH, ERR_TRUNCATED; KeyStoreError (the module); StoreError
   */
  async register(p: Presented): Promise<void> {
    const d = this.#d;
    if (d.store.capsule(p.headerHash)) return;
    // A registration is a write anyone can cause (seal a capsule to the guardian): not below the reserve.
    await d.reserve?.require(`capsule ${p.id}`, p.prefix.length);
    const key = await d.guardian.unwrapFileKey(p.parsed.header);
    try {
      authenticateHeader(p, key);
    } finally {
      wipe(key);
    }
    const now = await d.clock.now(); // the guardian's time, as for every other record
    d.store.transaction(() =>
      d.store.putCapsule({ id: p.id, headerHash: p.headerHash, logic: Buffer.from(p.parsed.header.logic.hash).toString('hex'), prefix: p.prefix }, now),
    );
  }
}
