/**
 * ImageManifestWatcher (issue #12 item 2) in-process, without a network: what its pubsub handler
 * does with each kind of message — the rules of imagePin.ts applied against the pin, the counts and
 * log events /v1/status and the journal show — and a pin that cannot be read (the agent still
 * starts; every manifest is refused). The same watcher over real pubsub: test/publish.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, ownerPublicKey } from '../agent/crypto/identity.ts';
import { ImageManifestWatcher, IMAGE_TOPIC } from '../agent/daemon/ImageManifestWatcher.ts';
import { encodeImageManifest } from '../agent/device/ImageManifest.ts';
import { pinManifest } from '../agent/device/imagePin.ts';

const owner = generateIdentity();
const stranger = generateIdentity();
const manifest = (sequence: number, by = owner) =>
  encodeImageManifest(
    { sequence, created: 1_764_892_800_000, images: [{ name: 'localhost/ipfs:1', digest: new Uint8Array(32).fill(sequence), size: 300 + sequence }] },
    by,
  );

function rig(): { dir: string; events: [string, Record<string, unknown> | undefined][]; watcher: ImageManifestWatcher } {
  const dir = mkdtempSync(join(tmpdir(), 'image-watcher-'));
  const events: [string, Record<string, unknown> | undefined][] = [];
  return { dir, events, watcher: new ImageManifestWatcher({ dataDir: dir, log: (e, f) => events.push([e, f]) }) };
}

test('pins a newer manifest from the pinned signer; the pinned one again is "same"; a foreign signer, a replay and junk are rejected at the pubsub layer, counted by code and logged', async () => {
  const { dir, events, watcher } = rig();
  try {
    const m1 = manifest(1);
    await pinManifest(dir, m1, ownerPublicKey(owner));
    await watcher.start();
    const h = watcher.handler();
    assert.is(h.topic, IMAGE_TOPIC);
    const deliver = (bytes: Uint8Array) => {
      if (h.validate!(bytes, 'peer')) h.onMessage(bytes, 'peer');
    };

    deliver(m1);
    deliver(manifest(2));
    await watcher.settled();
    assert.equal(readFileSync(join(dir, 'images', 'manifest.cbor')), Buffer.from(manifest(2)), 'the newer one is pinned, byte for byte');
    deliver(manifest(1)); // now a replay
    deliver(manifest(3, stranger));
    deliver(new TextEncoder().encode('junk'));
    await watcher.settled();
    assert.equal(watcher.status(), {
      topic: IMAGE_TOPIC,
      pinnedSequence: 2,
      received: 5,
      accepted: 1,
      same: 1,
      refused: 3,
      refusedBy: { ERR_IMAGE_REPLAYED: 1, ERR_IMAGE_SIGNATURE: 1, ERR_BAD_IMAGE_MANIFEST: 1 },
    });
    assert.equal(
      events.map(([e, f]) => [e, f?.code ?? f?.sequence]),
      [
        ['image-manifest-pinned', 2],
        ['image-manifest-refused', 'ERR_IMAGE_REPLAYED'],
        ['image-manifest-refused', 'ERR_IMAGE_SIGNATURE'],
        ['image-manifest-refused', 'ERR_BAD_IMAGE_MANIFEST'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nothing pinned, or a pin that cannot be read: start() does not throw (logged), and every manifest is refused with ERR_NOT_PINNED', async () => {
  for (const damaged of [false, true]) {
    const { dir, events, watcher } = rig();
    try {
      if (damaged) {
        mkdirSync(join(dir, 'images'));
        writeFileSync(join(dir, 'images', 'manifest.cbor'), 'not a manifest');
      }
      await watcher.start();
      assert.equal(
        events.map(([e, f]) => [e, f?.code]),
        damaged ? [['image-manifest-pin-unreadable', 'ERR_BAD_IMAGE_MANIFEST']] : [],
      );
      assert.is(watcher.handler().validate!(manifest(5), 'peer'), false);
      assert.equal(watcher.status().refusedBy, { ERR_NOT_PINNED: 1 });
      assert.is(watcher.status().pinnedSequence, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test.after(() => {
  owner.dispose();
  stranger.dispose();
});

test.run();
