/**
 * Each command's one-line synopsis: shown in `capsule --help` and as the hint on usage errors.
 */
export const KEYGEN = 'capsule keygen [-o FILE]';
export const SEAL = 'capsule seal FILE|- --guardian RECIPIENT [--guardian …] --logic MODULE.wasm [--params JSON | --params-file F] [--logic-cid CID] [--sign-with IDENTITY] [--salted-digest] -o OUT';
export const INSPECT = 'capsule inspect CAPSULE|- [--json]';
export const VERIFY = 'capsule verify CAPSULE|- [--logic MODULE.wasm] [--json]';
export const DECRYPT = 'capsule decrypt CAPSULE|- --identity FILE [-o OUT]';
export const LOGIC_BUILD = 'capsule logic build POLICY.ts -o POLICY.wasm';
export const LOGIC_CHECK = 'capsule logic check POLICY.wasm [--json]';
export const LOGIC_RUN = 'capsule logic run POLICY.wasm --capsule C.capsule --requester age1… --at TIME [--approval FILE]… [--state FILE] [--fuel N] [--json]';
