/**
 * Secret hygiene helpers: wiping buffers and constant-time comparison.
 *
 * Deliberately not here: any guarantee about copies the runtime makes (OpenSSL's own key schedule,
 * V8 strings); we wipe what we own, as early as possible, in `finally` blocks.
 */
import { timingSafeEqual } from 'node:crypto';

export function wipe(...buffers: (Uint8Array | undefined | null)[]): void {
  for (const b of buffers) b?.fill(0);
}

/** Constant-time equality for MACs and digests; different lengths are unequal (length is public). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
