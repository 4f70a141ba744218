/**
 * The SDK's own version and the host ABI it targets, as compiled into a policy. They match this
 * folder's package.json ("version" and "capsule.abi"), which is what `capsule logic build` checks
 * before it accepts a build: an SDK for another ABI, or of a major version the engine does not
 * support, is refused with both versions named.
 *
 * Deliberately not here: any runtime check (the host checks the module's imports, ABI.md §2).
 */

/** This SDK's version (semver); its major version moves with the ABI. */
export const SDK_VERSION = "1.0.0";

/** The host ABI this SDK's bindings (env.ts) target. */
export const SDK_ABI = "capsule_v1";
