/**
 * New image manifests over IPFS pubsub (issue #12 item 2; docs/IMAGES.md): the owner publishes a
 * signed manifest on IMAGE_TOPIC (`capsule image publish`), and the agent pins it when it is signed
 * by the pinned signer and carries a higher sequence — the same rules as `capsule image pin`
 * (agent/device/imagePin.ts). Malformed, foreign-signed and replayed manifests are rejected at the
 * pubsub layer (Helia: not delivered, not forwarded), counted, and logged with their code.
 *
 * Why a sibling topic and not the announcement topic: an announcement names a capsule for one
 * guardian; a manifest is for every device of its owner, and a separate topic keeps the
 * announcement decoder strict. Deliberately not here: loading images (a manifest only changes what
 * `capsule image verify|load` accept), the first pin (done by the operator at provisioning, with
 * the owner key given explicitly), and keeping the subscription up (keepSubscribed.ts).
 */
import type { DceError } from '../errors.ts';
import { acceptManifest, pinManifest, readPinned, type Pinned } from '../device/imagePin.ts';
import type { TopicHandler } from './keepSubscribed.ts';

/** The pubsub topic of signed image manifests. */
export const IMAGE_TOPIC = 'capsule-engine/images/v1';

export interface ImageManifestWatcherOptions {
  dataDir: string;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

export class ImageManifestWatcher {
  readonly #o: ImageManifestWatcherOptions;
  #pinned: Pinned | undefined;
  #pinning: Promise<void> = Promise.resolve();
  /** received: every message; accepted: pinned as newer; same: the pinned one again; refused: by code. */
  readonly counts = { received: 0, accepted: 0, same: 0, refused: 0 };
  readonly #refusedBy: Record<string, number> = {};

  constructor(o: ImageManifestWatcherOptions) {
    this.#o = o;
  }

  /**
   * Reads the pinned manifest. None pinned, or a pin that cannot be read (logged as
   * `image-manifest-pin-unreadable`): every manifest is refused (ERR_NOT_PINNED) — the agent still
   * starts, since releases and signing do not depend on images. Never throws.
   */
  async start(): Promise<void> {
    try {
      this.#pinned = await readPinned(this.#o.dataDir);
    } catch (e) {
      this.#pinned = undefined;
      this.#o.log('image-manifest-pin-unreadable', { code: (e as DceError).code, message: (e as Error).message });
    }
  }

  /** What /v1/status shows under ipfs.imageManifests. */
  status(): Record<string, unknown> {
    return { topic: IMAGE_TOPIC, pinnedSequence: this.#pinned?.manifest.sequence ?? null, ...this.counts, refusedBy: { ...this.#refusedBy } };
  }

  /** The topic handler for CapsuleFetcher's `topics`. */
  handler(): TopicHandler {
    return { topic: IMAGE_TOPIC, validate: (data, from) => this.#check(data, from) !== undefined, onMessage: (data, from) => this.#onMessage(data, from) };
  }

  /** Settles once every accepted manifest so far is pinned on disk (tests, stop). */
  settled(): Promise<void> {
    return this.#pinning;
  }

  #check(data: Uint8Array, from: string): { sequence: number; same: boolean } | undefined {
    try {
      const { manifest, same } = acceptManifest(data, { pinned: this.#pinned });
      return { sequence: manifest.sequence, same };
    } catch (e) {
      this.counts.received++;
      this.counts.refused++;
      const code = (e as DceError).code ?? 'ERR_INTERNAL';
      this.#refusedBy[code] = (this.#refusedBy[code] ?? 0) + 1;
      if (this.counts.refused <= 10 || this.counts.refused % 100 === 0)
        this.#o.log('image-manifest-refused', { from, code, message: (e as Error).message, refused: this.counts.refused });
      return undefined;
    }
  }

  #onMessage(data: Uint8Array, from: string): void {
    // Kubo delivers without validate(); Helia validated already, but the pin may have moved since.
    const ok = this.#check(data, from);
    if (!ok) return;
    this.counts.received++;
    if (ok.same) {
      this.counts.same++;
      return;
    }
    const bytes = Uint8Array.from(data);
    this.#pinning = this.#pinning.then(async () => {
      try {
        const r = await pinManifest(this.#o.dataDir, bytes);
        if (!r.pinned) {
          this.counts.same++;
          return;
        }
        this.#pinned = { manifest: r.manifest, bytes };
        this.counts.accepted++;
        this.#o.log('image-manifest-pinned', {
          from,
          sequence: r.manifest.sequence,
          previous: r.previous ?? null,
          images: r.manifest.images.map((i) => i.name),
        });
      } catch (e) {
        this.counts.refused++;
        const code = (e as DceError).code ?? 'ERR_INTERNAL';
        this.#refusedBy[code] = (this.#refusedBy[code] ?? 0) + 1;
        this.#o.log('image-manifest-refused', { from, code, message: (e as Error).message, refused: this.counts.refused });
      }
    });
  }
}
